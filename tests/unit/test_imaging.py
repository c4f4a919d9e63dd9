"""Imaging, bytes in and bytes out: every kind of upload ends in correct variants or a named reason."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from handlers import imaging
from handlers.errors import InvalidImage
from tests import images

SIZES, FORMATS = [1280, 640, 160], ["jpeg", "webp"]


def decoded(variant: imaging.Variant) -> Image.Image:
    image = Image.open(BytesIO(variant.data))
    image.load()
    return image


def by_key(variants):
    return {(v.size, v.format): v for v in variants}


@pytest.mark.parametrize(("data", "fmt", "size", "mode", "frames"), [
    (images.jpeg(), "JPEG", (1600, 1200), "RGB", 1),
    (images.cmyk_jpeg(), "JPEG", (800, 600), "CMYK", 1),
    (images.progressive_jpeg(), "JPEG", (1600, 1200), "RGB", 1),
    (images.png_with_alpha(), "PNG", (900, 600), "RGBA", 1),
    (images.png_16bit(), "PNG", (700, 500), "I;16", 1),
    (images.palette_gif(), "GIF", (640, 480), "P", 1),
    (images.animated_gif(), "GIF", (400, 300), "P", 3),
    (images.webp(), "WEBP", (1000, 800), "RGB", 1),
])
def test_inspect_reports_the_real_format_size_mode_and_frames(data, fmt, size, mode, frames):
    assert imaging.inspect(data) == imaging.ImageInfo(fmt, *size, mode, frames)


def test_format_comes_from_magic_bytes_not_the_name():
    assert imaging.detect_format(images.webp()[:16]) == "WEBP"
    assert imaging.detect_format(images.png_with_alpha()[:16]) == "PNG"
    assert imaging.detect_format(b"<?xml version='1.0'?><svg/>") is None


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "the file is empty (0 bytes)"),
    (images.text_named_jpg(), "the file is not a JPEG, PNG, GIF or WebP image (it starts with b'hello, t')"),
    (images.png_header(30_000, 30_000),
     "the image is 30000x30000 = 900,000,000 pixels; the limit is 50,000,000 (decompression-bomb guard)"),
    (images.png_header(100_000, 100_000),
     "the image is 100000x100000 = 10,000,000,000 pixels; the limit is 50,000,000 (decompression-bomb guard)"),
])
def test_what_is_not_a_safe_image_is_rejected_with_its_reason(data, reason):
    with pytest.raises(InvalidImage) as raised:
        imaging.check_size(len(data), imaging.Limits())
        imaging.inspect(data)
    assert str(raised.value) == reason


def test_oversized_files_and_disallowed_formats_are_rejected():
    with pytest.raises(InvalidImage, match="the file is 2,000 bytes; the limit is 1,000"):
        imaging.check_size(2000, imaging.Limits(max_bytes=1000))
    with pytest.raises(InvalidImage, match=r"GIF images are not accepted \(allowed: JPEG, PNG\)"):
        imaging.inspect(images.palette_gif(), imaging.Limits(allowed_formats=("JPEG", "PNG")))


def test_a_truncated_jpeg_passes_the_header_check_but_fails_decoding_as_truncated():
    data = images.truncated_jpeg()
    assert imaging.inspect(data).format == "JPEG"
    with pytest.raises(InvalidImage, match=r"^the JPEG image data is truncated$"):
        imaging.make_variants(data, SIZES, ["jpeg"])


def test_every_size_and_format_is_made_with_the_long_edge_at_the_size():
    variants = imaging.make_variants(images.jpeg(4000, 3000), SIZES, FORMATS)
    assert [(v.size, v.format, v.width, v.height) for v in variants] == [
        (1280, "jpeg", 1280, 960), (1280, "webp", 1280, 960), (640, "jpeg", 640, 480), (640, "webp", 640, 480),
        (160, "jpeg", 160, 120), (160, "webp", 160, 120)]
    for v in variants:
        image = decoded(v)
        assert (image.format, image.size) == ({"jpeg": "JPEG", "webp": "WEBP"}[v.format], (v.width, v.height))
        assert v.content_type == f"image/{v.format}"


def test_small_images_are_never_upscaled():
    variants = by_key(imaging.make_variants(images.webp(), SIZES, ["jpeg"]))
    assert (variants[1280, "jpeg"].width, variants[1280, "jpeg"].height) == (1000, 800)
    assert (variants[640, "jpeg"].width, variants[640, "jpeg"].height) == (640, 512)


def test_exif_orientation_6_is_applied_so_the_variant_is_upright_portrait():
    variant = by_key(imaging.make_variants(images.jpeg_with_exif(6), SIZES, ["jpeg"]))[640, "jpeg"]
    image = decoded(variant)
    assert image.size == (480, 640)
    assert image.getexif().get(0x0112) is None


def test_gps_and_all_exif_are_stripped_by_default_and_kept_upright_on_request():
    stripped = decoded(imaging.make_variants(images.jpeg_with_exif(6), [640], ["jpeg"])[0])
    assert dict(stripped.getexif()) == {}
    kept = decoded(imaging.make_variants(images.jpeg_with_exif(6), [640], ["jpeg"], keep_gps=True)[0])
    assert kept.getexif()[0x0112] == 1 and kept.getexif().get_ifd(0x8825)


def test_cmyk_becomes_rgb_with_the_right_colours():
    source = Image.open(BytesIO(images.cmyk_jpeg())).convert("RGB").resize((160, 120))
    variant = decoded(by_key(imaging.make_variants(images.cmyk_jpeg(), SIZES, ["jpeg"]))[160, "jpeg"])
    assert variant.mode == "RGB"
    assert max(abs(a - b) for a, b in zip(variant.getpixel((80, 60)), source.getpixel((80, 60)), strict=True)) < 25


def test_alpha_is_flattened_on_white_for_jpeg_and_kept_for_webp():
    variants = by_key(imaging.make_variants(images.png_with_alpha(), SIZES, FORMATS))
    jpeg, webp = decoded(variants[160, "jpeg"]), decoded(variants[160, "webp"])
    assert jpeg.mode == "RGB" and webp.mode == "RGBA"
    assert jpeg.getpixel((0, 0)) == pytest.approx((255, 255, 255), abs=12)  # fully transparent corner
    assert webp.getpixel((0, 0))[3] < 10


def test_16_bit_png_is_scaled_to_8_bits_not_clipped():
    variant = decoded(by_key(imaging.make_variants(images.png_16bit(), SIZES, ["jpeg"]))[640, "jpeg"])
    assert variant.mode == "L"
    low, high = variant.getextrema()
    assert low < 10 and high > 245


def test_palette_gif_and_animated_gif_first_frame_become_rgb():
    assert decoded(imaging.make_variants(images.palette_gif(), [160], ["jpeg"])[0]).mode == "RGB"
    first = decoded(imaging.make_variants(images.animated_gif(), [160], ["jpeg"])[0])
    red, green, blue = first.getpixel((80, 60))
    assert red > 200 and green < 60 and blue < 60


def test_long_thin_images_keep_at_least_one_pixel():
    variants = by_key(imaging.make_variants(images.long_thin_png(), SIZES, ["jpeg"]))
    assert (variants[160, "jpeg"].width, variants[160, "jpeg"].height) == (160, 1)


def test_metadata_reads_camera_time_orientation_and_dimensions_without_gps_by_default():
    metadata = imaging.extract_metadata(images.jpeg_with_exif(6))
    assert metadata == {"format": "JPEG", "width": 1600, "height": 1200, "uprightWidth": 1200,
                        "uprightHeight": 1600, "mode": "RGB", "orientation": 6, "cameraMake": "Canon",
                        "cameraModel": "EOS R5", "capturedAt": "2026:11:01 10:20:30"}


def test_metadata_includes_gps_only_when_allowed():
    gps = imaging.extract_metadata(images.jpeg_with_exif(1), keep_gps=True)["gps"]
    assert gps == {"latitude": pytest.approx(52.52, abs=1e-3), "longitude": pytest.approx(13.41, abs=1e-3)}


def test_metadata_strings_are_bounded():
    exif = Image.Exif()
    exif[0x010F] = "x" * 10_000
    data = images.encode(images.photo(64, 64), "JPEG", exif=exif.tobytes())
    assert len(imaging.extract_metadata(data)["cameraMake"]) == imaging.MAX_TEXT
