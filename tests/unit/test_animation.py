"""Animated uploads: WebP variants keep frames and timing within the budget; over it, the first frame and why."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image, ImageSequence

from components import ConfigError, parse_settings
from contract.errors import InvalidImage
from contract.recipe import Budget, Limits
from handlers.image import imaging
from tests import corpus, images
from tests.recipes import recipe
from tests.steps import variants_step_settings


def frame_durations(image: Image.Image) -> list[int | None]:
    """Each frame's duration (ms); WebP reports it once the frame is loaded."""
    found = []
    for frame in ImageSequence.Iterator(image):
        frame.load()
        found.append(frame.info.get("duration"))
    return found


def frames_and_durations(data: bytes) -> tuple[int, list[int | None], tuple[int, int]]:
    with Image.open(BytesIO(data)) as image:
        return getattr(image, "n_frames", 1), frame_durations(image), image.size


@pytest.mark.parametrize(("name", "frames", "duration"), [("animated-220.gif", 220, 40), ("animated-160.webp", 160,
                                                                                           None)])
def test_webp_variants_keep_every_frame_and_its_timing(name, frames, duration):
    upload = corpus.animations()[name]
    with Image.open(BytesIO(upload)) as source:
        expected = frame_durations(source)
    variants = imaging.make_variants(upload, recipe([1280, 160], ["jpeg", "webp"], animation="animated_webp"))
    for variant in variants:
        count, timing, size = frames_and_durations(variant.data)
        assert size == (variant.width, variant.height)
        if variant.format == "webp":
            assert (variant.frames, count, variant.note) == (frames, frames, None)
            assert timing == expected and (duration is None or set(timing) == {duration})
        else:
            assert (variant.frames, count) == (1, 1)  # JPEG has no animation


def test_first_frame_stays_the_default():
    upload = corpus.animations()["animated-220.gif"]
    for variant in imaging.make_variants(upload, recipe([160], ["webp"])):
        assert (variant.frames, frames_and_durations(variant.data)[0]) == (1, 1)


@pytest.mark.parametrize(("budget", "said"), [
    (Budget(max_frames=100), "the animation has 220 frames; animated variants allow 100"),
    (Budget(max_pixels=1_000_000), "the animation is 220 frames x 160x100 = 3,520,000 pixels; "
                                             "animated variants allow 1,000,000"),
])
def test_over_the_budget_the_first_frame_is_used_and_the_reason_recorded(budget, said):
    upload = corpus.animations()["animated-220.gif"]
    [variant] = imaging.make_variants(upload, recipe([160], ["webp"], animation="animated_webp", budget=budget))
    assert variant.frames == 1 and frames_and_durations(variant.data)[0] == 1
    assert variant.note == f"{said}: the first frame is used"


def test_a_still_image_is_not_touched_by_the_animation_setting():
    upload = corpus.small_corpus()["small.jpg"]
    [variant] = imaging.make_variants(upload, recipe([160], ["webp"], animation="animated_webp"))
    assert variant.frames == 1 and variant.note is None


def test_animation_settings_are_validated_and_reach_the_variants_function():
    with pytest.raises(ConfigError, match=r"workflow\.animation"):
        parse_settings({"workflow": {"animation": "gif"}})
    settings = parse_settings({"workflow": {"animation": "animated_webp", "max_animation_frames": 50,
                                            "max_animation_pixels": 2_000_000}})
    step = variants_step_settings(settings).recipe
    assert (step.animation, step.budget) == ("animated_webp", Budget(50, 2_000_000))


def test_a_transparent_animation_keeps_its_transparency_or_falls_back_to_a_faithful_still():
    frames = []
    for x in (0, 30):
        frame = Image.new("RGBA", (60, 40), (0, 0, 0, 0))
        frame.paste((255, 0, 0, 255), (x, 0, x + 30, 40))
        frames.append(frame.convert("P", palette=Image.Palette.ADAPTIVE))
    buffer = BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0, transparency=0,
                   disposal=2)
    [variant] = imaging.make_variants(buffer.getvalue(), recipe([60], ["webp"], animation="animated_webp"))
    with Image.open(BytesIO(variant.data)) as decoded:
        assert "A" in decoded.mode  # never transparent pixels turned opaque black
        assert decoded.convert("RGBA").getpixel((45, 20))[3] == 0
    assert variant.frames == 2 or variant.note == ("the animated WebP encoder lost the transparency: "
                                                   "the first frame is used")


# -- a later frame that grows the canvas: checked from the frame headers, before any frame is decoded --

ONE_MP = Limits(max_pixels=1_000_000)
GROWN_TO_BOMB = ("frame 2 of the GIF makes its canvas 1500x1500 = 2,250,000 pixels; the limit is 1,000,000 "
                 "(decompression-bomb guard)")


def test_a_gif_whose_second_frame_grows_past_the_pixel_limit_is_refused_by_validation():
    upload = images.gif_growing_at_frame_2(screen=(64, 48), frame=(1500, 1500))
    assert imaging.inspect(upload, Limits(max_pixels=3_000_000)).frames == 2
    with pytest.raises(InvalidImage) as raised:
        imaging.inspect(upload, ONE_MP)
    assert str(raised.value) == GROWN_TO_BOMB


def test_bytes_between_the_frames_that_pillow_skips_hide_nothing():
    upload = images.gif_growing_at_frame_2(screen=(64, 48), frame=(1500, 1500))
    second = upload.rindex(b"!\xf9\x04")  # the second frame's graphic control extension
    upload = upload[:second] + b"\x00junk" + upload[second:]
    assert Image.open(BytesIO(upload)).n_frames == 2
    with pytest.raises(InvalidImage) as raised:
        imaging.inspect(upload, ONE_MP)
    assert str(raised.value) == GROWN_TO_BOMB


def test_the_variants_step_refuses_it_too_before_decoding_the_frame():
    upload = images.gif_growing_at_frame_2(screen=(64, 48), frame=(1500, 1500))
    with pytest.raises(InvalidImage) as raised:
        imaging.make_variants(upload, recipe([160], ["webp"], animation="animated_webp", limits=ONE_MP))
    assert str(raised.value) == GROWN_TO_BOMB


def test_a_later_frame_that_grows_the_canvas_within_the_limit_gets_the_first_frame_and_says_why():
    upload = images.gif_growing_at_frame_2(screen=(64, 48), frame=(300, 200))
    [variant] = imaging.make_variants(upload, recipe([160], ["webp"], animation="animated_webp"))
    assert (variant.frames, variant.width, variant.height) == (1, 64, 48)
    assert variant.note == "frame 2 of the GIF makes its canvas 300x200, larger than the first frame's 64x48: " \
                           "the first frame is used"


def test_an_animated_webp_cannot_grow_its_canvas_libwebp_refuses_a_frame_outside_it():
    frames = [Image.new("RGB", (64, 64), colour) for colour in ("red", "blue")]
    buffer = BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    data = bytearray(buffer.getvalue())
    canvas = data.index(b"VP8X") + 12  # canvas width - 1 and height - 1, 24 bits each
    data[canvas:canvas + 6] = (15).to_bytes(3, "little") * 2  # a 16x16 canvas under 64x64 frames
    with pytest.raises(InvalidImage, match=r"^the WEBP header is corrupt"):
        imaging.inspect(bytes(data))
