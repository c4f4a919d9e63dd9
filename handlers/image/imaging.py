"""Image inspection, variants and metadata: bytes in, bytes out. No AWS here.

Decoding happens once per upload: a JPEG is decoded at the smallest DCT scale that still
covers the largest variant (`draft`), every smaller variant is resized from the previous
one. The pixel limit is checked from the header, before anything is decoded.

Partial reads: the pipeline first reads only the first 64 KiB of an upload. `inspect` and
`extract_metadata` take `complete=False` for such data and then either answer exactly what
they would answer for the whole file, or raise `NeedWholeFile`; only with `complete=True` do
they reject (`InvalidImage`), and only a file that does not decode as an image.

Bad metadata never fails an image that decodes: EXIF is read field by field (`handlers.image.exif`).

Example:
    >>> from io import BytesIO
    >>> from PIL import Image
    >>> buffer = BytesIO(); Image.new("RGB", (4000, 3000)).save(buffer, "JPEG")
    >>> recipe = Recipe(variant_sizes=(1280, 160))
    >>> [(v.size, v.width, v.height) for v in make_variants(buffer.getvalue(), recipe)]
    [(1280, 1280, 960), (160, 160, 120)]
"""

from __future__ import annotations

import dataclasses
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import TypeVar

from pi_heif import register_heif_opener
from PIL import Image

from contract.errors import InvalidImage
from contract.recipe import Limits, Recipe
from handlers.image import animation, colour, crops, encoding
from handlers.image import exif as exif_fields
from handlers.image.encoding import Variant

# Pillow's decompression-bomb guard (`Image.MAX_IMAGE_PIXELS`, ~89.5 MP) would reject images that
# `Limits.max_pixels` accepts, and toggling it per call races between the local runner's threads.
# Our own guard checks width x height from the header before anything is decoded (`_open`), so
# Pillow's is switched off once, here, at import. (GIF frames can extend the canvas: Pillow grows
# `size` for the first frame while opening, before our check; later frames by `animation.gif_growth`.)
Image.MAX_IMAGE_PIXELS = None
# HEIC/HEIF through libheif. The decoder applies the container's rotation and mirroring and sets
# the EXIF orientation to 1, so HEIF pixels come out upright and are never rotated twice.
register_heif_opener()
logger = logging.getLogger("handlers.image.imaging")
T = TypeVar("T")

MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
# ISO BMFF `ftyp` major brands of HEIF stills and sequences (HEVC-coded and generic).
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")
MAX_TEXT = exif_fields.MAX_TEXT
# Antialiased bicubic: at these downscale ratios indistinguishable from Lanczos, ~30 % faster.
RESAMPLE = Image.Resampling.BICUBIC
DEFAULT_LIMITS = Limits()


class NeedWholeFile(Exception):
    """The first bytes of a file do not settle the answer: call again with the whole file, `complete=True`.

    Not an `InvalidImage`: it never rejects an upload.
    """


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    mode: str
    frames: int


