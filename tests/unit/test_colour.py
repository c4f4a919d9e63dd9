"""Colour management: where a wide-gamut colour lands in the variants, and what is left alone."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from handlers.image import colour, imaging
from local.samples import encode
from tests import icc
from tests.recipes import recipe

# Inside both gamuts, a saturated orange and a cyan outside sRGB (it clips), and a grey.
COLOURS = [(200, 100, 50), (30, 200, 220), (250, 40, 90), (128, 128, 128)]
JPEG_ERROR = 3  # flat patches through a quality-95 JPEG: a level or two per channel


def swatches(colours: list[tuple[int, int, int]], size: int = 400) -> Image.Image:
    """Flat patches side by side, big enough that every variant keeps a flat centre in each."""
    image = Image.new("RGB", (size * len(colours), size))
    for index, rgb in enumerate(colours):
        image.paste(rgb, (index * size, 0, (index + 1) * size, size))
    return image


def centre_colours(data: bytes, count: int) -> list[tuple[int, ...]]:
    with Image.open(BytesIO(data)) as image:
        rgb = image.convert("RGB")
        step = rgb.width / count
        return [rgb.getpixel((int(step * i + step / 2), rgb.height // 2)) for i in range(count)]


@pytest.mark.parametrize("space", ["display-p3", "adobe-rgb"])
@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_a_wide_gamut_photo_lands_where_the_reference_conversion_puts_it(space, fmt):
    upload = encode(swatches(COLOURS), "JPEG", quality=98, icc_profile=icc.profile(space))
    for variant in imaging.make_variants(upload, recipe([1280, 160], [fmt], quality=95)):
        for got, rgb in zip(centre_colours(variant.data, len(COLOURS)), COLOURS, strict=True):
            expected = icc.reference_to_srgb(space, rgb)
            assert max(abs(g - e) for g, e in zip(got, expected, strict=True)) <= JPEG_ERROR + 2, (rgb, got, expected)
        with Image.open(BytesIO(variant.data)) as decoded:
            assert decoded.info["icc_profile"] == colour.SRGB_ICC


def test_the_conversion_moves_colours_a_dropped_profile_would_leave_dull():
    """Without conversion the P3 orange would stay (200, 100, 50); in sRGB it is (215, 93, 31)."""
    converted, changed = colour.to_srgb(Image.new("RGB", (1, 1), (200, 100, 50)), icc.profile("display-p3"))
    assert changed and converted.getpixel((0, 0)) == icc.reference_to_srgb("display-p3", (200, 100, 50))
    assert converted.getpixel((0, 0)) == (215, 93, 31)


def test_an_image_without_a_profile_is_untouched():
    image = swatches(COLOURS, 8)
    same, changed = colour.to_srgb(image, None)
    assert same is image and not changed
    for variant in imaging.make_variants(encode(swatches(COLOURS), "PNG"), recipe([160], ["webp"], quality=100)):
        with Image.open(BytesIO(variant.data)) as decoded:
            assert "icc_profile" not in decoded.info
        for got, rgb in zip(centre_colours(variant.data, len(COLOURS)), COLOURS, strict=True):
            assert max(abs(g - e) for g, e in zip(got, rgb, strict=True)) <= 2


def test_alpha_survives_the_conversion():
    rgba = Image.new("RGBA", (300, 200), (200, 100, 50, 128))
    [variant] = imaging.make_variants(encode(rgba, "PNG", icc_profile=icc.profile("display-p3")),
                                      recipe([160], ["webp"], quality=100))
    with Image.open(BytesIO(variant.data)) as decoded:
        assert decoded.mode == "RGBA" and abs(decoded.getpixel((80, 50))[3] - 128) <= 1
        assert max(abs(g - e) for g, e in zip(decoded.getpixel((80, 50))[:3], (215, 93, 31), strict=True)) <= 3


@pytest.mark.parametrize("profile", [b"\0" * 16 + b"RGB " + b"garbage" * 20, icc.profile("display-p3")[:200]])
def test_a_profile_that_cannot_be_read_leaves_the_colours_and_completes(profile):
    image = Image.new("RGB", (4, 4), (200, 100, 50))
    same, changed = colour.to_srgb(image, profile)
    assert same is image and not changed
    upload = encode(swatches(COLOURS), "JPEG", quality=95, icc_profile=profile)
    assert imaging.make_variants(upload, recipe([160], ["jpeg"]))[0].width == 160


def test_grey_pixels_with_a_grey_profile_look_alike_in_every_format():
    """Linear grey 64 is much lighter in sRGB; every format must show the converted value, tagged sRGB."""
    grey = Image.new("L", (300, 200), 64)
    upload = encode(grey, "PNG", icc_profile=icc.gray_profile(1.0))
    expected = round(icc.srgb_encode(64 / 255) * 255)  # 137
    for variant in imaging.make_variants(upload, recipe([160], ["jpeg", "webp", "avif"], quality=95)):
        with Image.open(BytesIO(variant.data)) as decoded:
            assert decoded.info.get("icc_profile") == colour.SRGB_ICC, variant.format
            assert abs(decoded.convert("L").getpixel((80, 50)) - expected) <= 3, variant.format


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_no_source_metadata_leaks_through_the_savers(fmt):
    """Pillow's savers fall back to the image's info: a JPEG comment, or a profile the code chose not to tag."""
    upload = encode(swatches(COLOURS), "JPEG", quality=90, comment=b"owner: alice@example.com, home 51.5N")
    unreadable = encode(swatches(COLOURS), "PNG", icc_profile=colour.SRGB_ICC[:100])
    for data in (upload, unreadable):
        [variant] = imaging.make_variants(data, recipe([160], [fmt]))
        with Image.open(BytesIO(variant.data)) as decoded:
            assert "comment" not in decoded.info and "icc_profile" not in decoded.info
