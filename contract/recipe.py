"""What shapes an upload's variants, as one object the image core takes (`handlers.image.imaging`).

The defaults are the original design's values; the component's settings (`workflow.*`) take theirs
from here. Example:
    >>> Recipe().variant_sizes, Recipe().qualities
    ((1280, 640, 160), {'jpeg': 85, 'webp': 85, 'avif': 60})
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contract.environment import variable

IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "HEIF")  # HEIF: HEIC from phones, and .heif
VARIANT_FORMATS = ("jpeg", "webp", "avif")
SQUARE_CROPS = ("center", "entropy", "attention")
ANIMATIONS = ("first_frame", "animated_webp")


@dataclass(frozen=True)
class Limits:
    """What validation accepts."""

    max_bytes: int = variable("MAX_IMAGE_BYTES", 52_428_800)
    max_pixels: int = variable("MAX_PIXELS", 50_000_000)
    allowed_formats: tuple[str, ...] = variable("ALLOWED_FORMATS", IMAGE_FORMATS)


@dataclass(frozen=True)
class Budget:
    """How large an animated variant may be; above, the first frame only (`handlers.image.animation`)."""

    max_frames: int = variable("MAX_ANIMATION_FRAMES", 300)
    max_pixels: int = variable("MAX_ANIMATION_PIXELS", 30_000_000)

    def refusal(self, *, frames: int, width: int, height: int) -> str | None:
        """Why an animation this size gets its first frame only, or None when it fits."""
        if frames > self.max_frames:
            return (f"the animation has {frames} frames; animated variants allow {self.max_frames}: "
                    "the first frame is used")
        if frames * width * height > self.max_pixels:
            return (f"the animation is {frames} frames x {width}x{height} = {frames * width * height:,} pixels; "
                    f"animated variants allow {self.max_pixels:,}: the first frame is used")
        return None


@dataclass(frozen=True)
class Recipe:
    """Sizes, formats, qualities, squares, crop, animation and limits of one stack's variants."""

    variant_sizes: tuple[int, ...] = variable("VARIANT_SIZES", (1280, 640, 160), at_least_one=True)
    variant_formats: tuple[str, ...] = variable("VARIANT_FORMATS", ("jpeg",), at_least_one=True)
    jpeg_quality: int = variable("JPEG_QUALITY", 85)
    webp_quality: int = variable("WEBP_QUALITY", 85)  # the stack's default: its jpeg_quality
    avif_quality: int = variable("AVIF_QUALITY", 60)
    avif_speed: int = variable("AVIF_SPEED", 6)
    square_sizes: tuple[int, ...] = variable("SQUARE_SIZES", ())
    square_crop: str = variable("SQUARE_CROP", "attention")
    animation: str = variable("ANIMATION", "first_frame")
    budget: Budget = field(default_factory=Budget)
    keep_gps: bool = variable("KEEP_GPS", False)
    limits: Limits = field(default_factory=Limits)

    @property
    def qualities(self) -> dict[str, int]:
        return {"jpeg": self.jpeg_quality, "webp": self.webp_quality, "avif": self.avif_quality}
