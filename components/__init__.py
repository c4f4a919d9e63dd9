"""The image-pipeline component library.

    from components import ImagePipeline, load_settings
    pipeline = ImagePipeline("images", load_settings())

`ImagePipeline` and `load_settings` are imported on first use, so the settings, definitions and
policies (what the local pipeline needs) import without Pulumi installed.
"""

from typing import Any

from components.settings.config import Settings
from components.settings.errors import ConfigError
from components.settings.loading import read_stack_settings

__all__ = ["ConfigError", "ImagePipeline", "Settings", "load_settings", "read_stack_settings"]


def __getattr__(name: str) -> Any:
    if name == "ImagePipeline":
        from components.image_pipeline import ImagePipeline

        return ImagePipeline
    if name == "load_settings":
        from components.settings.loading import load_settings

        return load_settings
    raise AttributeError(f"module 'components' has no attribute {name!r}")
