"""What each subcommand does, given its parsed arguments: find the resources, call AWS, render.

`run` returns the text to print: human-readable within 100 columns, or JSON with `--json`.
Tests pass their own boto3 `session`; by default it is boto3's default credential chain.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from components import parse_settings, read_stack_settings
from tools import PROJECT_DIR, metrics, replay, resources, smoke, status
from tools.aws import Clients, connect
from tools.layout import paragraph


def run(args: argparse.Namespace, session: Any = None) -> str:
    found = resources.resolve(args)
    clients = connect(found, session)
    commands = {"status": _status, "replay": _replay, "metrics": _metrics}
    text, data = commands[args.command](args, found, clients)
    return json.dumps(data, indent=2, default=str) if args.json else text


def _status(args: argparse.Namespace, found: resources.Resources, clients: Clients) -> tuple[str, Any]:
    found.need("table")
    dynamodb = clients.client("dynamodb")
    if args.failed_since and (args.key or args.image_id or args.user_id):
        raise resources.ResourceError("status takes --key (or --image-id and --user-id) for one image, or "
                                      "--failed-since for the failures: not both")
    if args.failed_since:
        failures = status.failed_items(dynamodb, found.table, args.failed_since)
        return (status.failures_table([status.plain_item(item) for item in failures]),
                [status.as_json(item) for item in failures])
    if not (args.key or (args.image_id and args.user_id)):
        raise resources.ResourceError("status needs --key, or --image-id and --user-id, or --failed-since")
    raw = status.image_item(dynamodb, found.table, image_id=args.image_id, user_id=args.user_id, key=args.key)
    if raw is None:
        raise status.not_found(clients.client("s3"), found.input_bucket, key=args.key, image_id=args.image_id,
                               user_id=args.user_id)
    item = status.plain_item(raw)
    text = status.describe(item)
    if args.key and item.get("uploadKey") and item["uploadKey"] != args.key:
        text += "\n" + "\n".join(paragraph(
            f"note: this image's newest upload is {item['uploadKey']}, not {args.key}: one image, one status "
            "(uploads/{userId}/{imageId}.* share it; the newest upload wins)"))
    return text, status.as_json(raw)


def _replay(args: argparse.Namespace, found: resources.Resources, clients: Clients) -> tuple[str, Any]:
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
            handle = replay.native_redrive(sqs, dlq_arn=found.dlq_arn, queue_arn=found.queue_arn, rate=int(args.rate))
        said = (f"would start a message move task at {int(args.rate)}/s" if args.dry_run
                else f"message move task started at {int(args.rate)}/s: {handle}")
        lines = [*paragraph(said), *paragraph(f"from {found.dlq_arn}", indent=2),
                 *paragraph(f"to   {found.queue_arn}", indent=2)]
        return "\n".join(lines), {"dry_run": args.dry_run, "task_handle": handle, "source_arn": found.dlq_arn,
                                  "destination_arn": found.queue_arn, "rate": int(args.rate)}
    if args.dlq:
        found.need("table", "queue_url", "dlq_url")
        result = replay.redrive_dlq(dynamodb, sqs, table=found.table, queue_url=found.queue_url,
                                    dlq_url=found.dlq_url, rate=args.rate, dry_run=args.dry_run)
    else:
        found.need("table", "queue_url")
        result = replay.replay_failed(dynamodb, sqs, table=found.table, queue_url=found.queue_url,
                                      since=args.failed_since, rate=args.rate, dry_run=args.dry_run,
                                      limit=args.limit, include_invalid=args.include_invalid)
    return result.summary(), result.as_json()


def _metrics(args: argparse.Namespace, found: resources.Resources, clients: Clients) -> tuple[str, Any]:
    found.need("queue_url", "dlq_url")
    urls = [found.queue_url, found.dlq_url]
    window = metrics.Window.until(hours=args.hours)
    depth = metrics.queue_depth(clients.client("sqs"), urls)
    series = metrics.queue_metrics(clients.client("cloudwatch"), [metrics.queue_name(u) for u in urls], window)
    text = metrics.report(depth, series, window)
    if args.outputs == resources.LOCAL_OUTPUTS and not any(series.values()):
        text += "\n" + "\n".join(paragraph("(the local stack publishes no CloudWatch metrics: the depths above "
                                           "are what it can show)"))
    return text, metrics.as_json(depth, series, window)


def run_smoke(args: argparse.Namespace, session: Any = None) -> smoke.SmokeResult:
    found = resources.resolve(args)
    found.need("input_bucket", "output_bucket", "table")
    if args.sizes:
        sizes = args.sizes
    else:
        stack = args.stack.rsplit("/", 1)[-1] if args.stack else None  # `org/dev` reads Pulumi.dev.yaml
        try:
            sizes = parse_settings(read_stack_settings(stack, PROJECT_DIR) if stack else {}).workflow.variant_sizes
        except FileNotFoundError:
            raise resources.ResourceError(f"no Pulumi.{stack}.yaml here to read the variant sizes from: run from "
                                          "the project folder, or pass --sizes 1280,640,160") from None
    return smoke.smoke(connect(found, session), input_bucket=found.input_bucket, output_bucket=found.output_bucket,
                       table=found.table, topic_arn=found.topic_arn, sizes=sizes, timeout=args.timeout,
                       keep=args.keep, on_progress=lambda done, total: print(
                           f"\r  {done}/{total} terminal", end="", file=sys.stderr, flush=True))
