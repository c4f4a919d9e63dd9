"""The image-pipeline component library.

    from components import ImagePipeline, load_settings
    pipeline = ImagePipeline("images", load_settings())
"""

from components.config import Settings
from components.errors import ConfigError
from components.image_pipeline import ImagePipeline
from components.loading import load_settings, read_stack_settings

__all__ = ["ConfigError", "ImagePipeline", "Settings", "load_settings", "read_stack_settings"]
