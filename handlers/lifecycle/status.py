"""Status writes outside the workflow: conditional, so only the newest upload's outcome stands.

    (no item) -> processing -> completed | failed | rejected   (one upload, in the workflow)
    failed -> queued -> processing ...                     (a replay or a repair of that upload)
    any state -> processing                                (a newer upload of the image takes it)

The workflow's own writes are in `components.workflow.definition`; both apply the rules of
`contract.ownership` (`NEWER_UPLOAD`, `OWNED`; `is_newer` is `NEWER_UPLOAD` in Python). Items carry
`pending`/`pendingSince` while not terminal: a sparse index the reconciler reads.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from contract.ownership import (
    FAILED,
    FAILED_BY_DEAD_LETTER,
    NEWER_UPLOAD,
    OWNED,
    PROCESSING,
    QUEUED,
    RESULT_ATTRIBUTES,
    UNFINISHED,
)
from contract.table import PENDING_INDEX
from handlers.lifecycle.uploads import upload_identity, utc_iso

MAX_STORED_BODY = 64 * 1024  # the original message, kept for replay; items stay far below 400 KB


def now() -> str:
    return utc_iso(datetime.now(UTC))


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item without type tags: {"status": {"S": "failed"}} -> {"status": "failed"}; NULL -> None."""
    return {key: None if "NULL" in value else next(iter(value.values())) for key, value in item.items()}


def _key(image_id: str, user_id: str) -> dict[str, Any]:
    return {"imageId": {"S": image_id}, "userId": {"S": user_id}}


def _names(*expressions: str) -> dict[str, str]:
    return {f"#{n}": n for n in sorted(set(re.findall(r"#(\w+)", " ".join(expressions))))}


def _update(dynamodb: Any, table: str, key: dict[str, Any], update: str, condition: str,
            values: dict[str, Any], return_values: str = "NONE") -> dict[str, Any] | None:
    """One conditional UpdateItem; None when the condition refused it."""
    try:
        return dynamodb.update_item(
            TableName=table, Key=key, UpdateExpression=update, ConditionExpression=condition,
            ExpressionAttributeNames=_names(update, condition), ExpressionAttributeValues=values,
            ReturnValues=return_values)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise


def _failure_values(reason: str, error: str, dead_letter_id: str) -> dict[str, Any]:
    return {":failed": {"S": FAILED}, ":reason": {"S": reason[:1000]}, ":error": {"S": error[:200]},
            ":now": {"S": now()}, ":deadLetterId": {"S": dead_letter_id}}


def is_newer(identity: dict[str, str], item: dict[str, Any] | None) -> bool:
    """`NEWER_UPLOAD` in Python, for a (typed) item already read: would this upload take the image?"""
    if item is None:
        return True
    if "uploadId" not in item:
        return (item.get("status", {}).get("S") in (None, *UNFINISHED)
                or ("updatedAt" in item and item["updatedAt"]["S"] < identity["time"]))
    current = {name: item[name]["S"] for name in ("uploadKey", "uploadSequencer", "uploadOrder") if name in item}
    if current.get("uploadKey") == identity["key"]:
        return current.get("uploadSequencer", "") < identity["sequencer"]
    return current.get("uploadOrder", "") < identity["order"]


def _upload_values(body: dict[str, Any]) -> dict[str, Any]:
    """The values `NEWER_UPLOAD` compares, and the upload's fields an item records, for `body`'s upload."""
    identity = upload_identity(body)
    return {":queued": {"S": QUEUED}, ":processing": {"S": PROCESSING}, ":uploadId": {"S": identity["id"]},
            ":uploadKey": {"S": identity["key"]}, ":uploadSequencer": {"S": identity["sequencer"]},
            ":uploadOrder": {"S": identity["order"]}, ":uploadTime": {"S": identity["time"]},
            ":uploadVersion": {"S": identity["version"]}, ":s3Key": {"S": body["s3Key"]},
            ":bucketName": {"S": body["bucketName"]}}


def fail_dead_letter(dynamodb: Any, table: str, body: dict[str, Any], *, reason: str, error: str,
                     dead_letter_id: str, failed_by: str = FAILED_BY_DEAD_LETTER, idempotent: bool = True) -> bool:
    """`failed` for an upload no execution ever started (the caller checked); True if written.

    Written when the upload is newer than what the item reflects, when a replay had queued
    this very upload, or when this same dead letter already wrote it (a retried record).
    `failedBy = dead-letter` lets a late execution of the same upload still take the image.
    """
    message = json.dumps(body, sort_keys=True)
    values = _failure_values(reason, error, dead_letter_id) | _upload_values(body) | {":deadLetter": {"S": failed_by}}
    update = ("SET #status = :failed, #reason = :reason, #error = :error, failedAt = :now, updatedAt = :now, "
              "#failedBy = :deadLetter, #deadLetterId = :deadLetterId, #uploadId = :uploadId, "
              "#uploadKey = :uploadKey, #uploadSequencer = :uploadSequencer, #uploadOrder = :uploadOrder, "
              "uploadVersion = :uploadVersion, s3Key = :s3Key, bucketName = :bucketName")
    if len(message) <= MAX_STORED_BODY:
        values[":body"] = {"S": message}
        update += ", originalMessage = :body"
    update += " REMOVE #pending, pendingSince, " + ", ".join(f"#{a}" for a in RESULT_ATTRIBUTES)
    condition = f"{NEWER_UPLOAD} OR (#uploadId = :uploadId AND #status = :queued)"
    if idempotent:  # a retried record of the same dead letter reports what it wrote the first time
        condition += " OR (#status = :failed AND #deadLetterId = :deadLetterId)"
    return _update(dynamodb, table, _key(body["imageId"], body["userId"]), update, condition, values) is not None


