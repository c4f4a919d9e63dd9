"""Variants of a 12-megapixel photo: ours (one draft-mode decode, cascaded resizes) against
naive Pillow (a full decode per variant) and pyvips `thumbnail_buffer` per variant.

Each method runs in a fresh process: time is the median of 5 runs after one warm-up, peak RSS
is the process's maximum resident set (VmHWM), and the RSS after imports is shown so
the method's own share is visible.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

from bench.measure import ROOT, table

SIZES = [1280, 640, 160]
WIDTH, HEIGHT = 4000, 3000
RUNS = 5


def photo_jpeg() -> bytes:
    """A photo-like 12 MP JPEG: smooth gradients, shapes, sensor-like noise, EXIF orientation."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    base = Image.merge("RGB", [Image.linear_gradient("L").resize((WIDTH, HEIGHT)),
                               Image.radial_gradient("L").resize((WIDTH, HEIGHT)),
                               Image.linear_gradient("L").rotate(90).resize((WIDTH, HEIGHT))])
    draw = ImageDraw.Draw(base)
    for i in range(40):
        x, y = (i * 397) % WIDTH, (i * 233) % HEIGHT
        draw.ellipse((x, y, x + 300 + i * 10, y + 200 + i * 7), fill=((i * 53) % 255, (i * 97) % 255, (i * 31) % 255))
    base = base.filter(ImageFilter.GaussianBlur(3))
    noise = Image.effect_noise((WIDTH, HEIGHT), 18).convert("RGB")
    image = ImageChops.add(base, noise, scale=1.0, offset=-60)
    exif = Image.Exif()
    exif[0x0112] = 1
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def ours(data: bytes) -> int:
    from contract.recipe import Recipe
    from handlers.image.imaging import make_variants

    return sum(len(v.data) for v in make_variants(data, Recipe(variant_sizes=tuple(SIZES))))


def naive(data: bytes) -> int:
    from PIL import Image, ImageOps

    total = 0
    for size in SIZES:
        image = ImageOps.exif_transpose(Image.open(BytesIO(data)))  # decodes the whole image, every time
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        buffer = BytesIO()
        image.save(buffer, "JPEG", quality=85)
        total += len(buffer.getvalue())
    return total


def pyvips(data: bytes) -> int:
    import pyvips as vips

    return sum(len(vips.Image.thumbnail_buffer(data, size).write_to_buffer(".jpg[Q=85,strip]")) for size in SIZES)


METHODS = {"ours": ours, "naive Pillow": naive, "pyvips": pyvips}


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). `ru_maxrss` would carry over the forking
    parent's high-water mark across exec on Linux; VmHWM belongs to the new address space."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(method: str, path: str) -> None:
    data = Path(path).read_bytes()
    if method == "pyvips":
        import pyvips as _
    else:
        import PIL.Image  # noqa: F401

        import handlers.image.imaging  # noqa: F401
    rss_after_imports = peak_rss_mb()
    METHODS[method](data)  # warm-up
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        METHODS[method](data)
        times.append((time.perf_counter() - start) * 1000)
    print(json.dumps({"ms": statistics.median(times), "peak_rss_mb": peak_rss_mb(),
                      "rss_after_imports_mb": rss_after_imports}))


def run() -> tuple[str, dict[str, float]]:
    with tempfile.NamedTemporaryFile(suffix=".jpg") as file:
        data = photo_jpeg()
        file.write(data)
        file.flush()
        results = {}
        for method in METHODS:
            output = subprocess.run([sys.executable, "-m", "bench.imaging", method, file.name], cwd=ROOT,
                                    check=True, capture_output=True, text=True).stdout
            results[method] = json.loads(output.strip().splitlines()[-1])
    o, n, v = results["ours"], results["naive Pillow"], results["pyvips"]
    figures = {f"{m}_{k}": value for m, r in results.items() for k, value in r.items()} | {
        "speedup_vs_naive": n["ms"] / o["ms"], "speed_vs_pyvips": v["ms"] / o["ms"],
        "rss_vs_naive": o["peak_rss_mb"] / n["peak_rss_mb"],
        "own_rss_vs_naive": (o["peak_rss_mb"] - o["rss_after_imports_mb"]) / (
            n["peak_rss_mb"] - n["rss_after_imports_mb"])}
    rows = [[name, f"{r['ms']:.0f}", f"{n['ms'] / r['ms']:.2f}x", f"{r['peak_rss_mb']:.0f}",
             f"{r['peak_rss_mb'] - r['rss_after_imports_mb']:.0f}", f"{r['peak_rss_mb'] / n['peak_rss_mb']:.0%}"]
            for name, r in results.items()]
    title = (f"Variants {SIZES} px of a {WIDTH}x{HEIGHT} JPEG ({len(data) / 1e6:.1f} MB); goals: >= 3.5x naive, "
             "no slower than pyvips, <= 50 % of naive's peak RSS")
    return table(title, ["method", "ms (median)", "speed vs naive", "peak RSS MB", "RSS above imports MB",
                         "peak RSS vs naive"], rows), figures


if __name__ == "__main__":
    worker(sys.argv[1], sys.argv[2])
