"""Read `image-pipeline:pipeline` from the running stack (or a stack file), validate, warn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.config import Settings
from components.errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG_KEY = "image-pipeline:pipeline"


def load_settings() -> Settings:
    """Settings of the stack being deployed; every problem fails `pulumi preview` at once."""
    import pulumi

    raw = pulumi.Config("image-pipeline").get_object("pipeline") or {}
    try:
        settings = Settings.from_dict(raw)
    except ConfigError as error:
        # RunError: the engine prints the message without a Python traceback.
        raise pulumi.RunError(str(error)) from None
    for warning in settings.warnings():
        pulumi.log.warn(warning)
    return settings


class UnknownStack(FileNotFoundError):
    """No `Pulumi.<stack>.yaml`: the message lists the stacks that exist."""


def stack_names(project_dir: Path = PROJECT_DIR) -> list[str]:
    """The stacks with a settings file here: `Pulumi.dev.yaml` -> dev."""
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml"))


def stack_region(stack: str, project_dir: Path = PROJECT_DIR) -> str | None:
    """`aws:region` of `Pulumi.<stack>.yaml`, if it sets one."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text()) if path.is_file() else None
    return ((document or {}).get("config") or {}).get("aws:region")


def read_stack_settings(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The raw `image-pipeline:pipeline` object of `Pulumi.<stack>.yaml` (for tests and tools)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise UnknownStack(f"no stack {stack!r}: there is no {path.name} in {project_dir}; the stacks here are "
                           f"{', '.join(stack_names(project_dir)) or 'none'}")
    document = yaml.safe_load(path.read_text()) or {}
    return (document.get("config") or {}).get(CONFIG_KEY) or {}
