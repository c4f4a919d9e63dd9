"""What AWS adds around the pipeline that moto does not: event details and EventBridge.

- `stamp_s3_event`: moto's S3 events carry no `sequencer`; AWS's do (hex, increasing per key),
  and the newest-upload rule orders by it, so the runner adds one, as AWS would.
- `ExecutionEvents`: EventBridge's "Step Functions Execution Status Change" rule. Ended
  executions matching the component's own pattern (`unfinished_executions_pattern`) are
  sent to the DLQ, unless the `lost_event` fault drops them (the reconciler's case).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from components.workflow.definition import unfinished_executions_pattern
from local.faults import Faults

ENDED = ("FAILED", "TIMED_OUT", "ABORTED")


@dataclass
class Sequencer:
    """S3's per-key sequencer, emulated with one increasing counter (increasing per key too).

    `start`: a fixed value keeps seeded batch runs repeatable; `serve` starts from the clock
    (`from_clock`) so uploads after a `--state` restart still order after those before it.
    """

    start: int = 0x5F0000000000
    _counter: itertools.count = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._counter = itertools.count(self.start)

    @classmethod
    def from_clock(cls) -> Sequencer:
        return cls(start=time.time_ns() // 1000)  # microseconds: above every earlier start

    def next(self) -> str:
        with self._lock:
            return f"{next(self._counter):016X}"


def stamp_s3_event(event: dict[str, Any], sequencer: Sequencer) -> dict[str, Any]:
    for record in event.get("Records", []):
        obj = record.get("s3", {}).get("object", {})
        obj.setdefault("sequencer", sequencer.next())
    return event


def matches(pattern: dict[str, Any], detail: dict[str, Any]) -> bool:
    """The component's detail pattern: `stateMachineArn`, and one `$or` branch of status/error."""
    wanted = pattern["detail"]
    if detail.get("stateMachineArn") not in wanted["stateMachineArn"]:
        return False
    for branch in wanted["$or"]:
        if detail.get("status") not in branch["status"]:
            continue
        excluded = [value for rule in branch.get("error", []) for value in rule.get("anything-but", [])]
        if detail.get("error") not in excluded:
            return True
    return False


@dataclass
class ExecutionEvents:
    sfn: Any
    sqs: Any
    state_machine_arn: str
    dlq_url: str
    faults: Faults
    emitted: bool = True
    """Step Functions emits status-change events for STANDARD workflows only."""
    seen: set[str] = field(default_factory=set)
    sent: int = 0
    lost: int = 0

    def forward(self) -> int:
        """Send every newly ended execution that the rule matches to the DLQ; returns how many."""
        if not self.emitted:
            return 0
        pattern = unfinished_executions_pattern(self.state_machine_arn)
        forwarded = 0
        for status in ENDED:
            for execution in self._list(status):
                arn = execution["executionArn"]
                if arn in self.seen:
                    continue
                self.seen.add(arn)
                detail = self.sfn.describe_execution(executionArn=arn)
                event_detail = {k: detail.get(k) for k in ("executionArn", "stateMachineArn", "name", "status",
                                                          "input", "error", "cause")}
                if not matches(pattern, event_detail):
                    continue
                if self.faults.hit("lost_event", execution["name"]):
                    self.lost += 1
                    continue
                self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=json.dumps({
                    "version": "0", "id": str(uuid.uuid4()), "detail-type": "Step Functions Execution Status Change",
                    "source": "aws.states", "resources": [arn], "detail": event_detail}, default=str))
                forwarded += 1
        self.sent += forwarded
        return forwarded

    def _list(self, status: str) -> list[dict[str, Any]]:
        """Ended executions, newest first, until a page holds only ones already forwarded (local runs
        are seconds long, so nothing older can have ended since the last look)."""
        kwargs: dict[str, Any] = {"stateMachineArn": self.state_machine_arn, "statusFilter": status,
                                  "maxResults": 100}
        executions: list[dict[str, Any]] = []
        while True:
            page = self.sfn.list_executions(**kwargs)
            executions.extend(page["executions"])
            if not page.get("nextToken") or all(e["executionArn"] in self.seen for e in page["executions"]):
                return executions
            kwargs["nextToken"] = page["nextToken"]
