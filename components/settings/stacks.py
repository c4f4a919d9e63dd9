"""A Pulumi project's stack files, `Pulumi.<stack>.yaml`, read for whoever names the project's folder.

The component reads none of them itself: the stack program gets its settings from the running stack's
config (`components.settings.loading.load_settings`), and the tools, the local runner, the benchmarks
and the tests pass their project folder here.

Example:
    >>> read_stack_settings("dev", Path("."))  # doctest: +SKIP
    {'queue': {...}, ...}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONFIG_KEY = "image-pipeline:pipeline"


class UnknownStack(FileNotFoundError):
    """No `Pulumi.<stack>.yaml`: the message lists the stacks that exist."""


def stack_names(project_dir: Path) -> list[str]:
    """The stacks with a settings file in `project_dir`: `Pulumi.dev.yaml` -> dev."""
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml"))


def stack_region(stack: str, project_dir: Path) -> str | None:
    """`aws:region` of `Pulumi.<stack>.yaml`, if it sets one."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text()) if path.is_file() else None
    return ((document or {}).get("config") or {}).get("aws:region")


def read_stack_settings(stack: str, project_dir: Path) -> dict[str, Any]:
    """The raw `image-pipeline:pipeline` object of `project_dir`'s `Pulumi.<stack>.yaml`."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise UnknownStack(f"no stack {stack!r}: there is no {path.name} in {project_dir}; the stacks here are "
                           f"{', '.join(stack_names(project_dir)) or 'none'}")
    document = yaml.safe_load(path.read_text()) or {}
    return (document.get("config") or {}).get(CONFIG_KEY) or {}
