"""Orchestrator on moto: one execution per upload, failures per record, nothing lost."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from handlers import orchestrator, s3_event_handler
from handlers.lifecycle.clients import clients
from tests.functional.conftest import lambda_context, poll, s3_event


def upload(pipeline, *keys):
    s3_event_handler.lambda_handler(s3_event(*keys), lambda_context())


class ThrottlingSfn:
    """Step Functions that throttles StartExecution for the named images, like AWS under load."""

    def __init__(self, real, throttled_images):
        self.real, self.throttled, self.calls = real, set(throttled_images), 0

    def start_execution(self, **kwargs):
        self.calls += 1
        if json.loads(kwargs["input"])["imageId"] in self.throttled:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                              "StartExecution")
        return self.real.start_execution(**kwargs)


def test_each_upload_starts_one_execution_named_for_it_with_the_message_as_input(pipeline):
    upload(pipeline, "uploads/u/a.jpg", "uploads/u/b.png")
    [response] = poll(pipeline, pipeline.queue_url, orchestrator.lambda_handler)

    assert response == {"batchItemFailures": []}
    executions = pipeline.executions()
    assert len(executions) == 2
    inputs = [json.loads(pipeline.sfn.describe_execution(executionArn=e["executionArn"])["input"])
              for e in executions]
    assert sorted(i["s3Key"] for i in inputs) == ["uploads/u/a.jpg", "uploads/u/b.png"]
    assert pipeline.depth(pipeline.queue_url) == 0


def test_the_same_message_delivered_twice_starts_one_execution(pipeline):
    event = s3_event("uploads/u/a.jpg")
    s3_event_handler.lambda_handler(event, lambda_context())
    s3_event_handler.lambda_handler(event, lambda_context())  # S3 delivers events at least once
    responses = poll(pipeline, pipeline.queue_url, orchestrator.lambda_handler)

    assert all(r == {"batchItemFailures": []} for r in responses)
    assert len(pipeline.executions()) == 1
    assert pipeline.depth(pipeline.queue_url) == 0


def test_a_throttled_start_fails_only_that_record_and_the_others_are_deleted(pipeline):
    upload(pipeline, "uploads/u/a.jpg", "uploads/u/b.jpg", "uploads/u/c.jpg")
    clients._cache["stepfunctions"] = ThrottlingSfn(clients.get("stepfunctions"), {"b"})
    responses = poll(pipeline, pipeline.queue_url, orchestrator.lambda_handler, rounds=1)

    [response] = responses
    assert len(response["batchItemFailures"]) == 1
    names = sorted(e["name"].split("-")[0] for e in pipeline.executions())
    assert names == ["a", "c"]
    assert pipeline.depth(pipeline.queue_url) == 1  # only "b" is back on the queue


def test_a_throttled_record_succeeds_on_redelivery(pipeline):
    upload(pipeline, "uploads/u/a.jpg")
    throttling = ThrottlingSfn(clients.get("stepfunctions"), {"a"})
    clients._cache["stepfunctions"] = throttling
    poll(pipeline, pipeline.queue_url, orchestrator.lambda_handler, rounds=1)
    throttling.throttled.clear()
    poll(pipeline, pipeline.queue_url, orchestrator.lambda_handler)
    assert len(pipeline.executions()) == 1
    assert pipeline.depth(pipeline.queue_url) == 0 and pipeline.depth(pipeline.dlq_url) == 0


def test_a_malformed_record_fails_alone_and_reaches_the_dlq_after_max_receive_count(pipeline):
    upload(pipeline, "uploads/u/good.jpg")
    pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody="{not json")
    poll(pipeline, pipeline.queue_url, orchestrator.lambda_handler)

    assert [e["name"].split("-")[0] for e in pipeline.executions()] == ["good"]
    assert pipeline.depth(pipeline.queue_url) == 0
    [dead] = pipeline.sqs.receive_message(QueueUrl=pipeline.dlq_url, AttributeNames=["All"],
                                          WaitTimeSeconds=0)["Messages"]
    assert dead["Body"] == "{not json"
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= pipeline.settings.dead_letter_queue.max_receive_count


def test_a_message_that_fails_three_times_moves_to_the_dlq(pipeline):
    upload(pipeline, "uploads/u/a.jpg")
    throttling = ThrottlingSfn(clients.get("stepfunctions"), {"a"})
    clients._cache["stepfunctions"] = throttling
    poll(pipeline, pipeline.queue_url, orchestrator.lambda_handler)

    assert throttling.calls == 3 == pipeline.settings.dead_letter_queue.max_receive_count
    assert pipeline.depth(pipeline.queue_url) == 0
    assert pipeline.depth(pipeline.dlq_url) == 1


def test_records_left_near_the_deadline_are_handed_back_without_calling_aws(pipeline):
    upload(pipeline, "uploads/u/a.jpg", "uploads/u/b.jpg")
    [response] = poll(pipeline, pipeline.queue_url, orchestrator.lambda_handler, rounds=1,
                      context=lambda_context(remaining_ms=orchestrator.SAFETY_MARGIN_MS - 1))
    assert len(response["batchItemFailures"]) == 2
    assert pipeline.executions() == []


def test_regression_an_error_never_makes_a_message_disappear(pipeline, monkeypatch):
    """The original orchestrator caught every error and returned 200: SQS deleted the message."""
    upload(pipeline, "uploads/u/a.jpg")

    class Broken:
        def start_execution(self, **kwargs):
            raise RuntimeError("anything at all")

    clients._cache["stepfunctions"] = Broken()
    for _ in range(5):
        poll(pipeline, pipeline.queue_url, orchestrator.lambda_handler, rounds=1)
    assert pipeline.depth(pipeline.queue_url) + pipeline.depth(pipeline.dlq_url) == 1
