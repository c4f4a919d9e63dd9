"""Encoding one variant: the formats' rules (alpha, grey, ICC, EXIF) and their options, in one place.

Example:
    >>> from PIL import Image
    >>> from contract.recipe import Recipe
    >>> variant = encode(Image.new("RGBA", (4, 3)), Recipe(), size=4, fmt="jpeg", shape="fit")
    >>> variant.content_type, variant.extension, (variant.width, variant.height)
    ('image/jpeg', 'jpg', (4, 3))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO

from PIL import Image

from contract.recipe import Recipe
from handlers.image import colour

SAVE_FORMATS = {"jpeg": ("JPEG", "image/jpeg", "jpg"), "webp": ("WEBP", "image/webp", "webp"),
                "avif": ("AVIF", "image/avif", "avif")}


@dataclass(frozen=True)
class Variant:
    size: int
    format: str
    content_type: str
    extension: str
    width: int
    height: int
    data: bytes = field(repr=False)
    shape: str = "fit"  # "fit": the long edge is `size`; "square": `size` x `size` (smaller if the image is)
    frames: int = 1
    note: str | None = None  # why an animated upload's variant has its first frame only


def for_format(image: Image.Image, pillow_format: str) -> Image.Image:
    """JPEG has no alpha: composite over white. WebP and AVIF keep alpha but take no grey modes here."""
    if pillow_format == "JPEG" and image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if pillow_format in ("WEBP", "AVIF") and image.mode in ("L", "LA"):
        return image.convert("RGBA" if image.mode == "LA" else "RGB")
    return image


def icc_for(icc: bytes | None, mode: str) -> bytes | None:
    """The source's ICC profile when it describes the pixels saved (a CMYK profile on RGB pixels does not)."""
    space = icc[16:20] if icc else None  # ICC.1 header: the data colour space signature
    return icc if space == {"RGB": b"RGB ", "RGBA": b"RGB ", "L": b"GRAY", "LA": b"GRAY"}.get(mode) else None


def encode(pixels: Image.Image, recipe: Recipe, *, size: int, fmt: str, shape: str, in_srgb: bool = False,
           source_icc: bytes | None = None, exif: bytes | None = None) -> Variant:
    """`pixels` saved as `fmt` ("jpeg", "webp", "avif") at the recipe's quality (and AVIF speed) for it:
    tagged sRGB when `in_srgb` (converted), else with the source's profile where it describes the saved
    pixels; `exif` embedded if given."""
    pillow_format, content_type, extension = SAVE_FORMATS[fmt]
    ready = for_format(pixels, pillow_format)
    ready.info = {}  # savers fall back to info: a JPEG comment or the source's profile would leak through
    options: dict[str, object] = {"quality": recipe.qualities[fmt]}
    if pillow_format == "AVIF":
        options["speed"] = recipe.avif_speed
    # Baseline JPEG: progressive encoding costs ~6x the encode time for little gain at these sizes.
    if profile := colour.SRGB_ICC if in_srgb else icc_for(source_icc, ready.mode):
        options["icc_profile"] = profile
    if exif:
        options["exif"] = exif
    buffer = BytesIO()
    ready.save(buffer, pillow_format, **options)
    return Variant(size=size, format=fmt, content_type=content_type, extension=extension, width=pixels.width,
                   height=pixels.height, data=buffer.getvalue(), shape=shape)
