"""The whole pipeline, end to end on the local runner: images/s for 10, 100 and 1,000 small images.

Time per image must stay flat as the count grows (uploads are consumed while they are made,
so moto's queues stay shallow). The baseline is the 10-image run of the same configuration,
measured in the same run; a one-process row shows what the second worker adds.
"""

from __future__ import annotations

import contextlib
import io

from bench.measure import table
from components import Settings, read_stack_settings
from local import parallel
from local.runner import Upload
from local.samples import encode, photo

RUNS = [(10, 2), (100, 2), (1_000, 2), (100, 1)]


def run() -> tuple[str, dict[str, float]]:
    settings = Settings.from_dict(read_stack_settings("dev"))
    small = encode(photo(320, 240), "JPEG", quality=80)
    figures: dict[str, float] = {}
    rows = []
    base_ms = None
    for count, workers in RUNS:
        uploads = [Upload(f"img-{i}.jpg", f"uploads/user-{i % 7}/img-{i}.jpg", small) for i in range(count)]
        with contextlib.redirect_stdout(io.StringIO()):
            report = parallel.run(settings, uploads, workers=workers)
        assert report.counts.get("completed") == count, report.counts
        ms = 1000 * report.wall_seconds / count
        base_ms = base_ms or ms
        figures[f"{count}x{workers}_images_per_s"] = report.images_per_second
        figures[f"{count}x{workers}_ms_per_image"] = ms
        rows.append([f"{count:,}", workers, f"{report.wall_seconds:.1f}", f"{report.images_per_second:.1f}",
                     f"{ms:.1f}", f"{ms / base_ms:.2f}x", ">= 20 images/s" if workers == 2 else ""])
    return table("Whole pipeline on the local runner (320x240 JPEGs, dev stack, all ending completed)",
                 ["images", "workers", "wall s", "images/s", "ms/image", "ms/image vs 10-image run", "goal"],
                 rows), figures
