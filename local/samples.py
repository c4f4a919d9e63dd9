"""Images generated with Pillow: the demo's sample set and every case the tests need.

No binary fixtures: each function returns the encoded bytes of one kind of upload.
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageDraw

from handlers.image import fingerprints


def photo(width: int = 1600, height: int = 1200, mode: str = "RGB") -> Image.Image:
    """A photo-like image: gradients and shapes, so encoders and resizers do real work."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for i in range(12):
        box = (i * width // 14, i * height // 20, i * width // 14 + width // 5, i * height // 20 + height // 4)
        draw.ellipse(box, fill=(40 * i % 255, 90 + 10 * i, 200 - 15 * i))
    return image.convert(mode)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(width: int = 1600, height: int = 1200, **options: object) -> bytes:
    return encode(photo(width, height), "JPEG", quality=90, **options)


def jpeg_with_exif(orientation: int = 6, *, gps: bool = True, width: int = 1600, height: int = 1200) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS R5"
    exif[0x0112] = orientation
    exif[0x0132] = "2026:11:01 10:20:30"
    if gps:
        exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    return encode(photo(width, height), "JPEG", quality=90, exif=exif.tobytes())


def cmyk_jpeg() -> bytes:
    return encode(photo(800, 600, "CMYK"), "JPEG", quality=90)


def progressive_jpeg() -> bytes:
    return jpeg(progressive=True)


def png_with_alpha() -> bytes:
    image = photo(900, 600, "RGBA")
    image.putalpha(Image.linear_gradient("L").resize((900, 600)))
    return encode(image, "PNG")


def png_16bit() -> bytes:
    gradient = Image.linear_gradient("L").resize((700, 500)).convert("I")
    return encode(gradient.point(lambda v: v * 257).convert("I;16"), "PNG")


def palette_gif() -> bytes:
    return encode(photo(640, 480).convert("P", palette=Image.Palette.ADAPTIVE, colors=64), "GIF")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (400, 300), color).convert("P") for color in ("red", "green", "blue")]
    buffer = BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def gif_growing_at_frame_2(screen: tuple[int, int] = (64, 48), frame: tuple[int, int] = (1500, 1500)) -> bytes:
    """A two-frame GIF whose second frame is larger than its logical screen (Pillow grows the canvas to
    cover it): a decompression bomb that a check of the screen and the first frame misses. One colour
    per frame, so it stays small (48 KB with an 8000x8000 second frame)."""
    palette = [0, 0, 0, 200, 30, 30, 30, 30, 200, 255, 255, 255]

    def image_block(size: tuple[int, int], colour: int) -> bytes:
        """Pillow's own encoding of a one-colour image, from its image descriptor to before the trailer."""
        image = Image.new("P", size, colour)
        image.putpalette(palette)
        data = encode(image, "GIF")
        offset = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
        while data[offset] == 0x21:  # extensions: label, then sub-blocks up to a 0 length
            offset += 2
            while data[offset]:
                offset += data[offset] + 1
            offset += 1
        return data[offset:-1]

    first = encode(Image.new("P", screen, 1), "GIF", palette=bytes(palette))
    header = first[:13 + (3 << ((first[10] & 7) + 1))]  # signature, screen, global colour table
    delay = b"!\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control: 100 ms, no transparency
    return header + delay + image_block(screen, 1) + delay + image_block(frame, 2) + b";"


def webp() -> bytes:
    return encode(photo(1000, 800), "WEBP", quality=80)


