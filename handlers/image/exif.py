"""EXIF read defensively: bad metadata never fails an image that decodes.

Firmware and editors write EXIF that breaks the spec: a Make stored as a FLOAT or RATIONAL, an
Orientation stored as a BYTE, NULs inside text, GPS rationals with zero denominators, offsets
that point anywhere. Pillow decodes each tag lazily, when it is read, so any read can raise
(TypeError, struct.error, ValueError, ...). Here every read is one field, and a field that
cannot be read, or is not what the spec says, is skipped with a warning that names it. What
leaves this module is JSON-safe: str, int, finite float.
"""

from __future__ import annotations

import logging
import math
import re
from numbers import Real

from PIL import Image

logger = logging.getLogger("handlers.image.imaging")

ORIENTATION, MAKE, MODEL, DATETIME, EXIF_IFD, GPS_IFD, DATETIME_ORIGINAL = (
    0x0112, 0x010F, 0x0110, 0x0132, 0x8769, 0x8825, 0x9003)
MAX_TEXT = 256
MAX_APP1 = 65_533  # a JPEG marker segment holds at most 65,535 bytes, 2 of them its length
# Orientation -> the transposition that makes the pixels upright (EXIF 2.32, tag 0x0112).
TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
             5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}
_OBJECT_REPR = re.compile(r"\s*<[^<>]*\bat 0x[0-9a-fA-F]+>")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
# Pillow's own fallback when EXIF has no Orientation (`Image.getexif`): the XMP tiff:Orientation.
_XMP_ORIENTATION = r'tiff:Orientation(="|>)([0-9])'


def describe(error: BaseException, limit: int = 160) -> str:
    """An exception as a stable phrase: no object reprs or memory addresses, bounded length."""
    text = _ADDRESS.sub("", _OBJECT_REPR.sub("", str(error))).strip(" :,")
    return text[:limit] or type(error).__name__


def load(raw: bytes | None) -> Image.Exif:
    """The EXIF of an APP1 segment, eXIf chunk or WebP EXIF chunk; empty when absent or unreadable."""
    exif = Image.Exif()
    while raw and raw.startswith(b"Exif\x00\x00"):  # some PNG writers add the APP1 prefix to eXIf too
        raw = raw[6:]
    if raw:
        try:
            exif.load(raw)
        except Exception as error:  # any parser failure means "no EXIF", never "no image"
            logger.warning("EXIF skipped: the block is unreadable (%s)", describe(error))
            return Image.Exif()
    return exif


def raw_exif(info: dict[str, object]) -> bytes | None:
    """EXIF bytes from Pillow's `info`, including ImageMagick's hex "Raw profile type exif" text chunk."""
    raw = info.get("exif")
    if isinstance(raw, bytes):
        return raw
    profile = info.get("Raw profile type exif")
    if isinstance(profile, str):
        try:
            return bytes.fromhex("".join(profile.split("\n")[3:]))
        except ValueError:
            logger.warning("EXIF skipped: the raw EXIF profile is not hexadecimal")
    return None


def field(mapping: Image.Exif | dict[int, object], tag: int, name: str) -> object:
    """One tag's value, or None when it is absent or cannot be decoded."""
    try:
        return mapping.get(tag)
    except Exception as error:  # Pillow decodes the value here, by its declared type
        logger.warning("EXIF %s skipped: unreadable (%s)", name, describe(error))
        return None


def ifd(exif: Image.Exif, tag: int, name: str) -> dict[int, object]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception as error:  # a sub-IFD offset can point anywhere
        logger.warning("EXIF %s skipped: unreadable (%s)", name, describe(error))
        return {}


