"""Formats: a 12 MP photo to the variants in JPEG, WebP and AVIF, the 1280 px AVIF encode alone, and
a 12 MP HEIC decode; ours (Pillow, pi-heif) against pyvips doing the same, each in a fresh process.

Time is the median of 3 runs after one warm-up; peak RSS is the process's VmHWM (see
`bench.imaging`). Goals: the JPEG path faster than pyvips (its 3.5x over naive Pillow
is `bench.imaging`'s), the AVIF encode of the 1280 px variant within 2x pyvips' time for it, and
peak RSS no more than pyvips'.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.imaging import SIZES, peak_rss_mb, photo_jpeg
from bench.measure import ROOT, table
from contract.recipe import Recipe

RUNS = 3
AVIF = {"quality": Recipe().avif_quality, "speed": Recipe().avif_speed}  # the component's defaults


def ours(fmt: str, data: bytes) -> int:
    from handlers.image.imaging import make_variants

    return sum(len(v.data) for v in make_variants(data, Recipe(variant_sizes=tuple(SIZES), variant_formats=(fmt,))))


def ours_avif_1280(data: bytes) -> int:
    from handlers.image.imaging import make_variants

    return len(make_variants(data, Recipe(variant_sizes=(1280,), variant_formats=("avif",)))[0].data)


def ours_heic(data: bytes) -> int:
    from io import BytesIO

    from PIL import Image

    import handlers.image.imaging  # noqa: F401 - registers the HEIF opener

    with Image.open(BytesIO(data)) as image:
        image.load()
        return image.width * image.height


def vips(suffix: str, data: bytes) -> int:
    import pyvips

    return sum(len(pyvips.Image.thumbnail_buffer(data, size).write_to_buffer(suffix)) for size in SIZES)


def vips_avif_1280(data: bytes) -> int:
    import pyvips

    # effort 4 of 0-9 is libvips' speed ~6 of 0-10 (higher effort, slower)
    return len(pyvips.Image.thumbnail_buffer(data, 1280).write_to_buffer(f".avif[Q={AVIF['quality']},effort=4]"))


def vips_heic(data: bytes) -> int:
    import pyvips

    image = pyvips.Image.new_from_buffer(data, "", access="sequential")
    return int(image.avg() >= 0) * image.width * image.height


METHODS = {
    "jpeg ours": lambda d: ours("jpeg", d), "jpeg pyvips": lambda d: vips(".jpg[Q=85,strip]", d),
    "webp ours": lambda d: ours("webp", d), "webp pyvips": lambda d: vips(".webp[Q=85,strip]", d),
    "avif ours": lambda d: ours("avif", d),
    "avif pyvips": lambda d: vips(f".avif[Q={AVIF['quality']},effort=4,strip]", d),
    "avif 1280 ours": ours_avif_1280, "avif 1280 pyvips": vips_avif_1280,
    "heic decode ours": ours_heic, "heic decode pyvips": vips_heic,
}


def worker(method: str, path: str) -> None:
    data = Path(path).read_bytes()
    try:
        METHODS[method](data)  # warm-up
    except Exception as error:  # pyvips-binary may lack a codec: say so instead of a number
        said = " ".join(str(error).split())
        reason = "its libheif has no HEVC decoder (libde265)" if "HEVC" in said else said[:100]
        print(json.dumps({"error": reason}))
        return
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        METHODS[method](data)
        times.append((time.perf_counter() - start) * 1000)
    print(json.dumps({"ms": statistics.median(times), "peak_rss_mb": peak_rss_mb()}))


def heic_of(jpeg: bytes) -> bytes:
    from io import BytesIO

    import pillow_heif
    from PIL import Image

    buffer = BytesIO()
    pillow_heif.from_pillow(Image.open(BytesIO(jpeg))).save(buffer, format="HEIF", quality=80,
                                                            enc_params={"preset": "ultrafast"})
    return buffer.getvalue()


def run() -> tuple[str, dict[str, float]]:
    jpeg = photo_jpeg()
    inputs = {"jpeg": jpeg, "heic": heic_of(jpeg)}
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, data in inputs.items():
            (Path(folder) / name).write_bytes(data)
        for method in METHODS:
            source = Path(folder) / ("heic" if method.startswith("heic") else "jpeg")
            output = subprocess.run([sys.executable, "-m", "bench.formats", method, str(source)], cwd=ROOT,
                                    check=True, capture_output=True, text=True).stdout
            results[method] = json.loads(output.strip().splitlines()[-1])
    figures: dict[str, float] = {f"{m} {k}": v for m, r in results.items() for k, v in r.items() if k != "error"}
    rows = []
    for task in ("jpeg", "webp", "avif", "avif 1280", "heic decode"):
        ours_r, vips_r = results[f"{task} ours"], results[f"{task} pyvips"]
        if "error" in vips_r:
            rows.append([task, f"{ours_r['ms']:.0f}", "-", f"pyvips cannot: {vips_r['error']}", "", ""])
            continue
        ratio = vips_r["ms"] / ours_r["ms"]
        figures[f"{task} speed vs pyvips"] = ratio
        rows.append([task, f"{ours_r['ms']:.0f}", f"{vips_r['ms']:.0f}", f"{ratio:.2f}x",
                     f"{ours_r['peak_rss_mb']:.0f}", f"{vips_r['peak_rss_mb']:.0f}"])
    title = (f"Formats: a {len(jpeg) / 1e6:.1f} MB 12 MP JPEG to {SIZES} px, and a {len(inputs['heic']) / 1e6:.1f} MB "
             "12 MP HEIC decoded; goals: JPEG faster than pyvips, AVIF 1280 <= 2x pyvips' time, RSS <= pyvips'")
    return table(title, ["task", "ours ms", "pyvips ms", "pyvips/ours", "ours peak RSS MB", "pyvips peak RSS MB"],
                 rows), figures


if __name__ == "__main__":
    worker(sys.argv[1], sys.argv[2])
