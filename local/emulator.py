"""Moto, the patches that make it behave like AWS for this pipeline, and the pipeline deployed on it.

`Emulator` is what both `python -m local` (batch) and `python -m local serve` stand on:

- moto in-process (`mock_aws`), with Step Functions executing the real definition and Lambda
  invokes running the real handlers (`InProcessLambdas`);
- the pipeline from the stack's `Settings` (`local.stack.deploy`), every function's environment;
- optional IAM enforcement (each call checked against the calling function's own policy);
- the faults a run may inject (`local.faults`), always installed so tests can aim them;
- S3 notifications to an internal queue (the delivery loop turns each into an invoke), an SQS
  inbox subscribed to the alerts topic, and EventBridge's execution-status rule (`ExecutionEvents`).

Example:
    >>> with Emulator(Settings()) as emulator:  # doctest: +SKIP
    ...     emulator.s3.put_object(Bucket=emulator.pipeline.input_bucket, Key="uploads/u/a.jpg", Body=b"...")
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import Counter
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws

from components import policies
from components.settings.config import Settings
from contract.functions import UPLOAD_PREFIX
from handlers.lifecycle.clients import clients
from handlers.lifecycle.publication import STAGING_PREFIX
from local.events import ExecutionEvents
from local.express import ExpressExecutions
from local.faults import Faults, ThrottlingStepFunctions, dynamodb_write_faults, lost_workflow_reports
from local.iam import Call, IamEnforcer
from local.inprocess import MOTO_CONFIG, InProcessLambdas, quiet_handlers
from local.moderation import ModerationStandIn
from local.speedups import MotoSpeedups
from local.stack import REGION, LocalPipeline, deploy, queue_arn, subscribe_inbox


class Emulator:
    def __init__(self, settings: Settings, *, faults: Faults | None = None, iam_enforce: bool = False,
                 retry_scale: float = 0.001, quiet: bool = True, fast: bool = True) -> None:
        self.settings = settings
        self.fast = fast
        self.faults = faults or Faults()
        self.iam_enforce = iam_enforce
        self.retry_scale = retry_scale
        self.quiet = quiet
        self.variant_writes: Counter[str] = Counter()
        self.alerts: list[dict[str, Any]] = []
        self.pipeline: LocalPipeline
        self.enforcer: IamEnforcer
        self.lambdas: InProcessLambdas
        self.execution_events: ExecutionEvents
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Emulator:
        stack = self._stack.__enter__()
        try:
            self._start(stack)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self, stack: contextlib.ExitStack) -> None:
        stack.enter_context(mock_aws(config=MOTO_CONFIG))
        speedups = stack.enter_context(MotoSpeedups(fast=self.fast))
        stack.enter_context(ExpressExecutions())
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
        self.moderation = stack.enter_context(ModerationStandIn(
            self.pipeline.table, REGION, authorize=lambda bucket, key: self.enforcer.permitted(
                Call("workflow", "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"))))
        self.lambdas = stack.enter_context(InProcessLambdas(
            retry_scale=self.retry_scale,
            around_invoke=lambda name: self.enforcer.acting_as(name.removeprefix("local-"))))
        # Always installed: tests aim faults at single images (`Faults.target`) during a run.
        clients._cache["stepfunctions"] = ThrottlingStepFunctions(clients.get("stepfunctions"), self.faults)
        stack.enter_context(dynamodb_write_faults(self.faults))
        stack.enter_context(lost_workflow_reports(self.faults))
        clients.get("s3").meta.events.register("before-parameter-build.s3.PutObject", self._count_variant_write)
        self.s3, self.sqs, self.sns = boto3.client("s3"), boto3.client("sqs"), boto3.client("sns")
        self.sfn, self.dynamodb = boto3.client("stepfunctions"), boto3.client("dynamodb")
        self.events_url = self._notifications()
        self.alerts_url = subscribe_inbox(self.sqs, self.sns, self.pipeline.topic_arn,
                                          "local-alerts-inbox")  # stands in for the on-call mailbox
        self.execution_events = ExecutionEvents(self.sfn, self.sqs, self.pipeline.state_machine_arn,
                                                self.pipeline.dlq_url, self.faults,
                                                emitted=self.settings.workflow.kind.emits_status_events)

    def _count_variant_write(self, params: dict[str, Any], **_: Any) -> None:
        # With moderation the variants step writes under `staging/`; publishing copies, it writes no variant again.
        key = params.get("Key", "").removeprefix(STAGING_PREFIX)
        if params.get("Bucket") == self.pipeline.output_bucket and key.startswith("variants/"):
            self.variant_writes[key] += 1

    def _policies(self) -> dict[str, dict[str, Any]]:
        p = self.pipeline
        arns = policies.PipelineArns(
            account_id="123456789012", upload_queue=p.queue_arn, dead_letter_queue=p.dlq_arn,
            table=f"arn:aws:dynamodb:eu-west-1:123456789012:table/{p.table}", topic=p.topic_arn,
            input_bucket=f"arn:aws:s3:::{p.input_bucket}", output_bucket=f"arn:aws:s3:::{p.output_bucket}",
            state_machine=p.state_machine_arn,
            step_functions={n: p.function_arns[n] for n in p.settings.workflow_functions()},
            moderation=p.settings.moderation.enabled, workflow_type=p.settings.workflow.kind)
        return policies.function_policies(arns) | {"workflow": policies.state_machine_policy(arns)}

    def _notifications(self) -> str:
        """S3 -> SQS with the component's filters; the delivery loop turns each event into an invoke."""
        url = self.sqs.create_queue(QueueName="local-s3-events")["QueueUrl"]
        prefix_only = {"Key": {"FilterRules": [{"Name": "prefix", "Value": UPLOAD_PREFIX}]}}
        self.s3.put_bucket_notification_configuration(Bucket=self.pipeline.input_bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn(self.sqs, url), "Events": ["s3:ObjectCreated:*"],
                                     "Filter": prefix_only}]})
        return url

    def read_alerts(self) -> list[dict[str, Any]]:
        """Every alert published so far (the inbox is drained into memory)."""
        self.alerts += self.drain(self.alerts_url)
        return list(self.alerts)

    def drain(self, inbox_url: str) -> list[dict[str, Any]]:
        """Every message waiting in an inbox queue, as JSON (`as_json`), deleted from it."""
        found = []
        while messages := self.sqs.receive_message(QueueUrl=inbox_url, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=0).get("Messages", []):
            for message in messages:
                found.append(as_json(message["Body"]))
                self.sqs.delete_message(QueueUrl=inbox_url, ReceiptHandle=message["ReceiptHandle"])
        return found


def as_json(body: str) -> dict[str, Any]:
    """An alert's JSON, or `{"message": body}` for what someone else published to the topic."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"message": body}
    return parsed if isinstance(parsed, dict) else {"message": parsed}
