"""The whole pipeline in one process: moto for AWS, the real handlers, Lambda's delivery rules.

What the runner does that moto does not (see `local.stack` for the rest):
- S3 -> `s3_event_handler`: moto delivers the bucket's notifications to an SQS queue (with the
  `s3:TestEvent` first, as AWS does); the runner invokes the handler with each event like
  Lambda's asynchronous invoke: two retries, then the on-failure record goes to the DLQ.
- Upload queue -> `orchestrator`, DLQ -> `dlq_processor`: Lambda's SQS poller. Receive up to
  the batch size, invoke, delete the successes; failures stay in flight until the visibility
  timeout elapses on a virtual clock (no sleeping), with a growing receive count, so SQS
  moves them to the DLQ after `maxReceiveCount` exactly as in AWS. An invocation error
  returns the whole batch. Running executions are bounded (`max_running_executions`) to
  keep moto's threads in check; AWS has no such limit at this scale.
- Uploads are consumed while they are made, as Lambda does, which keeps moto's queues shallow.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws

from components import policies
from components.config import Settings
from components.environment import UPLOAD_PREFIX
from handlers import dlq_processor, orchestrator, reconciler, s3_event_handler
from handlers import status as status_module
from handlers.clients import clients
from handlers.errors import ReconcileIncomplete
from local.events import ExecutionEvents, Sequencer, stamp_s3_event
from local.faults import Faults, ThrottlingStepFunctions, dynamodb_write_faults, message_identity
from local.iam import IamEnforcer
from local.inprocess import MOTO_CONFIG, InProcessLambdas, LambdaContext, quiet_handlers, sqs_event
from local.speedups import MotoSpeedups
from local.stack import LocalPipeline, deploy, queue_arn, subscribe_inbox

ASYNC_RETRIES = 2  # the S3 event handler's FunctionEventInvokeConfig
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class Upload:
    file: str
    key: str
    data: bytes


@dataclass
class Delivery:
    """Counters of what the runner delivered, for the report."""

    s3_events: int = 0
    invocations: dict[str, int] = field(default_factory=lambda: {"s3_event_handler": 0, "orchestrator": 0,
                                                                 "dlq_processor": 0, "reconciler": 0})
    invocation_errors: int = 0
    on_failure_records: int = 0
    clock_advances: int = 0
    dead_letters_settled: int = 0


class LocalRunner:
    def __init__(self, settings: Settings, *, faults: Faults | None = None, iam_enforce: bool = False,
                 retry_scale: float = 0.001, on_progress: Callable[[int, int], None] | None = None,
                 quiet: bool = True, max_running_executions: int = 24) -> None:
        self.quiet = quiet
        # Not an AWS limit: it bounds moto's execution threads so one process stays responsive.
        self.max_running_executions = max_running_executions
        self.settings = settings
        self.faults = faults or Faults()
        self.iam_enforce = iam_enforce
        self.retry_scale = retry_scale
        self.on_progress = on_progress
        self.delivery = Delivery()
        self.now = 0.0  # the virtual clock, in seconds
        self._delayed: list[tuple[float, str, str]] = []  # (visible again at, queue url, receipt handle)
        self._alerts: list[dict[str, Any]] = []
        self._sequencer = Sequencer()
        self.reconciler_runs: list[dict[str, int]] = []
        self.variant_writes: Counter[str] = Counter()
        self.pipeline: LocalPipeline
        self.enforcer: IamEnforcer
        self.lambdas: InProcessLambdas

    # -- set-up ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def running(self) -> Any:
        """Moto, the patches and the deployed pipeline; everything is gone on exit."""
        with contextlib.ExitStack() as stack:
            stack.enter_context(mock_aws(config=MOTO_CONFIG))
            speedups = stack.enter_context(MotoSpeedups())
            logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)  # logs every caught error
            if self.quiet:
                stack.enter_context(quiet_handlers())
            clients.reset()
            stack.callback(clients.reset)
            self.pipeline = deploy(self.settings)
            stack.enter_context(mock.patch.dict(os.environ, self.pipeline.environment))
            self.enforcer = IamEnforcer(self._policies(), enforce=True, workflow_clients=speedups.workflow_clients)
            if self.iam_enforce:
                stack.enter_context(self.enforcer)
            self.lambdas = stack.enter_context(InProcessLambdas(
                retry_scale=self.retry_scale,
                around_invoke=lambda name: self.enforcer.acting_as(name.removeprefix("local-"))))
            self._inject_faults(stack)
            clients.get("s3").meta.events.register("before-parameter-build.s3.PutObject", self._count_variant_write)
            self._s3, self._sqs = boto3.client("s3"), boto3.client("sqs")
            self._sfn, self._dynamodb = boto3.client("stepfunctions"), boto3.client("dynamodb")
            self._events_url = self._notifications()
            self._alerts_url = self._alerts_inbox()
            self.execution_events = ExecutionEvents(self._sfn, self._sqs, self.pipeline.state_machine_arn,
                                                    self.pipeline.dlq_url, self.faults)
            yield self

    def _count_variant_write(self, params: dict[str, Any], **_: Any) -> None:
        if params.get("Bucket") == self.pipeline.output_bucket and params.get("Key", "").startswith("variants/"):
            self.variant_writes[params["Key"]] += 1

    def _policies(self) -> dict[str, dict[str, Any]]:
        p = self.pipeline
        arns = policies.PipelineArns(
            account_id="123456789012", upload_queue=p.queue_arn, dead_letter_queue=p.dlq_arn,
            table=f"arn:aws:dynamodb:eu-west-1:123456789012:table/{p.table}", topic=p.topic_arn,
            input_bucket=f"arn:aws:s3:::{p.input_bucket}", output_bucket=f"arn:aws:s3:::{p.output_bucket}",
            state_machine=p.state_machine_arn,
            step_functions={n: p.function_arns[n] for n in policies.STEP_FUNCTIONS})
        return policies.function_policies(arns) | {"workflow": policies.state_machine_policy(arns)}

    def _notifications(self) -> str:
        """S3 -> SQS with the component's filters; the runner turns each event into an invoke."""
        url = self._sqs.create_queue(QueueName="local-s3-events")["QueueUrl"]
        arn = queue_arn(self._sqs, url)
        self._s3.put_bucket_notification_configuration(Bucket=self.pipeline.input_bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {
                "FilterRules": [{"Name": "prefix", "Value": UPLOAD_PREFIX}]}}}]})
        return url

    def _alerts_inbox(self) -> str:
        """An SQS queue subscribed to the alerts topic stands in for the on-call mailbox."""
        return subscribe_inbox(self._sqs, boto3.client("sns"), self.pipeline.topic_arn, "local-alerts-inbox")

    def read_alerts(self) -> list[dict[str, Any]]:
        """Every alert published so far (the inbox is drained into memory)."""
        while messages := self._sqs.receive_message(QueueUrl=self._alerts_url, MaxNumberOfMessages=10,
                                                    WaitTimeSeconds=0).get("Messages", []):
            for message in messages:
                self._alerts.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._alerts_url, ReceiptHandle=message["ReceiptHandle"])
        return list(self._alerts)

    def _inject_faults(self, stack: contextlib.ExitStack) -> None:
        faults = self.faults
        # Always installed: tests aim faults at single images (`Faults.target`) during a run.
        clients._cache["stepfunctions"] = ThrottlingStepFunctions(clients.get("stepfunctions"), faults)
        stack.enter_context(dynamodb_write_faults(faults))

    # -- delivery ----------------------------------------------------------------------------

    def upload(self, upload: Upload) -> None:
        self._s3.put_object(Bucket=self.pipeline.input_bucket, Key=upload.key, Body=upload.data)

    def _invoke(self, name: str, handler: Handler, event: dict[str, Any], timeout: int) -> Any:
        self.delivery.invocations[name] += 1
        with self.enforcer.acting_as(name):
            return handler(event, LambdaContext(f"local-{name}", timeout))

    def _receive(self, url: str, consumer: str) -> list[dict[str, Any]]:
        with self.enforcer.acting_as(consumer):
            return self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                             AttributeNames=["All"]).get("Messages", [])

    def pump_s3_events(self) -> bool:
        messages = self._sqs.receive_message(QueueUrl=self._events_url, MaxNumberOfMessages=10,
                                             WaitTimeSeconds=0).get("Messages", [])
        for message in messages:
            event = stamp_s3_event(json.loads(message["Body"]), self._sequencer)
            identity = "|".join(r["s3"]["object"]["key"] for r in event.get("Records", [])) or "test-event"
            deliveries = 2 if self.faults.hit("duplicate", f"s3:{identity}") else 1
            for _ in range(deliveries):
                self._async_invoke(event)
            self._sqs.delete_message(QueueUrl=self._events_url, ReceiptHandle=message["ReceiptHandle"])
        return bool(messages)

    def _async_invoke(self, event: dict[str, Any]) -> None:
        self.delivery.s3_events += 1
        timeout = self.settings.functions.s3_event_handler.timeout
        error: Exception | None = None
        for _ in range(1 + ASYNC_RETRIES):
            try:
                self._invoke("s3_event_handler", s3_event_handler.lambda_handler, event, timeout)
                return
            except Exception as caught:
                error = caught
                self.delivery.invocation_errors += 1
        self.delivery.on_failure_records += 1
        record = {"version": "1.0", "requestContext": {"condition": "RetriesExhausted",
                                                       "approximateInvokeCount": 1 + ASYNC_RETRIES},
                  "requestPayload": event, "responseContext": {"functionError": "Unhandled"},
                  "responsePayload": {"errorType": type(error).__name__, "errorMessage": str(error)}}
        with self.enforcer.acting_as("s3_event_handler"):  # destinations send with the function's role
            self._sqs.send_message(QueueUrl=self.pipeline.dlq_url, MessageBody=json.dumps(record))

    def pump_queue(self, url: str, arn: str, consumer: str, handler: Handler) -> bool:
        messages = self._receive(url, consumer)
        if not messages:
            return False
        event = sqs_event(messages, arn)
        timeout = getattr(self.settings.functions, consumer).timeout
        deliveries = 2 if self.faults.hit("duplicate", f"{consumer}:{message_identity(messages[0])}") else 1
        failed: set[str] = set()
        for _ in range(deliveries):
            try:
                response = self._invoke(consumer, handler, event, timeout)
                failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            except Exception:
                self.delivery.invocation_errors += 1
                failed = {m["MessageId"] for m in messages}
        visibility = next(queue.visibility_timeout_seconds for function, _, _, queue in self.settings.consumers()
                          if function == consumer)
        done = [m for m in messages if m["MessageId"] not in failed]
        for message in messages:
            if message["MessageId"] in failed:
                self._delayed.append((self.now + visibility, url, message["ReceiptHandle"]))
        if consumer == "dlq_processor":
            self.delivery.dead_letters_settled += len(done)
        if done:
            with self.enforcer.acting_as(consumer):
                self._sqs.delete_message_batch(QueueUrl=url, Entries=[
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

    def running_executions(self) -> int:
        return len(self._sfn.list_executions(stateMachineArn=self.pipeline.state_machine_arn, statusFilter="RUNNING",
                                             maxResults=self.max_running_executions + 1)["executions"])

    def wait_for_executions(self, below: int) -> None:
        """Block until fewer than `below` executions run (they compute in moto's threads).

        Waiting, instead of skipping a poll, keeps every decision of the runner independent of
        thread timing, so a seeded run repeats exactly.
        """
        pause = 0.001
        while self.running_executions() >= below:
            time.sleep(pause)
            pause = min(0.02, pause * 2)

    def step(self) -> bool:
        """One round of every poller; True if anything moved.

        With faults injected the runner is deterministic: it waits for capacity instead of
        skipping a poll, and lets executions settle before reading the DLQ, so a seed repeats
        the same run. Without faults it keeps uploading while executions are at the limit.
        """
        p = self.pipeline
        limit = self.max_running_executions
        moved = self.pump_s3_events()
        if self.faults.active:
            self.wait_for_executions(below=limit)
        if self.faults.active or self.running_executions() < limit:
            moved |= self.pump_queue(p.queue_url, p.queue_arn, "orchestrator", self.crashing_orchestrator)
        if self.faults.active and self._has_visible(p.dlq_url):
            # Whether a dead-lettered image had meanwhile completed depends on its execution.
            self.wait_for_executions(below=1)
        moved |= self.pump_queue(p.dlq_url, p.dlq_arn, "dlq_processor", dlq_processor.lambda_handler)
        return moved

    def _has_visible(self, url: str) -> bool:
        attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"]) > 0

    def advance_clock(self) -> bool:
        """Let the earliest visibility timeout elapse; False if nothing was waiting."""
        if not self._delayed:
            return False
        self._delayed.sort()
        self.now = max(self.now, self._delayed[0][0])
        due = [entry for entry in self._delayed if entry[0] <= self.now]
        self._delayed = [entry for entry in self._delayed if entry[0] > self.now]
        for _, url, receipt in due:
            with contextlib.suppress(Exception):  # already deleted or moved: nothing to release
                self._sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
        self.delivery.clock_advances += 1
        return True

    def reconcile(self) -> dict[str, int]:
        """One scheduled reconciler run, as if the stale bound and a schedule period had elapsed since now."""
        wf = self.settings.workflow
        later = datetime.now(UTC) + timedelta(seconds=wf.stale_after + 60 * wf.reconcile_every_minutes)
        event = {"source": "aws.events", "detail-type": "Scheduled Event",
                 "time": later.isoformat().replace("+00:00", "Z")}
        try:
            counts = self._invoke("reconciler", reconciler.lambda_handler, event,
                                  self.settings.functions.reconciler.timeout)
        except ReconcileIncomplete as error:  # a failed scheduled run, as in Lambda: the next one tries again
            self.delivery.invocation_errors += 1
            counts = error.counts
        self.reconciler_runs.append(counts)
        return counts

    def _pending_images(self) -> int:
        return len(status_module.stale_items(self._dynamodb, self.pipeline.table, "9999"))

    def settle(self, *, deadline_s: float = 900, max_reconciles: int = 20) -> None:
        """Deliver until nothing moves, forwarding ended executions to the DLQ as EventBridge does;
        then run the reconciler (the stale bound having elapsed) until it finds nothing to repair."""
        start = time.perf_counter()
        reconciles = 0
        while time.perf_counter() - start < deadline_s:
            if self.step():
                continue
            self.wait_for_executions(below=1)
            if self.step() or self.execution_events.forward():
                continue
            if self.advance_clock() or not self._queues_empty():
                continue
            if reconciles >= max_reconciles:
                raise RuntimeError(f"images still pending after {reconciles} reconciler runs")
            counts = self.reconcile()
            reconciles += 1
            if not (counts["requeued"] or counts["failed"] or counts["errors"] or self._pending_images()):
                return
        raise TimeoutError(f"the pipeline did not settle within {deadline_s} s")

    def run(self, uploads: list[Upload], *, deadline_s: float = 900) -> float:
        """Upload everything, consuming as Lambda would, until every image is settled. Returns seconds."""
        start = time.perf_counter()
        for index, upload in enumerate(uploads, 1):
            self.upload(upload)
            self.step()
            if self.on_progress:
                self.on_progress(index, len(uploads))
        self.settle(deadline_s=deadline_s)
        return time.perf_counter() - start

    def _queues_empty(self) -> bool:
        for url in (self.pipeline.queue_url, self.pipeline.dlq_url, self._events_url):
            attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            waiting = int(attributes["ApproximateNumberOfMessages"])
            if waiting or int(attributes["ApproximateNumberOfMessagesNotVisible"]):
                return False
        return True
