"""Status writes on the DynamoDB table: conditional, so a status only moves forward.

    (no item) -> queued -> processing -> completed | failed

`completed` is final; `failed` is final until a replay sets `queued` again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

MAX_STORED_BODY = 64 * 1024  # the original message, kept for replay; items stay far below 400 KB


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def mark_failed(dynamodb: Any, table_name: str, image_id: str, user_id: str, *, reason: str, error: str,
                original_body: dict[str, Any] | str | None = None) -> bool:
    """Set `failed` unless the image is already `completed` or `failed`; True if written.

    The original message body is stored too (when given), so the image can be replayed.
    """
    body = original_body if isinstance(original_body, str) else json.dumps(original_body, sort_keys=True)
    values: dict[str, Any] = {
        ":failed": {"S": "failed"}, ":reason": {"S": reason[:1000]}, ":error": {"S": error[:200]},
        ":now": {"S": now()}, ":queued": {"S": "queued"}, ":processing": {"S": "processing"},
    }
    assignments = "#status = :failed, #reason = :reason, #error = :error, failedAt = :now, updatedAt = :now"
    if original_body is not None and len(body) <= MAX_STORED_BODY:
        values[":body"] = {"S": body}
        assignments += ", originalMessage = :body"
    try:
        dynamodb.update_item(
            TableName=table_name,
            Key={"imageId": {"S": image_id}, "userId": {"S": user_id}},
            UpdateExpression=f"SET {assignments}",
            ConditionExpression="attribute_not_exists(#status) OR #status IN (:queued, :processing)",
            ExpressionAttributeNames={"#status": "status", "#reason": "reason", "#error": "error"},
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True
