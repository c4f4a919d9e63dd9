"""`python -m tools`: look up images, replay failures, read queue metrics.

    python -m tools status --stack prod --key uploads/alice/img-1.jpg
    python -m tools status --stack prod --failed-since 2026-11-28T00:00:00Z
    python -m tools replay --stack prod --failed-since 2h --rate 5 --dry-run
    python -m tools replay --stack prod --dlq --rate 5
    python -m tools metrics --stack prod
    python -m tools smoke --stack dev          # after `pulumi up`: upload, wait, check, clean up
    python -m tools status --local --failed-since 1d --json   # the local stack (`python -m local serve`)
    python -m tools cost --stack prod --images 1000000 --avg-megapixels 12
    python -m tools capacity --stack prod --rate 500/s

AWS access uses boto3's default credentials and region (profile, SSO, environment, role); against
the local stack (--local, or an --endpoint-url) no credentials are needed.
"""

from __future__ import annotations

import argparse
import os
import sys

from tools import errors, resources, status
from tools.arguments import Parser, per_second, positive, sizes, timestamp, whole
from tools.commands import run, run_smoke

__all__ = ["main", "parse_args", "positive", "run", "run_smoke", "timestamp", "whole"]

FAILED_SINCE_HELP = "failed at or after this ISO 8601 time (2026-11-28T00:00:00Z) or duration back (30m, 2h, 1d)"
SETTINGS_STACK = ("--stack NAME reads the settings in Pulumi.NAME.yaml, here in the project folder: no Pulumi CLI, "
                  "no AWS access")
DEPLOYED_STACK = ("--stack NAME reads the deployed stack's resource names from `pulumi stack output --json "
                  "--stack NAME` (needs the Pulumi CLI, logged in); --local or --outputs FILE instead need neither")
DLQ_ONLY_REFUSES = ("failed_since", "all", "limit", "include_invalid")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = Parser(prog="python -m tools", description=__doc__.split("\n\n")[0],
                    epilog=f"--stack means two things: for cost and capacity, {SETTINGS_STACK}; for the others, "
                           f"{DEPLOYED_STACK}.", formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("cost", "dollars per million images by service, STANDARD and EXPRESS side by side"),
                            ("capacity", "which quota binds first at a sustained upload rate")):
        sub = commands.add_parser(name, help=help_text, description=f"{help_text}. {SETTINGS_STACK}.")
        sub.add_argument("--stack", required=True, help="read the settings in Pulumi.STACK.yaml (this folder)")
        if name == "cost":
            sub.add_argument("--images", type=whole, default=1_000_000, help="images a month (default 1,000,000)")
            sub.add_argument("--avg-megapixels", type=positive, default=12.0, help="average photo size (default 12)")
            sub.add_argument("--prices", help="a prices file like components/settings/prices.json")
        else:
            sub.add_argument("--rate", type=per_second, required=True, help="sustained uploads, e.g. 500/s")
    replay = None
    for name, help_text in (("status", "one image's status, or the failures since a time"),
                            ("replay", "re-enqueue failed images, or redrive the DLQ"),
                            ("metrics", "the queues' depth now, and the last hour of their metrics"),
                            ("smoke", "upload test images to a deployed stack and check each ends right")):
        sub = commands.add_parser(name, help=help_text, description=f"{help_text}. {DEPLOYED_STACK}.")
        resources.add_arguments(sub)
        if name != "smoke":
            sub.add_argument("--json", action="store_true", help="print JSON (for scripts) instead of text")
        if name == "status":
            sub.add_argument("--image-id")
            sub.add_argument("--user-id")
            sub.add_argument("--key", help="the upload key, uploads/{userId}/{imageId}.{ext}")
            sub.add_argument("--failed-since", type=timestamp, help=f"list the images {FAILED_SINCE_HELP}")
        elif name == "replay":
            replay = sub
            sub.add_argument("--failed-since", type=timestamp, help=f"replay the images {FAILED_SINCE_HELP}")
            sub.add_argument("--all", action="store_true", help="replay every failed image, however old")
            sub.add_argument("--include-invalid", action="store_true",
                             help="replay images whose file itself was refused (InvalidImage: empty, corrupt, not "
                                  "an image, too large) too; left alone by default, they would fail again")
            sub.add_argument("--dlq", action="store_true", help="redrive the dead-letter queue instead")
            sub.add_argument("--native", action="store_true",
                             help="with --dlq: SQS StartMessageMoveTask (does not reset statuses)")
            sub.add_argument("--rate", type=positive, default=5.0, help="messages per second (default 5)")
            sub.add_argument("--limit", type=whole, help="replay at most this many images")
            sub.add_argument("--dry-run", action="store_true", help="list what would be replayed; change nothing")
        elif name == "smoke":
            sub.add_argument("--timeout", type=positive, default=600.0, help="seconds to wait (default 600)")
            sub.add_argument("--keep", action="store_true", help="leave the test uploads, variants and items")
            sub.add_argument("--sizes", type=sizes,
                             help="variant sizes to expect, e.g. 1280,640,160 (default: the stack's)")
        else:
            sub.add_argument("--hours", type=whole, default=1, help="how many hours back (default 1)")
    args = parser.parse_args(argv)
    if args.command == "replay" and replay is not None:
        _check_replay(args, replay)
    return args


