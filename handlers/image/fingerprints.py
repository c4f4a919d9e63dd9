"""Fingerprints of an upload, from its bytes and its smallest variant's pixels. No AWS, no numpy.

SHA-256; a 64-bit pHash equal bit for bit to `imagehash.phash`, which re-encoding or resizing moves a
few bits (`hamming`, `bands`); Evan Wallace's ThumbHash (https://evanw.github.io/thumbhash/), encoded
and decoded as his reference code does; the mean colour. Pure Python, fast by separable DCTs with
cosine tables built once. A coefficient zero but for float noise (flat, mirror-symmetric or 1-2 px wide
images) counts as zero: the references let such noise pick bits, here those images hash alike everywhere.

Example:
    >>> from PIL import Image
    >>> fp = fingerprint(b"upload", Image.linear_gradient("L").rotate(30).resize((160, 120)).convert("RGB"))
    >>> fp.phash, fp.thumbhash, fp.average_colour, thumbhash_to_rgba(base64.b64decode(fp.thumbhash))[:2]
    ('813d53bc5ba46b94', 'GwgSBYBDZ3dwiYiUhZeXhgAAAAAA', '#6c6c6c', (32, 23))
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from operator import mul

from PIL import Image, ImageStat

NOISE = 1e-9  # |coefficient| below: float noise (ThumbHash's are means of values in ±1, pHash's sums of 0..255)
Cell = tuple[int, int]


@dataclass(frozen=True)
class Fingerprint:
    """What the status record keeps of an upload's content."""

    sha256: str  # 64 hex digits, of the upload's bytes
    phash: str  # 16 hex digits: format(perceptual_hash(...), "016x")
    thumbhash: str  # standard base64 of the ThumbHash bytes
    average_colour: str  # "#rrggbb"


# The placeholder's input side: ThumbHash keeps at most 7x7 frequencies, which 48 px already resolve; on
# photos it gives the very hash a 100 px input gives, in a fifth of the time (`make bench` content).
PLACEHOLDER_SIDE = 48


def fingerprint(data: bytes, smallest: Image.Image, *, sha256: str | None = None) -> Fingerprint:
    """`data`'s SHA-256 (or `sha256`, when it was hashed while downloading); the rest from `smallest`, the
    smallest fitted variant's decoded pixels."""
    return Fingerprint(sha256 or sha256_hex(data), format(perceptual_hash(smallest), "016x"),
                       base64.b64encode(thumbhash(smallest, PLACEHOLDER_SIDE)).decode("ascii"),
                       average_colour(smallest))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# scipy.fftpack.dct, type II, unnormalised: X[k] = 2 * sum(x[n] * cos(pi * k * (2n + 1) / 2N)), N = 32.
_PHASH_COS = tuple(tuple(2 * math.cos(math.pi * k * (2 * n + 1) / 64) for n in range(32)) for k in range(8))


def perceptual_hash(image: Image.Image) -> int:
    """imagehash.phash: grey 32x32 (Lanczos), 2-D DCT-II, top-left 8x8 > their median, row-major, MSB first."""
    pixels = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS).tobytes()
    rows = [[sum(map(mul, pixels[y * 32:(y + 1) * 32], cosines)) for cosines in _PHASH_COS] for y in range(32)]
    columns = list(zip(*rows, strict=True))  # the 8 horizontal frequencies, each down the 32 rows
    coefficients = [c if abs(c := sum(map(mul, u, col))) >= NOISE else 0.0 for u in _PHASH_COS for col in columns]
    median = sum(sorted(coefficients)[31:33]) / 2
    return sum(1 << (63 - i) for i, c in enumerate(coefficients) if c > median)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def bands(phash: int, count: int = 4) -> list[str]:
    """The 64 bits as `count` bands, most significant first, in hex: as even as 64 bits allow, the wider ones
    first (4 bands: 16 bits each; 5: 13, 13, 13, 13, 12), each in as many hex digits as its width needs."""
    if not 1 <= count <= 64:
        raise ValueError(f"64 bits do not split into {count} bands")
    narrow, wider = divmod(64, count)
    widths = [narrow + (i < wider) for i in range(count)]
    ends = [sum(widths[:i + 1]) for i in range(count)]
    return [format(phash >> (64 - end) & ((1 << width) - 1), f"0{-(-width // 4)}x")
            for width, end in zip(widths, ends, strict=True)]


