"""Imaging, bytes in and bytes out: every kind of upload ends in correct variants or a named reason."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from io import BytesIO

import pytest
from PIL import Image

from contract.errors import InvalidImage
from contract.recipe import Limits
from handlers.image import colour, imaging
from tests import corpus, images
from tests.recipes import recipe

SIZES, FORMATS = [1280, 640, 160], ["jpeg", "webp"]
HEAD = 65_536  # what the validate and metadata steps read first
ADDRESS = re.compile(r"0x[0-9a-f]{6,}", re.IGNORECASE)
# Pillow warns (UserWarning) about every corrupt EXIF block it parses; these tests make many on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")


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
    (images.text_named_jpg(), "the file is not a JPEG, PNG, GIF, WebP or HEIC image (it starts with b'hello, t')"),
    (images.png_header(30_000, 30_000),
     "the image is 30000x30000 = 900,000,000 pixels; the limit is 50,000,000 (decompression-bomb guard)"),
    (images.png_header(100_000, 100_000),
     "the image is 100000x100000 = 10,000,000,000 pixels; the limit is 50,000,000 (decompression-bomb guard)"),
])
def test_what_is_not_a_safe_image_is_rejected_with_its_reason(data, reason):
    with pytest.raises(InvalidImage) as raised:
        imaging.check_size(len(data), Limits())
        imaging.inspect(data)
    assert str(raised.value) == reason


def test_oversized_files_and_disallowed_formats_are_rejected():
    with pytest.raises(InvalidImage, match="the file is 2,000 bytes; the limit is 1,000"):
        imaging.check_size(2000, Limits(max_bytes=1000))
    with pytest.raises(InvalidImage, match=r"GIF images are not accepted \(allowed: JPEG, PNG\)"):
        imaging.inspect(images.palette_gif(), Limits(allowed_formats=("JPEG", "PNG")))


def test_a_truncated_jpeg_passes_the_header_check_but_fails_decoding_as_truncated():
    data = images.truncated_jpeg()
    assert imaging.inspect(data).format == "JPEG"
    with pytest.raises(InvalidImage, match=r"^the JPEG image data is truncated$"):
        imaging.make_variants(data, recipe(SIZES, ["jpeg"]))


def test_every_size_and_format_is_made_with_the_long_edge_at_the_size():
    variants = imaging.make_variants(images.jpeg(4000, 3000), recipe(SIZES, FORMATS))
    assert [(v.size, v.format, v.width, v.height) for v in variants] == [
        (1280, "jpeg", 1280, 960), (1280, "webp", 1280, 960), (640, "jpeg", 640, 480), (640, "webp", 640, 480),
        (160, "jpeg", 160, 120), (160, "webp", 160, 120)]
    for v in variants:
        image = decoded(v)
        assert (image.format, image.size) == ({"jpeg": "JPEG", "webp": "WEBP"}[v.format], (v.width, v.height))
        assert v.content_type == f"image/{v.format}"


def test_small_images_are_never_upscaled():
    variants = by_key(imaging.make_variants(images.webp(), recipe(SIZES, ["jpeg"])))
    assert (variants[1280, "jpeg"].width, variants[1280, "jpeg"].height) == (1000, 800)
    assert (variants[640, "jpeg"].width, variants[640, "jpeg"].height) == (640, 512)


def test_exif_orientation_6_is_applied_so_the_variant_is_upright_portrait():
    variant = by_key(imaging.make_variants(images.jpeg_with_exif(6), recipe(SIZES, ["jpeg"])))[640, "jpeg"]
    image = decoded(variant)
    assert image.size == (480, 640)
    assert image.getexif().get(0x0112) is None


def test_gps_and_all_exif_are_stripped_by_default_and_kept_upright_on_request():
    stripped = decoded(imaging.make_variants(images.jpeg_with_exif(6), recipe([640], ["jpeg"]))[0])
    assert dict(stripped.getexif()) == {}
    kept = decoded(imaging.make_variants(images.jpeg_with_exif(6), recipe([640], ["jpeg"], keep_gps=True))[0])
    assert kept.getexif()[0x0112] == 1 and kept.getexif().get_ifd(0x8825)


def test_cmyk_becomes_rgb_with_the_right_colours():
    source = Image.open(BytesIO(images.cmyk_jpeg())).convert("RGB").resize((160, 120))
    variant = decoded(by_key(imaging.make_variants(images.cmyk_jpeg(), recipe(SIZES, ["jpeg"])))[160, "jpeg"])
    assert variant.mode == "RGB"
    assert max(abs(a - b) for a, b in zip(variant.getpixel((80, 60)), source.getpixel((80, 60)), strict=True)) < 25


def test_alpha_is_flattened_on_white_for_jpeg_and_kept_for_webp():
    variants = by_key(imaging.make_variants(images.png_with_alpha(), recipe(SIZES, FORMATS)))
    jpeg, webp = decoded(variants[160, "jpeg"]), decoded(variants[160, "webp"])
    assert jpeg.mode == "RGB" and webp.mode == "RGBA"
    assert jpeg.getpixel((0, 0)) == pytest.approx((255, 255, 255), abs=12)  # fully transparent corner
    assert webp.getpixel((0, 0))[3] < 10


def test_16_bit_png_is_scaled_to_8_bits_not_clipped():
    variant = decoded(by_key(imaging.make_variants(images.png_16bit(), recipe(SIZES, ["jpeg"])))[640, "jpeg"])
    assert variant.mode == "L"
    low, high = variant.getextrema()
    assert low < 10 and high > 245


def test_palette_gif_and_animated_gif_first_frame_become_rgb():
    assert decoded(imaging.make_variants(images.palette_gif(), recipe([160], ["jpeg"]))[0]).mode == "RGB"
    first = decoded(imaging.make_variants(images.animated_gif(), recipe([160], ["jpeg"]))[0])
    red, green, blue = first.getpixel((80, 60))
    assert red > 200 and green < 60 and blue < 60


def test_long_thin_images_keep_at_least_one_pixel():
    variants = by_key(imaging.make_variants(images.long_thin_png(), recipe(SIZES, ["jpeg"])))
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


# -- partial reads: the first 64 KiB either settle the answer or ask for the whole file -------------

def test_need_whole_file_is_not_a_rejection():
    assert issubclass(imaging.NeedWholeFile, Exception) and not issubclass(imaging.NeedWholeFile, InvalidImage)


def test_a_partial_png_whose_exif_follows_the_pixels_asks_for_the_whole_file():
    data = corpus.pngs()["exif-after-idat.png"]
    assert len(data) > HEAD
    with pytest.raises(imaging.NeedWholeFile):
        imaging.extract_metadata(data[:HEAD], complete=False)
    metadata = imaging.extract_metadata(data, complete=True)
    assert (metadata["orientation"], metadata["uprightWidth"], metadata["uprightHeight"]) == (6, 480, 640)
    assert (metadata["cameraMake"], metadata["capturedAt"]) == ("Google", "2025:06:01 09:29:58")


def test_a_partial_png_without_exif_is_described_from_its_header_or_asks_for_the_whole_file():
    data = corpus.pngs()["photo-2mp.png"]
    whole = imaging.extract_metadata(data, complete=True)
    assert whole["format"] == "PNG" and "cameraMake" not in whole
    with contextlib.suppress(imaging.NeedWholeFile):
        assert imaging.extract_metadata(data[:HEAD], complete=False) == whole
    assert imaging.inspect(data[:HEAD], complete=False) == imaging.inspect(data)


def test_a_partial_animated_gif_asks_for_the_whole_file_and_the_whole_file_counts_every_frame():
    animations = corpus.animations()
    gif, webp = animations["animated-220.gif"], animations["animated-160.webp"]
    assert len(gif) > HEAD and len(webp) > HEAD
    for data in (gif, webp):
        with pytest.raises(imaging.NeedWholeFile):
            imaging.inspect(data[:HEAD], complete=False)
    assert imaging.inspect(gif).frames == 220
    assert imaging.inspect(webp, complete=True).frames == 160


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    b"\xff\xd8\xff" + b"\x13" * 64,
    b"GIF89a" + b"\xff" * 3,
    b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 40,
    images.png_header(30_000, 30_000),
], ids=["png", "jpeg", "gif", "webp", "bomb"])
def test_partial_data_never_rejects_only_the_whole_file_can(data):
    for call in (lambda d, c: imaging.inspect(d, complete=c), lambda d, c: imaging.extract_metadata(d, complete=c)):
        with pytest.raises(imaging.NeedWholeFile):
            call(data, False)
        with pytest.raises(InvalidImage):
            call(data, True)


# -- odd EXIF never fails an image that decodes -------------------------------------------------

@pytest.mark.parametrize("name", sorted(corpus.odd_exif_jpegs()))
def test_exif_of_the_wrong_types_never_fails_the_image_and_metadata_stays_json(name):
    data = corpus.odd_exif_jpegs()[name]
    for keep_gps in (False, True):
        variants = imaging.make_variants(data, recipe(SIZES, FORMATS, keep_gps=keep_gps))
        assert all(decoded(v).size == (v.width, v.height) for v in variants)
        metadata = imaging.extract_metadata(data, keep_gps=keep_gps)
        json.dumps(metadata, allow_nan=False)
        assert all(isinstance(value, str | int | dict) for value in metadata.values()), metadata


def test_an_orientation_stored_as_a_byte_is_applied_and_reported_as_a_number():
    data = corpus.odd_exif_jpegs()["make-float-le.jpg"]
    metadata = imaging.extract_metadata(data, keep_gps=True)
    assert (metadata["orientation"], metadata["uprightWidth"], metadata["uprightHeight"]) == (6, 480, 640)
    assert by_key(imaging.make_variants(data, recipe(SIZES, ["jpeg"])))[160, "jpeg"].height == 160


def test_an_orientation_out_of_range_is_ignored():
    data = corpus.odd_exif_jpegs()["long-text-negative-orientation.jpg"]
    assert imaging.extract_metadata(data)["orientation"] == 1
    assert by_key(imaging.make_variants(data, recipe(SIZES, ["jpeg"])))[160, "jpeg"].width == 160


def test_a_camera_make_that_is_not_text_is_left_out_with_a_warning_naming_the_field(caplog):
    with caplog.at_level(logging.WARNING, logger="handlers.image.imaging"):
        metadata = imaging.extract_metadata(corpus.odd_exif_jpegs()["make-rational-be.jpg"], keep_gps=True)
    assert "cameraMake" not in metadata and "cameraModel" not in metadata and "gps" not in metadata
    assert any(r.name == "handlers.image.imaging" and "Make" in r.getMessage() for r in caplog.records), caplog.records


def test_exif_text_ends_at_its_first_nul_and_gps_with_zero_denominators_is_left_out():
    metadata = imaging.extract_metadata(corpus.odd_exif_jpegs()["make-float-le.jpg"], keep_gps=True)
    assert metadata["capturedAt"] == "2024:05:06 11:59:59" and metadata["cameraModel"] == "Phone"
    assert "cameraMake" not in metadata and "gps" not in metadata
    assert "capturedAt" not in imaging.extract_metadata(corpus.odd_exif_jpegs()["make-rational-be.jpg"])


def test_every_single_byte_corruption_of_the_exif_still_gives_variants_and_json_metadata():
    data = images.jpeg_with_exif(6, width=96, height=64)
    start = data.index(b"Exif\x00\x00") + 6
    end = start + int.from_bytes(data[start - 8:start - 6], "big") - 8
    for offset in range(start, end):
        for value in (0x00, 0xFF, 0x07):
            corrupt = data[:offset] + bytes([value]) + data[offset + 1:]
            imaging.make_variants(corrupt, recipe([64], ["jpeg"]))
            imaging.make_variants(corrupt, recipe([64], ["jpeg"], keep_gps=True))
            json.dumps(imaging.extract_metadata(corrupt, keep_gps=True), allow_nan=False)


# -- our pixel limit decides, not Pillow's ------------------------------------------------------

def test_the_pixel_limit_is_ours_even_above_pillows_decompression_bomb_threshold():
    limits = Limits(max_pixels=120_000_000)
    assert imaging.inspect(images.bilevel_png(10_000, 9_500), limits) == imaging.ImageInfo("PNG", 10_000, 9_500, "1", 1)
    assert imaging.extract_metadata(images.bilevel_png(10_000, 9_500), limits=limits)["width"] == 10_000
    with pytest.raises(InvalidImage) as raised:
        imaging.inspect(images.bilevel_png(10_000, 10_000), Limits(max_pixels=90_000_000))
    assert str(raised.value) == ("the image is 10000x10000 = 100,000,000 pixels; the limit is 90,000,000 "
                                 "(decompression-bomb guard)")


# -- reasons are stable sentences --------------------------------------------------------------

@pytest.mark.parametrize("magic", [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\x10\x00\x00\x00WEBP"],
                         ids=["png", "jpeg", "gif", "webp"])
def test_equal_failures_give_equal_reasons_without_memory_addresses(magic):
    reasons = set()
    for junk in (b"\x00" * 40, b"\xab\xcd" * 300):
        with pytest.raises(InvalidImage) as raised:
            imaging.inspect(magic + junk)
        reasons.add(str(raised.value))
    [reason] = reasons
    assert reason and not ADDRESS.search(reason) and "<" not in reason, reason


# -- the corpus: every realistic upload goes through ------------------------------------------------

UPRIGHT = {"phone-12mp-portrait.jpg": (3000, 4000), "exif-after-idat.png": (480, 640),
           "make-float-le.jpg": (480, 640), "long-text-negative-orientation.jpg": (640, 480)}


def fit(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    scale = min(1.0, long_edge / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def test_the_corpus_names_are_its_items():
    assert tuple(corpus.corpus()) == corpus.NAMES


def test_the_corpus_is_the_same_bytes_on_every_build():
    assert corpus.photo(64, 48, 1).tobytes() == corpus.photo(64, 48, 1).tobytes()
    assert corpus.srgb_icc_profile() == corpus.srgb_icc_profile()


@pytest.mark.parametrize("name", corpus.NAMES)
def test_every_corpus_image_is_inspected_resized_and_described(name):
    data = corpus.corpus()[name]
    info = imaging.inspect(data, complete=True)
    metadata = imaging.extract_metadata(data, keep_gps=True)
    json.dumps(metadata, allow_nan=False)
    upright = metadata["uprightWidth"], metadata["uprightHeight"]
    assert (metadata["width"], metadata["height"]) == (info.width, info.height)
    assert upright == UPRIGHT.get(name, upright)
    for variant in imaging.make_variants(data, recipe(SIZES, FORMATS)):
        assert (variant.width, variant.height) == fit(upright, variant.size), (variant, upright)
        assert decoded(variant).size == (variant.width, variant.height)


@pytest.mark.parametrize("name", corpus.NAMES)
def test_a_partial_read_gives_the_whole_files_answer_or_asks_for_the_whole_file(name):
    data = corpus.corpus()[name]
    assert len(data) > HEAD
    for call in (lambda d, c: imaging.inspect(d, complete=c),
                 lambda d, c: imaging.extract_metadata(d, keep_gps=True, complete=c)):
        try:
            partial = call(data[:HEAD], False)
        except imaging.NeedWholeFile:
            continue
        assert partial == call(data, True)


def test_a_whole_gif_cut_inside_a_frame_header_counts_the_frames_before_it():
    gif = corpus.small_corpus()["small-animated.gif"]
    control_blocks = [m.start() for m in re.finditer(re.escape(b"\x21\xf9\x04"), gif)]
    cut = gif[:control_blocks[5] + 8 + 4]  # inside the 6th frame's image descriptor
    assert imaging.inspect(cut, complete=True).frames == 5
    assert imaging.make_variants(cut, recipe([160], ["jpeg"]))[0].width == 160


def test_pixels_with_a_profile_come_out_tagged_srgb_and_an_unreadable_profile_is_dropped():
    jpegs = corpus.colour_managed_jpegs()
    for name in ("srgb-icc.jpg", "display-p3.jpg", "adobe-rgb.jpg"):
        for variant in imaging.make_variants(jpegs[name], recipe([160], FORMATS)):
            assert decoded(variant).info.get("icc_profile") == colour.SRGB_ICC, name
    for variant in imaging.make_variants(jpegs["cmyk-icc.jpg"], recipe([160], FORMATS)):  # an empty CMYK profile
        assert decoded(variant).mode == "RGB" and not decoded(variant).info.get("icc_profile")


@pytest.mark.parametrize("size", [(16_000, 4), (2, 9_000), (1, 3_000), (20_000, 7)])
def test_jpeg_banners_of_any_aspect_ratio_get_their_variants(size):
    """The DCT-domain draft once asked Pillow for a 0-px side (ZeroDivisionError)."""
    data = corpus.encode(Image.new("RGB", size, (200, 30, 30)), "JPEG", quality=80)
    variants = imaging.make_variants(data, recipe([1280, 640, 160], ["jpeg"]))
    assert [max(v.width, v.height) for v in variants] == [1280, 640, 160]
    assert all(min(v.width, v.height) >= 1 for v in variants)