def truncated_jpeg() -> bytes:
    data = jpeg()
    return data[: len(data) // 2]


def text_named_jpg() -> bytes:
    return b"hello, this is a text file pretending to be a photo\n" * 20


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height`: a decompression bomb's calling card."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def long_thin_png() -> bytes:
    return encode(Image.new("RGB", (16_000, 4), "navy"), "PNG")


BROKEN_ON_PURPOSE = ("broken-upload.jpg", "notes.jpg")  # the demo shows what a failure looks like


def sample_set() -> list[tuple[str, bytes]]:
    """The demo's uploads: (file name, bytes); the last two, `BROKEN_ON_PURPOSE`, are meant to fail."""
    return [
        ("holiday-portrait.jpg", jpeg_with_exif(6)),
        ("press-photo-cmyk.jpg", cmyk_jpeg()),
        ("logo-alpha.png", png_with_alpha()),
        ("scan-16bit.png", png_16bit()),
        ("palette.gif", palette_gif()),
        ("spinner-animated.gif", animated_gif()),
        ("landscape.webp", webp()),
        ("banner.png", long_thin_png()),
        ("broken-upload.jpg", truncated_jpeg()),
        ("notes.jpg", text_named_jpg()),
    ]


def bilevel_png(width: int, height: int) -> bytes:
    """A valid black 1-bit PNG of any size, streamed row by row: a 95 MP image in a few kilobytes.

    It lets tests check pixel limits above Pillow's own decompression-bomb threshold (~89 MP)
    with a real file, without holding the pixels in memory.
    """
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte "None", then the packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# -- a user's library: bursts of near-identical shots among unrelated photos ------------------------------

LIBRARY_SIZES = ((480, 360), (640, 480), (800, 600), (360, 480), (600, 800))
"""Phone-photo shapes, downscaled: big enough that each variant is real work, small enough that 10,000
images run in minutes on two cores (a 12 MP original would spend the run in the JPEG decoder)."""


@dataclass(frozen=True)
class Scene:
    """What a photo shows: its size, a background and shapes. Shots of one scene are a burst."""

    size: tuple[int, int]
    background: tuple[tuple[int, int, int], tuple[int, int, int]]
    shapes: tuple[tuple[str, tuple[int, int, int, int], tuple[int, int, int]], ...]

    @classmethod
    def random(cls, rng: random.Random) -> Scene:
        width, height = rng.choice(LIBRARY_SIZES)

        def colour() -> tuple[int, int, int]:
            return (rng.randrange(256), rng.randrange(256), rng.randrange(256))

        shapes = []
        for _ in range(rng.randint(4, 10)):
            x, y = rng.randrange(-width // 4, width), rng.randrange(-height // 4, height)
            w, h = rng.randint(width // 8, width // 2), rng.randint(height // 8, height // 2)
            shapes.append((rng.choice(("ellipse", "rectangle")), (x, y, x + w, y + h), colour()))
        return cls((width, height), (colour(), colour()), tuple(shapes))

    def shot(self, rng: random.Random, *, jitter: bool) -> bytes:
        """One JPEG of the scene; with `jitter`, as the next frame of a burst: the camera moved a few pixels,
        the exposure changed a little, and the sensor's noise is new."""
        width, height = self.size
        dx, dy = (rng.randint(0, 1), rng.randint(0, 1)) if jitter else (0, 0)
        top, bottom = self.background
        mask = Image.linear_gradient("L").resize((width, height))
        image = Image.composite(Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top),
                                mask)
        draw = ImageDraw.Draw(image)
        for kind, (x0, y0, x1, y1), fill in self.shapes:
            getattr(draw, kind)((x0 + dx, y0 + dy, x1 + dx, y1 + dy), fill=fill)
        if jitter:
            gain = rng.uniform(0.985, 1.015)
            image = image.point([min(255, int(v * gain)) for v in range(256)] * 3)
            noise = Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert("RGB")
            image = Image.blend(image, noise, rng.uniform(0.01, 0.03))  # drawn from `rng`: a seed repeats
        return encode(image, "JPEG", quality=85)


BURST_DISTANCE = 4  # bits: shots of one burst are near duplicates of each other at the default distance


def _phash(data: bytes) -> int:
    """The pHash of a JPEG's 160 px rendition, as the variants step takes it from its smallest variant."""
    image = Image.open(BytesIO(data))
    image.thumbnail((160, 160))
    return fingerprints.perceptual_hash(image)


def _burst(scene: Scene, shots: int, rng: random.Random) -> list[bytes]:
    """`shots` jittered shots of `scene` whose pHashes are within `BURST_DISTANCE` bits of each other (a
    frame that drifted further is taken again, as a burst has no such outlier at this jitter)."""
    frames: list[bytes] = []
    hashes: list[int] = []
    while len(frames) < shots:
        data = scene.shot(rng, jitter=True)
        phash = _phash(data)
        if all(fingerprints.hamming(phash, other) <= BURST_DISTANCE for other in hashes):
            frames.append(data)
            hashes.append(phash)
    return frames


def library(count: int, *, seed: int = 24, burst_share: float = 0.6) -> list[tuple[str, bytes]]:
    """`count` photos of one user's library, deterministic for a seed: (file name, JPEG bytes).

    About `burst_share` of them come in bursts of 3 to 12 shots of one scene (perceptual hashes within
    `BURST_DISTANCE` bits of each other), the rest are unrelated photos, each of its own scene."""
    rng = random.Random(seed)
    photos: list[tuple[str, bytes]] = []
    while len(photos) < count:
        scene = Scene.random(rng)
        if rng.random() < burst_share / (burst_share + (1 - burst_share) * 7.5):  # 7.5 shots per burst
            first = len(photos)
            shots = _burst(scene, min(rng.randint(3, 12), count - first), rng)
            photos += [(f"burst-{first:05d}-{i:02d}.jpg", data) for i, data in enumerate(shots)]
        else:
            photos.append((f"photo-{len(photos):05d}.jpg", scene.shot(rng, jitter=False)))
    return photos
