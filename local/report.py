"""What happened to every upload: read back from the status table, executions, alerts and buckets."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from contract.errors import InvalidUploadKey
from contract.workflow_types import STANDARD, execution_name
from handlers.lifecycle.uploads import parse_key
from local import express
from local.runner import LocalRunner, Upload
from tools.status import plain_item


@dataclass
class Outcome:
    file: str
    s3Key: str  # noqa: N815 - the report uses the message contract's names
    imageId: str | None  # noqa: N815
    status: str
    reason: str | None = None
    error: str | None = None
    variants: list[str] = field(default_factory=list)
    execution: str | None = None
    expected: str | None = None  # the status a generated sample is meant to end with, when it is not `completed`
    settled_at: str | None = None  # the status item's `updatedAt`: when the upload reached its status


@dataclass
class Report:
    outcomes: list[Outcome]
    wall_seconds: float
    alerts: list[dict[str, Any]]
    executions_per_upload: dict[str, int]
    """Executions started per upload and attempt. STANDARD (deterministic names): more than one is a bug;
    EXPRESS runs a redelivered message again, and the conditional status writes keep one outcome."""
    faults_injected: dict[str, int]
    iam_checked: int
    iam_denied: list[str]
    delivery: dict[str, Any]
    workflow_type: str = STANDARD.name
    regressions: list[str] = field(default_factory=list)
    """Images whose status item does not name their newest upload."""
    variant_writes: dict[str, int] = field(default_factory=dict)
    """PutObject calls per variant key; more than one is the same upload's variants written again."""

    @property
    def counts(self) -> Counter[str]:
        return Counter(o.status for o in self.outcomes)

    @property
    def failed_by_reason(self) -> Counter[str]:
        return Counter(o.reason or "?" for o in self.outcomes if o.status == "failed")

    @property
    def dead_lettered(self) -> set[str]:
        return {image for a in self.alerts for image in a.get("images", {})}

    @property
    def duplicate_executions(self) -> int:
        return sum(n - 1 for n in self.executions_per_upload.values() if n > 1)

    @property
    def duplicate_variant_writes(self) -> int:
        return sum(n - 1 for n in self.variant_writes.values() if n > 1)

    @property
    def images_per_second(self) -> float:
        return len(self.outcomes) / self.wall_seconds if self.wall_seconds else 0.0

    def ms_per_image_by_tenth(self) -> list[float]:
        """Time per image in each tenth of the run, from when uploads settled (in the order they settled),
        counted from the first to settle: a per-image cost that grows with the run shows in the last tenths."""
        times = sorted(datetime.fromisoformat(o.settled_at).timestamp() for o in self.outcomes if o.settled_at)
        if len(times) < 11:
            return []
        bounds = [round(k * (len(times) - 1) / 10) for k in range(11)]
        return [1000 * (times[hi] - times[lo]) / (hi - lo) for lo, hi in itertools.pairwise(bounds)]

    def to_json(self) -> dict[str, Any]:
        return {"summary": {"uploaded": len(self.outcomes), **self.counts, "failedByReason": self.failed_by_reason,
                            "deadLettered": len(self.dead_lettered), "alerts": len(self.alerts),
                            "duplicateExecutions": self.duplicate_executions, "regressions": self.regressions,
                            "variantWrites": sum(self.variant_writes.values()),
                            "duplicateVariantWrites": self.duplicate_variant_writes, "wallSeconds": self.wall_seconds,
                            "imagesPerSecond": self.images_per_second, "faultsInjected": self.faults_injected,
                            "iamChecked": self.iam_checked, "iamDenied": self.iam_denied, "delivery": self.delivery},
                "images": [asdict(o) for o in self.outcomes]}


def image_of(upload: Upload) -> str:
    """`user/image` of an upload, or its key when the key is not an upload key."""
    try:
        key = parse_key(upload.key)
    except InvalidUploadKey:
        return upload.key
    return f"{key.user_id}/{key.image_id}"


