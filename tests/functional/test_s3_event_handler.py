"""S3 event handler on moto: one message per valid upload, nothing dropped silently."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from contract.errors import EnqueueError
from handlers import s3_event_handler
from handlers.lifecycle.clients import clients
from tests.functional.conftest import lambda_context, s3_event

CONTRACT_FIELDS = {"imageId", "userId", "s3Key", "bucketName", "fileName", "fileSize", "fileType",
                   "uploadTimestamp"}


def received(pipeline, limit=10):
    messages = []
    while len(messages) < limit:
        batch = pipeline.sqs.receive_message(QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                             MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            break
        messages += batch
    return messages


def test_an_upload_becomes_one_message_with_the_contract_body_and_attributes(pipeline):
    result = s3_event_handler.lambda_handler(s3_event("uploads/user-1/img-1.jpg", size=2048), lambda_context())

    assert result == {"enqueued": 1, "rejected": 0}
    [message] = received(pipeline)
    body = json.loads(message["Body"])
    assert set(body) >= CONTRACT_FIELDS
    assert {k: body[k] for k in CONTRACT_FIELDS} == {
        "imageId": "img-1", "userId": "user-1", "s3Key": "uploads/user-1/img-1.jpg", "bucketName": "input",
        "fileName": "img-1.jpg", "fileSize": 2048, "fileType": "image/jpeg",
        "uploadTimestamp": "2026-11-28T05:00:00.000Z"}
    assert {k: v["StringValue"] for k, v in message["MessageAttributes"].items()} == {
        "imageId": "img-1", "userId": "user-1", "priority": "normal", "processingType": "standard"}


@pytest.mark.parametrize(("key", "image_id"), [
    ("uploads/u/my photo.jpg", "my photo"),
    ("uploads/u/my+photo.png", "my+photo"),
    ("uploads/u/100%2B.jpg", "100%2B"),
    ("uploads/u/café ☕.webp", "café ☕"),
])
def test_url_encoded_keys_are_decoded_exactly_once(pipeline, key, image_id):
    s3_event_handler.lambda_handler(s3_event(key), lambda_context())  # the factory encodes like S3
    [message] = received(pipeline)
    body = json.loads(message["Body"])
    assert (body["s3Key"], body["imageId"]) == (key, image_id)


def test_the_s3_test_event_is_ignored(pipeline):
    event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "input"}
    assert s3_event_handler.lambda_handler(event, lambda_context()) == {"enqueued": 0, "rejected": 0}
    assert received(pipeline) == []


def test_invalid_keys_are_rejected_and_valid_ones_in_the_same_event_still_enqueued(pipeline, caplog):
    event = s3_event("uploads/u/ok.jpg", "uploads/u/../escape.jpg", "uploads/u/doc.pdf", "other/u/a.jpg")
    assert s3_event_handler.lambda_handler(event, lambda_context()) == {"enqueued": 1, "rejected": 3}
    assert [json.loads(m["Body"])["imageId"] for m in received(pipeline)] == ["ok"]


def test_a_key_ending_in_an_encoded_newline_is_rejected_not_enqueued(pipeline, caplog):
    event = s3_event("uploads/u/a.jpg\n", "uploads/u/b.jpg")  # S3 sends the first key as `uploads/u/a.jpg%0A`
    assert event["Records"][0]["s3"]["object"]["key"] == "uploads/u/a.jpg%0A"

    assert s3_event_handler.lambda_handler(event, lambda_context()) == {"enqueued": 1, "rejected": 1}
    assert [json.loads(m["Body"])["s3Key"] for m in received(pipeline)] == ["uploads/u/b.jpg"]
    assert [r.reason for r in caplog.records if r.message == "Rejected upload key"] == [
        "key 'uploads/u/a.jpg\\n' has control characters"]


# The categories the key check calls control (surrogates cannot travel in an event's UTF-8); line breaks first,
# since a regex `$` matches before a final "\n".
CONTROL = st.sampled_from("\n\r\x00") | st.characters(categories=["Cc", "Cf", "Co"])
KEY = "uploads/user-1/img-1.jpg"


@given(control=CONTROL, position=st.integers(0, len(KEY)))
def test_a_control_character_anywhere_in_an_encoded_key_rejects_the_record(control, position):
    key = KEY[:position] + control + KEY[position:]
    uploads, rejected = s3_event_handler.parse_records(s3_event(key)["Records"])  # encoded as S3 sends it
    assert uploads == []
    [reason] = rejected
    assert re.fullmatch(rf"key {re.escape(repr(key))} has control characters( in its (userId|imageId))?", reason)


def test_25_uploads_take_3_batch_calls(pipeline, monkeypatch):
    calls = []
    real = clients.get("sqs")
    monkeypatch.setattr(real, "send_message_batch", _counting(real.send_message_batch, calls))
    keys = [f"uploads/u/img-{i}.jpg" for i in range(25)]
    s3_event_handler.lambda_handler(s3_event(*keys), lambda_context())
    assert [len(c["Entries"]) for c in calls] == [10, 10, 5]
    assert len(received(pipeline, 30)) == 25


def _counting(send, calls):
    def wrapper(**kwargs):
        calls.append(kwargs)
        return send(**kwargs)
    return wrapper


class FlakySqs:
    """Fails the given entry ids `times` times (as SQS reports partial failures), then succeeds."""

    def __init__(self, real, failing_ids, times, sender_fault=False):
        self.real, self.failing, self.times = real, set(failing_ids), times
        self.sender_fault, self.calls = sender_fault, []

    def send_message_batch(self, QueueUrl, Entries):  # noqa: N803 (boto3 argument names)
        self.calls.append([e["Id"] for e in Entries])
        failing = [e for e in Entries if e["Id"] in self.failing and self.times > 0]
        self.times -= 1 if failing else 0
        rest = [e for e in Entries if e not in failing]
        response = self.real.send_message_batch(QueueUrl=QueueUrl, Entries=rest) if rest else {"Successful": []}
        return response | {"Failed": [{"Id": e["Id"], "SenderFault": self.sender_fault,
                                       "Code": "InternalError", "Message": "try again"} for e in failing]}


def test_only_failed_entries_are_retried(pipeline):
    flaky = FlakySqs(clients.get("sqs"), {"3", "7"}, times=2)
    keys = [f"uploads/u/img-{i}.jpg" for i in range(10)]
    s3_event_handler.enqueue(pipeline.queue_url, [_body(k) for k in keys], flaky, sleep=lambda s: None)
    assert flaky.calls == [[str(i) for i in range(10)], ["3", "7"], ["3", "7"]]
    assert len(received(pipeline, 20)) == 10


def test_entries_that_keep_failing_fail_the_invocation_naming_them(pipeline):
    flaky = FlakySqs(clients.get("sqs"), {"1"}, times=99)
    with pytest.raises(EnqueueError, match=r"1 upload\(s\) not enqueued \(InternalError\): \['uploads/u/img-1.jpg'\]"):
        s3_event_handler.enqueue(pipeline.queue_url, [_body(f"uploads/u/img-{i}.jpg") for i in range(3)],
                                 flaky, sleep=lambda s: None)
    assert len(flaky.calls) == 4  # the first try and three retries


def test_sender_faults_are_not_retried(pipeline):
    flaky = FlakySqs(clients.get("sqs"), {"0"}, times=99, sender_fault=True)
    with pytest.raises(EnqueueError):
        s3_event_handler.enqueue(pipeline.queue_url, [_body("uploads/u/a.jpg")], flaky, sleep=lambda s: None)
    assert len(flaky.calls) == 1


def test_a_failing_queue_fails_the_invocation_so_lambda_retries_it(pipeline, monkeypatch):
    monkeypatch.setenv("SQS_QUEUE_URL", pipeline.queue_url + "-missing")
    with pytest.raises(ClientError):
        s3_event_handler.lambda_handler(s3_event("uploads/u/a.jpg"), lambda_context())


def _body(key):
    return {"imageId": key.rsplit("/", 1)[1].split(".")[0], "userId": "u", "s3Key": key, "bucketName": "input"}
