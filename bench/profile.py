"""Where the time per image goes: cProfile of the whole pipeline on one worker, every thread counted.

    python -m bench profile [N]    (N images of the benchmarks' library, 1,000 by default)

Step Functions executions, and so the handlers they invoke, run in moto's threads: each thread gets
its own profiler, and the profiles are merged. Each one counts its thread's CPU time
(`time.thread_time`), so waiting (for the GIL, for executions in `wait_for_executions`) counts nowhere
and the figures add up to the process's CPU time. Printed in ms per image.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import threading
import time
from typing import Any
from unittest import mock

from bench.library import uploads
from bench.measure import ROOT, table
from components import parse_settings, read_stack_settings
from local.runner import LocalRunner

TOP = 25


@contextlib.contextmanager
def every_thread_profiled() -> Any:
    """One profiler per thread started meanwhile (and one for this thread); yields their list."""
    profiles: list[cProfile.Profile] = []
    real_run = threading.Thread.run

    def run(thread: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.runcall(real_run, thread)

    main = cProfile.Profile(time.thread_time)
    profiles.append(main)
    with mock.patch.object(threading.Thread, "run", run):
        main.enable()
        try:
            yield profiles
        finally:
            main.disable()


def _where(func: tuple[str, int, str]) -> str:
    path, line, name = func
    for marker in ("site-packages/", f"{ROOT}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{line}({name})" if line else name


def profile(count: int) -> tuple[pstats.Stats, float, float]:
    """The merged profile of `count` images on one worker, its CPU seconds and wall seconds."""
    settings = parse_settings(read_stack_settings("dev", ROOT))
    library = uploads(count)
    runner = LocalRunner(settings)
    with contextlib.redirect_stdout(io.StringIO()), runner.running():
        cpu = time.process_time()
        with every_thread_profiled() as profiles:
            wall = runner.run(library)
        cpu = time.process_time() - cpu
    stats = pstats.Stats(*profiles, stream=io.StringIO())
    return stats, cpu, wall


AREAS = (("moto: DynamoDB", "moto/dynamodb/"), ("moto: Step Functions", "moto/stepfunctions/"),
         ("moto: S3", "moto/s3/"), ("moto: SQS", "moto/sqs/"), ("moto: other", "moto/"),
         ("botocore, boto3", "botocore/"), ("botocore, boto3", "boto3/"), ("Pillow", "PIL/"),
         ("Powertools", "aws_lambda_powertools/"), ("our handlers", "handlers/"), ("our local runner", "local/"),
         ("copy, json, re, threading (standard library)", "python3.11/"))


def by_area(stats: pstats.Stats, count: int) -> list[list[object]]:
    """Self time grouped by where the code lives: which library the time per image goes to."""
    spent: dict[str, float] = {}
    for (path, _, _), values in stats.stats.items():  # type: ignore[attr-defined]
        area = next((name for name, marker in AREAS if marker in path), "built-ins and the rest")
        spent[area] = spent.get(area, 0.0) + values[2]
    total = sum(spent.values())
    return [[area, f"{1000 * seconds / count:.1f}", f"{100 * seconds / total:.0f} %"]
            for area, seconds in sorted(spent.items(), key=lambda entry: entry[1], reverse=True)]


def top_entries(stats: pstats.Stats, count: int, key: str) -> list[list[object]]:
    index = {"cumulative": 3, "self": 2}[key]
    rows = sorted(stats.stats.items(), key=lambda entry: entry[1][index], reverse=True)  # type: ignore[attr-defined]
    return [[f"{1000 * values[3] / count:.2f}", f"{1000 * values[2] / count:.2f}", f"{values[1] / count:.1f}",
             _where(func)] for func, values in rows[:TOP]]


def run(count: int = 1_000) -> tuple[str, dict[str, float]]:
    stats, cpu, wall = profile(count)
    header = ["cumulative ms/image", "self ms/image", "calls/image", "function"]
    text = "\n".join([
        f"{count:,} images, one worker: {count / wall:.1f} images/s, {1000 * cpu / count:.1f} ms CPU per image "
        f"(profiled: profiling slows the run about 2x)\n",
        table("CPU time by where the code lives (self time)", ["area", "ms/image", "share"], by_area(stats, count)),
        table("Top by cumulative CPU time (every thread)", header, top_entries(stats, count, "cumulative")),
        table("Top by self CPU time (every thread)", header, top_entries(stats, count, "self"))])
    return text, {"images": count, "images_per_s": count / wall, "cpu_ms_per_image": 1000 * cpu / count}
