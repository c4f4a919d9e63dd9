"""The tools' command line: what it accepts, what it refuses before anything changes, and where it
looks for the stack (--stack, --outputs, --local, --endpoint-url)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tools import __main__ as cli
from tools import resources
from tools.resources import LOCAL_OUTPUTS


@pytest.mark.parametrize("argv", [["status", "--failed-since", "yesterday"], ["replay", "--rate", "0"],
                                  ["replay", "--failed-since", "1"], ["metrics", "--hours", "0"],
                                  ["replay", "--limit", "-1"], ["status", "--local", "--stack", "dev"]])
def test_bad_arguments_are_refused_before_anything_changes(argv, capsys):
    with pytest.raises(SystemExit) as exit_code:
        cli.parse_args(argv)
    assert exit_code.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_times_with_an_offset_are_compared_in_utc_and_durations_count_back_from_now():
    assert cli.timestamp("2026-11-28T10:00:00+14:00") == "2026-11-27T20:00:00.000Z"
    assert cli.timestamp("2026-11-28") == "2026-11-28T00:00:00.000Z"
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    assert abs(datetime.fromisoformat(cli.timestamp("2h").replace("Z", "+00:00")) - two_hours_ago).total_seconds() < 5
    assert cli.timestamp("1d") < cli.timestamp("30m")


@pytest.mark.parametrize("command", ["status", "replay"])
def test_status_and_replay_read_failed_since_with_the_same_parser_and_help(command, capsys, monkeypatch):
    assert cli.parse_args([command, "--failed-since", "2026-11-28T10:00:00+01:00"]).failed_since == \
        "2026-11-28T09:00:00.000Z"
    assert cli.parse_args([command, "--failed-since", "2h"]).failed_since[:13] == cli.timestamp("2h")[:13]
    with pytest.raises(SystemExit):
        cli.parse_args([command, "--failed-since", "yesterday"])
    assert "'yesterday' is neither an ISO 8601 time (2026-11-28T00:00:00Z) nor a duration back from now" in \
        capsys.readouterr().err
    monkeypatch.setenv("COLUMNS", "300")  # argparse wraps help at the terminal's width
    with pytest.raises(SystemExit):
        cli.parse_args([command, "--help"])
    assert cli.FAILED_SINCE_HELP in capsys.readouterr().out


@pytest.mark.parametrize("command", ["status", "replay", "metrics", "smoke"])
def test_every_command_takes_local_and_an_endpoint_url(command):
    parsed = cli.parse_args([command, "--local", "--endpoint-url", "http://127.0.0.1:4566"])
    assert (parsed.outputs, parsed.endpoint_url) == (LOCAL_OUTPUTS, "http://127.0.0.1:4566")
    assert Path("out/serve/stack-outputs.json") == LOCAL_OUTPUTS  # the contract with `python -m local serve`
    assert cli.parse_args([command]).endpoint_url is None  # boto3's own default (AWS_ENDPOINT_URL, else AWS)


def test_the_outputs_give_the_endpoint_and_region_and_an_explicit_endpoint_url_wins(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text('{"table_name": "t-1", "endpoint_url": "http://127.0.0.1:4566", "region": "eu-west-1"}')
    found = resources.resolve(cli.parse_args(["status", "--outputs", str(outputs)]))
    assert (found.table, found.endpoint_url, found.region) == ("t-1", "http://127.0.0.1:4566", "eu-west-1")
    found = resources.resolve(cli.parse_args(["status", "--outputs", str(outputs), "--endpoint-url", "http://h:1",
                                              "--table", "t-2"]))
    assert (found.table, found.endpoint_url, found.region) == ("t-2", "http://h:1", "eu-west-1")


def test_json_is_offered_where_scripts_need_it():
    for command in ("status", "replay", "metrics"):
        assert cli.parse_args([command, "--json"]).json is True
    with pytest.raises(SystemExit):
        cli.parse_args(["smoke", "--json"])
