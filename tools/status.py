"""`python -m tools status`: what happened to an image, and which images failed since a time."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from handlers.lifecycle.status import plain_item
from handlers.lifecycle.uploads import parse_key
from tools import resources
from tools.arguments import timestamp
from tools.aws import Clients
from tools.command import FAILED_SINCE_HELP, deployed_command
from tools.layout import WIDTH, columns, fitted_widths, labelled, paragraph, shorten

__all__ = ["COMMAND", "NotFound", "as_json", "describe", "failed_items", "failures_since", "failures_table",
           "image_item", "image_status", "plain_item"]

TIME_WIDTH = len("2026-11-28T10:00:00.000Z")
MIN_REASON_WIDTH = 20  # the reason gets what the other columns leave, never less than this
# What the variants step learns of the content (see the README's status item table).
CONTENT_FIELDS = ("sha256", "phash", "thumbhash", "averageColor", "duplicateOf")
JSON_TEXT_FIELDS = ("variants", "moderationLabels", "metadata", "originalMessage")  # stored as JSON text


class NotFound(LookupError):
    """The image asked about has no status item: the one line says whether its upload exists."""


def image_item(dynamodb: Any, table: str, *, image_id: str | None = None, user_id: str | None = None,
               key: str | None = None) -> dict[str, Any] | None:
    """The status item of one image (by imageId + userId, or by its upload key) as DynamoDB typed it, or None."""
    if key is not None:
        upload = parse_key(key)
        image_id, user_id = upload.image_id, upload.user_id
    return dynamodb.get_item(TableName=table, Key={"imageId": {"S": image_id}, "userId": {"S": user_id}},
                             ConsistentRead=True).get("Item")


def image_status(dynamodb: Any, table: str, *, image_id: str | None = None, user_id: str | None = None,
                 key: str | None = None) -> dict[str, Any] | None:
    """The status item of one image (by imageId + userId, or by its upload key), or None."""
    item = image_item(dynamodb, table, image_id=image_id, user_id=user_id, key=key)
    return plain_item(item) if item else None


def failed_items(dynamodb: Any, table: str, since: str) -> list[dict[str, Any]]:
    """Every failed image whose failure was recorded at or after `since` (ISO 8601), oldest first, as DynamoDB
    typed them."""
    found: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(
            TableName=table, FilterExpression="#status = :failed AND failedAt >= :since",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":failed": {"S": "failed"}, ":since": {"S": since}}):
        found += page["Items"]
    return sorted(found, key=lambda item: item.get("failedAt", {}).get("S", ""))


def failures_since(dynamodb: Any, table: str, since: str) -> list[dict[str, Any]]:
    """Every failed image whose failure was recorded at or after `since` (ISO 8601), oldest first."""
    return [plain_item(item) for item in failed_items(dynamodb, table, since)]


def not_found(s3: Any, bucket: str | None, *, key: str | None, image_id: str | None, user_id: str | None) -> NotFound:
    """Why an image has no status item: its upload does not exist, or has not started (with the bucket to ask)."""
    if key is None:
        return NotFound(f"no status for image {image_id} of user {user_id}: no such image, or its processing has "
                        "not started")
    if bucket is None:
        return NotFound(f"no status for {key}: no such upload, or its processing has not started (--input-bucket, "
                        "or --stack or --local, tells which)")
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
            raise
        return NotFound(f"{key} does not exist in {bucket}: no such upload (check the key)")
    return NotFound(f"{key} exists but has no status yet: its processing has not started (queued, or its event "
                    "was lost and the reconciler will start it)")


def describe(item: dict[str, Any]) -> str:
    """One image's status item, a field per line; long values wrap under themselves within `WIDTH`."""
    lines = [*labelled("image", f"{item['imageId']} (user {item['userId']})"),
             *labelled("status", item.get("status"))]
    metadata = json.loads(item.get("metadata") or "{}")
    for label, value in (("file", _picture(item, metadata)), ("camera", _camera(metadata))):
        if value:
            lines += labelled(label, value)
    fields = ["uploadKey", "uploadVersion", "executionArn", "startedAt", "completedAt"]
    if item.get("status") == "queued":  # a replay or re-run waiting to start; the old failure is history
        fields += ["queuedAt", "queuedAttempt", "pendingSince", "replayCount"]
    else:  # the stored message (originalMessage) is for replays: `--json` shows it
        fields = ["reason", "error", *fields, "failedAt", "rejectedAt", "failedBy", "replayCount", *CONTENT_FIELDS]
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


