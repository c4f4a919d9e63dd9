"""Imaging properties: any image Pillow can write goes through; any corruption is a named rejection.

`HYPOTHESIS_PROFILE=soak` (tests/conftest.py) runs many more examples than the usual few dozen.
"""

from __future__ import annotations

import contextlib
import json
import re
from io import BytesIO

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from contract.errors import InvalidImage
from contract.recipe import Limits
from handlers.image import imaging
from tests import corpus
from tests.recipes import recipe

ADDRESS = re.compile(r"0x[0-9a-f]{6,}", re.IGNORECASE)
# Pillow warns (UserWarning) about every corrupt EXIF block it parses; these tests make many on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
SIZES, FORMATS = [256, 64, 16], ["jpeg", "webp"]
SMALL = Limits(max_pixels=2_000_000)  # a corrupt header may claim any size: keep memory modest
# What Pillow can write: JPEG has no alpha, palette or 16-bit; PNG has no CMYK; GIF and WebP convert.
SAVEABLE = {"JPEG": ("1", "L", "RGB", "CMYK"), "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
            "GIF": ("1", "L", "P", "RGB"), "WEBP": ("L", "LA", "P", "RGB", "RGBA")}
TAGS = [corpus.MAKE, corpus.MODEL, corpus.ORIENTATION, corpus.DATETIME]


def examples(usual: int) -> int:
    """`usual`, or more when a profile such as HYPOTHESIS_PROFILE=soak asks for more."""
    return max(usual, settings.default.max_examples) if settings.default.max_examples > 100 else usual


def relaxed(usual: int) -> settings:
    return settings(max_examples=examples(usual), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- strategies -----------------------------------------------------------------------------------

def field_values(kind: int) -> st.SearchStrategy[object]:
    """Values of one EXIF field type, including what firmware gets wrong: NULs, NaN, zero denominators."""
    counts = {"min_size": 1, "max_size": 4}
    if kind in (corpus.BYTE, corpus.ASCII, corpus.UNDEFINED):
        return st.binary(min_size=1, max_size=40) | st.sampled_from([b"\x06", b"Canon\x00", b"\x00\x00", b"a\x00b"])
    if kind in (corpus.RATIONAL, corpus.SRATIONAL):
        low, high = (0, 2**32 - 1) if kind == corpus.RATIONAL else (-(2**31), 2**31 - 1)
        return st.lists(st.tuples(st.integers(low, high), st.integers(low, high) | st.just(0)), **counts)
    if kind in (corpus.FLOAT, corpus.DOUBLE):
        return st.lists(st.floats(width=32 if kind == corpus.FLOAT else 64), **counts)
    bounds = {corpus.SHORT: (0, 2**16 - 1), corpus.LONG: (0, 2**32 - 1), corpus.SLONG: (-(2**31), 2**31 - 1)}[kind]
    return st.lists(st.integers(*bounds) | st.integers(0, 9), **counts)


@st.composite
def exif_blocks(draw: st.DrawFn) -> bytes | None:
    if draw(st.booleans()):
        return None
    kinds = [corpus.BYTE, corpus.ASCII, corpus.SHORT, corpus.LONG, corpus.RATIONAL, corpus.UNDEFINED, corpus.SLONG,
             corpus.SRATIONAL, corpus.FLOAT, corpus.DOUBLE]
    entries = []
    for tag in draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=4)):
        kind = draw(st.sampled_from(kinds))
        entries.append((tag, kind, draw(field_values(kind))))
    gps = None
    if draw(st.booleans()):
        gps = [(tag, corpus.RATIONAL, draw(field_values(corpus.RATIONAL))) for tag in (2, 4)]
        gps += [(tag, corpus.ASCII, draw(st.sampled_from([b"N\x00", b"S\x00", b"W\x00", b"\x00", b"south"])))
                for tag in (1, 3)]
    return corpus.exif_block(entries, gps=gps, endian=draw(st.sampled_from(["<", ">"])))


