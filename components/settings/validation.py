"""Parse `image-pipeline:pipeline` into `Settings`, collecting every problem before raising.

Errors are what AWS (or the engine) would reject: the generic ones (types, unknown keys, ranges, choices:
`components.settings.parsing`) and AWS's rules across settings (`components.settings.rules`). The pitfalls
AWS accepts are warnings (`components.settings.pitfalls`). Each message starts with the key path, e.g.
`queue.visibility_timeout_seconds: ...`.

Example:
    >>> parse_settings({"queue": {"visibility_timeout_seconds": 360}}).queue.visibility_timeout_seconds
    360
"""

from __future__ import annotations

import dataclasses
from typing import Any

from components.settings.config import Settings
from components.settings.errors import ConfigError
from components.settings.parsing import parse_dataclass, range_problems
from components.settings.rules import rule_problems


def parse_settings(raw: dict[str, Any] | None) -> Settings:
    """Build `Settings` from a plain dict (None: every default), or raise `ConfigError` with all problems."""
    raw = raw or {}
    problems: list[str] = []
    settings = parse_dataclass(Settings, raw, "", problems)
    given = raw.get("workflow") if isinstance(raw, dict) else None
    settings = dataclasses.replace(settings, workflow=settings.workflow.with_type_defaults(
        given if isinstance(given, dict) else {}))
    problems.extend(range_problems(settings))
    problems.extend(rule_problems(settings))
    if problems:
        raise ConfigError(problems)
    return settings
