"""A batch run: upload a set of images, deliver on a virtual clock until every image is settled.

`python -m local` and the end-to-end tests use it. It stands on the same two parts as
`python -m local serve`: the emulator (`local.emulator`: moto, the patches, the deployed
pipeline) and the delivery loop (`local.delivery`: Lambda's pollers, EventBridge, the
reconciler). Here the loop runs on a `VirtualClock`: a failed message's visibility timeout
elapses by jumping the clock, and the reconciler runs as if its stale bound had passed, so a
thousand uploads with faults settle in about a minute with no sleeping.

Example:
    >>> runner = LocalRunner(Settings())  # doctest: +SKIP
    >>> with runner.running():  # doctest: +SKIP
    ...     runner.run([Upload("a.jpg", "uploads/me/a.jpg", data)])
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from components.settings.config import Settings
from local.clock import VirtualClock
from local.delivery import Delivery, DeliveryCounts
from local.emulator import Emulator
from local.faults import Faults


@dataclass(frozen=True)
class Upload:
    file: str
    key: str
    data: bytes
    metadata: dict[str, str] | None = None  # S3 user metadata, e.g. the moderation stand-in's marker


class LocalRunner:
    def __init__(self, settings: Settings, *, faults: Faults | None = None, iam_enforce: bool = False,
                 retry_scale: float = 0.001, on_progress: Callable[[int, int], None] | None = None,
                 quiet: bool = True, max_running_executions: int = 24, fast: bool = True) -> None:
        self.settings = settings
        self.faults = faults or Faults()
        self.on_progress = on_progress
        self.emulator = Emulator(settings, faults=self.faults, iam_enforce=iam_enforce, retry_scale=retry_scale,
                                 quiet=quiet, fast=fast)
        self.clock = VirtualClock()
        self._since = time.monotonic()
        self.delivery = Delivery(self.emulator, self.clock, max_running_executions=max_running_executions)

    @contextlib.contextmanager
    def running(self) -> Iterator[LocalRunner]:
        """Moto, the patches and the deployed pipeline; everything is gone on exit."""
        with self.emulator:
            self._since = time.monotonic()
            yield self

    # What tests and the report read, from the part that owns it.
    pipeline = property(lambda self: self.emulator.pipeline)
    enforcer = property(lambda self: self.emulator.enforcer)
    lambdas = property(lambda self: self.emulator.lambdas)
    execution_events = property(lambda self: self.emulator.execution_events)
    variant_writes = property(lambda self: self.emulator.variant_writes)
    counts: DeliveryCounts = property(lambda self: self.delivery.counts)  # type: ignore[assignment]
    reconciler_runs = property(lambda self: self.delivery.reconciler_runs)

    def read_alerts(self) -> list[dict[str, Any]]:
        return self.emulator.read_alerts()

    def upload(self, upload: Upload) -> None:
        self.emulator.s3.put_object(Bucket=self.pipeline.input_bucket, Key=upload.key, Body=upload.data,
                                    Metadata=upload.metadata or {})

    def step(self) -> bool:
        return self.delivery.step()

    def wait_for_executions(self, below: int) -> None:
        self.delivery.wait_for_executions(below)

    def reconcile(self) -> dict[str, int]:
        """One scheduled reconciler run, as if the stale bound and a schedule period had elapsed since now."""
        wf = self.settings.workflow
        # In AWS the reconciler runs every period all along, so each execution that failed unrecorded falls
        # in some run's window; here it runs at the end only, so its window spans the whole run.
        minutes = max(wf.reconcile_every_minutes, math.ceil((time.monotonic() - self._since) / 60) + 1)
        with mock.patch.dict(os.environ, {"RECONCILE_EVERY_MINUTES": str(minutes)}):
            return self.delivery.reconcile(datetime.now(UTC) + timedelta(seconds=wf.stale_after +
                                                                         60 * wf.reconcile_every_minutes))

    def settle(self, *, deadline_s: float = 900, max_reconciles: int = 20) -> None:
        """Deliver until nothing moves, forwarding ended executions to the DLQ as EventBridge does;
        then run the reconciler (the stale bound having elapsed) until it finds nothing to repair."""
        delivery = self.delivery
        start = time.perf_counter()
        reconciles = 0
        while time.perf_counter() - start < deadline_s:
            if delivery.step():
                continue
            delivery.wait_for_executions(below=1)
            if delivery.step() or delivery.forward_execution_events():
                continue
            if delivery.release_due(jump=True) or not delivery.queues_empty():
                continue
            if reconciles >= max_reconciles:
                raise RuntimeError(f"images still pending after {reconciles} reconciler runs")
            counts = self.reconcile()
            reconciles += 1
            if not (counts["requeued"] or counts["failed"] or counts["errors"] or delivery.pending_images()):
                return
        raise TimeoutError(f"the pipeline did not settle within {deadline_s} s")

    def run(self, uploads: list[Upload], *, deadline_s: float | None = None) -> float:
        """Upload everything, consuming as Lambda would, until every image is settled. Returns seconds.

        `deadline_s` bounds settling after the last upload: by default 900 s, or half a second an upload
        for larger runs (the benchmarks' 10,000)."""
        deadline_s = deadline_s or max(900.0, 0.5 * len(uploads))
        start = time.perf_counter()
        for index, upload in enumerate(uploads, 1):
            self.upload(upload)
            self.delivery.step()
            if self.on_progress:
                self.on_progress(index, len(uploads))
        self.settle(deadline_s=deadline_s)
        return time.perf_counter() - start
