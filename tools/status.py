"""What happened to an image, and which images failed since a time."""

from __future__ import annotations

import json
from typing import Any

from handlers.status import plain_item
from handlers.uploads import parse_key
from tools.layout import WIDTH, columns, fitted_widths, labelled, shorten

__all__ = ["as_json", "describe", "failures_since", "failures_table", "image_status", "plain_item"]

TIME_WIDTH = len("2026-11-28T10:00:00.000Z")
MIN_REASON_WIDTH = 20  # the reason gets what the other columns leave, never less than this
# What the variants step learns of the content (see the README's status item table).
CONTENT_FIELDS = ("sha256", "phash", "thumbhash", "averageColor", "duplicateOf")


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
    """One image's status item, a field per line; long values wrap under themselves within `WIDTH`."""
    if item is None:
        return "no status item: the upload was never started (rejected key, or still queued)"
    lines = [*labelled("image", f"{item['imageId']} (user {item['userId']})"),
             *labelled("status", item.get("status"))]
    fields = ["uploadKey", "uploadVersion", "executionArn", "startedAt", "completedAt"]
    if item.get("status") == "queued":  # a replay or re-run waiting to start; the old failure is history
        fields += ["queuedAt", "queuedAttempt", "pendingSince", "replayCount"]
    else:
        fields = ["reason", "error", *fields, "failedAt", "rejectedAt", "failedBy", "replayCount", "originalMessage",
                  *CONTENT_FIELDS]
    for field in fields:
        if item.get(field):
            lines += labelled(field, item[field])
    if item.get("nearDuplicateOf"):
        distance = item.get("nearDuplicateDistance")
        lines += labelled("nearDuplicateOf", f"{item['nearDuplicateOf']} ({distance} bits apart)")
    for label in json.loads(item.get("moderationLabels") or "[]"):
        lines += labelled("moderation", f"{label.get('Name')} ({label.get('Confidence', 0):.1f} %"
                                        f"{', under ' + label['ParentName'] if label.get('ParentName') else ''})")
    for variant in json.loads(item.get("variants", "[]")):
        reused = f", copied from {variant['reusedFrom']}" if variant.get("reusedFrom") else ""
        lines += labelled("variant", f"{variant['key']} ({variant['width']}x{variant['height']}, "
                                     f"{variant['bytes']} B{reused})")
    return "\n".join(lines)


def failures_table(items: list[dict[str, Any]]) -> str:
    """failedAt, userId, imageId and reason per failure, within `WIDTH`: long ids lose their middle,
    long reasons their end (`status --key` or `--json` shows them whole)."""
    if not items:
        return "no failures"
    header = ("failedAt", "userId", "imageId", "reason")
    ids = [(i.get("failedAt", "?"), i["userId"], i["imageId"]) for i in items]
    widths = fitted_widths(header[:3], ids, caps=(TIME_WIDTH, 18, 26))
    reason_width = max(MIN_REASON_WIDTH, WIDTH - sum(widths) - len(widths))
    rows = [(shorten(failed_at, widths[0]), shorten(user, widths[1], middle=True),
             shorten(image, widths[2], middle=True), shorten(item.get("reason", ""), reason_width))
            for (failed_at, user, image), item in zip(ids, items, strict=True)]
    return "\n".join(columns(header, rows, [*widths, reason_width]))


def as_json(item: dict[str, Any]) -> dict[str, Any]:
    """A status item for `--json`: as stored, with `variants` and `moderationLabels` (JSON text) as lists."""
    decoded = {name: json.loads(item[name]) for name in ("variants", "moderationLabels") if item.get(name)}
    return {**item, **decoded}
