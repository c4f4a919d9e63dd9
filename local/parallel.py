"""Shard a run over worker processes, each with its own moto: Lambda's concurrency, locally.

One process uses one core (moto and the handlers hold the GIL); two workers on this 2-core
machine nearly double the throughput. Images are dealt by a hash of (user, image), so every
upload of an image lives in exactly one worker; the reports are merged in upload order.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.settings.config import Settings
from local.faults import Faults
from local.report import Report, collect, image_of
from local.runner import LocalRunner, Upload


@dataclass(frozen=True)
class Job:
    settings: Settings
    uploads: list[tuple[int, Upload]]
    faults: str | None
    seed: int
    iam_enforce: bool
    out_dir: Path | None
    fast: bool = True


def _work(job: Job, barrier: Any = None, counter: Any = None,
          on_progress: Callable[[int, int], None] | None = None) -> tuple[list[int], Report, float, float]:
    def progress(done: int, total: int) -> None:
        if counter is not None:
            counter.value += 1
        if on_progress is not None:
            on_progress(done, total)

    runner = LocalRunner(job.settings, faults=Faults.parse(job.faults, job.seed), iam_enforce=job.iam_enforce,
                         on_progress=progress, fast=job.fast)
    uploads = [upload for _, upload in job.uploads]
    with runner.running():
        if barrier is not None:
            barrier.wait()  # every worker starts uploading at the same moment
        started = time.time()
        wall = runner.run(uploads)
        finished = time.time()
        report = collect(runner, uploads, wall, job.out_dir)
    return [index for index, _ in job.uploads], report, started, finished


def _work_in_pool(args: tuple[Job, Any, Any]) -> tuple[list[int], Report, float, float]:
    return _work(*args)


def run(settings: Settings, uploads: list[Upload], *, workers: int = 1, faults: str | None = None, seed: int = 0,
        iam_enforce: bool = False, out_dir: Path | None = None,
        on_progress: Callable[[int, int], None] | None = None, fast: bool = True) -> Report:
    """Run every upload through the pipeline; with `workers` > 1 in that many processes; `fast=False`:
    stock moto's speed (`local.speedups`), for the benchmarks' baseline."""
    indexed = list(enumerate(uploads))
    if workers <= 1 or len(uploads) < 2:
        _, report, _, _ = _work(Job(settings, indexed, faults, seed, iam_enforce, out_dir, fast),
                                on_progress=on_progress)
        return report
    # Every upload of one image goes to the same worker (its own moto, its own status table).
    shards: list[list[tuple[int, Upload]]] = [[] for _ in range(workers)]
    for index, upload in indexed:
        shards[zlib.crc32(image_of(upload).encode()) % workers].append((index, upload))
    jobs = [Job(settings, shard, faults, seed + i, iam_enforce, out_dir, fast) for i, shard in enumerate(shards)
            if shard]
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        barrier, counter, finished = manager.Barrier(len(jobs)), manager.Value("i", 0), threading.Event()

        def report_progress() -> None:
            while not finished.wait(0.2):
                if on_progress is not None:
                    on_progress(counter.value, len(uploads))

        watcher = threading.Thread(target=report_progress, daemon=True)
        watcher.start()
        with context.Pool(len(jobs)) as pool:
            results = pool.map(_work_in_pool, [(job, barrier, counter) for job in jobs])
        finished.set()
        watcher.join()
    return merge(results, len(uploads))


def merge(results: list[tuple[list[int], Report, float, float]], total: int) -> Report:
    outcomes: list[Any] = [None] * total
    for indices, report, _, _ in results:
        for index, outcome in zip(indices, report.outcomes, strict=True):
            outcomes[index] = outcome
    reports = [report for _, report, _, _ in results]
    delivery: dict[str, Any] = {}
    for report in reports:
        for key, value in report.delivery.items():
            if isinstance(value, dict):
                delivery[key] = dict(Counter(delivery.get(key, {})) + Counter(value))
            else:
                delivery[key] = delivery.get(key, 0) + value
    return Report(
        outcomes=outcomes,
        wall_seconds=max(end for *_, end in results) - min(start for *_, start, _ in results),
        alerts=[alert for report in reports for alert in report.alerts],
        executions_per_upload={k: v for report in reports for k, v in report.executions_per_upload.items()},
        regressions=[r for report in reports for r in report.regressions],
        variant_writes=dict(sum((Counter(r.variant_writes) for r in reports), Counter())),
        faults_injected=dict(sum((Counter(r.faults_injected) for r in reports), Counter())),
        iam_checked=sum(r.iam_checked for r in reports),
        iam_denied=sorted({d for r in reports for d in r.iam_denied}),
        delivery=delivery | {"workers": len(reports)}, workflow_type=reports[0].workflow_type,
    )
