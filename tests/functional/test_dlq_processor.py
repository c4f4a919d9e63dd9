"""DLQ processor on moto: an alert per message, `failed` written, `completed` never overwritten."""

from __future__ import annotations

import json

from handlers import dlq_processor, orchestrator, s3_event_handler
from handlers.uploads import upload_message
from tests.functional.conftest import lambda_context, poll, s3_event, s3_record


def dead_letter(pipeline, body):
    text = body if isinstance(body, str) else json.dumps(body)
    pipeline.sqs.send_message(QueueUrl=pipeline.dlq_url, MessageBody=text)


def drain(pipeline):
    return poll(pipeline, pipeline.dlq_url, dlq_processor.lambda_handler)


def test_a_dead_lettered_upload_alerts_and_marks_the_image_failed(pipeline):
    s3_event_handler.lambda_handler(s3_event("uploads/user-1/img-1.jpg"), lambda_context())
    pipeline.sqs.set_queue_attributes(QueueUrl=pipeline.queue_url, Attributes={"RedrivePolicy": json.dumps({
        "deadLetterTargetArn": pipeline.sqs.get_queue_attributes(QueueUrl=pipeline.dlq_url, AttributeNames=[
            "QueueArn"])["Attributes"]["QueueArn"], "maxReceiveCount": 3})})

    class Down:
        def start_execution(self, **kwargs):
            raise RuntimeError("Step Functions is down")

    from handlers.clients import clients
    clients._cache["stepfunctions"] = Down()
    poll(pipeline, pipeline.queue_url, orchestrator.lambda_handler)
    assert drain(pipeline) == [{"batchItemFailures": []}]

    [alert] = pipeline.alerts()
    assert alert["imageId"] == "img-1" and alert["userId"] == "user-1"
    assert alert["error"] == "DeadLettered"
    assert alert["reason"].startswith("processing could not be started; the message was moved to the dead-letter queue")
    assert alert["receiveCount"] >= 1
    assert json.loads(alert["originalBody"])["s3Key"] == "uploads/user-1/img-1.jpg"
    item = pipeline.item("img-1", "user-1")
    assert item["status"]["S"] == "failed"
    assert item["reason"]["S"] == alert["reason"]
    assert json.loads(item["originalMessage"]["S"])["s3Key"] == "uploads/user-1/img-1.jpg"
    assert pipeline.depth(pipeline.dlq_url) == 0


def test_a_completed_image_is_never_overwritten(pipeline):
    pipeline.dynamodb.put_item(TableName="status", Item={"imageId": {"S": "img-1"}, "userId": {"S": "u"},
                                                         "status": {"S": "completed"}})
    dead_letter(pipeline, upload_message(s3_record("uploads/u/img-1.jpg")))
    assert drain(pipeline) == [{"batchItemFailures": []}]

    assert pipeline.item("img-1", "u")["status"]["S"] == "completed"
    [alert] = pipeline.alerts()
    assert alert["statusWritten"] is False


def test_an_image_still_processing_is_marked_failed(pipeline):
    pipeline.dynamodb.put_item(TableName="status", Item={"imageId": {"S": "img-1"}, "userId": {"S": "u"},
                                                         "status": {"S": "processing"}})
    dead_letter(pipeline, upload_message(s3_record("uploads/u/img-1.jpg")))
    drain(pipeline)
    assert pipeline.item("img-1", "u")["status"]["S"] == "failed"


def test_a_malformed_body_still_alerts(pipeline):
    dead_letter(pipeline, "\x00 definitely not json")
    assert drain(pipeline) == [{"batchItemFailures": []}]
    [alert] = pipeline.alerts()
    assert alert["originalBody"] == "\x00 definitely not json"
    assert alert["reason"].startswith("Expecting value")
    assert pipeline.dynamodb.scan(TableName="status")["Items"] == []


def test_uploads_the_s3_event_handler_could_not_enqueue_are_marked_failed(pipeline):
    # What Lambda's on-failure destination sends after the asynchronous retries.
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
    assert sorted(a["imageId"] for a in pipeline.alerts()) == ["a", "b"]


def test_a_timed_out_execution_is_marked_failed(pipeline):
    body = upload_message(s3_record("uploads/u/slow.jpg"))
    pipeline.dynamodb.put_item(TableName="status", Item={"imageId": {"S": "slow"}, "userId": {"S": "u"},
                                                         "status": {"S": "processing"}})
    event = {"version": "0", "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
             "detail": {"name": "slow-abc", "status": "TIMED_OUT", "input": json.dumps(body)}}
    dead_letter(pipeline, event)
    drain(pipeline)
    item = pipeline.item("slow", "u")
    assert (item["status"]["S"], item["error"]["S"]) == ("failed", "ExecutionTimedOut")
    assert item["reason"]["S"] == "workflow execution slow-abc ended TIMED_OUT"


def test_alert_subjects_fit_sns_limits(pipeline):
    long_id = "é" * 200
    dead_letter(pipeline, upload_message(s3_record(f"uploads/u/{long_id}.jpg")))
    drain(pipeline)
    assert dlq_processor.subject(f"image-pipeline: image {long_id} failed").isascii()
    assert len(dlq_processor.subject("x" * 500)) == 99
    assert len(pipeline.alerts()) == 1


def test_a_failing_alert_hands_the_record_back(pipeline, monkeypatch):
    dead_letter(pipeline, upload_message(s3_record("uploads/u/a.jpg")))
    monkeypatch.setenv("SNS_TOPIC_ARN", pipeline.topic_arn + "-missing")
    [response] = poll(pipeline, pipeline.dlq_url, dlq_processor.lambda_handler, rounds=1)
    assert len(response["batchItemFailures"]) == 1
    assert pipeline.depth(pipeline.dlq_url) == 1
