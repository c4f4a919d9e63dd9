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
    select = ["--all"] if command == "replay" else []
    parsed = cli.parse_args([command, *select, "--local", "--endpoint-url", "http://127.0.0.1:4566"])
    assert (parsed.outputs, parsed.endpoint_url) == (LOCAL_OUTPUTS, "http://127.0.0.1:4566")
    assert Path("out/serve/stack-outputs.json") == LOCAL_OUTPUTS  # the contract with `python -m local serve`
    assert cli.parse_args([command, *select]).endpoint_url is None  # boto3's own default (AWS_ENDPOINT_URL, else AWS)


def test_the_outputs_give_the_endpoint_and_region_and_an_explicit_endpoint_url_wins(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text('{"table_name": "t-1", "endpoint_url": "http://127.0.0.1:4566", "region": "eu-west-1"}')
    found = resources.resolve(cli.parse_args(["status", "--outputs", str(outputs)]))
    assert (found.table, found.endpoint_url, found.region) == ("t-1", "http://127.0.0.1:4566", "eu-west-1")
    found = resources.resolve(cli.parse_args(["status", "--outputs", str(outputs), "--endpoint-url", "http://h:1",
                                              "--table", "t-2"]))
    assert (found.table, found.endpoint_url, found.region) == ("t-2", "http://h:1", "eu-west-1")


def test_json_is_offered_where_scripts_need_it():
    for command in (["status"], ["replay", "--all"], ["metrics"]):
        assert cli.parse_args([*command, "--json"]).json is True
    with pytest.raises(SystemExit):
        cli.parse_args(["smoke", "--json"])


def refusal(main, argv: list[str], capsys) -> str:
    """The one line a command line refuses `argv` with (exit code 2, nothing else on stderr)."""
    with pytest.raises(SystemExit) as exit_code:
        main(argv)
    assert exit_code.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


RATE_RANGE = "(more than 0, at most 1,000,000,000; e.g. 500/s, 30000/min or 500)"


@pytest.mark.parametrize(("argv", "said"), [
    (["capacity", "--stack", "prod", "--rate", "-5/s"], "argument --rate: '-5/s' is not a rate " + RATE_RANGE),
    (["capacity", "--stack", "prod", "--rate", "0/s"], "argument --rate: '0/s' is not a rate " + RATE_RANGE),
    (["capacity", "--stack", "prod", "--rate", "5/week"], "argument --rate: '5/week' is not a rate " + RATE_RANGE),
    (["capacity", "--stack", "prod", "--rate", "1e308/s"], "argument --rate: '1e308/s' is not a rate " + RATE_RANGE),
    (["replay", "--failed-since", "99999999d"], "argument --failed-since: '99999999d' is outside the years 1 to 9999"),
    (["replay", "--failed-since", "0001-01-01T00:00:00+14:00"], "argument --failed-since: "
                                                                 "'0001-01-01T00:00:00+14:00' is outside the years "
                                                                 "1 to 9999"),
    (["cost", "--stack", "prod", "--images", "-1"], "argument --images: '-1' is not a whole number (1 or more)"),
    (["cost", "--stack", "prod", "--avg-megapixels", "0"], "argument --avg-megapixels: '0' is not a number "
                                                           "(more than 0)"),
    (["cost", "--stack", "prod", "--avg-megapixels", "nan"], "argument --avg-megapixels: 'nan' is not a number "
                                                             "(more than 0)"),
    (["replay", "--all", "--rate", "-2"], "argument --rate: '-2' is not a number (more than 0)"),
    (["replay", "--all", "--limit", "0"], "argument --limit: '0' is not a whole number (1 or more)"),
    (["replay", "--all", "--limit", "2.5"], "argument --limit: '2.5' is not a whole number (1 or more)"),
    (["metrics", "--hours", "-3"], "argument --hours: '-3' is not a whole number (1 or more)"),
    (["smoke", "--timeout", "0"], "argument --timeout: '0' is not a number (more than 0)"),
    (["smoke", "--sizes", "1280,-640"], "argument --sizes: '1280,-640' is not a list of pixel sizes "
                                        "(1 or more; e.g. 1280,640,160)"),
])
def test_every_numeric_flag_of_the_tools_refuses_a_bad_value_in_one_line_naming_it(argv, said, capsys):
    assert refusal(cli.parse_args, argv, capsys) == f"python -m tools {argv[0]}: error: {said}"


@pytest.mark.parametrize(("argv", "said"), [
    (["--workers", "0"], "argument --workers: '0' is not a whole number (1 or more)"),
    (["--workers", "-2"], "argument --workers: '-2' is not a whole number (1 or more)"),
    (["--seed", "x"], "argument --seed: 'x' is not a whole number (0 or more)"),
])
def test_every_numeric_flag_of_the_local_run_refuses_a_bad_value_the_same_way(argv, said, capsys):
    from local.__main__ import parse_args

    assert refusal(parse_args, argv, capsys) == f"python -m local: error: {said}"


def test_the_serve_port_is_checked_by_the_same_helper(capsys):
    from local.serve_command import parse_args

    assert refusal(parse_args, ["--port", "-1"], capsys) == (
        "python -m local serve: error: argument --port: '-1' is not a port (0 to 65535; 0 picks a free one)")
    assert parse_args(["--port", "0"]).port == 0


@pytest.mark.parametrize(("argv", "said"), [
    ([], "replay needs a selection: --failed-since TIME (failed since then), --all (every failed image) or --dlq "
         "(the dead-letter queue's messages)"),
    (["--dry-run"], "replay needs a selection: --failed-since TIME (failed since then), --all (every failed image) "
                    "or --dlq (the dead-letter queue's messages)"),
    (["--native"], "--native redrives the dead-letter queue: it works only with --dlq"),
    (["--all", "--native"], "--native redrives the dead-letter queue: it works only with --dlq"),
    (["--dlq", "--failed-since", "1d"], "--dlq redrives every message in the dead-letter queue; --failed-since "
                                        "selects failed images in the status table: use one"),
    (["--dlq", "--all"], "--dlq redrives every message in the dead-letter queue; --all selects failed images in "
                         "the status table: use one"),
    (["--dlq", "--limit", "3"], "--dlq redrives every message in the dead-letter queue; --limit selects failed "
                                "images in the status table: use one"),
    (["--dlq", "--include-invalid"], "--dlq redrives every message in the dead-letter queue; --include-invalid "
                                     "selects failed images in the status table: use one"),
    (["--all", "--failed-since", "1d"], "--all replays every failed image, --failed-since those failed since a "
                                        "time: use one"),
])
def test_replay_refuses_no_selection_and_flags_it_would_ignore(argv, said, capsys):
    assert refusal(cli.parse_args, ["replay", *argv], capsys) == f"python -m tools replay: error: {said}"


def test_replay_selects_by_time_every_failure_or_the_dlq():
    assert cli.parse_args(["replay", "--all"]).failed_since == ""
    assert cli.parse_args(["replay", "--failed-since", "2026-11-28"]).failed_since == "2026-11-28T00:00:00.000Z"
    assert not cli.parse_args(["replay", "--all"]).include_invalid
    assert cli.parse_args(["replay", "--all", "--include-invalid"]).include_invalid
    assert cli.parse_args(["replay", "--dlq", "--native"]).native


@pytest.mark.parametrize(("command", "meaning"), [
    ("cost", "--stack NAME reads the settings in Pulumi.NAME.yaml"),
    ("capacity", "--stack NAME reads the settings in Pulumi.NAME.yaml"),
    ("status", "--stack NAME reads the deployed stack's resource names from `pulumi stack output --json"),
    ("replay", "--stack NAME reads the deployed stack's resource names from `pulumi stack output --json"),
    ("metrics", "--stack NAME reads the deployed stack's resource names from `pulumi stack output --json"),
    ("smoke", "--stack NAME reads the deployed stack's resource names from `pulumi stack output --json")])
def test_each_command_s_help_says_what_stack_means_for_it(command, meaning, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps help at the terminal's width
    with pytest.raises(SystemExit):
        cli.parse_args([command, "--help"])
    assert meaning in capsys.readouterr().out
