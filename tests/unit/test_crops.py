"""Square crops: an off-centre subject stays in the square, the centre mode is plain, nothing upscales."""

from __future__ import annotations

import random
from io import BytesIO

import pytest
from PIL import Image, ImageDraw

from components import ConfigError, Settings, parse_settings
from handlers.image import crops, imaging
from handlers.variants import variant_key
from local.samples import encode
from tests.recipes import recipe
from tests.steps import variants_step_settings


def portrait_off_centre(size: tuple[int, int], subject: tuple[int, int], radius: int = 180) -> Image.Image:
    """A flat, softly graded studio backdrop and a detailed, skin-toned face with a colourful scarf."""
    backdrop = Image.linear_gradient("L").resize(size).point(lambda v: 90 + v // 16)
    image = Image.merge("RGB", (backdrop, backdrop, backdrop.point(lambda v: v + 20)))
    draw = ImageDraw.Draw(image)
    x, y = subject
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(224, 172, 140))  # skin
    rng = random.Random(7)
    for _ in range(400):  # hair, eyes, freckles: the detail that draws the eye
        px, py = x + rng.randint(-radius // 2, radius // 2), y + rng.randint(-radius // 2, radius // 2)
        draw.point((px, py), fill=(rng.randint(0, 90), rng.randint(0, 60), rng.randint(0, 40)))
    draw.rectangle((x - radius, y + radius, x + radius, y + radius + 60), fill=(200, 20, 60))  # scarf
    return image


def contains(box: tuple[int, int, int, int], subject: tuple[int, int], radius: int) -> bool:
    left, top, right, bottom = box
    x, y = subject
    return left <= x - radius and x + radius <= right and top <= y - radius and y + radius <= bottom


@pytest.mark.parametrize("mode", ["attention", "entropy"])
@pytest.mark.parametrize(("size", "subject"), [((1600, 900), (1300, 420)), ((1600, 900), (260, 380)),
                                               ((900, 1600), (450, 300)), ((900, 1600), (420, 1250))])
def test_an_off_centre_subject_stays_in_the_smart_square(mode, size, subject):
    image = portrait_off_centre(size, subject)
    box = crops.square_box(image, mode)
    assert box[2] - box[0] == box[3] - box[1] == min(size)
    assert contains(box, subject, 180), (mode, box)
    assert not contains(crops.square_box(image, "center"), subject, 180)  # the plain crop would cut it


def test_square_variants_of_a_photo_are_square_and_never_upscaled():
    upload = encode(portrait_off_centre((1600, 900), (1300, 420)), "JPEG", quality=92)
    variants = imaging.make_variants(upload, recipe([640], ["jpeg", "webp"], square_sizes=(256, 64),
                                                    square_crop="attention"))
    squares = [(v.size, v.format, v.width, v.height) for v in variants if v.shape == "square"]
    assert squares == [(256, "jpeg", 256, 256), (256, "webp", 256, 256), (64, "jpeg", 64, 64), (64, "webp", 64, 64)]
    small = encode(Image.new("RGB", (200, 150), "teal"), "PNG")
    [square] = [v for v in imaging.make_variants(small, recipe([160], ["jpeg"], square_sizes=(256,)))
                if v.shape == "square"]
    assert (square.width, square.height) == (150, 150)
    with Image.open(BytesIO(square.data)) as decoded:
        assert decoded.size == (150, 150)


def test_square_variants_have_their_own_keys():
    assert variant_key("me", "a", "t0k3n", 256, "jpg", "square") == "variants/me/a/t0k3n/square-256.jpg"
    assert variant_key("me", "a", "t0k3n", 256, "jpg") == "variants/me/a/t0k3n/256.jpg"


def test_square_settings_are_validated_and_reach_the_variants_function():
    with pytest.raises(ConfigError, match=r"workflow\.square_sizes: 8 is outside 16 to 4,096 px"):
        parse_settings({"workflow": {"square_sizes": [8]}})
    with pytest.raises(ConfigError, match=r"workflow\.square_crop"):
        parse_settings({"workflow": {"square_crop": "faces"}})
    settings = parse_settings({"workflow": {"square_sizes": [256, 96], "square_crop": "entropy"}})
    step = variants_step_settings(settings).recipe
    assert (step.square_sizes, step.square_crop) == ((256, 96), "entropy")
    assert Settings().workflow.square_sizes == []  # none unless asked for