def orientation(exif: Image.Exif, info: dict[str, object]) -> int:
    """1..8 when the image says so unambiguously, else 1 (as stored): never a reason to fail."""
    value = field(exif, ORIENTATION, "Orientation")
    if value is None:
        xmp = info.get("XML:com.adobe.xmp") or info.get("xmp")
        if isinstance(xmp, str | bytes):
            match = re.search(_XMP_ORIENTATION if isinstance(xmp, str) else _XMP_ORIENTATION.encode(), xmp)
            value = int(match[2]) if match else None
    if isinstance(value, bytes | tuple | list) and len(value) == 1:
        value = value[0]  # a BYTE field, or a one-value array
    if value is None or (type(value) is int and 1 <= value <= 8):
        return value or 1
    logger.warning("EXIF Orientation ignored: %s is not a number from 1 to 8", _show(value))
    return 1


def text(value: object, name: str) -> str | None:
    """A text field as a bounded string: bytes decoded, cut at the first NUL; numbers are not text."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        logger.warning("EXIF %s skipped: %s is not text", name, _show(value))
        return None
    return value.lstrip("\x00 ").split("\x00", 1)[0].strip()[:MAX_TEXT] or None


def camera(exif: Image.Exif) -> dict[str, str | None]:
    """Camera make and model, and the capture time (DateTimeOriginal, else the file's DateTime)."""
    captured = field(ifd(exif, EXIF_IFD, "ExifIFD"), DATETIME_ORIGINAL, "DateTimeOriginal")
    return {"cameraMake": text(field(exif, MAKE, "Make"), "Make"),
            "cameraModel": text(field(exif, MODEL, "Model"), "Model"),
            "capturedAt": text(captured, "DateTimeOriginal") or text(field(exif, DATETIME, "DateTime"), "DateTime")}


def gps(exif: Image.Exif) -> dict[str, float] | None:
    """Latitude and longitude in degrees, or None unless both are complete, finite and in range."""
    values = ifd(exif, GPS_IFD, "GPSInfo")
    latitude = _coordinate(values, 2, 1, "S", 90.0)
    longitude = _coordinate(values, 4, 3, "W", 180.0)
    if latitude is None or longitude is None:
        return None
    return {"latitude": round(latitude, 6), "longitude": round(longitude, 6)}


def _coordinate(values: dict[int, object], tag: int, ref_tag: int, negative: str, bound: float) -> float | None:
    parts = values.get(tag)
    if isinstance(parts, Real):
        parts = (parts,)
    if not isinstance(parts, tuple | list) or not 1 <= len(parts) <= 3:
        return None
    if not all(isinstance(part, Real) and not isinstance(part, bool) for part in parts):
        return None
    try:
        degrees = sum(float(part) / 60**i for i, part in enumerate(parts))
    except (ArithmeticError, ValueError):
        return None
    if not math.isfinite(degrees) or not 0 <= degrees <= bound or any(float(part) < 0 for part in parts):
        return None
    ref = values.get(ref_tag)
    ref = ref.decode("latin-1") if isinstance(ref, bytes) else ref
    return -degrees if isinstance(ref, str) and ref.strip("\x00 ").upper()[:1] == negative else degrees


def upright_copy(raw: bytes | None) -> bytes | None:
    """The EXIF to embed in variants whose pixels are already upright (Orientation 1), or None.

    Re-encoding odd EXIF can fail (Pillow writes each tag by its declared type), and a JPEG
    cannot hold more than one marker segment of it: then the variants carry none.
    """
    exif = load(raw)
    if not len(exif):
        return None
    try:
        exif[ORIENTATION] = 1
        data = exif.tobytes()
    except Exception as error:  # keep the image, drop what cannot be re-encoded
        logger.warning("EXIF not copied to the variants: it cannot be re-encoded (%s)", describe(error))
        return None
    if len(data) > MAX_APP1:
        logger.warning("EXIF not copied to the variants: %s bytes is more than a JPEG segment holds", len(data))
        return None
    return data


def _show(value: object) -> str:
    """A value for a log line: type and a short repr."""
    shown = repr(value)
    return f"{type(value).__name__} {shown[:40]}{'...' if len(shown) > 40 else ''}"
