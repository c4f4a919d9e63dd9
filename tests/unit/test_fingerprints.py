"""Fingerprints: ThumbHash and pHash against their references, and what duplicate detection relies on.

Where the vectors come from:
- ThumbHash encoder: the reference encoder, `rgbaToThumbHash` in js/thumbhash.js of github.com/evanw/thumbhash
  (Node 20), on the `pattern` pixels below (for the 160 px cases, on those pixels as `thumbhash` fits them
  into 100 px). None of them sits within 1e-4 of a rounding tie, so float summation order
  cannot move a bit.
- ThumbHash decoder: hashes published by ports' tests for images of theirs: flower.jpg of the reference repo
  (github.com/Hentioe/thumbhash-ex, github.com/jzebedee/ThumbHash), tux.png, which has alpha
  (jzebedee/ThumbHash), sunrise.jpg (github.com/galdor/go-thumbhash); the average colours and aspect ratios
  jzebedee/ThumbHash publishes for them; and the SHA-256 of the RGBA the reference `thumbHashToRGBA` renders
  (Node 20). `thumbhash` gives exactly the published hashes for those files (checked when this was written).
- pHash: imagehash 4.3.2 `phash` (with numpy and scipy) on `pattern` images, through Pillow 13.0.0: the
  vectors go through Pillow's Lanczos resize, so they hold for the pinned Pillow.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import random
from io import BytesIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from handlers.image import fingerprints

SMALLEST = 160  # the long edge of the smallest variant, whose pixels are fingerprinted


def pattern(width: int, height: int, mode: str = "RGB", seed: int = 1) -> Image.Image:
    """Deterministic pixels from integer arithmetic: ramps, an off-centre disc and LCG grain; no symmetry."""
    state, pixels = seed, bytearray()
    for y in range(height):
        for x in range(width):
            state = (state * 1103515245 + 12345) % 2**31
            grain = state >> 26  # 0..31
            disc = 80 if (4 * x - width) ** 2 + (3 * y - height) ** 2 < width * height else 0
            pixels += bytes(((40 + 150 * x // width + 50 * y // height + grain + disc) % 256,
                             (220 - 140 * y // height + (x * y + seed) % 19 + disc // 2) % 256,
                             (30 + 170 * (x + 2 * y) // (width + 2 * height) + grain // 2) % 256,
                             255 - (150 * x // width + 60 * y // height + (x * y) % 23 + disc) % 256))
    image = Image.frombytes("RGBA", (width, height), bytes(pixels))
    return image if mode == "RGBA" else image.convert(mode)


THUMBHASHES = [  # (width, height, mode, seed), the reference encoder's hash
    ((100, 75, "RGB", 1), "ZhkGRYxwZHeIeIhTl1mGdnmPJgea"),
    ((75, 100, "RGB", 2), "pgkGVQ5wdJl3OIVJhXd4Z3iPJgd5"),
    ((100, 100, "RGB", 3), "ZhkGTw5wdHiYeIhTl1iFeHd2h/docpAI"),
    ((23, 8, "RGB", 4), "pfkJKo5wVIZ3iFiGfH8mB5k="),
    ((9, 100, "RGB", 5), "JOkFWRRQlVeWU2aZdo83B4g="),
    ((100, 75, "RGBA", 6), "ZPmFJIYXUFSJeFRXhvhpU4D42JqFqXmJBw=="),
    ((60, 91, "RGBA", 7), "ZemBKwgXUJk4NWR3nzcGZ4+LWYiat4k="),
    ((100, 13, "RGBA", 8), "o9mFEYgYUFV5h3efnycFho+8fIiIiIc="),
    ((31, 31, "RGBA", 9), "pOmFJQgXUFSIeFNXdXefNwV3j5xZmJqneA=="),
    ((160, 120, "RGB", 10), "ZhkGRY5wZHeIeIhUl1mGdnmPJgea"),
    ((120, 160, "RGBA", 11), "ZfmBLAgXUJWJN3VDd/d5Y3D2uJiFqHmbCA=="),
]
PUBLISHED = [  # hash, average RGBA and aspect ratio as published, (w, h, SHA-256) of the reference's rendering
    ("k0oGLQaSVsN0BVhn2oq2Z5SQUQcZ", (0.484127015, 0.341269821, 0.0793650597, 1.0), 0.714285731,
     (23, 32, "3e8950e0c1dd012d993897c7bb00ea9f310fdd9645edf53a602edca1ce56a2b4")),
    ("oRmKHAI4OiXXJ/aLlx/3+XF/gDdnWJh5Bg==", (0.616402208, 0.568783104, 0.386243373, 0.533333361), 0.800000011,
     (26, 32, "78e174ce59ecf3149cf68c3df94c40873d683b73828c5ccfc4bd999b9a2d671b")),
    ("1QcSHQRnh493V4dIh4eXh1h4kJUI", None, None,
     (23, 32, "e73a084f2484aae39468faf77fdc06424fea88f5280e889c644aac6da5d9226e")),
]
PHASHES = [  # (width, height, mode, seed), str(imagehash.phash(image))
    ((160, 120, "RGB", 1), "80be1d3b1c3c3d3c"),
    ((120, 160, "RGBA", 2), "84cc3f33363c19e3"),
    ((97, 61, "RGB", 3), "80be1d3b1c3e1d3c"),
    ((400, 300, "RGB", 4), "80be1d3b1c3e1d3c"),
    ((33, 200, "L", 5), "88ca353425cbdbda"),
    ((32, 32, "RGB", 6), "84cc3d3b1c3c3be1"),
]


def ids(cases: list) -> list[str]:
    return [f"{width}x{height}-{mode}" for (width, height, mode, _), _ in cases]


@pytest.mark.parametrize(("case", "expected"), THUMBHASHES, ids=ids(THUMBHASHES))
def test_thumbhash_writes_the_reference_encoders_bytes(case, expected):
    width, height, mode, seed = case
    assert base64.b64encode(fingerprints.thumbhash(pattern(width, height, mode, seed))).decode() == expected


@pytest.mark.parametrize(("hash_b64", "average", "ratio", "rendered"), PUBLISHED, ids=["flower", "tux", "sunrise"])
def test_published_thumbhashes_decode_as_the_reference_decodes_them(hash_b64, average, ratio, rendered):
    thumb = base64.b64decode(hash_b64)
    width, height, rgba = fingerprints.thumbhash_to_rgba(thumb)
    assert (width, height, hashlib.sha256(rgba).hexdigest()) == rendered
    if average is not None:
        assert fingerprints.thumbhash_average_rgba(thumb) == pytest.approx(average, abs=1e-6)
        assert width / height == pytest.approx(ratio, abs=0.02)  # rendered at 32 px: within a pixel's rounding


@pytest.mark.parametrize(("case", "expected"), PHASHES, ids=ids(PHASHES))
def test_perceptual_hash_equals_imagehash_phash(case, expected):
    width, height, mode, seed = case
    assert format(fingerprints.perceptual_hash(pattern(width, height, mode, seed)), "016x") == expected


def test_flat_images_hash_alike_whatever_float_noise_there_is():
    """Zero but for noise counts as zero: no AC nibble of a flat image depends on the platform's arithmetic.

    (At least 7 px a side: on fewer, the reference's cosines alias, and a flat image has real AC terms.)
    """
    for size, colour in [((8, 8), (10, 20, 30)), ((100, 75), (200, 30, 40)), ((37, 91), (0, 128, 255))]:
        thumb = fingerprints.thumbhash(Image.new("RGB", size, colour))
        assert not any(thumb[5:])
        assert fingerprints.thumbhash_average_rgba(thumb)[:3] == pytest.approx([c / 255 for c in colour], abs=0.03)
        assert fingerprints.perceptual_hash(Image.new("RGB", size, colour)) == 1 << 63  # only the DC term is high
    assert fingerprints.perceptual_hash(Image.new("L", (50, 40))) == 0


def test_a_truncated_or_empty_thumbhash_is_a_value_error():
    flower = base64.b64decode(PUBLISHED[0][0])
    for bad in (b"", flower[:4], flower[:-3], bytes([0, 0, 0x80, 0, 0])):  # the last: alpha, but no alpha byte
        with pytest.raises(ValueError, match="ThumbHash"):
            fingerprints.thumbhash_to_rgba(bad)


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_hamming_is_a_metric(a, b, c):
    assert fingerprints.hamming(a, b) == fingerprints.hamming(b, a) == bin(a ^ b).count("1")
    assert (fingerprints.hamming(a, b) == 0) == (a == b)
    assert fingerprints.hamming(a, c) <= fingerprints.hamming(a, b) + fingerprints.hamming(b, c)


@given(st.integers(0, 2**64 - 1), st.integers(1, 64))
def test_bands_join_back_to_the_hash_in_widths_as_even_as_64_bits_allow(phash, count):
    bands = fingerprints.bands(phash, count)
    widths = [64 // count + (i < 64 % count) for i in range(count)]
    assert len(bands) == count and [len(band) for band in bands] == [-(-width // 4) for width in widths]
    assert all(int(band, 16) < 1 << width for band, width in zip(bands, widths, strict=True))
    assert sum(int(band, 16) << sum(widths[i + 1:]) for i, band in enumerate(bands)) == phash
    if 64 % count == 0 and (64 // count) % 4 == 0:
        assert "".join(bands) == format(phash, "016x")


@pytest.mark.parametrize(("count", "widths"), [(1, [64]), (2, [32, 32]), (3, [22, 21, 21]),
                                               (5, [13, 13, 13, 13, 12]), (8, [8] * 8)])
def test_bands_are_as_even_as_64_bits_allow_the_wider_first(count, widths):
    ones = fingerprints.bands((1 << 64) - 1, count)
    assert [int(band, 16).bit_length() for band in ones] == widths


@given(st.integers(0, 2**64 - 1), st.data())
def test_two_hashes_within_d_bits_share_one_of_d_plus_1_bands(phash, data):
    """Pigeonhole: d flipped bits fall in at most d of the d + 1 bands, so one band is left untouched."""
    distance = data.draw(st.integers(0, 7))
    count = distance + 1
    flipped = data.draw(st.sets(st.integers(0, 63), max_size=distance))
    other = phash ^ sum(1 << bit for bit in flipped)
    assert fingerprints.hamming(phash, other) <= distance
    assert any(a == b for a, b in zip(fingerprints.bands(phash, count), fingerprints.bands(other, count), strict=True))
    # And the guarantee is tight: d + 1 flipped bits, the first of each band, can leave none shared.
    starts = [sum(64 // count + (i < 64 % count) for i in range(band)) for band in range(count)]
    apart = phash ^ sum(1 << (63 - start) for start in starts)
    assert not any(a == b for a, b in zip(fingerprints.bands(phash, count), fingerprints.bands(apart, count),
                                          strict=True))


@pytest.mark.parametrize("count", [0, 65, 128, -4])
def test_bands_must_split_64_bits(count):
    with pytest.raises(ValueError, match="do not split"):
        fingerprints.bands(0, count)


def alpha_weighted_mean(image: Image.Image) -> tuple[list[float], float] | None:
    """(RGB 0..1, mean alpha 0..1) of an RGBA image, or None when nothing is visible."""
    data = image.tobytes()
    alpha = data[3::4]
    if not (total := sum(alpha)):
        return None
    colour = [sum(c * a for c, a in zip(data[i::4], alpha, strict=True)) / total / 255 for i in range(3)]
    return colour, total / len(alpha) / 255


@settings(deadline=None)
@given(width=st.integers(1, 400), height=st.integers(1, 50), portrait=st.booleans(), alpha=st.booleans(),
       smooth=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_any_image_decodes_to_its_aspect_ratio_and_mean_colour(width, height, portrait, alpha, smooth, seed):
    rng = random.Random(seed)
    size = (height, width) if portrait else (width, height)
    if smooth:  # a few random colours blended across the image, or per-pixel noise
        image = Image.frombytes("RGBA", (3, 2), rng.randbytes(24)).resize(size, Image.Resampling.BILINEAR)
    else:
        image = Image.frombytes("RGBA", size, rng.randbytes(size[0] * size[1] * 4))
    if not alpha:
        image = image.convert("RGB")
    thumb = fingerprints.thumbhash(image)
    decoded_width, decoded_height, rgba = fingerprints.thumbhash_to_rgba(thumb)
    assert len(rgba) == decoded_width * decoded_height * 4 and max(decoded_width, decoded_height) == 32
    # The ratio travels as luminance terms along the short side, out of 7 (5 with alpha) along the long one.
    terms = 5 if thumb[2] >> 7 else 7
    short, long = sorted(size)
    expected = max(short / long, 1 / terms)  # at least one term
    got = min(decoded_width, decoded_height) / 32
    assert got == pytest.approx(expected, abs=0.5 / terms + 0.5 / 32 + 0.01)  # + the 100 px fit's rounding
    assert (decoded_width - decoded_height) * (size[0] - size[1]) >= 0  # never turned; near-square may be square
    # The mean travels as 6-bit luminance and chroma (a channel within 0.022) and 4-bit alpha (within 1/30): the
    # mean of the pixels hashed, the image fitted into 100 px (which moves the mean of a 3 px wide one by 0.05).
    fitted = image.convert("RGBA")
    fitted.thumbnail((100, 100), Image.Resampling.LANCZOS)
    visible = alpha_weighted_mean(fitted)
    if visible is not None:
        colour, opacity = visible
        average = fingerprints.thumbhash_average_rgba(thumb)
        assert average[:3] == pytest.approx(colour, abs=0.022)
        assert average[3] == pytest.approx(opacity, abs=1 / 30 + 1e-9)


def test_average_colour_weighs_by_alpha():
    assert fingerprints.average_colour(Image.new("RGB", (7, 5), (200, 100, 50))) == "#c86432"
    image = Image.new("RGBA", (2, 1))
    image.putdata([(255, 0, 0, 255), (0, 0, 255, 85)])  # red weighs 3, blue 1
    assert fingerprints.average_colour(image) == "#bf0040"
    image.putdata([(255, 0, 0, 0), (0, 0, 255, 255)])  # an invisible pixel counts for nothing
    assert fingerprints.average_colour(image) == "#0000ff"
    image.putdata([(255, 0, 0, 0), (0, 0, 255, 0)])  # nothing visible: the plain mean
    assert fingerprints.average_colour(image) == "#800080"
    assert fingerprints.average_colour(Image.new("LA", (3, 3), (90, 255))) == "#5a5a5a"


def test_fingerprint_hashes_the_bytes_and_the_smallest_pixels():
    smallest = pattern(160, 120, "RGBA", 3)
    fingerprint = fingerprints.fingerprint(b"the upload", smallest)
    assert fingerprint.sha256 == hashlib.sha256(b"the upload").hexdigest()
    assert fingerprint.phash == format(fingerprints.perceptual_hash(smallest), "016x") and len(fingerprint.phash) == 16
    assert base64.b64decode(fingerprint.thumbhash, validate=True) == fingerprints.thumbhash(smallest)
    assert fingerprint.average_colour == fingerprints.average_colour(smallest)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fingerprint.phash = "0" * 16  # type: ignore[misc]
    for mode in ("L", "LA", "P", "RGB"):
        assert fingerprints.fingerprint(b"", smallest.convert(mode)).average_colour.startswith("#")


def scene(seed: int, size: tuple[int, int] = (2000, 1500)) -> Image.Image:
    """A photo-like image: a smooth colour field, blurred shapes and sensor-like grain."""
    rng = random.Random(seed)
    width, height = size
    image = Image.frombytes("RGB", (4, 3), rng.randbytes(36)).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(4, 12)):
        x, y = rng.randrange(width), rng.randrange(height)
        dx, dy = rng.randint(width // 20, width // 3), rng.randint(height // 20, height // 3)
        colour = tuple(rng.randbytes(3))
        if rng.random() < 0.3:
            draw.polygon([(x + rng.randint(-dx, dx), y + rng.randint(-dy, dy)) for _ in range(5)], fill=colour)
        else:
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x, y, x + dx, y + dy), fill=colour)
    grain = Image.frombytes("L", size, rng.randbytes(width * height)).point(lambda v: 128 + (v - 128) // 8)
    return ImageChops.add(image.filter(ImageFilter.GaussianBlur(3)), grain.convert("RGB"), offset=-128)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def smallest_phash(data: bytes) -> int:
    """The pHash the pipeline stores for an upload: from its smallest variant, fitted into 160 px."""
    with Image.open(BytesIO(data)) as image:
        image = image.convert("RGB")
        scale = SMALLEST / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        return fingerprints.perceptual_hash(image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0))


def half(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)


EDITS = {
    "jpeg-60": lambda image: encode(image, "JPEG", quality=60),
    "half-size": lambda image: encode(half(image), "JPEG", quality=90),
    "jpeg-60-half-size": lambda image: encode(half(image), "JPEG", quality=60),
    "webp-75": lambda image: encode(image, "WEBP", quality=75),
}


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    """Uploads as a camera writes them (JPEG 90), decoded."""
    return [Image.open(BytesIO(encode(scene(seed), "JPEG", quality=90))).convert("RGB") for seed in range(4)]


@pytest.mark.parametrize("edit", EDITS)
def test_a_re_encoded_or_resized_copy_stays_within_4_bits(photos, edit):
    for photo in photos:
        original = smallest_phash(encode(photo, "JPEG", quality=90))
        assert fingerprints.hamming(original, smallest_phash(EDITS[edit](photo))) <= 4


def test_unrelated_images_are_at_least_12_bits_apart():
    """50 pairs of unrelated scenes (when this was written: 16 to 44 bits apart, median 32)."""
    hashes = [smallest_phash(encode(scene(1000 + seed, (400, 300)), "JPEG", quality=90)) for seed in range(100)]
    distances = [fingerprints.hamming(a, b) for a, b in zip(hashes[::2], hashes[1::2], strict=True)]
    assert sum(distance >= 12 for distance in distances) >= 0.9 * len(distances), sorted(distances)


def test_the_placeholder_from_48_px_decodes_as_the_one_from_100_px():
    """`fingerprint` fits the smallest variant to 48 px before its ThumbHash (5x faster than 100 px)."""
    from tests.corpus import photo

    for seed in range(5):
        variant = photo(1600, 1200, seed=seed).resize((160, 120), Image.Resampling.LANCZOS)
        fast = base64.b64decode(fingerprints.fingerprint(b"", variant).thumbhash)
        *size_fast, pixels_fast = fingerprints.thumbhash_to_rgba(fast)
        *size_ref, pixels_ref = fingerprints.thumbhash_to_rgba(fingerprints.thumbhash(variant))
        assert size_fast == size_ref
        assert sum(abs(a - b) for a, b in zip(pixels_fast, pixels_ref, strict=True)) / len(pixels_ref) < 1.0
