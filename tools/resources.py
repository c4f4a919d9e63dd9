"""Where the pipeline's resources are: flags, a `pulumi stack output --json` file, or the stack itself."""

from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

OUTPUT_NAMES = {"table": "table_name", "queue_url": "queue_url", "dlq_url": "dead_letter_queue_url",
                "queue_arn": "queue_arn", "dlq_arn": "dead_letter_queue_arn", "output_bucket": "output_bucket_name",
                "input_bucket": "input_bucket_name", "topic_arn": "topic_arn"}


class ResourceError(ValueError):
    """A resource name could not be found: say which flag or stack output provides it."""


@dataclass(frozen=True)
class Resources:
    table: str | None = None
    queue_url: str | None = None
    dlq_url: str | None = None
    queue_arn: str | None = None
    dlq_arn: str | None = None
    output_bucket: str | None = None
    input_bucket: str | None = None
    topic_arn: str | None = None

    def need(self, *names: str) -> None:
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            flags = ", ".join(f"--{n.replace('_', '-')}" for n in missing)
            raise ResourceError(f"missing {flags}: pass it, or --stack NAME / --outputs FILE "
                                "(from `pulumi stack output --json`)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", help="read resource names from `pulumi stack output --json --stack NAME`")
    parser.add_argument("--outputs", type=Path, help="a saved `pulumi stack output --json` file")
    for field in fields(Resources):
        parser.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name)


def stack_outputs(stack: str) -> dict[str, Any]:
    try:
        result = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack], capture_output=True,
                                text=True, check=False)
    except FileNotFoundError:
        raise ResourceError("the Pulumi CLI is not installed: install it, or pass --outputs FILE (a saved "
                            "`pulumi stack output --json`) or the resource flags") from None
    if result.returncode != 0:
        raise ResourceError(f"`pulumi stack output --stack {stack}` failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def resolve(args: argparse.Namespace) -> Resources:
    outputs: dict[str, Any] = {}
    if args.outputs:
        outputs = json.loads(args.outputs.read_text())
    elif args.stack:
        outputs = stack_outputs(args.stack)
    values = {name: getattr(args, name) or outputs.get(output) for name, output in OUTPUT_NAMES.items()}
    return Resources(**values)
