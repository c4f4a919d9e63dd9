"""Counting AWS calls and client constructions, timing fresh interpreters, printing tables."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import boto3
import botocore.client

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def count_aws() -> Iterator[Counter[str]]:
    """Counts API calls by operation, and `clients` constructions, while active."""
    counts: Counter[str] = Counter()
    real_call = botocore.client.BaseClient._make_api_call
    real_client = boto3.session.Session.client

    def call(self, operation, params):
        counts[operation] += 1
        return real_call(self, operation, params)

    def client(self, *args, **kwargs):
        counts["clients"] += 1
        return real_client(self, *args, **kwargs)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", call), \
            mock.patch.object(boto3.session.Session, "client", client):
        yield counts


def api_calls(counts: Counter[str]) -> int:
    return sum(n for op, n in counts.items() if op != "clients")


def fresh_interpreters_ms(codes: list[str], runs: int = 11, env: list[dict[str, str]] | None = None) -> list[float]:
    """Median wall time of `python -c code` in new processes (what a Lambda init pays).

    Runs alternate between the codes, so a busy moment of the machine hits all of them alike.
    """
    import os

    base = os.environ | {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    times: list[list[float]] = [[] for _ in codes]
    for _ in range(runs):
        for index, code in enumerate(codes):
            environment = base | ((env or [{}] * len(codes))[index])
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=environment)
            times[index].append((time.perf_counter() - start) * 1000)
    return [statistics.median(t) for t in times]


def table(title: str, header: list[str], rows: list[list[object]]) -> str:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [f"### {title}", "",
             "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells[1:]]
    return "\n".join(lines) + "\n"
