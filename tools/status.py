"""What happened to an image, and which images failed since a time."""

from __future__ import annotations

import json
from typing import Any

from handlers.status import plain_item
from handlers.uploads import parse_key

__all__ = ["describe", "failures_since", "failures_table", "image_status", "plain_item"]


def image_status(dynamodb: Any, table: str, *, image_id: str | None = None, user_id: str | None = None,
                 key: str | None = None) -> dict[str, Any] | None:
    """The status item of one image (by imageId + userId, or by its upload key), or None."""
    if key is not None:
        upload = parse_key(key)
        image_id, user_id = upload.image_id, upload.user_id
    item = dynamodb.get_item(TableName=table, Key={"imageId": {"S": image_id}, "userId": {"S": user_id}},
                             ConsistentRead=True).get("Item")
    return plain_item(item) if item else None


def failures_since(dynamodb: Any, table: str, since: str) -> list[dict[str, Any]]:
    """Every failed image whose failure was recorded at or after `since` (ISO 8601), oldest first."""
    found: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(
            TableName=table, FilterExpression="#status = :failed AND failedAt >= :since",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":failed": {"S": "failed"}, ":since": {"S": since}}):
        found += [plain_item(item) for item in page["Items"]]
    return sorted(found, key=lambda item: item.get("failedAt", ""))


def describe(item: dict[str, Any] | None) -> str:
    if item is None:
        return "no status item: the upload was never started (rejected key, or still queued)"
    lines = [f"image      {item['imageId']} (user {item['userId']})", f"status     {item.get('status')}"]
    fields = ["uploadKey", "uploadVersion", "executionArn", "startedAt", "completedAt"]
    if item.get("status") == "queued":  # a replay or re-run waiting to start; the old failure is history
        fields += ["queuedAt", "queuedAttempt", "pendingSince", "replayCount"]
    else:
        fields = ["reason", "error", *fields, "failedAt", "failedBy"]
    for field in fields:
        if item.get(field):
            lines.append(f"{field:<10} {item[field]}")
    for variant in json.loads(item.get("variants", "[]")):
        lines.append(f"variant    {variant['key']} ({variant['width']}x{variant['height']}, {variant['bytes']} B)")
    return "\n".join(lines)


def failures_table(items: list[dict[str, Any]]) -> str:
    if not items:
        return "no failures"
    rows = [f"{i.get('failedAt', '?'):<25} {i['userId']:<20} {i['imageId']:<30} {i.get('reason', '')}" for i in items]
    return "\n".join([f"{'failedAt':<25} {'userId':<20} {'imageId':<30} reason", *rows])
