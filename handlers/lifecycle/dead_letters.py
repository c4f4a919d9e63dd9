"""What a dead letter is about: pure parsing, never an exception for any body.

Three kinds of message reach the DLQ:
- an upload message the orchestrator failed on `maxReceiveCount` times;
- a Lambda on-failure record: the S3 event handler could not enqueue some uploads;
- a Step Functions status-change event: an execution failed, timed out or was aborted.
Anything else, whatever its JSON shape, is `Unreadable` with a reason saying what is wrong.

Example:
    >>> classify("null")
    Unreadable(reason='the body is JSON null, not an object')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from contract.errors import InvalidMessage, InvalidUploadKey
from handlers.lifecycle.uploads import check_body, parse_message, upload_message

EXECUTION_EVENT = "Step Functions Execution Status Change"


@dataclass(frozen=True)
class UndeliveredUploads:
    """Upload messages no execution was started for (the queue's dead letter or enqueue failures)."""

    uploads: list[dict[str, Any]]
    error: str
    reason: str


@dataclass(frozen=True)
class ExecutionEnded:
    execution_arn: str
    name: str
    status: str
    error: str
    cause: str
    upload: dict[str, Any]


@dataclass(frozen=True)
class Unreadable:
    reason: str


DeadLetter = UndeliveredUploads | ExecutionEnded | Unreadable


def _kind(value: object) -> str:
    return "null" if value is None else {dict: "an object", list: "an array", str: "a string",
                                         bool: "a boolean"}.get(type(value), "a number")


def _enqueue_failure(document: dict[str, Any]) -> DeadLetter:
    payload, response = document.get("requestPayload"), document.get("responsePayload")
    if not isinstance(payload, dict) or not isinstance(payload.get("Records"), list):
        return Unreadable(f"the Lambda failure record's requestPayload is {_kind(payload)} without Records")
    detail = response.get("errorMessage", "unknown error") if isinstance(response, dict) else str(response)
    uploads = []
    for record in payload["Records"]:
        try:
            uploads.append(upload_message(record))
        except (InvalidUploadKey, InvalidMessage):
            continue
    if not uploads:
        return Unreadable("the Lambda failure record holds no valid upload record")
    return UndeliveredUploads(uploads, "EnqueueFailed", f"the upload could not be queued: {str(detail)[:500]}")


def _execution_event(document: dict[str, Any]) -> DeadLetter:
    detail = document.get("detail")
    if not isinstance(detail, dict):
        return Unreadable(f"the execution event's detail is {_kind(detail)}, not an object")
    try:
        upload = check_body(json.loads(detail.get("input") or ""))
    except (InvalidMessage, TypeError, ValueError, RecursionError) as error:
        return Unreadable(f"the execution event's input is not an upload message: {error or type(error).__name__}")
    text = {name: str(detail.get(name) or "") for name in ("executionArn", "name", "status", "error", "cause")}
    if not text["executionArn"] or not text["status"]:
        return Unreadable("the execution event lacks executionArn or status")
    return ExecutionEnded(text["executionArn"], text["name"], text["status"], text["error"],
                          text["cause"][:500], upload)


def classify(body: str, attempts: int = 0) -> DeadLetter:
    """The dead letter's meaning; `Unreadable` for anything the pipeline did not write.

    `attempts`: how many times the upload queue delivered a message before moving it here (the
    queue's `maxReceiveCount`; SQS's own receive count also counts the DLQ's deliveries).
    """
    try:
        return UndeliveredUploads([parse_message(body)], "DeadLettered",
                                  f"processing could not be started in {attempts} attempts (the upload queue's "
                                  "dead_letter_queue.max_receive_count); the message was moved to the "
                                  "dead-letter queue")
    except InvalidMessage:
        pass
    try:
        document = json.loads(body)
    except (TypeError, ValueError):
        return Unreadable("the body is not JSON")
    except RecursionError:
        return Unreadable("the body is JSON nested too deeply")
    if not isinstance(document, dict):
        return Unreadable(f"the body is JSON {_kind(document)}, not an object")
    if "requestPayload" in document and "responsePayload" in document:
        return _enqueue_failure(document)
    if document.get("detail-type") == EXECUTION_EVENT:
        return _execution_event(document)
    if {"imageId", "s3Key"} & set(document):
        return Unreadable(f"the upload message is invalid: {_message_problem(body)}")
    return Unreadable("the body is neither an upload message, a Lambda failure record nor an execution event")


def _message_problem(body: str) -> str:
    try:
        parse_message(body)
    except InvalidMessage as error:
        return str(error)
    return "unknown"
