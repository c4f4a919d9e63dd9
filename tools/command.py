"""What a `python -m tools` command is: a name, a help line, its arguments and its run.

Each command module (`tools/cost.py`, `capacity.py`, `status.py`, `replay.py`, `metrics.py`, `smoke.py`)
declares one as `COMMAND`; `tools/__main__.py` lists those modules, builds the parser from them and runs
the one asked for. Two kinds share their arguments: a settings command reads `Pulumi.<stack>.yaml` and
needs no AWS access; a deployed-stack command finds the stack's resources (`tools.resources`) and calls
AWS, printing text or, with `--json`, the same data as JSON.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from components import Settings, parse_settings, read_stack_settings
from components.settings.stacks import stack_region
from tools import PROJECT_DIR, resources
from tools.aws import Clients, connect

SETTINGS_STACK = ("--stack NAME reads the settings in Pulumi.NAME.yaml, here in the project folder: no Pulumi CLI, "
                  "no AWS access")
DEPLOYED_STACK = ("--stack NAME reads the deployed stack's resource names from `pulumi stack output --json "
                  "--stack NAME` (needs the Pulumi CLI, logged in); --local or --outputs FILE instead need neither")
FAILED_SINCE_HELP = "failed at or after this ISO 8601 time (2026-11-28T00:00:00Z) or duration back (30m, 2h, 1d)"

Answer = Callable[[argparse.Namespace, resources.Resources, Clients], tuple[str, Any]]
"""A deployed-stack command's work: the text to print, and the same as data for `--json`."""
Render = Callable[[argparse.Namespace, Settings, str], str]
"""A settings command's work: the text to print, from the arguments, the stack's settings and its region."""


def accepts_all(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Every combination of arguments the parser accepts is one the command can act on."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    stack: str
    """What `--stack` means for this command (`SETTINGS_STACK` or `DEPLOYED_STACK`), said in its `--help`."""
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    """Does the work, prints what it found, and returns the exit code."""
    check: Callable[[argparse.Namespace, argparse.ArgumentParser], None] = accepts_all
    """Refuses, through `parser.error`, arguments the parser accepts but the command would not act on."""
    answer: Answer | None = None
    """A deployed-stack command's work, for callers that want the text (`respond`) rather than the exit code."""

    def add_parser(self, commands: Any) -> argparse.ArgumentParser:
        """This command's parser, added to `commands` (what `add_subparsers` returned)."""
        parser: argparse.ArgumentParser = commands.add_parser(self.name, help=self.help,
                                                              description=f"{self.help}. {self.stack}.")
        self.add_arguments(parser)
        return parser


def stack_settings(args: argparse.Namespace) -> tuple[Settings, str]:
    """The settings of `--stack` and the region it runs in: no AWS access needed."""
    settings = parse_settings(read_stack_settings(args.stack, PROJECT_DIR))  # an unknown stack names the ones there are
    region = stack_region(args.stack, PROJECT_DIR) or "eu-west-1"
    return settings, region


def settings_command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None],
                     render: Render) -> Command:
    """A command on a stack's settings: `--stack NAME` (required), then its own arguments."""
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--stack", required=True, help="read the settings in Pulumi.STACK.yaml (this folder)")
        add_arguments(parser)

    def run(args: argparse.Namespace) -> int:
        print(render(args, *stack_settings(args)))
        return 0

    return Command(name, help, SETTINGS_STACK, arguments, run)


def deployed_command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None],
                     answer: Answer, check: Callable[[argparse.Namespace, argparse.ArgumentParser], None]
                     = accepts_all) -> Command:
    """A command on a deployed stack's resources: where they are (`tools.resources`), `--json`, then its own
    arguments; it prints text, or with `--json` the same data as JSON."""
    def arguments(parser: argparse.ArgumentParser) -> None:
        resources.add_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print JSON (for scripts) instead of text")
        add_arguments(parser)

    def run(args: argparse.Namespace) -> int:
        print(respond(answer, args))
        return 0

    return Command(name, help, DEPLOYED_STACK, arguments, run, check, answer)


def respond(answer: Answer, args: argparse.Namespace, session: Any = None) -> str:
    """What a deployed-stack command prints: human-readable within 100 columns, or JSON with `--json`.
    Tests pass their own boto3 `session`; by default it is boto3's default credential chain."""
    found = resources.resolve(args)
    text, data = answer(args, found, connect(found, session))
    return json.dumps(data, indent=2, default=str) if args.json else text