def detect_format(head: bytes) -> str | None:
    """The real format from magic bytes; extension and Content-Type are never trusted."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "HEIF"
    return next((name for magic, name in MAGIC if head.startswith(magic)), None)


def check_size(size: int, limits: Limits) -> None:
    if size == 0:
        raise InvalidImage("the file is empty (0 bytes)")
    if size > limits.max_bytes:
        raise InvalidImage(f"the file is {size:,} bytes; the limit is {limits.max_bytes:,}")


def _guard(fmt: str, complete: bool, what: str, call: Callable[[], T]) -> T:
    """Run a Pillow call; a failure is `NeedWholeFile` on partial data, a stable `InvalidImage` on whole data."""
    try:
        return call()
    except MemoryError:
        raise
    except Exception as error:  # Pillow raises anything on corrupt data (IndexError, struct.error)
        if not complete:
            raise NeedWholeFile(f"the partial {fmt} {what} cannot be read") from error
        detail = " ".join(exif_fields.describe(error).split())
        if what == "image data" and "truncated" in detail.lower():
            raise InvalidImage(f"the {fmt} image data is truncated") from None
        raise InvalidImage(f"the {fmt} {what} is corrupt ({detail})") from None


def _open(data: bytes, limits: Limits, complete: bool = True) -> tuple[Image.Image, str]:
    fmt = detect_format(data[:16])
    if not complete and (fmt is None or fmt not in limits.allowed_formats):
        raise NeedWholeFile("the first bytes are not an accepted image")  # only the whole file is rejected
    if fmt is None:
        raise InvalidImage(f"the file is not a JPEG, PNG, GIF, WebP or HEIC image (it starts with {data[:8]!r})")
    if fmt not in limits.allowed_formats:
        raise InvalidImage(f"{fmt} images are not accepted (allowed: {', '.join(limits.allowed_formats)})")
    # The contract names formats as Pillow does (`contract.recipe.IMAGE_FORMATS`).
    image = _guard(fmt, complete, "header", lambda: Image.open(BytesIO(data), formats=[fmt]))
    width, height = image.size
    if width * height > limits.max_pixels or width < 1 or height < 1:
        image.close()
        if not complete:
            raise NeedWholeFile("the header names a size only the whole file may reject")
        if width < 1 or height < 1:
            raise InvalidImage(f"the image has no pixels ({width}x{height})")
        raise InvalidImage(f"the image is {width}x{height} = {width * height:,} pixels; the limit is "
                           f"{limits.max_pixels:,} (decompression-bomb guard)")
    return image, fmt


def _frames(image: Image.Image, fmt: str, complete: bool) -> int:
    """The frame count; GIF and WebP count frames through the whole file, so partial data cannot say."""
    if fmt == "HEIF":
        return 1  # the images of a HEIF (bursts, depth maps) are not frames of an animation
    if fmt in ("GIF", "WEBP") and not complete:
        raise NeedWholeFile(f"the {fmt} frame count needs the whole file")
    try:
        return int(getattr(image, "n_frames", 1))
    except MemoryError:
        raise
    except Exception as error:  # a damaged later frame: count the frames that can be read
        logger.warning("%s frame count: stopped at a damaged frame (%s)", fmt, exif_fields.describe(error))
    count = 1
    try:
        while True:
            image.seek(count)
            count += 1
    except Exception:  # the first frame that cannot be read ends the count
        return count


def inspect(data: bytes, limits: Limits = DEFAULT_LIMITS, *, complete: bool = True) -> ImageInfo:
    """Format, size, mode and frame count from the header, within `limits`.

    `complete=False` means `data` is only the first bytes of the file: the answer is then the
    whole file's, or `NeedWholeFile` (always for GIF and WebP, whose frames run to the end).
    Decoding, which sees damaged pixel data, happens in `make_variants`.
    """
    if not complete and detect_format(data[:16]) == "HEIF":
        raise NeedWholeFile("libheif reads HEIF from the whole file")
    image, fmt = _open(data, limits, complete)
    with image:
        width, height, mode = image.width, image.height, image.mode
        frames = _frames(image, fmt, complete)
    if fmt == "GIF":
        animation.gif_growth(data, limits.max_pixels)  # every frame's canvas within the limit, or refused
    return ImageInfo(format=fmt, width=width, height=height, mode=mode, frames=frames)


def _png_exif(data: bytes, complete: bool) -> bytes | None:
    """The first eXIf chunk, wherever it is: Pillow sees one that follows IDAT only after decoding every pixel."""
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        end = offset + 8 + length
        if kind == b"IEND" or (kind == b"eXIf" and end <= len(data)):
            return data[offset + 8:end] if kind == b"eXIf" else None
        if kind == b"eXIf":
            break
        offset = end + 4  # + CRC
    if not complete:
        raise NeedWholeFile("the first bytes of the PNG end before its eXIf chunk or IEND")
    return None


def _raw_exif(info: dict[str, object], fmt: str, data: bytes, complete: bool) -> bytes | None:
    """The EXIF block; `info` as opened, before decoding (which adds the PNG chunks that follow the pixels)."""
    if fmt == "PNG":
        return _png_exif(data, complete) or exif_fields.raw_exif(info)
    if fmt == "WEBP" and not complete:
        raise NeedWholeFile("WebP keeps its EXIF after the pixels")
    return exif_fields.raw_exif(info)


def _decode(data: bytes, largest: int, limits: Limits,
            shortest: int = 0) -> tuple[Image.Image, bytes | None, bytes | None]:
    """Decode once (the first frame), oriented upright; returns (image, exif, icc_profile).

    A JPEG is decoded only as large as the largest variant (long edge `largest`, short edge
    `shortest` for square variants) needs."""
    image, fmt = _open(data, limits)
    info = dict(image.info)
    icc = info.get("icc_profile")
    if fmt == "JPEG":
        scale = min(max(image.size) / largest, min(image.size) / shortest if shortest else float("inf"))
        if scale >= 2:
            # DCT-domain downscale: decodes 1/2, 1/4 or 1/8 of the pixels, never below the target.
            # At least 1 px each way: a 16000x4 banner would ask for 0 and Pillow divides by it.
            image.draft(image.mode if image.mode in ("RGB", "L") else None,
                        (max(1, int(image.width / scale)), max(1, int(image.height / scale))))
    # Animated images: the first frame. A HEIF opens on its primary image, which need not be the first.
    _guard(fmt, True, "image data", lambda: (fmt == "HEIF" or image.seek(0), image.load()))
    raw = _raw_exif(info, fmt, data, True)
    method = exif_fields.TRANSPOSE.get(exif_fields.orientation(exif_fields.load(raw), info))
    if method is not None:
        upright = image.transpose(method)  # Pillow's exif_transpose does the same, and then rewrites the EXIF
        image.close()
        image = upright
    return image, raw, icc if isinstance(icc, bytes) else None


def _normalize(image: Image.Image) -> Image.Image:
    """CMYK, palette and 16-bit pixels become 8-bit L, LA, RGB or RGBA (alpha kept)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v * (1 / 256)).convert("L")  # 16-bit -> 8-bit, scaled not clipped
    if image.mode in ("P", "PA"):
        has_alpha = "transparency" in image.info or image.mode == "PA"
        image = image.convert("RGBA" if has_alpha else "RGB")
    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    return image


