"""AVIF next to JPEG and WebP: what each format's variants carry, and the per-format settings."""

from __future__ import annotations

from io import BytesIO

from PIL import Image

from components import parse_settings
from handlers.image import colour, imaging
from local.samples import encode, jpeg_with_exif, photo
from tests import icc
from tests.recipes import recipe
from tests.steps import variants_step_settings

FORMATS = ["jpeg", "webp", "avif"]
TYPES = {"jpeg": ("image/jpeg", "jpg"), "webp": ("image/webp", "webp"), "avif": ("image/avif", "avif")}


def decoded(variant: imaging.Variant) -> Image.Image:
    return Image.open(BytesIO(variant.data))


def test_every_format_gets_every_size_with_its_content_type_and_extension():
    variants = imaging.make_variants(jpeg_with_exif(width=4000, height=3000), recipe([1280, 640, 160], FORMATS))
    assert [(v.size, v.format) for v in variants] == [(s, f) for s in (1280, 640, 160) for f in sorted(FORMATS)]
    for variant in variants:
        image = decoded(variant)
        assert image.format == variant.format.upper()
        assert (image.width, image.height) == (variant.width, variant.height)
        assert (variant.content_type, variant.extension) == TYPES[variant.format]
    by_format = {v.format: len(v.data) for v in variants if v.size == 1280}
    assert by_format["avif"] < by_format["webp"] < by_format["jpeg"]


def test_avif_keeps_alpha_takes_grey_and_is_tagged_srgb_after_conversion():
    rgba = encode(Image.new("RGBA", (800, 600), (200, 100, 50, 128)), "PNG", icc_profile=icc.profile("display-p3"))
    [variant] = imaging.make_variants(rgba, recipe([160], ["avif"], quality=90))
    image = decoded(variant)
    assert image.mode == "RGBA" and abs(image.getpixel((80, 60))[3] - 128) <= 2
    assert image.info.get("icc_profile") == colour.SRGB_ICC
    assert max(abs(g - e) for g, e in zip(image.getpixel((80, 60))[:3], (215, 93, 31), strict=True)) <= 4
    grey = encode(Image.linear_gradient("L").resize((640, 480)), "PNG")
    assert decoded(imaging.make_variants(grey, recipe([160], ["avif"]))[0]).mode == "RGB"


def test_each_format_has_its_own_quality_and_avif_its_speed():
    upload = encode(photo(1600, 1200), "JPEG", quality=95)
    low, high = (imaging.make_variants(upload, recipe([640], ["avif"], avif_quality=q))[0] for q in (20, 90))
    assert len(low.data) < len(high.data) / 2
    slow, fast = (imaging.make_variants(upload, recipe([640], ["avif"], quality=60, avif_speed=s))[0] for s in (2, 10))
    assert slow.data != fast.data


def test_the_stack_settings_reach_the_variants_function():
    settings = parse_settings({"workflow": {"variant_formats": ["jpeg", "avif"], "jpeg_quality": 80,
                                            "avif_quality": 55, "avif_speed": 8}})
    step = variants_step_settings(settings).recipe
    assert step.variant_formats == ("jpeg", "avif")
    assert (step.qualities, step.avif_speed) == ({"jpeg": 80, "webp": 80, "avif": 55}, 8)
