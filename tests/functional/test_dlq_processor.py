"""DLQ processor on moto: one alert per dead letter, and the image settled without overwriting a live run."""

from __future__ import annotations

import json

import boto3
import pytest

from handlers import dlq_processor, orchestrator, s3_event_handler
from handlers.lifecycle import alerts
from handlers.lifecycle.clients import clients
from handlers.lifecycle.uploads import execution_input, execution_name, upload_identity, upload_message
from tests.functional.conftest import lambda_context, poll, s3_event, s3_record


def dead_letter(pipeline, body):
    text = body if isinstance(body, str) else json.dumps(body)
    pipeline.sqs.send_message(QueueUrl=pipeline.dlq_url, MessageBody=text)


def drain(pipeline):
    return poll(pipeline, pipeline.dlq_url, dlq_processor.lambda_handler)


def owned_item(pipeline, body, *, status="processing", execution="arn:aws:states:eu-west-1:123456789012:execution:"
               "workflow:run-1"):
    identity = upload_identity(body)
    pipeline.dynamodb.put_item(TableName="status", Item={
        "imageId": {"S": body["imageId"]}, "userId": {"S": body["userId"]}, "status": {"S": status},
        "executionArn": {"S": execution}, "uploadId": {"S": identity["id"]}, "uploadKey": {"S": identity["key"]},
        "uploadSequencer": {"S": identity["sequencer"]}, "uploadOrder": {"S": identity["order"]}})
    return execution


def execution_event(body, status, *, error="", execution="arn:aws:states:eu-west-1:123456789012:execution:workflow:"
                    "run-1"):
    return {"version": "0", "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
            "detail": {"executionArn": execution, "name": execution.rsplit(":", 1)[-1], "status": status,
                       "error": error, "cause": "", "input": json.dumps(execution_input(body))}}


def received(pipeline, url):
    return [json.loads(m["Body"]) for m in pipeline.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])]


def test_a_dead_lettered_upload_alerts_and_marks_the_image_failed(pipeline):
    s3_event_handler.lambda_handler(s3_event("uploads/user-1/img-1.jpg"), lambda_context())
    pipeline.sqs.set_queue_attributes(QueueUrl=pipeline.queue_url, Attributes={"RedrivePolicy": json.dumps({
        "deadLetterTargetArn": pipeline.sqs.get_queue_attributes(QueueUrl=pipeline.dlq_url, AttributeNames=[
            "QueueArn"])["Attributes"]["QueueArn"], "maxReceiveCount": 3})})

    class Down:
        def start_execution(self, **kwargs):
            raise RuntimeError("Step Functions is down")

    clients._cache["stepfunctions"] = Down()
    poll(pipeline, pipeline.queue_url, orchestrator.lambda_handler)
    clients.reset()
    assert drain(pipeline) == [{"batchItemFailures": []}]

    [alert] = pipeline.alerts()
    assert alert["error"] == "DeadLettered"
    # The count the user set (maxReceiveCount 3), not SQS's receive count, which includes the DLQ's delivery.
    assert alert["reason"].startswith("processing could not be started in 3 attempts (the upload queue's "
                                      "dead_letter_queue.max_receive_count)")
    assert alert["receiveCount"] == 4
    assert alert["images"] == {"user-1/img-1": f"failed: {alert['reason']}"}
    assert json.loads(alert["originalBody"])["s3Key"] == "uploads/user-1/img-1.jpg"
    item = pipeline.item("img-1", "user-1")
    assert (item["status"]["S"], item["reason"]["S"], item["failedBy"]["S"]) == ("failed", alert["reason"],
                                                                                 "dead-letter")
    assert json.loads(item["originalMessage"]["S"])["s3Key"] == "uploads/user-1/img-1.jpg"
    assert "pending" not in item
    assert pipeline.depth(pipeline.dlq_url) == 0


def test_a_finished_image_of_the_same_upload_is_never_overwritten(pipeline):
    body = upload_message(s3_record("uploads/u/img-1.jpg"))
    owned_item(pipeline, body, status="completed")
    dead_letter(pipeline, body)
    assert drain(pipeline) == [{"batchItemFailures": []}]
    assert pipeline.item("img-1", "u")["status"]["S"] == "completed"
    [alert] = pipeline.alerts()
    assert alert["images"]["u/img-1"].startswith("a newer upload, or a finished run of this one, owns the image")