def _fit(width: int, height: int, long_edge: int) -> tuple[int, int]:
    """Dimensions with the long edge at `long_edge`, never upscaled, never below 1 px."""
    scale = min(1.0, long_edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_variants(data: bytes, recipe: Recipe) -> list[Variant]:
    """Every size x format of `recipe` (see `make_variants_and_smallest`, which also returns the smallest pixels)."""
    return make_variants_and_smallest(data, recipe)[0]


def make_variants_and_smallest(data: bytes, recipe: Recipe) -> tuple[list[Variant], Image.Image]:
    """Every size x format of `recipe`, decoding the upload once; metadata stripped unless `recipe.keep_gps`.
    Also returns the smallest fitted variant's pixels (sRGB, before encoding): placeholders and hashes come
    from them.

    Pixels with an ICC profile are converted to sRGB first and the variants tagged sRGB
    (`handlers.image.colour`); pixels without one are left as they are. Each format has its quality
    (`recipe.qualities`). `recipe.square_sizes` adds square variants, cropped where `recipe.square_crop`
    says (`handlers.image.crops`). `recipe.animation == "animated_webp"` makes the WebP variants of an
    animated upload animated, within `recipe.budget` (`handlers.image.animation`).
    """
    sizes, formats, limits = recipe.variant_sizes, recipe.variant_formats, recipe.limits
    ordered = sorted(set(sizes), reverse=True)
    squares = sorted(set(recipe.square_sizes), reverse=True)
    image, exif, icc = _decode(data, ordered[0], limits, squares[0] if squares else 0)
    if image.mode != "CMYK":  # palette and 16-bit pixels first; CMYK goes through its profile
        image = _normalize(image)
    image, in_srgb = colour.to_srgb(image, icc)  # before resizing: resampling mixes colours
    if icc and not in_srgb and not colour.readable(icc):
        icc = None  # never passed on
    current = _normalize(image)
    exif_out = exif_fields.upright_copy(exif) if recipe.keep_gps else None  # pixels are already upright

    def encode(pixels: Image.Image, size: int, fmt: str, shape: str) -> Variant:
        return encoding.encode(pixels, recipe, size=size, fmt=fmt, shape=shape, exif=exif_out, in_srgb=in_srgb,
                               source_icc=icc)

    variants: list[Variant] = []
    square = current.crop(crops.square_box(current, recipe.square_crop)) if squares else None
    for size in squares:  # never upscaled: a smaller image gives a smaller square
        if square is not None and square.width > size:
            square = square.resize((size, size), RESAMPLE, reducing_gap=3.0)
        variants += [encode(square, size, fmt, "square") for fmt in formats] if square is not None else []
    for size in ordered:  # cascade: each size is resized from the previous, larger one
        target = _fit(*image.size, size)
        if current.size != target:
            current = current.resize(target, RESAMPLE, reducing_gap=3.0)
        variants += [encode(current, size, fmt, "fit") for fmt in formats]
    if recipe.animation == "animated_webp" and "webp" in formats:
        variants = _animate(data, variants, ordered, image.size, recipe)
    return sorted(variants, key=lambda v: (v.shape, -v.size, v.format)), current


def _noted(variants: list[Variant], stills: list[Variant], note: str) -> list[Variant]:
    """`variants` with `note` on the still ones that stand in for an animation."""
    noted = {id(v): dataclasses.replace(v, note=note) for v in stills}
    return [noted.get(id(v), v) for v in variants]


def _animate(data: bytes, variants: list[Variant], sizes: list[int], size: tuple[int, int],
             recipe: Recipe) -> list[Variant]:
    """The fitted WebP variants of an animated upload replaced by animated ones, or noted why not."""
    limits = recipe.limits
    image, fmt = _open(data, limits)
    with image:
        grows, canvas = animation.gif_growth(data, limits.max_pixels) if fmt == "GIF" else (0, image.size)
        frames = _frames(image, fmt, True)
        if frames < 2:
            return variants
        largest = _fit(*size, sizes[0])
        refusal = recipe.budget.refusal(frames=frames, width=largest[0], height=largest[1])
        if grows:  # its frames would be decoded larger than the image validated, and squeezed to its size
            refusal = (f"frame {grows} of the GIF makes its canvas {canvas[0]}x{canvas[1]}, larger than the first "
                       f"frame's {image.width}x{image.height}: the first frame is used")
        stills = [v for v in variants if v.format == "webp" and v.shape == "fit"]
        if refusal:
            return _noted(variants, stills, refusal)
        icc = image.info.get("icc_profile") if colour.readable(image.info.get("icc_profile")) else None
        try:
            made = animation.animated_webps(
                image, [(s, _fit(*size, s)) for s in sizes],
                quality=recipe.webp_quality,
                prepare=lambda frame: colour.to_srgb(_normalize(frame.convert("RGBA")), icc)[0],
                icc_profile=colour.SRGB_ICC if icc else None)
        except animation.AnimationRefused as refused:
            return _noted(variants, stills, str(refused))
    animated = [Variant(size=a.size, format="webp", content_type="image/webp", extension="webp", width=a.width,
                        height=a.height, data=a.data, frames=a.frames) for a in made]
    return [v for v in variants if v not in stills] + animated


def extract_metadata(data: bytes, *, keep_gps: bool = False, limits: Limits = DEFAULT_LIMITS,
                     complete: bool = True) -> dict[str, object]:
    """Camera, capture time, orientation and dimensions (GPS only with `keep_gps`); small, bounded, JSON-safe.

    Nothing is decoded. `complete=False`: see `inspect`; a PNG whose eXIf chunk is not in the
    first bytes, and any WebP, need the whole file.
    """
    if not complete and detect_format(data[:16]) == "HEIF":
        raise NeedWholeFile("libheif reads HEIF from the whole file")
    image, fmt = _open(data, limits, complete)
    with image:
        info, (width, height), mode = dict(image.info), image.size, image.mode
    exif = exif_fields.load(_raw_exif(info, fmt, data, complete))
    orientation = exif_fields.orientation(exif, info)
    upright = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    metadata: dict[str, object] = {
        "format": fmt, "width": width, "height": height, "uprightWidth": upright[0], "uprightHeight": upright[1],
        "mode": mode, "orientation": orientation, **exif_fields.camera(exif),
    }
    if keep_gps:
        metadata["gps"] = exif_fields.gps(exif)
    return {key: value for key, value in metadata.items() if value is not None}