def _executions_per_upload(sfn: Any, state_machine_arn: str) -> Counter[str]:
    executions: Counter[str] = Counter()
    for execution in express.executions(state_machine_arn):  # EXPRESS ones cannot be listed through the API
        body = json.loads(execution.execution_input)
        executions[f"{body['upload']['id']}#{body.get('replayAttempt') or ''}"] += 1
    return executions


def _regressions(uploads: list[Upload], items: dict[tuple[str, str], dict[str, str]]) -> list[str]:
    """Images whose item names another upload than their newest (the last in `uploads`)."""
    newest: dict[str, Upload] = {}
    for upload in uploads:
        newest[image_of(upload)] = upload
    regressions = []
    for image, upload in newest.items():
        if "/" not in image or image.count("/") != 1:
            continue
        user_id, image_id = image.split("/")
        item = items.get((image_id, user_id))
        etag = hashlib.md5(upload.data).hexdigest()  # S3's ETag of a single-part PUT
        if item is not None and (item.get("uploadKey"), item.get("uploadVersion")) != (upload.key, etag):
            regressions.append(f"{image}: names {item.get('uploadKey')} {item.get('uploadVersion')}, newest is "
                               f"{upload.key} {etag}")
    return regressions


def collect(runner: LocalRunner, uploads: list[Upload], wall_seconds: float, out_dir: Path | None) -> Report:
    p = runner.pipeline
    dynamodb, s3, sfn = boto3.client("dynamodb"), boto3.client("s3"), boto3.client("stepfunctions")
    items: dict[tuple[str, str], dict[str, str]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=p.table):
        for item in page["Items"]:
            flat = plain_item(item)
            items[flat["imageId"], flat["userId"]] = flat
    outcomes = []
    for upload in uploads:
        try:
            key = parse_key(upload.key)
        except InvalidUploadKey as error:
            outcomes.append(Outcome(upload.file, upload.key, None, "failed", f"refused at upload (bad key): {error}",
                                    "InvalidUploadKey"))
            continue
        item = items.get((key.image_id, key.user_id))
        if item is None:
            outcomes.append(Outcome(upload.file, upload.key, key.image_id, "missing", "no status item"))
            continue
        variants = [v["key"] for v in json.loads(item.get("variants", "[]"))]
        if out_dir is not None:
            for variant in variants:
                target = out_dir / variant
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=p.output_bucket, Key=variant)["Body"].read())
            variants = [str(out_dir / v) for v in variants]
        execution = execution_name(item.get("executionArn", "")) or None
        outcomes.append(Outcome(upload.file, upload.key, key.image_id, item["status"], item.get("reason"),
                                item.get("error"), variants, execution, settled_at=item.get("updatedAt")))
    return Report(outcomes=outcomes, wall_seconds=wall_seconds, alerts=runner.read_alerts(),
                  workflow_type=runner.settings.workflow.type,
                  executions_per_upload=dict(_executions_per_upload(sfn, p.state_machine_arn)),
                  faults_injected=dict(runner.faults.injected),
                  iam_checked=len(runner.enforcer.checked),
                  iam_denied=sorted({f"{c.principal}: {c.action} on {c.resource}" for c in runner.enforcer.denied}),
                  delivery={"s3Events": runner.counts.s3_events, "invocations": runner.counts.invocations,
                            "invocationErrors": runner.counts.invocation_errors,
                            "onFailureRecords": runner.counts.on_failure_records,
                            "clockAdvances": runner.counts.clock_advances,
                            "deadLettersSettled": runner.counts.dead_letters_settled,
                            "executionEventsSent": runner.execution_events.sent,
                            "executionEventsLost": runner.execution_events.lost,
                            "reconcilerRuns": len(runner.reconciler_runs),
                            "reconcilerRepairs": sum(r["requeued"] + r["failed"] for r in runner.reconciler_runs)},
                  regressions=_regressions(uploads, items), variant_writes=dict(runner.variant_writes))
