"""The upload contract: keys, message shape and execution names (pure)."""

from __future__ import annotations

import json
import re

import pytest

from contract.errors import InvalidMessage, InvalidUploadKey
from handlers.lifecycle.uploads import decode_key, execution_name, parse_key, parse_message

BODY = {"imageId": "img-1", "userId": "user-1", "s3Key": "uploads/user-1/img-1.jpg", "bucketName": "input"}


@pytest.mark.parametrize(("raw", "decoded"), [
    ("uploads/u/my+photo.jpg", "uploads/u/my photo.jpg"),
    ("uploads/u/my+photo%2B1.jpg", "uploads/u/my photo+1.jpg"),
    ("uploads/u/%C3%A9t%C3%A9.png", "uploads/u/été.png"),
    ("uploads%2Fu%2Fa.jpg", "uploads/u/a.jpg"),  # moto encodes '/' too
])
def test_event_keys_are_decoded_once(raw, decoded):
    assert decode_key(raw) == decoded


@pytest.mark.parametrize(("key", "user", "image", "content_type"), [
    ("uploads/user-1/img.jpg", "user-1", "img", "image/jpeg"),
    ("uploads/user-1/img.JPEG", "user-1", "img", "image/jpeg"),
    ("uploads/u 1/my photo+1.png", "u 1", "my photo+1", "image/png"),
    ("uploads/ユーザー/写真.webp", "ユーザー", "写真", "image/webp"),
    ("uploads/u/anim.gif", "u", "anim", "image/gif"),
    ("uploads/u/archive.tar.jpg", "u", "archive.tar", "image/jpeg"),
])
def test_valid_keys_parse(key, user, image, content_type):
    upload = parse_key(key)
    assert (upload.user_id, upload.image_id, upload.content_type) == (user, image, content_type)


@pytest.mark.parametrize(("key", "reason"), [
    ("photos/u/a.jpg", "is not uploads/{userId}/{imageId}.{ext}"),
    ("uploads/a.jpg", "is not uploads/{userId}/{imageId}.{ext}"),
    ("uploads/u/x/a.jpg", "is not uploads/{userId}/{imageId}.{ext}"),
    ("uploads//a.jpg", "is not uploads/{userId}/{imageId}.{ext}"),
    ("uploads/u/.jpg", "is not uploads/{userId}/{imageId}.{ext}"),
    ("uploads/u/a..jpg", "contains '..'"),
    ("uploads/../a.jpg", "contains '..'"),
    ("uploads/ /a.jpg", "has an empty userId"),
    ("uploads/u/a.tiff", "has unsupported extension .tiff"),
    ("uploads/u/a\x00b.jpg", "has control characters in its imageId"),
    ("uploads/u/a.jpg\n", "has control characters"),
    ("uploads/u/a\u2028b.jpg", "has control characters in its imageId"),
    ("uploads/u\u2029/a.jpg", "has control characters in its userId"),
    ("uploads/u\n/a.jpg", "has control characters in its userId"),
    ("uploads/u/noextension", "is not uploads/{userId}/{imageId}.{ext}"),
])
def test_invalid_keys_are_rejected_with_a_reason(key, reason):
    with pytest.raises(InvalidUploadKey, match=re.escape(reason)):
        parse_key(key)


@pytest.mark.parametrize(("body", "reason"), [
    ("not json", "message body is not JSON"),
    ("[1, 2]", "message body is a JSON list, not an object"),
    (json.dumps({"imageId": "a"}), "message body lacks userId, s3Key, bucketName"),
    (json.dumps(BODY | {"s3Key": "uploads/other/img-1.jpg"}), "does not belong to image 'img-1' of user 'user-1'"),
    (json.dumps(BODY | {"s3Key": "elsewhere/x.jpg"}), "is not uploads/"),
])
def test_malformed_messages_are_invalid(body, reason):
    with pytest.raises(InvalidMessage, match=re.escape(reason)):
        parse_message(body)


def test_execution_names_are_deterministic_short_and_safe():
    body = BODY | {"imageId": "ünïcødé photo+1 " * 10, "s3Key": "x", "sequencer": "00A"}
    name = execution_name(body)
    assert name == execution_name(dict(body))
    assert len(name) <= 80 and re.fullmatch(r"[A-Za-z0-9_-]+", name)


def test_a_replay_gets_a_new_execution_name_and_each_replay_its_own():
    names = {execution_name(BODY | {"eTag": "e", "replayAttempt": n}) for n in (None, 1, 2)}
    assert len(names) == 3


def test_a_new_version_of_the_same_key_gets_a_new_execution_name():
    assert execution_name(BODY | {"sequencer": "01"}) != execution_name(BODY | {"sequencer": "02"})
    assert execution_name(BODY | {"eTag": "a"}) != execution_name(BODY | {"eTag": "b"})
    assert execution_name(BODY | {"bucketName": "other"}) != execution_name(BODY)


def test_sequencers_compare_after_left_padding_as_aws_documents():
    from handlers.lifecycle.uploads import padded_sequencer

    assert padded_sequencer("FF") < padded_sequencer("100")  # a plain string comparison would say otherwise
    assert padded_sequencer("0a1") == padded_sequencer("A1")
    assert len(padded_sequencer(None)) == 40


def test_the_upload_identity_orders_one_key_by_sequencer_and_keys_by_event_time():
    from handlers.lifecycle.uploads import upload_identity

    base = BODY | {"eTag": "e", "uploadTimestamp": "2026-11-28T05:00:00Z"}
    first, second = upload_identity(base | {"sequencer": "0A"}), upload_identity(base | {"sequencer": "0B"})
    assert first["sequencer"] < second["sequencer"] and first["id"] != second["id"]
    png = upload_identity(base | {"s3Key": "uploads/u/img.png", "uploadTimestamp": "2026-11-28T05:00:00.001Z"})
    assert first["order"] < png["order"]
    assert upload_identity(base | {"eTag": '"e"'})["version"] == "e"  # quoted or not, one ETag


def test_the_status_rules_outside_the_workflow_are_the_definitions_own():
    from components.workflow.definition import OWNED, TAKES_IMAGE
    from contract import ownership
    from handlers.lifecycle import status

    assert status.NEWER_UPLOAD is ownership.NEWER_UPLOAD and status.OWNED is ownership.OWNED  # no copy of its own
    assert TAKES_IMAGE.startswith(ownership.NEWER_UPLOAD)
    assert OWNED == ownership.OWNED