def _round(value: float) -> int:
    """JavaScript's Math.round: halves go up (Python's round() goes to even)."""
    return (floor := math.floor(value)) + (value - floor >= 0.5)


def _cells(nx: int, ny: int) -> list[Cell]:
    """The reference's triangle of (cx, cy) terms, in its order: DC first."""
    return [(cx, cy) for cy in range(ny) for cx in range(nx) if cx * ny < nx * (ny - cy)]


@functools.lru_cache(maxsize=512)
def _cosines(size: int, count: int, decoding: bool = False) -> tuple[tuple[float, ...], ...]:
    """cos(pi / size * k * (i + 0.5)) for k < count, i < size, multiplied in the reference's order."""
    return tuple(tuple(math.cos(math.pi / size * (i + 0.5) * k if decoding else math.pi / size * k * (i + 0.5))
                       for i in range(size)) for k in range(count))


def _dct(channel: Sequence[int], w: int, h: int, cells: list[Cell]) -> dict[Cell, float]:
    """Mean of channel x cos(x) x cos(y) for each cell: one pass over the rows, then short columns."""
    fx, fy = _cosines(w, max(cx for cx, _ in cells) + 1), _cosines(h, max(cy for _, cy in cells) + 1)
    rows = [channel[y * w:(y + 1) * w] for y in range(h)]
    across = [[sum(row) for row in rows], *([sum(map(mul, row, c)) for row in rows] for c in fx[1:])]
    return {(cx, cy): sum(map(mul, across[cx], fy[cy])) / (w * h) for cx, cy in cells}


def _pack(values: list[float]) -> tuple[float, list[float], float]:
    """(DC, AC scaled into 0..1, scale), as the reference's encodeChannel returns them."""
    dc, ac = values[0], [0.0 if abs(f) < NOISE else f for f in values[1:]]
    scale = max(map(abs, ac), default=0.0)
    return dc, [0.5 + 0.5 / scale * f for f in ac] if scale else ac, scale


def thumbhash(image: Image.Image, max_side: int = 100) -> bytes:
    """The ThumbHash of `image` (any mode), first fitted within `max_side` px (Lanczos); the reference
    encoder takes at most 100 px."""
    image = image.convert("RGBA")  # a copy, even of RGBA
    image.thumbnail((min(max_side, 100), min(max_side, 100)), Image.Resampling.LANCZOS)  # Lanczos keeps the mean best
    (w, h), data = image.size, image.tobytes()
    red, green, blue, alpha = (data[i::4] for i in range(4))
    has_alpha = (total := sum(alpha)) < 255 * w * h
    lx, ly = (max(1, _round((5 if has_alpha else 7) * side / max(w, h))) for side in (w, h))  # fewer with alpha
    l_cells, pq_cells, a_cells = _cells(max(3, lx), max(3, ly)), _cells(3, 3), _cells(5, 5)
    if has_alpha:  # composited atop the alpha-weighted mean colour m: m (1 - a) + a R, per pixel
        a = _dct(alpha, w, h, sorted(set(l_cells + a_cells)))
        means = [sum(map(mul, c, alpha)) / 255 / total if total else 0.0 for c in (red, green, blue)]
        r, g, b = ({cell: m * ((cell == (0, 0)) - a[cell] / 255) + f / 65025
                    for cell, f in _dct(list(map(mul, c, alpha)), w, h, l_cells).items()}
                   for c, m in zip((red, green, blue), means, strict=True))
    else:
        r, g, b = ({cell: f / 255 for cell, f in _dct(c, w, h, l_cells).items()} for c in (red, green, blue))
    l_dc, l_ac, l_scale = _pack([(r[c] + g[c] + b[c]) / 3 for c in l_cells])
    p_dc, p_ac, p_scale = _pack([(r[c] + g[c]) / 2 - b[c] for c in pq_cells])
    q_dc, q_ac, q_scale = _pack([r[c] - g[c] for c in pq_cells])
    header24 = (_round(63 * l_dc) | _round(31.5 + 31.5 * p_dc) << 6 | _round(31.5 + 31.5 * q_dc) << 12
                | _round(31 * l_scale) << 18 | has_alpha << 23)
    header16 = (ly if w > h else lx) | _round(63 * p_scale) << 3 | _round(63 * q_scale) << 9 | (w > h) << 15
    out = bytearray([header24 & 255, header24 >> 8 & 255, header24 >> 16, header16 & 255, header16 >> 8])
    factors = l_ac + p_ac + q_ac
    if has_alpha:
        a_dc, a_ac, a_scale = _pack([a[c] / 255 for c in a_cells])
        out.append(_round(15 * a_dc) | _round(15 * a_scale) << 4)
        factors += a_ac
    nibbles = [_round(15 * f) for f in factors] + [0]
    return bytes(out + bytes(low | high << 4 for low, high in zip(nibbles[0:-1:2], nibbles[1::2], strict=True)))


