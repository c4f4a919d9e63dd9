"""Handlers on moto: the queues, table and topic built with the dev stack's settings.

Events are made by small factories (`s3_event`, `sqs_event`), and `poll()` consumes a
queue the way Lambda's SQS poller does: receive a batch, invoke, delete the successes,
and let failures reappear (visibility moved to 0 instead of sleeping).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from components import Settings, parse_settings, read_stack_settings
from components.environment import function_environment
from handlers.lifecycle.clients import clients
from handlers.lifecycle.uploads import execution_input, upload_message
from local.inprocess import MOTO_CONFIG, InProcessLambdas, LambdaContext, sqs_event
from local.stack import LocalPipeline, create_queue, create_status_table, deploy, queue_arn, subscribe_inbox
from tests.conftest import ROOT
from tools.status import plain_item

STATE_MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def lambda_context(remaining_ms: int = 60_000) -> LambdaContext:
    """A Lambda context whose invocation has `remaining_ms` left (it counts down from now)."""
    return LambdaContext("test-function", timeout_seconds=remaining_ms / 1000)


@dataclass
class Pipeline:
    """The AWS resources the queue-layer handlers use, on moto."""

    settings: Settings
    queue_url: str
    dlq_url: str
    table: str
    topic_arn: str
    alerts_url: str
    state_machine_arn: str
    sqs: Any
    sfn: Any
    dynamodb: Any

    def alerts(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.alerts_url, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=0).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def executions(self) -> list[dict[str, Any]]:
        return self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]

    def item(self, image_id: str, user_id: str) -> dict[str, Any] | None:
        return self.dynamodb.get_item(TableName=self.table, Key={"imageId": {"S": image_id},
                                                                  "userId": {"S": user_id}}).get("Item")


@pytest.fixture
def pipeline(monkeypatch) -> Iterator[Pipeline]:
    settings = parse_settings(read_stack_settings("dev", ROOT))
    with mock_aws():
        clients.reset()
        sqs, sfn, dynamodb = boto3.client("sqs"), boto3.client("stepfunctions"), boto3.client("dynamodb")
        sns, iam = boto3.client("sns"), boto3.client("iam")
        dlq_url, dlq_arn = create_queue(sqs, "uploads-dlq", settings.dlq)
        queue_url, _ = create_queue(sqs, "uploads", settings.queue, {
            "deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.dead_letter_queue.max_receive_count})
        create_status_table(dynamodb, "status")
        boto3.client("s3").create_bucket(Bucket="output", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        topic_arn = sns.create_topic(Name="alerts")["TopicArn"]
        alerts_url = subscribe_inbox(sqs, sns, topic_arn, "alerts-inbox")
        role = iam.create_role(RoleName="workflow", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        machine = sfn.create_state_machine(name="workflow", definition=json.dumps(STATE_MACHINE),
                                           roleArn=role)["stateMachineArn"]
        # Every function's variables, as the component writes them (they never conflict: one environment).
        functions = function_environment(settings, queue_url=queue_url, dlq_url=dlq_url, table_name="status",
                                         topic_arn=topic_arn, state_machine_arn=machine, output_bucket="output")
        for name, value in {name: value for env in functions.values() for name, value in env.items()}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ImagePipeline")
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "tests")
        yield Pipeline(settings, queue_url, dlq_url, "status", topic_arn, alerts_url, machine, sqs, sfn, dynamodb)
        clients.reset()


def s3_record(key: str, *, bucket: str = "input", size: int = 1024, etag: str = "etag-1",
              sequencer: str | None = "0055AED6DCD90281E5", encode: bool = True) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/") if encode else key, "size": size, "eTag": etag}
    if sequencer:
        obj["sequencer"] = sequencer
    return {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
            "eventTime": "2026-11-28T05:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                   "object": obj}}


def s3_event(*keys: str, **kwargs: Any) -> dict[str, Any]:
    return {"Records": [s3_record(key, **kwargs) for key in keys]}


def poll(pipeline: Pipeline, url: str, handler: Any, *, rounds: int = 20,
         context: lambda_context | None = None) -> list[dict[str, Any]]:
    """Consume `url` like Lambda's poller; returns each invocation's response."""
    responses = []
    for _ in range(rounds):
        messages = pipeline.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                                AttributeNames=["All"]).get("Messages", [])
        if not messages:
            break
        response = handler(sqs_event(messages, queue_arn(pipeline.sqs, url)), context or lambda_context())
        responses.append(response)
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:  # the visibility timeout "elapses" at once
                pipeline.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                                       VisibilityTimeout=0)
            else:
                pipeline.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return responses


class Workflow:
    def __init__(self, pipeline: LocalPipeline, lambdas: InProcessLambdas) -> None:
        self.pipeline, self.lambdas = pipeline, lambdas
        self.s3, self.sfn, self.dynamodb = boto3.client("s3"), boto3.client("stepfunctions"), boto3.client("dynamodb")

    def put(self, data: bytes, key: str = "uploads/user-1/img-1.jpg", *, sequencer: str | None = None,
            metadata: dict[str, str] | None = None, event_time: str = "2026-11-28T05:00:00.000Z") -> dict[str, Any]:
        """Upload `data`; returns the queue message its S3 event becomes."""
        put = self.s3.put_object(Bucket=self.pipeline.input_bucket, Key=key, Body=data, Metadata=metadata or {})
        record = s3_record(key, bucket=self.pipeline.input_bucket, size=len(data), etag=put["ETag"].strip('"'),
                           sequencer=sequencer)
        return upload_message(record | {"eventTime": event_time})

    def start(self, body: dict[str, Any], name: str | None = None) -> str:
        return self.sfn.start_execution(stateMachineArn=self.pipeline.state_machine_arn,
                                        name=name or f"run-{time.monotonic_ns()}",
                                        input=json.dumps(execution_input(body)))["executionArn"]

    def process(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        return self.wait(self.start(body)), self.item(body["imageId"], body["userId"])

    def run(self, data: bytes, key: str = "uploads/user-1/img-1.jpg", *, sequencer: str | None = None,
            metadata: dict[str, str] | None = None,
            event_time: str = "2026-11-28T05:00:00.000Z") -> tuple[dict[str, Any], dict[str, Any] | None]:
        return self.process(self.put(data, key, sequencer=sequencer, metadata=metadata, event_time=event_time))

    def entered(self, execution_arn: str) -> list[str]:
        history = self.sfn.get_execution_history(executionArn=execution_arn)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]

    def wait(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.01)
        raise AssertionError(f"{execution_arn} still running after {timeout} s")

    def item(self, image_id: str, user_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.pipeline.table,
                                      Key={"imageId": {"S": image_id}, "userId": {"S": user_id}}).get("Item")
        return plain_item(item) if item else None

    def variant_objects(self) -> dict[str, dict[str, Any]]:
        listed = self.s3.list_objects_v2(Bucket=self.pipeline.output_bucket).get("Contents", [])
        return {o["Key"]: self.s3.head_object(Bucket=self.pipeline.output_bucket, Key=o["Key"]) for o in listed}


@pytest.fixture
def workflow() -> Iterator[Workflow]:
    settings = parse_settings(read_stack_settings("dev", ROOT))
    with mock_aws(config=MOTO_CONFIG), InProcessLambdas(retry_scale=0.01) as lambdas:
        clients.reset()
        yield Workflow(deploy(settings), lambdas)
        clients.reset()


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    """A low-level DynamoDB client on moto with an empty status table named `status` (the index's tests)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_status_table(client, "status")
        yield client
