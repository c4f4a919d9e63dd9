"""Seeded, reproducible fault injection for the local runner.

`--faults throttle=0.2,dynamodb=0.05,crash=0.1,duplicate=0.1`:
- throttle: that fraction of StartExecution calls fail with ThrottlingException;
- dynamodb: that fraction of DynamoDB writes fail with ProvisionedThroughputExceededException
  (the workflow's own writes, which it retries, and the DLQ processor's);
- crash: that fraction of orchestrator invocations crash after handling half their batch;
- duplicate: that fraction of S3 events and queue batches are delivered twice;
- lost_event: that fraction of EventBridge execution events never reach the DLQ;
- stuck_write: that fraction of status writes fail more times than the workflow retries them.

`target(kind, contains, times)` makes the next `times` calls of `kind` whose identity contains
`contains` fail, for tests that aim a fault at one image.

Whether a call fails depends only on the seed, the kind of fault and the call's identity
(e.g. the image and how many times it was tried), never on thread timing: a run repeats.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from botocore.exceptions import ClientError

KINDS = ("throttle", "dynamodb", "crash", "duplicate", "lost_event", "stuck_write")


class FaultSpecError(ValueError):
    """`--faults` is not `kind=fraction,...` with known kinds and fractions in [0, 1]."""


@dataclass
class Faults:
    throttle: float = 0.0
    dynamodb: float = 0.0
    crash: float = 0.0
    duplicate: float = 0.0
    lost_event: float = 0.0
    stuck_write: float = 0.0
    seed: int = 0
    targeted: dict[str, Counter[str]] = field(default_factory=dict)
    injected: Counter[str] = field(default_factory=Counter)
    _seen: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def parse(cls, spec: str | None, seed: int = 0) -> Faults:
        faults = cls(seed=seed)
        for part in filter(None, (spec or "").split(",")):
            kind, _, value = part.partition("=")
            kind = kind.strip()
            if kind not in KINDS:
                raise FaultSpecError(f"--faults: unknown fault {kind!r} (known: {', '.join(KINDS)})")
            try:
                fraction = float(value)
            except ValueError:
                raise FaultSpecError(f"--faults: {kind}={value!r} is not a number") from None
            if not 0.0 <= fraction <= 1.0:
                raise FaultSpecError(f"--faults: {kind}={fraction} is outside 0 to 1")
            setattr(faults, kind, fraction)
        return faults

    @property
    def active(self) -> bool:
        return any(getattr(self, kind) > 0 for kind in KINDS)

    def target(self, kind: str, contains: str, times: int = 1) -> None:
        with self._lock:
            self.targeted.setdefault(kind, Counter())[contains] += times

    def _targeted_hit(self, kind: str, identity: str) -> bool:
        with self._lock:
            for contains, remaining in (self.targeted.get(kind) or {}).items():
                if remaining > 0 and contains in identity:
                    self.targeted[kind][contains] -= 1
                    self.injected[kind] += 1
                    return True
        return False

    def stuck(self, identity: str, attempts: int = 7) -> bool:
        """`stuck_write`: a chosen fraction of writes fail their first `attempts` tries, more than the
        workflow's retries, so the execution ends without recording (StatusWriteFailed)."""
        if self.stuck_write <= 0:
            return False
        digest = hashlib.sha256(f"{self.seed}:stuck:{identity}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= self.stuck_write:
            return False
        with self._lock:
            tries = self._seen[f"stuck:{identity}"]
            self._seen[f"stuck:{identity}"] += 1
            if tries < attempts:
                self.injected["stuck_write"] += tries == 0
        return tries < attempts

    def hit(self, kind: str, identity: str) -> bool:
        """Deterministic: the n-th call of `kind` for `identity` fails with the kind's probability."""
        if self.targeted and self._targeted_hit(kind, identity):
            return True
        fraction = getattr(self, kind)
        if fraction <= 0:
            return False
        with self._lock:
            key = f"{kind}:{identity}"
            attempt = self._seen[key]
            self._seen[key] += 1
        digest = hashlib.sha256(f"{self.seed}:{key}:{attempt}".encode()).digest()
        failed = int.from_bytes(digest[:8], "big") / 2**64 < fraction
        if failed:
            with self._lock:
                self.injected[kind] += 1
        return failed


class ThrottlingStepFunctions:
    """A Step Functions client whose StartExecution is throttled per `faults`."""

    def __init__(self, real: Any, faults: Faults) -> None:
        self._real, self._faults = real, faults

    def start_execution(self, **kwargs: Any) -> Any:
        if self._faults.hit("throttle", kwargs.get("name", "")):
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded (injected)"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "StartExecution")
        return self._real.start_execution(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _injected_throughput_exceeded() -> type[Exception]:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException

    class InjectedThroughputExceeded(DynamodbException):
        def __init__(self) -> None:
            super().__init__(ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException",
                             "Throughput exceeds the current capacity of your table (injected)")

    return InjectedThroughputExceeded


InjectedThroughputExceeded = _injected_throughput_exceeded()


@contextlib.contextmanager
def dynamodb_write_faults(faults: Faults) -> Iterator[None]:
    """moto's DynamoDB fails `faults.dynamodb` of UpdateItem calls with a throughput error."""
    from moto.dynamodb.models import DynamoDBBackend

    real = DynamoDBBackend.update_item

    def update_item(backend: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        expression = str(kwargs.get("update_expression") or (args[0] if args else ""))[:40]
        identity = f"{table_name}:{sorted(key.items())!r}:{expression}"
        if faults.hit("dynamodb", identity) or faults.stuck(identity):
            raise InjectedThroughputExceeded()
        return real(backend, table_name, key, *args, **kwargs)

    with mock.patch.object(DynamoDBBackend, "update_item", update_item):
        yield


@contextlib.contextmanager
def lost_workflow_reports(faults: Faults) -> Iterator[None]:
    """An EXPRESS workflow's report of an unfinished execution is lost as `faults.lost_event` decides,
    as a STANDARD execution's status-change event would be: SQS accepts it, nobody ever receives it."""
    from moto.sqs.models import SQSBackend

    real = SQSBackend.send_message

    def send_message(backend: Any, queue_name: str, message_body: str, *args: Any, **kwargs: Any) -> Any:
        message = real(backend, queue_name, message_body, *args, **kwargs)
        if '"image-pipeline.workflow"' in message_body:
            name = str(json.loads(message_body).get("detail", {}).get("name", ""))
            if faults.hit("lost_event", name):
                backend.get_queue(queue_name)._messages.remove(message)
        return message

    with mock.patch.object(SQSBackend, "send_message", send_message):
        yield


def message_identity(message: dict[str, Any]) -> str:
    """What a message is about, stable across runs (moto's message ids and event times are not)."""
    import hashlib

    try:
        body = json.loads(message["Body"])
        if isinstance(body, dict) and "s3Key" in body:
            return str(body["s3Key"])
        if isinstance(body, dict) and "requestPayload" in body:
            return "|".join(r["s3"]["object"]["key"] for r in body["requestPayload"].get("Records", []))
    except Exception:  # any other body is identified by its hash
        pass
    return hashlib.sha256(message["Body"].encode()).hexdigest()[:16]
