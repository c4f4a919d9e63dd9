"""Where the pipeline's resources are: flags, a stack outputs file (saved, or the local stack's), or Pulumi.

A stack outputs file holds what `pulumi stack output --json` prints. The local stack
(`python -m local serve`) writes one at `LOCAL_OUTPUTS` with two more keys: `endpoint_url`, where
its AWS emulator answers, and `region`. `--local` reads that file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.settings.stacks import stack_names
from tools import PROJECT_DIR

LOCAL_OUTPUTS = Path("out/serve/stack-outputs.json")
OUTPUT_NAMES = {"table": "table_name", "queue_url": "queue_url", "dlq_url": "dead_letter_queue_url",
                "queue_arn": "queue_arn", "dlq_arn": "dead_letter_queue_arn", "output_bucket": "output_bucket_name",
                "input_bucket": "input_bucket_name", "topic_arn": "topic_arn"}
JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean",
              type(None): "null"}


class ResourceError(ValueError):
    """A resource name could not be found: say which flag or stack output provides it."""


@dataclass(frozen=True)
class Resources:
    """The resources one command works on, and where their AWS API answers (None: boto3's defaults)."""

    table: str | None = None
    queue_url: str | None = None
    dlq_url: str | None = None
    queue_arn: str | None = None
    dlq_arn: str | None = None
    output_bucket: str | None = None
    input_bucket: str | None = None
    topic_arn: str | None = None
    endpoint_url: str | None = None
    region: str | None = None

    def need(self, *names: str) -> None:
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            flags = ", ".join(f"--{n.replace('_', '-')}" for n in missing)
            raise ResourceError(f"missing {flags}: pass it, or --stack NAME, --local (the local stack), or "
                                "--outputs FILE (from `pulumi stack output --json`)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--stack / --outputs / --local (one of them), --endpoint-url, and a flag per resource."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", help="read resource names from `pulumi stack output --json --stack NAME`")
    where.add_argument("--outputs", type=Path, help="a saved `pulumi stack output --json` file")
    where.add_argument("--local", dest="outputs", action="store_const", const=LOCAL_OUTPUTS,
                       help=f"the local stack of `python -m local serve` (--outputs {LOCAL_OUTPUTS})")
    parser.add_argument("--endpoint-url", help="send every AWS call here, e.g. http://127.0.0.1:4566 (default: "
                                               "the outputs' endpoint_url, else $AWS_ENDPOINT_URL, else AWS)")
    for name in OUTPUT_NAMES:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name)


def load_outputs(path: Path) -> dict[str, Any]:
    """The stack outputs saved at `path`."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ResourceError(f"no stack outputs at {path}: start the local stack with `python -m local serve`, "
                            f"or save `pulumi stack output --json > {path}`") from None
    except OSError as error:
        raise ResourceError(f"cannot read the stack outputs at {path}: {error.strerror}") from None
    fix = (f"save them again with `pulumi stack output --json > {path}`" if path != LOCAL_OUTPUTS else
           "restart the local stack (`python -m local serve`), which writes it again")
    return _outputs_object(text, str(path), fix)


def stack_outputs(stack: str) -> dict[str, Any]:
    """The outputs of a Pulumi stack, from the Pulumi CLI."""
    try:
        result = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack], capture_output=True,
                                text=True, check=False)
    except FileNotFoundError:
        raise ResourceError("the Pulumi CLI is not installed (--stack needs it): install it "
                            "(https://www.pulumi.com/docs/install/), or use --local, --outputs FILE (a saved "
                            "`pulumi stack output --json`) or the resource flags") from None
    if result.returncode != 0:
        raise _stack_error(stack, result.stderr)
    return _outputs_object(result.stdout, f"`pulumi stack output --json --stack {stack}`",
                           "check the stack with `pulumi stack output --stack " + stack + "`")


def _stack_error(stack: str, stderr: str) -> ResourceError:
    """Why `pulumi stack output` failed: an unknown stack lists the ones that exist."""
    said = next((line.strip() for line in stderr.splitlines() if line.strip()), "no message")
    if "no stack named" in stderr or "not found" in stderr:
        known = ", ".join(stack_names(PROJECT_DIR)) or "none"
        return ResourceError(f"no stack {stack!r}: the stacks here (Pulumi.<stack>.yaml) are {known}: pass one "
                             "of them to --stack, or --local for the local stack")
    return ResourceError(f"`pulumi stack output --stack {stack}` failed ({said}): `pulumi stack ls` lists the "
                         "stacks, `pulumi login` logs in")


def _outputs_object(text: str, source: str, fix: str) -> dict[str, Any]:
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResourceError(f"{source} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}): "
                            f"{fix}") from None
    if not isinstance(outputs, dict):
        raise ResourceError(f"{source} holds {JSON_TYPES.get(type(outputs), 'a value')}, not an object of stack "
                            f"outputs: {fix}")
    wrong = sorted(key for key in (*OUTPUT_NAMES.values(), "endpoint_url", "region")
                   if outputs.get(key) is not None and not isinstance(outputs[key], str))
    if wrong:
        raise ResourceError(f"{source}: {', '.join(wrong)} should be text: {fix}")
    return outputs


def resolve(args: argparse.Namespace) -> Resources:
    """The resources named by flags, else by the stack outputs; an explicit --endpoint-url wins over the
    outputs' endpoint_url."""
    outputs: dict[str, Any] = {}
    if args.outputs:
        outputs = load_outputs(args.outputs)
    elif args.stack:
        outputs = stack_outputs(args.stack)
    values = {name: getattr(args, name) or outputs.get(output) for name, output in OUTPUT_NAMES.items()}
    return Resources(**values, endpoint_url=getattr(args, "endpoint_url", None) or outputs.get("endpoint_url"),
                     region=outputs.get("region"))
