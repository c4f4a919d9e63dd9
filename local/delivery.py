"""Lambda's delivery rules around the pipeline, on a clock: one loop for batch runs and `serve`.

- S3 -> `s3_event_handler`: moto delivers the bucket's notifications to an internal queue (with
  the `s3:TestEvent` first, as AWS does); each event becomes an asynchronous invoke: two
  retries, then the on-failure record goes to the DLQ.
- Upload queue -> `orchestrator`, DLQ -> `dlq_processor`: Lambda's SQS poller. Receive up to
  the batch size, invoke, delete the successes; failures stay hidden until their visibility
  timeout elapses on the clock (`local.clock`), with a growing receive count, so SQS moves
  them to the DLQ after `maxReceiveCount` exactly as in AWS. An invocation error returns the
  whole batch. Running executions are bounded (`max_running_executions`) to keep moto's
  threads in check; AWS has no such limit at this scale.
- Ended executions -> DLQ: EventBridge's rule (`local.events.ExecutionEvents`).
- The scheduled reconciler, invoked with the time the caller says it is.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contract.errors import ReconcileIncomplete
from handlers import dlq_processor, orchestrator, reconciler, s3_event_handler
from handlers.lifecycle import status as status_module
from handlers.lifecycle.uploads import utc_iso
from local import express
from local.clock import Clock
from local.emulator import Emulator
from local.events import Sequencer, stamp_s3_event
from local.faults import message_identity
from local.inprocess import LambdaContext, sqs_event

ASYNC_RETRIES = 2  # the S3 event handler's FunctionEventInvokeConfig
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class DeliveryCounts:
    """What the loop delivered, for the report and the live view."""

    s3_events: int = 0
    uploads_seen: int = 0
    """Object-created records S3 delivered (not the test event, not duplicate deliveries)."""
    invocations: dict[str, int] = field(default_factory=lambda: {"s3_event_handler": 0, "orchestrator": 0,
                                                                 "dlq_processor": 0, "reconciler": 0})
    invocation_errors: int = 0
    on_failure_records: int = 0
    clock_advances: int = 0
    dead_letters_settled: int = 0


class Delivery:
    def __init__(self, emulator: Emulator, clock: Clock, *, max_running_executions: int = 24,
                 sequencer: Sequencer | None = None) -> None:
        self.emulator = emulator
        self.clock = clock
        # Not an AWS limit: it bounds moto's execution threads so one process stays responsive.
        self.max_running_executions = max_running_executions
        self.counts = DeliveryCounts()
        self.reconciler_runs: list[dict[str, int]] = []
        self.rejected: list[str] = []  # why each rejected upload key was rejected, in order
        self._delayed: list[tuple[float, str, str]] = []  # (visible again at, queue url, receipt handle)
        self._sequencer = sequencer or Sequencer()
        self._running = express.RunningExecutions()

    @property
    def faults(self) -> Any:
        return self.emulator.faults

    def _invoke(self, name: str, handler: Handler, event: dict[str, Any], timeout: int) -> Any:
        self.counts.invocations[name] += 1
        with self.emulator.enforcer.acting_as(name):
            return handler(event, LambdaContext(f"local-{name}", timeout))

    # -- S3 events -> s3_event_handler (asynchronous invoke) -----------------------------------

    def pump_s3_events(self) -> bool:
        sqs, url = self.emulator.sqs, self.emulator.events_url
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        for message in messages:
            event = stamp_s3_event(json.loads(message["Body"]), self._sequencer)
            created = [r for r in event.get("Records", []) if str(r.get("eventName", "")).startswith("ObjectCreated")]
            self.counts.uploads_seen += len(created)
            self.rejected += s3_event_handler.parse_records(created)[1]  # the handler logs them; the view shows them
            identity = "|".join(r["s3"]["object"]["key"] for r in event.get("Records", [])) or "test-event"
            for _ in range(2 if self.faults.hit("duplicate", f"s3:{identity}") else 1):
                self._async_invoke(event)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bool(messages)

    def _async_invoke(self, event: dict[str, Any]) -> None:
        self.counts.s3_events += 1
        timeout = self.emulator.settings.functions.s3_event_handler.timeout
        error: Exception | None = None
        for _ in range(1 + ASYNC_RETRIES):
            try:
                self._invoke("s3_event_handler", s3_event_handler.lambda_handler, event, timeout)
                return
            except Exception as caught:
                error = caught
                self.counts.invocation_errors += 1
        self.counts.on_failure_records += 1
        record = {"version": "1.0", "requestContext": {"condition": "RetriesExhausted",
                                                       "approximateInvokeCount": 1 + ASYNC_RETRIES},
                  "requestPayload": event, "responseContext": {"functionError": "Unhandled"},
                  "responsePayload": {"errorType": type(error).__name__, "errorMessage": str(error)}}
        with self.emulator.enforcer.acting_as("s3_event_handler"):  # destinations send with the function's role
            self.emulator.sqs.send_message(QueueUrl=self.emulator.pipeline.dlq_url, MessageBody=json.dumps(record))

    # -- SQS -> orchestrator / dlq_processor (Lambda's poller) ---------------------------------

    def pump_queue(self, url: str, arn: str, consumer: str, handler: Handler) -> bool:
        sqs, settings = self.emulator.sqs, self.emulator.settings
        with self.emulator.enforcer.acting_as(consumer):
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                           AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return False
        event = sqs_event(messages, arn)
        timeout = getattr(settings.functions, consumer).timeout
        deliveries = 2 if self.faults.hit("duplicate", f"{consumer}:{message_identity(messages[0])}") else 1
        failed: set[str] = set()
        for _ in range(deliveries):
            try:
                response = self._invoke(consumer, handler, event, timeout)
                failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            except Exception:
                self.counts.invocation_errors += 1
                failed = {m["MessageId"] for m in messages}
        visibility = next(queue.visibility_timeout_seconds for function, _, _, queue in settings.consumers()
                          if function == consumer)
        done = [m for m in messages if m["MessageId"] not in failed]
        self._delayed += [(self.clock.now() + visibility, url, m["ReceiptHandle"])
                          for m in messages if m["MessageId"] in failed]
        if consumer == "dlq_processor":
            self.counts.dead_letters_settled += len(done)
        if done:
            with self.emulator.enforcer.acting_as(consumer):
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        return True

    def crashing_orchestrator(self, event: dict[str, Any], context: Any) -> Any:
        """The real orchestrator, crashing after half of its batch when the `crash` fault hits."""
        records = event["Records"]
        first = records[0]
        identity = f"{message_identity({'Body': first['body']})}:{first['attributes'].get('ApproximateReceiveCount')}"
        if self.faults.hit("crash", identity):
            # Half the batch, or all of it when the batch is one message: a crash after StartExecution.
            orchestrator.lambda_handler({"Records": records[: max(1, len(records) // 2)]}, context)
            raise RuntimeError("orchestrator crashed mid-batch (injected)")
        return orchestrator.lambda_handler(event, context)

    # -- executions ----------------------------------------------------------------------------

    def running_executions(self) -> int:
        return self._running.count(self.emulator.pipeline.state_machine_arn)

    def wait_for_executions(self, below: int) -> None:
        """Block until fewer than `below` executions run (they compute in moto's threads).

        Waiting, instead of skipping a poll, keeps every decision of the loop independent of
        thread timing, so a seeded run repeats exactly.
        """
        pause = 0.001
        while self.running_executions() >= below:
            time.sleep(pause)
            pause = min(0.02, pause * 2)

    # -- one round -----------------------------------------------------------------------------

    def step(self) -> bool:
        """One round of every poller; True if anything moved.

        With faults injected the loop is deterministic: it waits for capacity instead of
        skipping a poll, and lets executions settle before reading the DLQ, so a seed repeats
        the same run. Without faults it keeps consuming uploads while executions are at the limit.
        """
        p = self.emulator.pipeline
        limit = self.max_running_executions
        moved = self.pump_s3_events()
        if self.faults.active:
            self.wait_for_executions(below=limit)
        if self.faults.active or self.running_executions() < limit:
            moved |= self.pump_queue(p.queue_url, p.queue_arn, "orchestrator", self.crashing_orchestrator)
        if self.faults.active and self._visible(p.dlq_url):
            # Whether a dead-lettered image had meanwhile completed depends on its execution.
            self.wait_for_executions(below=1)
        moved |= self.pump_queue(p.dlq_url, p.dlq_arn, "dlq_processor", dlq_processor.lambda_handler)
        return moved

    def forward_execution_events(self) -> bool:
        return bool(self.emulator.execution_events.forward())

    def release_due(self, *, jump: bool) -> bool:
        """Make failed messages whose visibility timeout has elapsed receivable again.

        With `jump`, first move the clock to the earliest such moment if it can (the virtual clock
        can; the real one only when that moment has passed). False if nothing was released.
        """
        if not self._delayed:
            return False
        self._delayed.sort()
        if jump and self.clock.jump_to(self._delayed[0][0]):
            self.counts.clock_advances += 1
        due = [entry for entry in self._delayed if entry[0] <= self.clock.now()]
        self._delayed = self._delayed[len(due):]
        for _, url, receipt in due:
            with contextlib.suppress(Exception):  # already deleted or moved: nothing to release
                self.emulator.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
        return bool(due)

    def reconcile(self, at: datetime) -> dict[str, int]:
        """One scheduled reconciler run, as if it were `at`."""
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "time": utc_iso(at)}
        try:
            counts = self._invoke("reconciler", reconciler.lambda_handler, event,
                                  self.emulator.settings.functions.reconciler.timeout)
        except ReconcileIncomplete as error:  # a failed scheduled run, as in Lambda: the next one tries again
            self.counts.invocation_errors += 1
            counts = error.counts
        self.reconciler_runs.append(counts)
        return counts

    def pending_images(self) -> int:
        return len(status_module.stale_items(self.emulator.dynamodb, self.emulator.pipeline.table, "9999"))

    def queues_empty(self) -> bool:
        p = self.emulator.pipeline
        for url in (p.queue_url, p.dlq_url, self.emulator.events_url):
            attributes = self.emulator.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            if any(int(attributes[name]) for name in ("ApproximateNumberOfMessages",
                                                      "ApproximateNumberOfMessagesNotVisible")):
                return False
        return True

    def _visible(self, url: str) -> bool:
        name = "ApproximateNumberOfMessages"
        return int(self.emulator.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name]) > 0
