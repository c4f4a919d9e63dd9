"""HEIC/HEIF in: what phones upload by default is accepted, decoded upright, and bounded like the rest."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from contract.errors import InvalidImage, InvalidUploadKey
from contract.recipe import Limits
from handlers.image import imaging
from handlers.lifecycle.uploads import parse_key
from tests import corpus
from tests.recipes import recipe


@pytest.fixture(scope="module")
def phone_photo() -> bytes:
    return corpus.heics()["phone-12mp.heic"]


@pytest.mark.parametrize("key", ["uploads/me/IMG_0001.HEIC", "uploads/me/IMG_0001.heic", "uploads/me/x.heif",
                                 "uploads/me/x.HeIf"])
def test_heic_and_heif_keys_are_accepted_in_any_case(key):
    upload = parse_key(key)
    assert upload.content_type in ("image/heic", "image/heif")


def test_a_heic_key_outside_the_pattern_is_still_rejected_with_its_reason():
    with pytest.raises(InvalidUploadKey):
        parse_key("uploads/me/album/IMG_0001.HEIC")


@pytest.mark.parametrize("brand", [b"heic", b"heix", b"mif1", b"msf1", b"hevc"])
def test_the_format_comes_from_the_ftyp_box_not_the_name(brand):
    assert imaging.detect_format(b"\0\0\0\x18ftyp" + brand + b"\0\0\0\0") == "HEIF"
    assert imaging.detect_format(b"\0\0\0\x18ftypisom\0\0\0\0") is None  # an MP4 video is not an image


def test_a_phone_photo_becomes_every_variant_with_its_camera_metadata(phone_photo):
    assert len(phone_photo) > 1_000_000  # a real-sized upload, not a toy
    info = imaging.inspect(phone_photo)
    assert (info.format, info.width, info.height, info.frames) == ("HEIF", 4032, 3024, 1)
    variants = imaging.make_variants(phone_photo, recipe([1280, 640, 160], ["jpeg", "avif"]))
    assert [(v.format, v.width, v.height) for v in variants] == [
        ("avif", 1280, 960), ("jpeg", 1280, 960), ("avif", 640, 480), ("jpeg", 640, 480),
        ("avif", 160, 120), ("jpeg", 160, 120)]
    metadata = imaging.extract_metadata(phone_photo)
    assert (metadata["format"], metadata["cameraMake"], metadata["cameraModel"]) == ("HEIF", "Google", "Pixel 8")
    assert "gps" not in metadata


def test_the_decoded_pixels_match_the_source(phone_photo):
    source = corpus.photo(4032, 3024, 22).resize((160, 120), Image.Resampling.BICUBIC, reducing_gap=3.0)
    [variant] = imaging.make_variants(phone_photo, recipe([160], ["jpeg"], quality=95))
    decoded = Image.open(BytesIO(variant.data)).convert("RGB")
    differences = [abs(a - b) for p, q in zip(decoded.getdata(), source.getdata(), strict=True)
                   for a, b in zip(p, q, strict=True)]
    assert sum(differences) / len(differences) < 6  # two lossy codecs in a row: a few levels on average


def test_the_first_bytes_of_a_heic_ask_for_the_whole_file(phone_photo):
    for call in (imaging.inspect, imaging.extract_metadata):
        with pytest.raises(imaging.NeedWholeFile):
            call(phone_photo[:65_536], complete=False)


def test_a_cut_off_heic_is_a_stable_clear_error(phone_photo):
    with pytest.raises(InvalidImage, match=r"^the HEIF (header|image data) is (corrupt|truncated)"):
        imaging.make_variants(phone_photo[: len(phone_photo) // 2], recipe([160], ["jpeg"]))


def test_heif_can_be_switched_off_like_any_format(phone_photo):
    limits = Limits(allowed_formats=("JPEG", "PNG", "GIF", "WEBP"))
    with pytest.raises(InvalidImage, match="HEIF images are not accepted"):
        imaging.inspect(phone_photo, limits)


def test_the_pixel_limit_holds_for_heic(phone_photo):
    with pytest.raises(InvalidImage, match="4032x3024 = 12,192,768 pixels; the limit is 12,000,000"):
        imaging.make_variants(phone_photo, recipe([160], ["jpeg"], limits=Limits(max_pixels=12_000_000)))


def test_a_heif_with_several_images_gives_its_primary_image_not_an_animation():
    import pillow_heif

    container = pillow_heif.from_pillow(Image.new("RGB", (400, 300), "red"))
    container.add_from_pillow(Image.new("RGB", (400, 300), (0, 128, 0)))
    container.add_from_pillow(Image.new("RGB", (100, 500), "blue"))
    buffer = BytesIO()
    container.save(buffer, format="HEIF", quality=80, enc_params={"preset": "ultrafast"}, primary_index=1)
    assert imaging.inspect(buffer.getvalue()).frames == 1
    for variant in imaging.make_variants(buffer.getvalue(), recipe([320], ["jpeg", "webp"], animation="animated_webp")):
        assert variant.frames == 1 and (variant.width, variant.height) == (320, 240)
        red, green, _ = Image.open(BytesIO(variant.data)).convert("RGB").getpixel((10, 10))
        assert green > 100 and red < 40, variant.format  # the primary (green) image, not the first (red)
