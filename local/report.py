"""What happened to every upload: read back from the status table, executions, alerts and buckets."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3

from handlers.errors import InvalidUploadKey
from handlers.uploads import parse_key
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


@dataclass
class Report:
    outcomes: list[Outcome]
    wall_seconds: float
    alerts: list[dict[str, Any]]
    executions_per_image: dict[str, int]
    faults_injected: dict[str, int]
    iam_checked: int
    iam_denied: list[str]
    delivery: dict[str, Any]

    @property
    def counts(self) -> Counter[str]:
        return Counter(o.status for o in self.outcomes)

    @property
    def failed_by_reason(self) -> Counter[str]:
        return Counter(o.reason or "?" for o in self.outcomes if o.status == "failed")

    @property
    def dead_lettered(self) -> set[str]:
        return {a["imageId"] for a in self.alerts if "imageId" in a}

    @property
    def duplicate_executions(self) -> int:
        return sum(n - 1 for n in self.executions_per_image.values() if n > 1)

    @property
    def images_per_second(self) -> float:
        return len(self.outcomes) / self.wall_seconds if self.wall_seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"summary": {"uploaded": len(self.outcomes), **self.counts, "failedByReason": self.failed_by_reason,
                            "deadLettered": len(self.dead_lettered), "alerts": len(self.alerts),
                            "duplicateExecutions": self.duplicate_executions, "wallSeconds": self.wall_seconds,
                            "imagesPerSecond": self.images_per_second, "faultsInjected": self.faults_injected,
                            "iamChecked": self.iam_checked, "iamDenied": self.iam_denied, "delivery": self.delivery},
                "images": [asdict(o) for o in self.outcomes]}


def collect(runner: LocalRunner, uploads: list[Upload], wall_seconds: float, out_dir: Path | None) -> Report:
    p = runner.pipeline
    dynamodb, s3, sfn = boto3.client("dynamodb"), boto3.client("s3"), boto3.client("stepfunctions")
    items: dict[tuple[str, str], dict[str, str]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=p.table):
        for item in page["Items"]:
            flat = plain_item(item)
            items[flat["imageId"], flat["userId"]] = flat
    executions: Counter[str] = Counter()
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=p.state_machine_arn):
        for execution in page["executions"]:
            executions[execution["name"].rsplit("-", 1)[0]] += 1
    outcomes = []
    for upload in uploads:
        try:
            key = parse_key(upload.key)
        except InvalidUploadKey as error:
            outcomes.append(Outcome(upload.file, upload.key, None, "failed", f"rejected at upload: {error}",
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
        execution = item.get("executionArn", "").rsplit(":", 1)[-1] or None
        outcomes.append(Outcome(upload.file, upload.key, key.image_id, item["status"], item.get("reason"),
                                item.get("error"), variants, execution))
    return Report(outcomes=outcomes, wall_seconds=wall_seconds, alerts=runner.read_alerts(),
                  executions_per_image=dict(executions), faults_injected=dict(runner.faults.injected),
                  iam_checked=len(runner.enforcer.checked),
                  iam_denied=sorted({f"{c.principal}: {c.action} on {c.resource}" for c in runner.enforcer.denied}),
                  delivery={"s3Events": runner.delivery.s3_events, "invocations": runner.delivery.invocations,
                            "invocationErrors": runner.delivery.invocation_errors,
                            "onFailureRecords": runner.delivery.on_failure_records,
                            "clockAdvances": runner.delivery.clock_advances})