def test_an_image_whose_execution_was_started_is_left_to_that_execution(pipeline):
    """The orchestrator crashed after StartExecution; the message still dead-lettered (defect 7)."""
    body = upload_message(s3_record("uploads/u/img-1.jpg"))
    pipeline.sfn.start_execution(stateMachineArn=pipeline.state_machine_arn, name=execution_name(body),
                                 input=json.dumps(execution_input(body)))
    owned_item(pipeline, body)
    dead_letter(pipeline, body)
    drain(pipeline)
    assert pipeline.item("img-1", "u")["status"]["S"] == "processing"
    [alert] = pipeline.alerts()
    assert alert["images"]["u/img-1"].startswith("its execution exists")


def test_a_dead_letter_for_an_older_upload_never_touches_a_newer_one(pipeline):
    older = upload_message(s3_record("uploads/u/img-1.jpg", sequencer="0A"))
    newer = upload_message(s3_record("uploads/u/img-1.jpg", sequencer="0B", etag="etag-2"))
    owned_item(pipeline, newer)
    dead_letter(pipeline, older)
    drain(pipeline)
    assert pipeline.item("img-1", "u")["status"]["S"] == "processing"


def test_a_dead_letter_for_a_newer_upload_fails_the_image_over_an_older_outcome(pipeline):
    older = upload_message(s3_record("uploads/u/img-1.jpg", sequencer="0A"))
    newer = upload_message(s3_record("uploads/u/img-1.jpg", sequencer="0B", etag="etag-2"))
    owned_item(pipeline, older, status="completed")
    dead_letter(pipeline, newer)
    drain(pipeline)
    item = pipeline.item("img-1", "u")
    assert (item["status"]["S"], item["uploadId"]["S"]) == ("failed", upload_identity(newer)["id"])


@pytest.mark.parametrize(("body", "reason"), [
    ("null", "the body is JSON null, not an object"),
    ("[]", "the body is JSON an array, not an object"),
    ('"str"', "the body is JSON a string, not an object"),
    ("42", "the body is JSON a number, not an object"),
    ("\x00 definitely not json", "the body is not JSON"),
    ('{"requestPayload": "oops"}',
     "the body is neither an upload message, a Lambda failure record nor an execution event"),
    ('{"requestPayload": "oops", "responsePayload": {}}',
     "the Lambda failure record's requestPayload is a string without Records"),
    ('{"requestPayload": {"Records": [null]}, "responsePayload": null}',
     "the Lambda failure record holds no valid upload record"),
    ('{"detail-type": "Step Functions Execution Status Change", "detail": "x"}',
     "the execution event's detail is a string, not an object"),
    ('{"imageId": "a", "s3Key": 5}', "the upload message is invalid: message body lacks userId, s3Key, bucketName"),
    ("[" * 5000 + "]" * 5000, "the body is JSON nested too deeply"),
    (json.dumps({"requestPayload": {"Records": [{"s3": {"bucket": {"name": 7}, "object": {
        "key": "uploads/u/a.jpg", "eTag": 5}}}]}, "responsePayload": {}}),
     "the Lambda failure record holds no valid upload record"),
    (json.dumps({"imageId": "a", "userId": "u", "s3Key": "uploads/u/a.jpg", "bucketName": "b",
                 "uploadTimestamp": "2999-01-01T00:00:00Z"}),
     "the upload message is invalid: uploadTimestamp '2999-01-01T00:00:00Z' is in the future"),
])
def test_any_unreadable_dead_letter_alerts_once_is_archived_and_never_loops(pipeline, body, reason):
    dead_letter(pipeline, body)
    assert drain(pipeline) == [{"batchItemFailures": []}]
    [alert] = pipeline.alerts()
    assert (alert["reason"], alert["originalBody"]) == (reason, body)
    bucket, key = alert["archivedAt"].removeprefix("s3://").split("/", 1)
    assert boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode() == body
    assert pipeline.depth(pipeline.dlq_url) == 0
    assert pipeline.dynamodb.scan(TableName="status")["Items"] == []


