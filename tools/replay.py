"""`python -m tools replay`: recover failed images after a fix: re-enqueue them from their stored bodies, or
drain the DLQ.

Status is reset safely first: `failed` -> `queued` with a conditional write (a `completed`
image is never touched, and two replays never enqueue the same image twice). Each replay
carries a new `replayAttempt`, so it starts a new execution instead of meeting the old one.
Sends are rate-limited; `dry_run` lists what would happen and changes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from contract.errors import FILE_ERRORS, InvalidMessage
from handlers.lifecycle.status import now
from handlers.lifecycle.uploads import parse_message, rerun_message
from tools import resources
from tools.arguments import positive, timestamp, whole
from tools.aws import Clients
from tools.command import FAILED_SINCE_HELP, deployed_command
from tools.layout import paragraph
from tools.status import failures_since

DLQ_ONLY_REFUSES = ("failed_since", "all", "limit", "include_invalid")


@dataclass
class ReplayResult:
    replayed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # with the reason
    dry_run: bool = False

    def summary(self) -> str:
        """The counts, then each image (or DLQ message) on its own line(s), within 100 columns."""
        verb = "would replay" if self.dry_run else "replayed"
        lines = [f"{verb} {len(self.replayed)}, skipped {len(self.skipped)}"]
        for label, names in ((verb, self.replayed), ("skipped", self.skipped)):
            for name in names:
                lines += paragraph(f"{label}: {name}", indent=2, hanging=4)
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "replayed": self.replayed, "skipped": self.skipped}


def _reset_to_queued(dynamodb: Any, table: str, body: dict[str, Any]) -> int | None:
    """failed (or no item) -> queued; returns the new replay attempt, None if the image is not failed."""
    try:
        updated = dynamodb.update_item(
            TableName=table, Key={"imageId": {"S": body["imageId"]}, "userId": {"S": body["userId"]}},
            # `pending` puts the image on the reconciler's list: if the message below is never sent
            # or never processed, the image does not stay `queued`.
            UpdateExpression="SET #status = :queued, #pending = :queued, pendingSince = :now, queuedAt = :now, "
                             "updatedAt = :now, replayCount = if_not_exists(replayCount, :zero) + :one "
                             "REMOVE #reason, #error, queuedAttempt",
            ConditionExpression="attribute_not_exists(#status) OR #status = :failed",
            ExpressionAttributeNames={"#status": "status", "#reason": "reason", "#error": "error",
                                      "#pending": "pending"},
            ExpressionAttributeValues={":queued": {"S": "queued"}, ":failed": {"S": "failed"}, ":now": {"S": now()},
                                       ":zero": {"N": "0"}, ":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW")
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return int(updated["Attributes"]["replayCount"]["N"])


def _enqueue(dynamodb: Any, sqs: Any, table: str, queue_url: str, body: dict[str, Any], attempt: int) -> None:
    message = rerun_message(body, attempt)
    try:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
    except BaseException as error:  # a ClientError, a network error or Ctrl-C: put the image back to `failed`
        _back_to_failed(dynamodb, table, body, f"replay could not enqueue: {type(error).__name__}: {error}")
        raise


def _back_to_failed(dynamodb: Any, table: str, body: dict[str, Any], reason: str) -> None:
    """Best effort: if this fails too, the reconciler finds the stale `queued` image and resends it."""
    with contextlib.suppress(Exception):  # the original error is what the caller must see
        dynamodb.update_item(
            TableName=table, Key={"imageId": {"S": body["imageId"]}, "userId": {"S": body["userId"]}},
            UpdateExpression="SET #status = :failed, #reason = :reason, failedAt = :now REMOVE #pending, pendingSince",
            ConditionExpression="#status = :queued",
            ExpressionAttributeNames={"#status": "status", "#reason": "reason", "#pending": "pending"},
            ExpressionAttributeValues={":failed": {"S": "failed"}, ":queued": {"S": "queued"}, ":now": {"S": now()},
                                       ":reason": {"S": reason[:1000]}})


def replay_failed(dynamodb: Any, sqs: Any, *, table: str, queue_url: str, since: str = "", rate: float = 5.0,
                  dry_run: bool = False, limit: int | None = None, include_invalid: bool = False,
                  sleep: Callable[[float], None] = time.sleep) -> ReplayResult:
    """Re-enqueue failed images (failed at or after `since`, oldest first) from their stored bodies;
    those whose file itself was refused (`FILE_ERRORS`) only with `include_invalid`."""
    result = ReplayResult(dry_run=dry_run)
    for item in failures_since(dynamodb, table, since):
        if limit is not None and len(result.replayed) >= limit:
            break
        name = f"{item['userId']}/{item['imageId']}"
        if item.get("error") in FILE_ERRORS and not include_invalid:
            result.skipped.append(f"{name}: its file was refused ({item['error']}: {item.get('reason')}): it "
                                  "would fail again; --include-invalid replays it anyway")
            continue
        if "originalMessage" not in item:
            result.skipped.append(f"{name}: no stored message (failed before it was queued?)")
            continue
        body = json.loads(item["originalMessage"])
        if dry_run:
            result.replayed.append(name)
            continue
        attempt = _reset_to_queued(dynamodb, table, body)
        if attempt is None:
            result.skipped.append(f"{name}: no longer failed")
            continue
        if result.replayed:
            sleep(1 / rate)
        _enqueue(dynamodb, sqs, table, queue_url, body, attempt)
        result.replayed.append(name)
    return result


def redrive_dlq(dynamodb: Any, sqs: Any, *, table: str, queue_url: str, dlq_url: str, rate: float = 5.0,
                dry_run: bool = False, sleep: Callable[[float], None] = time.sleep) -> ReplayResult:
    """Move upload messages from the DLQ back to the upload queue, resetting each image's status.

    Messages that are not upload messages stay in the DLQ (listed as skipped).
    """
    result = ReplayResult(dry_run=dry_run)
    while True:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=30 if not dry_run else 1).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in result.skipped and
                 m["MessageId"] not in result.replayed]
        if not fresh:
            return result
        for message in fresh:
            try:
                body = parse_message(message["Body"])
            except InvalidMessage:
                result.skipped.append(message["MessageId"])
                continue
            result.replayed.append(message["MessageId"])
            if dry_run:
                continue
            attempt = _reset_to_queued(dynamodb, table, body)
            if attempt is None:  # completed meanwhile: nothing to redo
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                continue
            sleep(1 / rate)
            _enqueue(dynamodb, sqs, table, queue_url, body, attempt)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])


def native_redrive(sqs: Any, *, dlq_arn: str, queue_arn: str, rate: int) -> str:
    """SQS's own redrive (StartMessageMoveTask) at `rate` messages/s; statuses are not reset, so use it
    only for messages whose images carry no `failed` status (e.g. while the DLQ processor was off)."""
    return sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queue_arn,
                                       MaxNumberOfMessagesPerSecond=rate)["TaskHandle"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--failed-since", type=timestamp, help=f"replay the images {FAILED_SINCE_HELP}")
    parser.add_argument("--all", action="store_true", help="replay every failed image, however old")
    parser.add_argument("--include-invalid", action="store_true",
                        help="replay images whose file itself was refused (InvalidImage: empty, corrupt, not "
                             "an image, too large) too; left alone by default, they would fail again")
    parser.add_argument("--dlq", action="store_true", help="redrive the dead-letter queue instead")
    parser.add_argument("--native", action="store_true",
                        help="with --dlq: SQS StartMessageMoveTask (does not reset statuses)")
    parser.add_argument("--rate", type=positive, default=5.0, help="messages per second (default 5)")
    parser.add_argument("--limit", type=whole, help="replay at most this many images")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed; change nothing")


def check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Replay acts on a selection it was given, and refuses flags it would ignore."""
    if args.native and not args.dlq:
        parser.error("--native redrives the dead-letter queue: it works only with --dlq")
    if args.dlq:
        given = [name for name in DLQ_ONLY_REFUSES if getattr(args, name) not in (None, False)]
        if given:
            parser.error(f"--dlq redrives every message in the dead-letter queue; --{given[0].replace('_', '-')} "
                         "selects failed images in the status table: use one")
    elif args.all and args.failed_since is not None:
        parser.error("--all replays every failed image, --failed-since those failed since a time: use one")
    elif not args.all and args.failed_since is None:
        parser.error("replay needs a selection: --failed-since TIME (failed since then), --all (every failed "
                     "image) or --dlq (the dead-letter queue's messages)")
    if args.all:
        args.failed_since = ""  # no lower bound


