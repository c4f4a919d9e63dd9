"""The whole pipeline, end to end on the local runner: images/s against the same runner on stock moto.

The library is one user's (`bench.library`): bursts of 3 to 12 near-identical shots among unrelated
photos, 480x360 to 800x600 JPEGs, on the dev stack (duplicates flagged, its default). Ours: two workers
(each its own moto, with `local.speedups`) for 100, 1,000 and 10,000 images, and one worker for 100;
time per image must stay flat as the count grows: the last tenth of a run within 1.3x of its first.
Baseline, measured in the same run: the same runner on stock moto (its speed patches off, one worker)
for 1,000 images (about 5 minutes). Goal: >= 8x. Absolute images/s vary between machines by 2x; judge
by the ratios. With two workers each has its own moto, so a user's duplicates are found within a
worker's half of the library only (images are dealt by a hash of their id, `local.parallel`).
"""

from __future__ import annotations

import contextlib
import io

from bench.library import uploads
from bench.measure import ROOT, table
from components import parse_settings, read_stack_settings
from local import parallel

RUNS = [(100, 2, True), (1_000, 2, True), (10_000, 2, True), (100, 1, True), (1_000, 1, False)]
FLATNESS_GOAL = 1.3


def run() -> tuple[str, dict[str, float]]:
    settings = parse_settings(read_stack_settings("dev", ROOT))
    library = uploads(max(count for count, _, _ in RUNS))
    figures: dict[str, float] = {}
    rows = []
    for count, workers, fast in RUNS:
        with contextlib.redirect_stdout(io.StringIO()):
            report = parallel.run(settings, library[:count], workers=workers, fast=fast)
        assert report.counts.get("completed") == count, report.counts  # every upload settled, as it should
        label = f"{count}x{workers}" + ("" if fast else "_stock")
        tenths = report.ms_per_image_by_tenth()
        figures[f"{label}_images_per_s"] = report.images_per_second
        figures[f"{label}_ms_per_image"] = 1000 * report.wall_seconds / count
        figures[f"{label}_last_vs_first_tenth"] = tenths[-1] / tenths[0]
        rows.append([f"{count:,}", workers, "ours" if fast else "stock moto", f"{report.wall_seconds:.1f}",
                     f"{report.images_per_second:.1f}", f"{1000 * report.wall_seconds / count:.1f}",
                     f"{tenths[0]:.1f}", f"{tenths[-1]:.1f}", f"{tenths[-1] / tenths[0]:.2f}x"])
    figures["ratio_1000"] = figures["1000x2_images_per_s"] / figures["1000x1_stock_images_per_s"]
    figures["flatness_10000_vs_100"] = figures["10000x2_ms_per_image"] / figures["100x2_ms_per_image"]
    rows.append(["", "", "ours (2 workers) / stock moto (1 worker), 1,000 images", "",
                 f"{figures['ratio_1000']:.1f}x", "", "", "", "goal >= 8x"])
    rows.append(["", "", "ms/image, 10,000 images / 100 images", "", "", f"{figures['flatness_10000_vs_100']:.2f}x",
                 "", "", f"goal <= {FLATNESS_GOAL}x"])
    return table("Whole pipeline on the local runner (one user's library: bursts and unrelated photos, "
                 "480x360 to 800x600 JPEGs, dev stack: duplicates flagged; every upload ends completed)",
                 ["images", "workers", "moto", "wall s", "images/s", "ms/image", "first tenth ms/image",
                  "last tenth ms/image", "last/first"], rows), figures