def _read(hash: bytes) -> tuple[list[tuple[float, list[Cell], float]], bool, int, int]:
    """L, P, Q (and A) as (DC, terms, scale); landscape; luminance terms along the long and the short side."""
    if len(hash) < 5 or (hash[2] >> 7 and len(hash) < 6):
        raise ValueError(f"not a ThumbHash: {len(hash)} bytes")
    header24, header16 = hash[0] | hash[1] << 8 | hash[2] << 16, hash[3] | hash[4] << 8
    landscape, long, short = bool(header16 >> 15), 5 if header24 >> 23 else 7, header16 & 7
    luminance = _cells(max(3, long if landscape else short), max(3, short if landscape else long))
    channels = [((header24 & 63) / 63, luminance, (header24 >> 18 & 31) / 31),
                ((header24 >> 6 & 63) / 31.5 - 1, _cells(3, 3), (header16 >> 3 & 63) / 63 * 1.25),  # chroma: x 1.25
                ((header24 >> 12 & 63) / 31.5 - 1, _cells(3, 3), (header16 >> 9 & 63) / 63 * 1.25),  # saturation
                *([((hash[5] & 15) / 15, _cells(5, 5), (hash[5] >> 4) / 15)] if header24 >> 23 else [])]
    return channels, landscape, long, short


def _rgba(lum: float, p: float, q: float, a: float = 1.0) -> list[float]:
    b = lum - 2 / 3 * p
    r = (3 * lum - b + q) / 2
    return [r, r - q, b, a]


def thumbhash_average_rgba(hash: bytes) -> tuple[float, float, float, float]:
    """The average colour in a ThumbHash, each channel 0..1, RGB not premultiplied."""
    r, g, b, a = _rgba(*(dc for dc, _, _ in _read(hash)[0]))
    return max(0.0, min(1.0, r)), max(0.0, min(1.0, g)), max(0.0, min(1.0, b)), a


def thumbhash_to_rgba(hash: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGBA bytes) of the placeholder the reference decoder renders (long side 32 px)."""
    channels, landscape, long, short = _read(hash)
    nibbles = [n for byte in hash[len(channels) + 2:] for n in (byte & 15, byte >> 4)]  # from byte 5, or 6 with A
    if sum(len(cells) - 1 for _, cells, _ in channels) > len(nibbles) or not short:
        raise ValueError("not a ThumbHash: too short, or no luminance term on its shorter side")
    read = iter(nibbles)
    terms = [(dc, [(cx, cy, (next(read) / 7.5 - 1) * scale) for cx, cy in cells[1:]]) for dc, cells, scale in channels]
    ratio = long / short if landscape else short / long
    w, h = (32, _round(32 / ratio)) if ratio > 1 else (_round(32 * ratio), 32)
    fxs, fys, out = _cosines(w, 7, True), _cosines(h, 7, True), bytearray()
    for y in range(h):
        for x in range(w):
            values = []
            for value, factors in terms:  # summed in the reference's order, so the bytes are its bytes
                for cx, cy, f in factors:
                    value += f * fxs[cx][x] * (fys[cy][y] * 2)
                values.append(value)
            out += bytes(int(max(0.0, 255 * min(1.0, v))) for v in _rgba(*values))
    return w, h, bytes(out)


def average_colour(image: Image.Image) -> str:
    """The mean colour as "#rrggbb": alpha-weighted, so invisible pixels count for nothing."""
    image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
    data = image.tobytes() if image.mode == "RGBA" else b""
    if (total := sum(alpha := data[3::4])) in (0, 255 * len(alpha)):  # opaque, or wholly transparent
        means = ImageStat.Stat(image).mean[:3]
    else:
        means = [sum(map(mul, data[i::4], alpha)) / total for i in range(3)]
    return "#" + "".join(f"{min(255, int(m + 0.5)):02x}" for m in means)
