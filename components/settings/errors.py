"""Errors raised by the component library."""

from __future__ import annotations


class ConfigError(ValueError):
    """The stack's `image-pipeline:pipeline` settings are invalid.

    Every problem is collected before raising, so one `pulumi preview` shows them all.

    Example:
        >>> ConfigError(["queue.delay_seconds: 901 is above 900"]).problems
        ['queue.delay_seconds: 901 is above 900']
    """

    def __init__(self, problems: list[str], source: str = "config 'image-pipeline:pipeline'") -> None:
        self.problems = list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {source}:\n{listing}")
