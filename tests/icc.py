"""Matrix/TRC ICC profiles built from published primaries, for colour-management tests.

Pillow creates only sRGB, LAB and XYZ profiles, and the real Display P3 / Adobe RGB profiles
carry licences of their own, so the tests build equivalent ones: the primaries and white point
from the specifications, adapted to the ICC's D50 connection space with Bradford, and the
transfer curve (sRGB's for Display P3, gamma 563/256 for Adobe RGB (1998)).

`reference_to_srgb` converts a colour with the same published numbers and plain matrix maths,
independently of LittleCMS, so a test can say where a colour must land.
"""

from __future__ import annotations

import struct

D65 = (0.3127, 0.3290)
D50_XYZ = (0.9642, 1.0, 0.8249)
PRIMARIES = {
    "display-p3": ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)),
    "adobe-rgb": ((0.640, 0.330), (0.210, 0.710), (0.150, 0.060)),
    "srgb": ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060)),
}
BRADFORD = ((0.8951, 0.2664, -0.1614), (-0.7502, 1.7135, 0.0367), (0.0389, -0.0685, 1.0296))
ADOBE_GAMMA = 563 / 256


def _xyz(xy: tuple[float, float]) -> tuple[float, float, float]:
    x, y = xy
    return x / y, 1.0, (1 - x - y) / y


def _mul(a: tuple, b: tuple) -> tuple:
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)) for i in range(3))


def _apply(m: tuple, v: tuple) -> tuple[float, float, float]:
    return tuple(sum(m[i][k] * v[k] for k in range(3)) for i in range(3))  # type: ignore[return-value]


def _inverse(m: tuple) -> tuple:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det), \
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det), \
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det)


def rgb_to_xyz(space: str) -> tuple:
    """The RGB -> XYZ (D65) matrix of `space`."""
    columns = [_xyz(p) for p in PRIMARIES[space]]
    m = tuple(tuple(columns[j][i] for j in range(3)) for i in range(3))
    scale = _apply(_inverse(m), _xyz(D65))
    return tuple(tuple(m[i][j] * scale[j] for j in range(3)) for i in range(3))


def _adapt_to_d50(matrix: tuple) -> tuple:
    source, target = _apply(BRADFORD, _xyz(D65)), _apply(BRADFORD, D50_XYZ)
    diagonal = tuple(tuple(target[i] / source[i] if i == j else 0.0 for j in range(3)) for i in range(3))
    return _mul(_mul(_mul(_inverse(BRADFORD), diagonal), BRADFORD), matrix)


def srgb_decode(v: float) -> float:
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def srgb_encode(v: float) -> float:
    v = min(1.0, max(0.0, v))
    return v * 12.92 if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055


def decode(space: str, v: float) -> float:
    return v ** ADOBE_GAMMA if space == "adobe-rgb" else srgb_decode(v)


def reference_to_srgb(space: str, rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Where `rgb` in `space` lands in sRGB (relative colorimetric: out-of-gamut channels clip)."""
    linear = [decode(space, c / 255) for c in rgb]
    srgb_linear = _apply(_inverse(rgb_to_xyz("srgb")), _apply(rgb_to_xyz(space), linear))
    return tuple(round(srgb_encode(c) * 255) for c in srgb_linear)  # type: ignore[return-value]


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _tag_xyz(xyz: tuple[float, float, float]) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(_s15(c) for c in xyz)


def _tag_curve(space: str) -> bytes:
    if space == "adobe-rgb":
        return b"curv" + bytes(4) + struct.pack(">IH", 1, round(ADOBE_GAMMA * 256)) + bytes(2)
    # sRGB's curve as ICC parametric type 3: Y = (aX + b)^g for X >= d, else cX.
    params = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    return b"para" + bytes(4) + struct.pack(">HH", 3, 0) + b"".join(_s15(p) for p in params)


def _tag_text(text: str) -> bytes:
    ascii_text = text.encode() + b"\0"
    return b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(12) + bytes(67)


def profile(space: str) -> bytes:
    """An ICC v2 display profile for `space` ("display-p3" or "adobe-rgb") that LittleCMS reads."""
    columns = _adapt_to_d50(rgb_to_xyz(space))
    curve = _tag_curve(space)
    tags = [(b"desc", _tag_text(f"image-pipeline test {space}")), (b"wtpt", _tag_xyz(D50_XYZ)),
            (b"rXYZ", _tag_xyz(tuple(columns[i][0] for i in range(3)))),
            (b"gXYZ", _tag_xyz(tuple(columns[i][1] for i in range(3)))),
            (b"bXYZ", _tag_xyz(tuple(columns[i][2] for i in range(3)))),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
            (b"cprt", b"text" + bytes(4) + b"public domain\0")]
    return _assemble(tags, b"RGB ")


def _assemble(tags: list[tuple[bytes, bytes]], space: bytes) -> bytes:
    """Header, tag table and tag data of an ICC v2 display profile for `space` ("RGB " or "GRAY")."""
    table, body = [], b""
    offset = 128 + 4 + 12 * len(tags)
    for signature, data in tags:
        table.append(struct.pack(">4sII", signature, offset + len(body), len(data)))
        body += data + bytes(-len(data) % 4)
    header = bytearray(128)
    struct.pack_into(">I", header, 0, offset + len(body))
    header[4:8], header[8:12], header[12:16], header[16:20], header[20:24] = (
        b"none", b"\x02\x10\x00\x00", b"mntr", space, b"XYZ ")
    header[24:36] = struct.pack(">6H", 2025, 1, 1, 0, 0, 0)
    header[36:40] = b"acsp"
    header[68:80] = b"".join(_s15(c) for c in D50_XYZ)
    return bytes(header) + struct.pack(">I", len(tags)) + b"".join(table) + body


def gray_profile(gamma: float = 1.0) -> bytes:
    """An ICC v2 grey display profile (gamma `gamma`), like Photoshop's "Gray Gamma" profiles."""
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    tags = [(b"desc", _tag_text(f"image-pipeline test gray {gamma}")), (b"wtpt", _tag_xyz(D50_XYZ)),
            (b"kTRC", curve), (b"cprt", b"text" + bytes(4) + b"public domain\0")]
    return _assemble(tags, b"GRAY")