def _picture(item: dict[str, Any], metadata: dict[str, Any]) -> str:
    """`JPEG, 4000x3000 (upright 3000x4000), 2,345,678 B` from what the metadata step recorded."""
    fmt, width, height = (item.get(name) or metadata.get(name) for name in ("format", "width", "height"))
    if not (fmt and width and height):
        return ""
    upright = (metadata.get("uprightWidth"), metadata.get("uprightHeight"))
    turned = f" (upright {upright[0]}x{upright[1]})" if None not in upright and upright != (int(width),
                                                                                            int(height)) else ""
    size = f", {metadata['bytes']:,} B" if isinstance(metadata.get("bytes"), int) else ""
    return f"{fmt}, {width}x{height}{turned}{size}"


def _camera(metadata: dict[str, Any]) -> str:
    """`Canon EOS R5, captured 2026:11:01 10:20:30`, and the GPS position when the stack keeps it."""
    said = ", ".join(part for part in (
        " ".join(metadata[name] for name in ("cameraMake", "cameraModel") if metadata.get(name)),
        f"captured {metadata['capturedAt']}" if metadata.get("capturedAt") else "",
        f"at {metadata['gps']['latitude']}, {metadata['gps']['longitude']}" if metadata.get("gps") else "") if part)
    return said


def as_json(item: dict[str, Any]) -> dict[str, Any]:
    """A status item as DynamoDB typed it, for `--json`: numbers as numbers, the fields stored as JSON text
    (`variants`, `metadata`, ...) as what they hold."""
    deserialize = TypeDeserializer().deserialize
    typed = {name: _plain_number(deserialize(value)) for name, value in item.items()}
    return typed | {name: json.loads(typed[name]) for name in JSON_TEXT_FIELDS if isinstance(typed.get(name), str)}


def _plain_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image-id")
    parser.add_argument("--user-id")
    parser.add_argument("--key", help="the upload key, uploads/{userId}/{imageId}.{ext}")
    parser.add_argument("--failed-since", type=timestamp, help=f"list the images {FAILED_SINCE_HELP}")


def answer(args: argparse.Namespace, found: resources.Resources, clients: Clients) -> tuple[str, Any]:
    """One image's status (`--key`, or `--image-id` and `--user-id`), or the failures since `--failed-since`."""
    found.need("table")
    dynamodb = clients.client("dynamodb")
    if args.failed_since and (args.key or args.image_id or args.user_id):
        raise resources.ResourceError("status takes --key (or --image-id and --user-id) for one image, or "
                                      "--failed-since for the failures: not both")
    if args.failed_since:
        failures = failed_items(dynamodb, found.table, args.failed_since)
        return failures_table([plain_item(item) for item in failures]), [as_json(item) for item in failures]
    if not (args.key or (args.image_id and args.user_id)):
        raise resources.ResourceError("status needs --key, or --image-id and --user-id, or --failed-since")
    raw = image_item(dynamodb, found.table, image_id=args.image_id, user_id=args.user_id, key=args.key)
    if raw is None:
        raise not_found(clients.client("s3"), found.input_bucket, key=args.key, image_id=args.image_id,
                        user_id=args.user_id)
    item = plain_item(raw)
    text = describe(item)
    if args.key and item.get("uploadKey") and item["uploadKey"] != args.key:
        text += "\n" + "\n".join(paragraph(
            f"note: this image's newest upload is {item['uploadKey']}, not {args.key}: one image, one status "
            "(uploads/{userId}/{imageId}.* share it; the newest upload wins)"))
    return text, as_json(raw)


COMMAND = deployed_command("status", "one image's status, or the failures since a time", add_arguments, answer)
