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
from typing import Any

from tools import capacity, cost, errors, metrics, replay, smoke, status
from tools.arguments import Parser, per_second, positive, timestamp, whole
from tools.command import DEPLOYED_STACK, FAILED_SINCE_HELP, SETTINGS_STACK, Command, respond
from tools.smoke import run_smoke

__all__ = ["FAILED_SINCE_HELP", "main", "parse_args", "per_second", "positive", "run", "run_smoke", "timestamp",
           "whole"]

COMMANDS: dict[str, Command] = {module.COMMAND.name: module.COMMAND
                                for module in (cost, capacity, status, replay, metrics, smoke)}  # --help's order


def parse_args(argv: list[str]) -> argparse.Namespace:
    on_settings = " and ".join(name for name, command in COMMANDS.items() if command.stack == SETTINGS_STACK)
    parser = Parser(prog="python -m tools", description=__doc__.split("\n\n")[0],
                    epilog=f"--stack means two things: for {on_settings}, {SETTINGS_STACK}; for the others, "
                           f"{DEPLOYED_STACK}.", formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", required=True)
    parsers = {name: command.add_parser(subparsers) for name, command in COMMANDS.items()}
    args = parser.parse_args(argv)
    COMMANDS[args.command].check(args, parsers[args.command])
    return args


def run(args: argparse.Namespace, session: Any = None) -> str:
    """What `status`, `replay` or `metrics` prints for `args`, from AWS through boto3's `session`."""
    answer = COMMANDS[args.command].answer
    if answer is None:
        raise TypeError(f"{args.command} returns no text: run it through main")
    return respond(answer, args, session)


def main(argv: list[str]) -> int:
    """Run one subcommand; a mistake the user can fix is one line on stderr and exit code 2."""
    args = parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
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


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
