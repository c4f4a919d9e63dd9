"""The image-pipeline component library.

    from components import ImagePipeline, load_settings
    pipeline = ImagePipeline("images", load_settings())

    from components import parse_settings, settings_warnings
    settings = parse_settings({"queue": {"visibility_timeout_seconds": 360}})  # ConfigError: every problem
    settings_warnings(settings)  # the pitfalls AWS accepts

`ImagePipeline` and `load_settings` are imported on first use, so the settings, definitions and
policies (what the local pipeline needs) import without Pulumi installed.
"""

from typing import Any

from components.settings.config import Settings
from components.settings.errors import ConfigError
from components.settings.pitfalls import settings_warnings
from components.settings.stacks import read_stack_settings
from components.settings.validation import parse_settings

__all__ = ["ConfigError", "ImagePipeline", "Settings", "load_settings", "parse_settings", "read_stack_settings",
           "settings_warnings"]


def __getattr__(name: str) -> Any:
    if name == "ImagePipeline":
        from components.image_pipeline import ImagePipeline

        return ImagePipeline
    if name == "load_settings":
        from components.settings.loading import load_settings

        return load_settings
    raise AttributeError(f"module 'components' has no attribute {name!r}")