def test_uploads_the_s3_event_handler_could_not_enqueue_are_marked_failed_with_one_alert(pipeline):
    destination_record = {
        "version": "1.0", "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": s3_event("uploads/u/a.jpg", "uploads/u/b.png"),
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "responsePayload": {"errorType": "EnqueueError", "errorMessage": "2 upload(s) not enqueued"}}
    dead_letter(pipeline, destination_record)
    drain(pipeline)
    for image in ("a", "b"):
        item = pipeline.item(image, "u")
        assert item["status"]["S"] == "failed"
        assert item["reason"]["S"] == "the upload could not be queued: 2 upload(s) not enqueued"
    [alert] = pipeline.alerts()
    assert sorted(alert["images"]) == ["u/a", "u/b"]


def test_a_timed_out_execution_that_owns_its_image_is_re_run_once_then_failed(pipeline):
    body = upload_message(s3_record("uploads/u/slow.jpg"))
    arn = owned_item(pipeline, body)
    dead_letter(pipeline, execution_event(body, "TIMED_OUT", execution=arn))
    drain(pipeline)
    item = pipeline.item("slow", "u")
    assert (item["status"]["S"], item["queuedAttempt"]["S"], item["pending"]["S"]) == ("queued", "repair1", "queued")
    [requeued] = received(pipeline, pipeline.queue_url)
    assert requeued["replayAttempt"] == "repair1" and "upload" not in requeued
    assert execution_name(requeued) != execution_name(body)

    last = body | {"replayAttempt": "repair2"}  # the re-runs are used up
    arn = owned_item(pipeline, last, execution=arn + "-2")
    dead_letter(pipeline, execution_event(last, "TIMED_OUT", execution=arn))
    drain(pipeline)
    item = pipeline.item("slow", "u")
    assert (item["status"]["S"], item["error"]["S"]) == ("failed", "ExecutionTimedOut")
    assert item["reason"]["S"] == "workflow execution run-1-2 ended TIMED_OUT after 2 re-run(s)"


def test_a_runtime_error_fails_the_image_it_still_owns(pipeline):
    body = upload_message(s3_record("uploads/u/bug.jpg"))
    arn = owned_item(pipeline, body)
    dead_letter(pipeline, execution_event(body, "FAILED", error="States.Runtime", execution=arn))
    drain(pipeline)
    item = pipeline.item("bug", "u")
    assert (item["status"]["S"], item["error"]["S"]) == ("failed", "ExecutionFailed")
    assert "States.Runtime" in item["reason"]["S"]


def test_an_execution_event_never_touches_an_image_another_execution_owns(pipeline):
    body = upload_message(s3_record("uploads/u/img.jpg"))
    owned_item(pipeline, body, execution="arn:aws:states:eu-west-1:123456789012:execution:workflow:replay")
    dead_letter(pipeline, execution_event(body, "ABORTED"))
    drain(pipeline)
    assert pipeline.item("img", "u")["status"]["S"] == "processing"
    [alert] = pipeline.alerts()
    assert alert["outcome"].startswith("nothing: workflow execution run-1 ended ABORTED, but no longer owns")


def test_a_record_retried_after_a_failed_alert_says_what_it_wrote(pipeline, monkeypatch):
    dead_letter(pipeline, upload_message(s3_record("uploads/u/a.jpg")))
    monkeypatch.setenv("SNS_TOPIC_ARN", pipeline.topic_arn + "-missing")
    [response] = poll(pipeline, pipeline.dlq_url, dlq_processor.lambda_handler, rounds=1)
    assert len(response["batchItemFailures"]) == 1
    assert pipeline.item("a", "u")["status"]["S"] == "failed"
    monkeypatch.setenv("SNS_TOPIC_ARN", pipeline.topic_arn)
    drain(pipeline)
    [alert] = pipeline.alerts()
    assert alert["images"]["u/a"].startswith("failed: ")  # not "had already finished" (defect 13)


def test_alert_subjects_fit_sns_limits(pipeline):
    long_id = "é" * 200
    dead_letter(pipeline, upload_message(s3_record(f"uploads/u/{long_id}.jpg")))
    drain(pipeline)
    assert alerts.subject(f"image-pipeline: image {long_id} failed").isascii()
    assert len(alerts.subject("x" * 500)) == 99
    assert len(pipeline.alerts()) == 1
