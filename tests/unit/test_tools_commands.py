"""The tools' one registry of commands: what `--help` lists, what the docs name and what runs are the same."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from tools import __main__ as cli
from tools.command import Command

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCUMENTED = re.compile(r"python -m tools (\w+)|`tools (\w+)")  # `python -m tools status ...`, `tools cost`


def documented_commands() -> dict[str, set[str]]:
    """Each command the documents name, with the documents naming it."""
    named: dict[str, set[str]] = {}
    for document in DOCUMENTS:
        for match in DOCUMENTED.finditer(document.read_text()):
            named.setdefault(match[1] or match[2], set()).add(document.relative_to(ROOT).as_posix())
    return named


def test_every_registered_command_is_listed_by_help_with_its_help_line(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps help at the terminal's width
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "{" + ",".join(cli.COMMANDS) + "}" in out
    for name, command in cli.COMMANDS.items():
        assert isinstance(command, Command) and command.name == name
        assert re.search(rf"^\s+{name}\s+{re.escape(command.help)}$", out, re.MULTILINE), name


def test_every_command_the_docs_name_is_registered_and_every_registered_one_is_documented():
    named = documented_commands()
    assert {name: documents for name, documents in named.items() if name not in cli.COMMANDS} == {}
    assert set(cli.COMMANDS) - set(named) == set()