def mark_queued(dynamodb: Any, table: str, body: dict[str, Any]) -> bool:
    """`queued` for a newer upload whose execution is about to start (a workflow type that marks uploads
    queued: Express); True if written.

    Express executions cannot be listed afterwards, so this pending item is what lets the reconciler
    re-send an upload whose execution never recorded anything (its first status write kept failing and
    its report was lost, or it never ran). An older or duplicate upload writes nothing.
    """
    values = _upload_values(body) | {":now": {"S": now()}, ":one": {"N": "1"}}
    # repairCount 1: this first send counts as one, as a replay's does (the reconciler re-sends at most
    # `repair_attempts` more times).
    update = ("SET #status = :queued, #pending = :queued, pendingSince = :now, queuedAt = :now, updatedAt = :now, "
              "repairCount = :one, #uploadId = :uploadId, #uploadKey = :uploadKey, "
              "#uploadSequencer = :uploadSequencer, #uploadOrder = :uploadOrder, uploadVersion = :uploadVersion, "
              "s3Key = :s3Key, bucketName = :bucketName")
    message = json.dumps(body, sort_keys=True)
    if len(message) <= MAX_STORED_BODY:
        values[":body"] = {"S": message}
        update += ", originalMessage = :body"
    update += (" REMOVE #reason, #error, failedAt, #failedBy, #deadLetterId, queuedAttempt, "
               + ", ".join(f"#{a}" for a in RESULT_ATTRIBUTES))
    return _update(dynamodb, table, _key(body["imageId"], body["userId"]), update, NEWER_UPLOAD, values) is not None


def fail_owned(dynamodb: Any, table: str, image_id: str, user_id: str, execution_arn: str, *, reason: str,
               error: str, dead_letter_id: str, failed_by: str) -> bool:
    """`failed`, only while `execution_arn` still owns the image (or this dead letter already wrote it)."""
    values = _failure_values(reason, error, dead_letter_id) | {
        ":processing": {"S": PROCESSING}, ":executionArn": {"S": execution_arn}, ":by": {"S": failed_by}}
    update = ("SET #status = :failed, #reason = :reason, #error = :error, failedAt = :now, updatedAt = :now, "
              "#failedBy = :by, #deadLetterId = :deadLetterId REMOVE #pending, pendingSince")
    condition = f"({OWNED}) OR (#status = :failed AND #deadLetterId = :deadLetterId)"
    return _update(dynamodb, table, _key(image_id, user_id), update, condition, values) is not None


def fail_queued(dynamodb: Any, table: str, image_id: str, user_id: str, pending_since: str, *,
                reason: str) -> bool:
    """`failed` for an image queued for a replay or repair that never started (unchanged since `pending_since`)."""
    values = _failure_values(reason, "NeverStarted", f"queued-{pending_since}") | {
        ":queued": {"S": QUEUED}, ":since": {"S": pending_since}, ":by": {"S": "reconciler"}}
    update = ("SET #status = :failed, #reason = :reason, #error = :error, failedAt = :now, updatedAt = :now, "
              "#failedBy = :by, #deadLetterId = :deadLetterId REMOVE #pending, pendingSince")
    return _update(dynamodb, table, _key(image_id, user_id), update,
                   "#status = :queued AND pendingSince = :since", values) is not None


def queue_again(dynamodb: Any, table: str, image_id: str, user_id: str, *, condition: str,
                values: dict[str, Any], attempt: str) -> bool:
    """Set `queued` for a re-run named `attempt` (under `condition`), so its execution may take the image."""
    update = ("SET #status = :queued, #pending = :queued, pendingSince = :now, queuedAt = :now, updatedAt = :now, "
              "queuedAttempt = :attempt, repairCount = if_not_exists(repairCount, :zero) + :one "
              "REMOVE #reason, #error, failedAt, #failedBy, #deadLetterId")
    values = values | {":queued": {"S": QUEUED}, ":now": {"S": now()}, ":attempt": {"S": attempt},
                       ":zero": {"N": "0"}, ":one": {"N": "1"}}
    return _update(dynamodb, table, _key(image_id, user_id), update, condition, values) is not None


def get_item(dynamodb: Any, table: str, image_id: str, user_id: str) -> dict[str, Any] | None:
    return dynamodb.get_item(TableName=table, Key=_key(image_id, user_id), ConsistentRead=True).get("Item")


def stale_items(dynamodb: Any, table: str, older_than: str) -> list[dict[str, Any]]:
    """Items still `queued` or `processing` since before `older_than` (the sparse `pending` index)."""
    items: list[dict[str, Any]] = []
    for state in UNFINISHED:
        kwargs: dict[str, Any] = {
            "TableName": table, "IndexName": PENDING_INDEX,
            "KeyConditionExpression": "#pending = :state AND pendingSince < :cutoff",
            "ExpressionAttributeNames": {"#pending": "pending"},
            "ExpressionAttributeValues": {":state": {"S": state}, ":cutoff": {"S": older_than}}}
        while True:
            page = dynamodb.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items
