"""Queue-layer handlers against the original design's, on one moto backend, same run.

- orchestrator: messages/s and AWS calls (+ client constructions) per message;
- S3 event handler: AWS calls per 10 uploads;
- cold start: importing each handler in a fresh interpreter (clients created, as in a Lambda
  init) against importing boto3 and creating the same clients and nothing else.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import uuid
from typing import Any

import boto3
from moto import mock_aws

from bench.baseline import original_orchestrator, original_s3_event_handler
from bench.measure import api_calls, count_aws, fresh_interpreters_ms, table
from local.inprocess import LambdaContext, sqs_event
from local.stack import create_status_table

MESSAGES = 300
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def bench_context() -> LambdaContext:
    return LambdaContext("bench", timeout_seconds=60)


def sqs_events(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Batches of 10, as Lambda's poller would deliver these bodies."""
    messages = [{"MessageId": str(uuid.uuid4()), "ReceiptHandle": "r", "Body": json.dumps(b),
                 "Attributes": {"ApproximateReceiveCount": "1"}} for b in bodies]
    return [sqs_event(messages[i:i + 10], "arn:aws:sqs:eu-west-1:123456789012:uploads")
            for i in range(0, len(messages), 10)]


def bodies(prefix: str) -> list[dict[str, Any]]:
    return [{"imageId": f"{prefix}{i}", "userId": "u", "s3Key": f"uploads/u/{prefix}{i}.jpg", "bucketName": "input",
             "fileName": f"{prefix}{i}.jpg", "fileSize": 1, "fileType": "image/jpeg",
             "uploadTimestamp": "2026-11-28T00:00:00Z", "eTag": "e"} for i in range(MESSAGES)]


def s3_event(keys: list[str]) -> dict[str, Any]:
    return {"Records": [{"eventTime": "2026-11-28T00:00:00Z", "s3": {"bucket": {"name": "input"}, "object": {
        "key": key, "size": 1, "eTag": "e", "sequencer": "01"}}} for key in keys]}


def run() -> tuple[str, dict[str, float]]:
    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):  # the handlers' EMF metrics lines
        from handlers import orchestrator, s3_event_handler
        from handlers.lifecycle.clients import clients

        clients.reset()
        iam, sfn, dynamodb = boto3.client("iam"), boto3.client("stepfunctions"), boto3.client("dynamodb")
        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        ours_sm = sfn.create_state_machine(name="ours", definition=DEFINITION, roleArn=role)["stateMachineArn"]
        base_sm = sfn.create_state_machine(name="base", definition=DEFINITION, roleArn=role)["stateMachineArn"]
        create_status_table(dynamodb, "status")
        os.environ["STEP_FUNCTIONS_ARN"] = ours_sm
        orchestrator.lambda_handler(sqs_events(bodies("warm"))[0], bench_context())  # first-call costs aside

        with count_aws() as ours_counts:
            start = time.perf_counter()
            for event in sqs_events(bodies("ours")):
                assert orchestrator.lambda_handler(event, bench_context()) == {"batchItemFailures": []}
            ours_s = time.perf_counter() - start
        with count_aws() as base_counts:
            start = time.perf_counter()
            for event in sqs_events(bodies("base")):
                original_orchestrator(event, base_sm, "status")
            base_s = time.perf_counter() - start

        s3.create_bucket(Bucket="input", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        queue_url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
        os.environ["SQS_QUEUE_URL"] = queue_url
        keys = [f"uploads/u/img-{i}.jpg" for i in range(10)]
        for key in keys:
            s3.put_object(Bucket="input", Key=key, Body=b"x", ContentType="image/jpeg")
        with count_aws() as ours_s3:
            s3_event_handler.lambda_handler(s3_event(keys), bench_context())
        with count_aws() as base_s3:
            original_s3_event_handler(s3_event(keys), queue_url)

    ours_rate, base_rate = MESSAGES / ours_s, MESSAGES / base_s
    figures = {
        "orchestrator_msgs_per_s": ours_rate, "baseline_msgs_per_s": base_rate,
        "throughput_ratio": ours_rate / base_rate,
        "orchestrator_calls_per_msg": api_calls(ours_counts) / MESSAGES,
        "baseline_calls_per_msg": api_calls(base_counts) / MESSAGES,
        "orchestrator_clients_per_msg": ours_counts["clients"] / MESSAGES,
        "baseline_clients_per_msg": base_counts["clients"] / MESSAGES,
        "s3_handler_calls_per_10": api_calls(ours_s3), "baseline_s3_calls_per_10": api_calls(base_s3),
    }
    rows = [
        ["orchestrator throughput (msgs/s)", f"{ours_rate:,.0f}", f"{base_rate:,.0f}",
         f"{ours_rate / base_rate:.1f}x faster", ">= 10x"],
        ["orchestrator AWS calls per message", f"{figures['orchestrator_calls_per_msg']:.2f}",
         f"{figures['baseline_calls_per_msg']:.2f}", "", "<= 1"],
        ["orchestrator client constructions per message", f"{figures['orchestrator_clients_per_msg']:.2f}",
         f"{figures['baseline_clients_per_msg']:.2f}", "", "0"],
        ["S3 event handler AWS calls per 10 uploads", figures["s3_handler_calls_per_10"],
         figures["baseline_s3_calls_per_10"], "", "1"],
    ]
    cold = cold_starts()
    figures |= cold
    rows += [[f"cold start: import {name} (ms)", f"{cold[name]:.0f}", f"{cold[name + '_baseline']:.0f}",
              f"{cold[name] / cold[name + '_baseline']:.2f}x", "<= 1.3x"] for name in COLD_START]
    return table(f"Queue-layer handlers ({MESSAGES} messages, moto)", ["measure", "ours", "original design",
                                                                      "ratio", "goal"], rows), figures


COLD_START = {"s3_event_handler": ["sqs"], "orchestrator": ["stepfunctions"], "dlq_processor": ["sns", "dynamodb"]}


def cold_starts() -> dict[str, float]:
    figures = {}
    lambda_env = {"AWS_LAMBDA_FUNCTION_NAME": "bench"}  # handlers create their clients at import, as in Lambda
    for name, services in COLD_START.items():
        creates = "; ".join(f"boto3.client({s!r})" for s in services)
        ours, baseline = fresh_interpreters_ms([f"import handlers.{name}", f"import boto3; {creates}"],
                                               env=[lambda_env, lambda_env])
        figures[name], figures[name + "_baseline"] = ours, baseline
    return figures
