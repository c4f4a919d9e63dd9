"""`python -m tools`: look up images, replay failures, read queue metrics.

    python -m tools status --stack prod --key uploads/alice/img-1.jpg
    python -m tools status --stack prod --failed-since 2026-11-28T00:00:00Z
    python -m tools replay --stack prod --failed-since 2026-11-28T00:00:00Z --rate 5 --dry-run
    python -m tools replay --stack prod --dlq --rate 5
    python -m tools metrics --stack prod
    python -m tools smoke --stack dev          # after `pulumi up`: upload, wait, check, clean up

AWS access uses boto3's default credentials and region (profile, SSO, environment, role).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

from components import Settings, read_stack_settings
from handlers.errors import InvalidUploadKey
from handlers.uploads import utc_iso
from tools import metrics, replay, resources, smoke, status

DURATION = re.compile(r"^(\d+)([mhd])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def timestamp(value: str) -> str:
    """An ISO 8601 time (any offset), or a duration back from now (`30m`, `2h`, `1d`), as the status
    table stores times: UTC, milliseconds, `Z`."""
    if not value:
        return ""  # no lower bound
    duration = DURATION.match(value.strip())
    if duration:
        return utc_iso(datetime.now(UTC) - timedelta(**{UNITS[duration[2]]: int(duration[1])}))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is neither an ISO 8601 time (2026-11-28T00:00:00Z) nor a "
                                         "duration back from now (30m, 2h, 1d)") from None
    return utc_iso(parsed)


def positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number")
    return number


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("status", "one image's status, or the failures since a time"),
                            ("replay", "re-enqueue failed images, or redrive the DLQ"),
                            ("metrics", "the last hour of queue metrics, per 5 minutes"),
                            ("smoke", "upload test images to a deployed stack and check each ends right")):
        sub = commands.add_parser(name, help=help_text)
        resources.add_arguments(sub)
        if name == "status":
            sub.add_argument("--image-id")
            sub.add_argument("--user-id")
            sub.add_argument("--key", help="the upload key, uploads/{userId}/{imageId}.{ext}")
            sub.add_argument("--failed-since", type=timestamp, help="ISO 8601 time or a duration back: 2h, 1d")
        elif name == "replay":
            sub.add_argument("--failed-since", type=timestamp, default="",
                             help="replay images failed at or after this ISO 8601 time")
            sub.add_argument("--dlq", action="store_true", help="redrive the dead-letter queue instead")
            sub.add_argument("--native", action="store_true",
                             help="with --dlq: SQS StartMessageMoveTask (does not reset statuses)")
            sub.add_argument("--rate", type=positive, default=5.0, help="messages per second (default 5)")
            sub.add_argument("--limit", type=int, help="replay at most this many images")
            sub.add_argument("--dry-run", action="store_true", help="list what would be replayed; change nothing")
        elif name == "smoke":
            sub.add_argument("--timeout", type=positive, default=600.0, help="seconds to wait (default 600)")
            sub.add_argument("--keep", action="store_true", help="leave the test uploads, variants and items")
            sub.add_argument("--sizes", help="variant sizes to expect, e.g. 1280,640,160 (default: the stack's)")
        else:
            sub.add_argument("--hours", type=int, default=1)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, session: Any = None) -> str:
    session = session or boto3.session.Session()
    found = resources.resolve(args)
    if args.command == "status":
        found.need("table")
        dynamodb = session.client("dynamodb")
        if args.failed_since:
            return status.failures_table(status.failures_since(dynamodb, found.table, args.failed_since))
        if not (args.key or (args.image_id and args.user_id)):
            raise resources.ResourceError("status needs --key, or --image-id and --user-id, or --failed-since")
        return status.describe(status.image_status(dynamodb, found.table, image_id=args.image_id,
                                                   user_id=args.user_id, key=args.key))
    if args.command == "replay":
        dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
        if args.dlq and args.native:
            found.need("dlq_arn", "queue_arn")
            if args.dry_run:
                return f"would start a message move task {found.dlq_arn} -> {found.queue_arn} at {args.rate}/s"
            handle = replay.native_redrive(sqs, dlq_arn=found.dlq_arn, queue_arn=found.queue_arn, rate=int(args.rate))
            return f"message move task started: {handle}"
        if args.dlq:
            found.need("table", "queue_url", "dlq_url")
            result = replay.redrive_dlq(dynamodb, sqs, table=found.table, queue_url=found.queue_url,
                                        dlq_url=found.dlq_url, rate=args.rate, dry_run=args.dry_run)
        else:
            found.need("table", "queue_url")
            result = replay.replay_failed(dynamodb, sqs, table=found.table, queue_url=found.queue_url,
                                          since=args.failed_since, rate=args.rate, dry_run=args.dry_run,
                                          limit=args.limit)
        verb = "would replay" if result.dry_run else "replayed"
        lines = [f"{verb} {len(result.replayed)}, skipped {len(result.skipped)}"]
        lines += [f"  {verb}: {name}" for name in result.replayed] + [f"  skipped: {s}" for s in result.skipped]
        return "\n".join(lines)
    found.need("queue_url", "dlq_url")
    names = [url.rsplit("/", 1)[-1] for url in (found.queue_url, found.dlq_url)]
    return metrics.table(metrics.queue_metrics(session.client("cloudwatch"), names, hours=args.hours),
                         hours=args.hours)


def run_smoke(args: argparse.Namespace, session: Any = None) -> smoke.SmokeResult:
    session = session or boto3.session.Session()
    found = resources.resolve(args)
    found.need("input_bucket", "output_bucket", "table")
    if args.sizes:
        sizes = [int(size) for size in args.sizes.split(",")]
    else:
        stack = args.stack.rsplit("/", 1)[-1] if args.stack else None  # `org/dev` reads Pulumi.dev.yaml
        try:
            sizes = Settings.from_dict(read_stack_settings(stack) if stack else {}).workflow.variant_sizes
        except FileNotFoundError:
            raise resources.ResourceError(f"no Pulumi.{stack}.yaml here to read the variant sizes from: run from "
                                          "the project folder, or pass --sizes 1280,640,160") from None
    return smoke.smoke(session, input_bucket=found.input_bucket, output_bucket=found.output_bucket,
                       table=found.table, topic_arn=found.topic_arn, sizes=sizes, timeout=args.timeout,
                       keep=args.keep, on_progress=lambda done, total: print(
                           f"\r  {done}/{total} terminal", end="", file=sys.stderr, flush=True))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        if args.command == "smoke":
            result = run_smoke(args)
            print(f"\n{result.table()}")
            return 0 if result.ok else 1
        print(run(args))
    except (resources.ResourceError, InvalidUploadKey, ValueError, ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except NoRegionError:
        print("error: no AWS region: set AWS_REGION (or a profile's region), e.g. `export AWS_REGION=eu-west-1`",
              file=sys.stderr)
        return 2
    except NoCredentialsError:
        print("error: no AWS credentials: `aws configure`, `aws sso login`, or set AWS_PROFILE", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
