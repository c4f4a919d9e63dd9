"""Colour management: pixels that carry an ICC profile become sRGB before they are resized.

Browsers and phones show an untagged image as sRGB. A Display P3 or Adobe RGB photo whose
profile is dropped comes out dull or shifted, so the variants are converted with LittleCMS
(Pillow's `ImageCms`) and tagged sRGB. An image without a profile is left exactly as it is,
and so is one whose profile cannot be read or does not describe its pixels (a CMYK profile on
RGB pixels): guessing would change colours the user never asked to change.

Example:
    >>> from PIL import Image
    >>> image, converted = to_srgb(Image.new("RGB", (2, 2), (200, 100, 50)), None)
    >>> converted, image.getpixel((0, 0))
    (False, (200, 100, 50))
"""

from __future__ import annotations

import functools
import logging
from io import BytesIO

from PIL import Image, ImageCms

logger = logging.getLogger("handlers.image.colour")

SRGB = ImageCms.createProfile("sRGB")
SRGB_ICC = ImageCms.ImageCmsProfile(SRGB).tobytes()
"""The profile the variants are tagged with (LittleCMS's sRGB, 588 bytes)."""

# The ICC header's data colour space, and the Pillow modes such a profile describes. Grey pixels
# with a grey profile become sRGB RGB too, so every format shows them alike.
MODES = {b"RGB ": ("RGB", "RGBA"), b"CMYK": ("CMYK",), b"GRAY": ("L", "LA")}


def readable(icc: bytes | None) -> bool:
    """Whether LittleCMS can read `icc` (an unreadable profile is never passed on to the variants)."""
    if not icc:
        return False
    try:
        _profile(bytes(icc))
    except (OSError, ImageCms.PyCMSError):
        return False
    return True


@functools.lru_cache(maxsize=16)
def _profile(icc: bytes) -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(BytesIO(icc))


@functools.lru_cache(maxsize=16)
def _transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform:
    """`mode` pixels described by `icc` -> sRGB RGB, built once per profile and mode (an animation's
    frames share it). Relative colorimetric with black-point compensation: in-gamut colours stay
    exact, the rest clip to the nearest sRGB colour, as libvips and browsers do for photos."""
    return ImageCms.buildTransform(_profile(icc), SRGB, mode, "RGB",
                                   renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                   flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)


def to_srgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bool]:
    """`image` in sRGB and True, or `image` itself and False when there is nothing to convert."""
    if not icc or image.mode not in MODES.get(bytes(icc[16:20]), ()):
        return image, False
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    pixels = image.convert("L" if image.mode == "LA" else "RGB") if alpha is not None else image
    try:
        converted = _transform(bytes(icc), pixels.mode).apply(pixels)
    except (OSError, ImageCms.PyCMSError) as error:
        logger.warning("ICC profile not usable, colours left as they are: %s", error)
        return image, False
    if alpha is not None:
        converted.putalpha(alpha)
    return converted, True