def answer(args: argparse.Namespace, found: resources.Resources, clients: Clients) -> tuple[str, Any]:
    """Replay the failed images selected, or redrive the DLQ (ours, or SQS's own with `--native`)."""
    dynamodb, sqs = clients.client("dynamodb"), clients.client("sqs")
    if args.dlq and args.native:
        found.need("dlq_arn", "queue_arn")
        if args.outputs == resources.LOCAL_OUTPUTS:
            raise resources.ResourceError("--native uses SQS StartMessageMoveTask, which the local stack (moto) "
                                          "does not implement: use --dlq without --native")
        if args.rate != int(args.rate) or not 1 <= args.rate <= 500:  # StartMessageMoveTask's range
            raise resources.ResourceError("--rate with --native is a whole number of messages per second, 1 to 500: "
                                          "e.g. --rate 5")
        handle = None
        if not args.dry_run:
            handle = native_redrive(sqs, dlq_arn=found.dlq_arn, queue_arn=found.queue_arn, rate=int(args.rate))
        said = (f"would start a message move task at {int(args.rate)}/s" if args.dry_run
                else f"message move task started at {int(args.rate)}/s: {handle}")
        lines = [*paragraph(said), *paragraph(f"from {found.dlq_arn}", indent=2),
                 *paragraph(f"to   {found.queue_arn}", indent=2)]
        return "\n".join(lines), {"dry_run": args.dry_run, "task_handle": handle, "source_arn": found.dlq_arn,
                                  "destination_arn": found.queue_arn, "rate": int(args.rate)}
    if args.dlq:
        found.need("table", "queue_url", "dlq_url")
        result = redrive_dlq(dynamodb, sqs, table=found.table, queue_url=found.queue_url,
                             dlq_url=found.dlq_url, rate=args.rate, dry_run=args.dry_run)
    else:
        found.need("table", "queue_url")
        result = replay_failed(dynamodb, sqs, table=found.table, queue_url=found.queue_url,
                               since=args.failed_since, rate=args.rate, dry_run=args.dry_run,
                               limit=args.limit, include_invalid=args.include_invalid)
    return result.summary(), result.as_json()


COMMAND = deployed_command("replay", "re-enqueue failed images, or redrive the DLQ", add_arguments, answer, check)
