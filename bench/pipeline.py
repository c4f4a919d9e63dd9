"""The whole pipeline, end to end on the local runner: images/s against the same runner on stock moto.

Ours: two workers (each its own moto, with `local.speedups`) for 100, 1,000 and 10,000 small images,
and one worker for 100; time per image must stay flat as the count grows (uploads are consumed while
they are made, so moto's queues stay shallow). Baseline, measured in the same run: the same runner on
stock moto (its speed patches off, one worker) for 1,000 images. Goal: >= 8x the baseline
for 1,000 images. Absolute images/s vary between machines by 2x; judge by the ratio.
"""

from __future__ import annotations

import contextlib
import io

from bench.measure import ROOT, table
from components import parse_settings, read_stack_settings
from local import parallel
from local.runner import Upload
from local.samples import encode, photo

RUNS = [(100, 2, True), (1_000, 2, True), (10_000, 2, True), (100, 1, True), (1_000, 1, False)]


def run() -> tuple[str, dict[str, float]]:
    settings = parse_settings(read_stack_settings("dev", ROOT))
    small = encode(photo(320, 240), "JPEG", quality=80)
    figures: dict[str, float] = {}
    rows = []
    for count, workers, fast in RUNS:
        uploads = [Upload(f"img-{i}.jpg", f"uploads/user-{i % 7}/img-{i}.jpg", small) for i in range(count)]
        with contextlib.redirect_stdout(io.StringIO()):
            report = parallel.run(settings, uploads, workers=workers, fast=fast)
        assert report.counts.get("completed") == count, report.counts
        label = f"{count}x{workers}" + ("" if fast else "_stock")
        figures[f"{label}_images_per_s"] = report.images_per_second
        figures[f"{label}_ms_per_image"] = 1000 * report.wall_seconds / count
        rows.append([f"{count:,}", workers, "ours" if fast else "stock moto", f"{report.wall_seconds:.1f}",
                     f"{report.images_per_second:.1f}", f"{1000 * report.wall_seconds / count:.1f}"])
    figures["ratio_1000"] = figures["1000x2_images_per_s"] / figures["1000x1_stock_images_per_s"]
    figures["flatness_10000_vs_100"] = figures["10000x2_ms_per_image"] / figures["100x2_ms_per_image"]
    rows.append(["", "", "ours (2 workers) / stock moto (1 worker), 1,000 images", "",
                 f"{figures['ratio_1000']:.1f}x", "goal >= 8x"])
    rows.append(["", "", "ms/image, 10,000 images / 100 images", "", "", f"{figures['flatness_10000_vs_100']:.2f}x"])
    return table("Whole pipeline on the local runner (320x240 JPEGs, dev stack, all ending completed)",
                 ["images", "workers", "moto", "wall s", "images/s", "ms/image"], rows), figures