def _check_replay(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
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


def estimates(args: argparse.Namespace) -> str:
    """`cost` or `capacity` for a stack's settings: no AWS access needed."""
    import dataclasses
    import json

    from components import parse_settings, read_stack_settings
    from components.settings.prices import load_prices
    from components.settings.stacks import stack_region
    from tools import PROJECT_DIR, capacity, cost

    settings = parse_settings(read_stack_settings(args.stack, PROJECT_DIR))  # an unknown stack names the ones there are
    region = stack_region(args.stack, PROJECT_DIR) or "eu-west-1"
    if args.command == "capacity":
        return capacity.render(settings, args.stack, args.rate, region)
    try:
        prices = load_prices(args.prices)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--prices {args.prices}: {error}") from None
    missing = sorted({"lambda", "step_functions", "sqs", "s3", "dynamodb", "cloudwatch", "kms", "rekognition",
                      "xray"} - set(prices))
    if missing:
        raise ValueError(f"--prices {args.prices}: no {', '.join(missing)} "
                         "(copy components/settings/prices.json and edit it)")
    reports = {}
    for workflow_type in ("STANDARD", "EXPRESS"):
        workflow = dataclasses.replace(settings.workflow, type=workflow_type,
                                       execution_timeout_seconds=min(settings.workflow.execution_timeout_seconds,
                                                                     300 if workflow_type == "EXPRESS" else 10**9))
        reports[workflow_type] = cost.estimate(dataclasses.replace(settings, workflow=workflow),
                                               images_per_month=args.images, megapixels=args.avg_megapixels,
                                               prices=prices)
    text = cost.render(settings, args.stack, reports, args.avg_megapixels)
    if region != prices.get("region"):
        text += (f"\nwarning: the stack runs in {region}; these are {prices.get('region')} prices: pass --prices with "
                 f"{region}'s")
    return text


def main(argv: list[str]) -> int:
    """Run one subcommand; a mistake the user can fix is one line on stderr and exit code 2."""
    args = parse_args(argv)
    try:
        if args.command in ("cost", "capacity"):
            print(estimates(args))
            return 0
        if args.command == "smoke":
            result = run_smoke(args)
            print(f"\n{result.table()}")
            return 0 if result.ok else 1
        print(run(args))
    except status.NotFound as error:  # an answer, not a mistake: exit code 1, as grep finding nothing
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        message = errors.explain(error) or (str(error) if isinstance(error, FileNotFoundError) else None)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