@st.composite
def images(draw: st.DrawFn) -> bytes:
    """An image of any size, mode and format Pillow writes, with random (often odd) EXIF."""
    fmt = draw(st.sampled_from(sorted(SAVEABLE)))
    mode = draw(st.sampled_from(SAVEABLE[fmt]))
    size = draw(st.integers(1, 400)), draw(st.integers(1, 400))
    base = corpus.grain(size, draw(st.integers(0, 9)), draw(st.sampled_from([0.0, 10.0, 80.0]))).convert("RGB")
    image = base.convert("I").point(lambda v: v * 257).convert("I;16") if mode == "I;16" else base.convert(mode)
    exif = draw(exif_blocks()) if fmt != "GIF" else None
    options: dict[str, object] = {"exif": exif} if exif else {}
    if fmt == "JPEG":
        assume(not exif or len(exif) <= 65_533)  # one APP1 segment
        options |= {"quality": draw(st.integers(1, 95)), "progressive": draw(st.booleans())}
    if fmt == "WEBP":
        options |= {"lossless": draw(st.booleans())}
    data = corpus.encode(image, fmt, **options)
    if fmt == "PNG" and exif and draw(st.booleans()):  # move the eXIf chunk after the pixels
        data = corpus.splice_before_iend(corpus.encode(image, fmt), corpus.png_chunk(b"eXIf", exif[6:]))
    return data


def check_reason(error: InvalidImage) -> None:
    reason = str(error)
    assert reason and not ADDRESS.search(reason) and " object at " not in reason, reason


# -- (a) every image Pillow writes goes through ----------------------------------------------------

@relaxed(100)
@given(data=images(), keep_gps=st.booleans())
def test_any_writable_image_is_inspected_resized_and_described_as_json(data, keep_gps):
    info = imaging.inspect(data)
    metadata = imaging.extract_metadata(data, keep_gps=keep_gps)
    json.dumps(metadata, allow_nan=False)
    assert (metadata["width"], metadata["height"]) == (info.width, info.height)
    assert metadata["orientation"] in range(1, 9)
    upright = metadata["uprightWidth"], metadata["uprightHeight"]
    for variant in imaging.make_variants(data, recipe(SIZES, FORMATS, keep_gps=keep_gps)):
        scale = min(1.0, variant.size / max(upright))
        assert (variant.width, variant.height) == (max(1, round(upright[0] * scale)), max(1, round(upright[1] * scale)))
        with Image.open(BytesIO(variant.data)) as decoded:
            assert decoded.size == (variant.width, variant.height)


@relaxed(100)
@given(data=images(), cut=st.floats(0.0, 1.0))
def test_any_prefix_gives_the_whole_files_answer_or_asks_for_the_whole_file(data, cut):
    prefix = data[:int(len(data) * cut)]
    for call in (lambda d, c: imaging.inspect(d, complete=c),
                 lambda d, c: imaging.extract_metadata(d, keep_gps=True, complete=c)):
        try:
            partial = call(prefix, False)
        except imaging.NeedWholeFile:
            continue
        assert partial == call(data, True)


# -- (b) any corruption is a named rejection, never a crash -----------------------------------------

@st.composite
def corruptions(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(sorted(corpus.small_corpus().items())))[1])
    for _ in range(draw(st.integers(1, 4))):
        offset = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "overwrite", "truncate"]))
        if action == "flip":
            data[offset] ^= 1 << draw(st.integers(0, 7))
        elif action == "overwrite":
            data[offset:offset + 4] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[offset:]
            break
    return bytes(data)


@relaxed(150)
@given(data=corruptions(), keep_gps=st.booleans())
def test_any_corruption_is_accepted_or_rejected_with_a_stable_reason_never_a_crash(data, keep_gps):
    calls = [lambda: imaging.inspect(data, SMALL),
             lambda: json.dumps(imaging.extract_metadata(data, keep_gps=keep_gps, limits=SMALL), allow_nan=False),
             lambda: imaging.make_variants(data, recipe(SIZES, FORMATS, keep_gps=keep_gps, limits=SMALL))]
    for call in calls:
        try:
            call()
        except InvalidImage as error:
            check_reason(error)
    for partial in (lambda: imaging.inspect(data[:4096], SMALL, complete=False),
                    lambda: imaging.extract_metadata(data[:4096], limits=SMALL, complete=False)):
        with contextlib.suppress(imaging.NeedWholeFile):
            partial()
