"""Animated GIF/WebP uploads as animated WebP variants: every frame, its timing, within a budget.

With `workflow.animation: animated_webp`, the WebP variants of an animated upload keep the
frames and their durations (JPEG and AVIF variants stay the first frame). An animation costs
frames x pixels to decode and encode, so it is bounded: more than `max_frames` frames, or more
than `max_pixels` pixels over all frames of the largest variant, falls back to the first frame
and says why (`Animated.note`), so the image still completes. A GIF frame may reach outside the
canvas; Pillow then grows the canvas (`gif_canvases`), checked before any frame is decoded.

The budget is the recipe's (`contract.recipe.Budget`). Example:
    >>> from contract.recipe import Budget
    >>> budget = Budget(max_frames=300, max_pixels=30_000_000)
    >>> budget.refusal(frames=220, width=240, height=150) is None
    True
    >>> budget.refusal(frames=400, width=240, height=150)
    'the animation has 400 frames; animated variants allow 300: the first frame is used'
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageSequence

from contract.errors import InvalidImage


def gif_canvases(data: bytes) -> Iterator[tuple[int, int]]:
    """The canvas each frame of a GIF is decoded at, from the frame headers alone: no pixel is decoded.

    Pillow starts from the logical screen and grows the canvas to cover each frame's extent when it
    seeks to that frame (`GifImagePlugin._seek`, Pillow 13), before decoding it: a 48 KB GIF whose
    second frame is 8000x8000 decodes at 64 MP. Blocks are walked as Pillow walks them: a byte that
    starts no block is skipped, and the frames end at the trailer or the end of the data.
    """
    try:
        width, height, flags = struct.unpack_from("<HHB", data, 6)
        offset = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # + the global colour table
        while data[offset] != 0x3B:  # the trailer
            if data[offset] not in (0x21, 0x2C):
                offset += 1
                continue
            if data[offset] == 0x2C:  # image descriptor: left, top, width, height, flags
                left, top, frame_width, frame_height, flags = struct.unpack_from("<HHHHB", data, offset + 1)
                width, height = max(width, left + frame_width), max(height, top + frame_height)
                yield width, height
                offset += 11 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # + LZW code size byte
            else:
                offset += 2  # extension introducer and label
            while data[offset]:  # data sub-blocks, up to one of length 0
                offset += data[offset] + 1
            offset += 1
    except (IndexError, struct.error):  # the end of the data: the frames so far are all Pillow can read
        return


def gif_growth(data: bytes, max_pixels: int) -> tuple[int, tuple[int, int]]:
    """The GIF frame that first grows the canvas past the first frame's (0 if none does) and the final
    canvas; `InvalidImage` if a frame makes the canvas larger than `max_pixels` (a decompression bomb
    in a later frame). Checked before any frame is decoded."""
    canvases = list(gif_canvases(data))
    for number, (width, height) in enumerate(canvases, 1):
        if width * height > max_pixels:
            raise InvalidImage(f"frame {number} of the GIF makes its canvas {width}x{height} = {width * height:,} "
                               f"pixels; the limit is {max_pixels:,} (decompression-bomb guard)")
    grows = next((number for number, canvas in enumerate(canvases, 1) if canvas != canvases[0]), 0)
    return grows, canvases[-1] if canvases else (0, 0)


class AnimationRefused(Exception):
    """The animation cannot be kept faithfully: the message says why; the first frame is used."""


@dataclass(frozen=True)
class Animated:
    size: int
    width: int
    height: int
    frames: int
    data: bytes


def animated_webps(image: Image.Image, targets: list[tuple[int, tuple[int, int]]], *, quality: int,
                   prepare: Callable[[Image.Image], Image.Image], icc_profile: bytes | None = None) -> list[Animated]:
    """One animated WebP per (size, (width, height)) in `targets`, largest first, from the opened
    `image`: every frame through `prepare` (upright, colour, mode), resized once to the largest
    target and from there to each smaller one."""
    durations, frames = [], []
    largest = targets[0][1]
    for frame in ImageSequence.Iterator(image):
        frame.load()  # WebP reports a frame's duration once it is loaded
        durations.append(int(frame.info.get("duration") or 100))
        frames.append(prepare(frame.copy()).resize(largest, Image.Resampling.BICUBIC, reducing_gap=3.0))
    loop = int(image.info.get("loop", 0))
    transparent = any("A" in f.mode and f.getchannel("A").getextrema()[0] < 255 for f in frames)
    made = []
    for size, target in targets:
        if frames[0].size != target:
            frames = [frame.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0) for frame in frames]
        buffer = BytesIO()
        frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], duration=durations, loop=loop,
                       quality=quality, method=2,  # method 2: a fifth of the default's time, a few % larger
                       **({"icc_profile": icc_profile} if icc_profile else {}))
        if transparent and "A" not in Image.open(BytesIO(buffer.getvalue())).mode:
            # Seen with Pillow 13: some transparent frames come out opaque. Better a faithful still.
            raise AnimationRefused("the animated WebP encoder lost the transparency: the first frame is used")
        made.append(Animated(size=size, width=target[0], height=target[1], frames=len(frames),
                             data=buffer.getvalue()))
    return made
