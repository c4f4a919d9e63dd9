"""Mistakes a user can make are one line on stderr, exit code 2, naming what is missing and the command
that fixes it; never a traceback. A bug still shows its traceback."""

from __future__ import annotations

import dataclasses
import json
import socket
import stat

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError, ProfileNotFound

from tools import __main__ as cli
from tools import errors, resources
from tools.resources import LOCAL_OUTPUTS

KEY = ["--key", "uploads/alice/a.jpg"]


def fails_in_one_line(argv: list[str], capsys) -> str:
    """Run the CLI; check it failed as a user mistake; return the message after `error: `."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.removeprefix("error: ").rstrip("\n")


def fake_pulumi(tmp_path, monkeypatch, *, stdout: str = "", stderr: str = "", code: int = 0) -> None:
    script = tmp_path / "bin" / "pulumi"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\nprintf '%s' '{stdout}'\nprintf '%s\\n' '{stderr}' >&2\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(script.parent))


def test_without_the_pulumi_cli_stack_says_to_install_it_or_use_saved_outputs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    said = fails_in_one_line(["status", "--stack", "dev", *KEY], capsys)
    assert said.startswith("the Pulumi CLI is not installed (--stack needs it): install it") and "--local" in said


def test_an_unknown_stack_lists_the_stacks_that_exist(tmp_path, monkeypatch, capsys):
    fake_pulumi(tmp_path, monkeypatch, stderr="error: no stack named 'qa' found", code=255)
    assert fails_in_one_line(["status", "--stack", "qa", *KEY], capsys) == (
        "no stack 'qa': the stacks here (Pulumi.<stack>.yaml) are dev, prod, staging: pass one of them to --stack, "
        "or --local for the local stack")


def test_another_pulumi_failure_quotes_pulumi_and_says_how_to_look(tmp_path, monkeypatch, capsys):
    fake_pulumi(tmp_path, monkeypatch, stderr="error: PULUMI_ACCESS_TOKEN must be set for login", code=255)
    said = fails_in_one_line(["status", "--stack", "dev", *KEY], capsys)
    assert said.startswith("`pulumi stack output --stack dev` failed (error: PULUMI_ACCESS_TOKEN must be set")
    assert "`pulumi login`" in said


def test_a_stack_s_outputs_come_from_pulumi(tmp_path, monkeypatch):
    fake_pulumi(tmp_path, monkeypatch, stdout='{"table_name": "images-status-1"}')
    found = resources.resolve(cli.parse_args(["status", "--stack", "dev"]))
    assert found.table == "images-status-1"


def test_no_stack_outputs_says_how_to_start_the_local_stack_or_save_them(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert fails_in_one_line(["metrics", "--local"], capsys) == (
        "no stack outputs at out/serve/stack-outputs.json: start the local stack with `python -m local serve`, "
        "or save `pulumi stack output --json > out/serve/stack-outputs.json`")


@pytest.mark.parametrize(("content", "said"), [
    ("{not json", "out/serve/stack-outputs.json is not valid JSON (line 1, column 2: Expecting property name"),
    ("[1, 2]", "out/serve/stack-outputs.json holds an array, not an object of stack outputs"),
    ('{"table_name": 3}', "out/serve/stack-outputs.json: table_name should be text")])
def test_stack_outputs_that_are_not_an_object_of_names_are_one_line(content, said, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    LOCAL_OUTPUTS.parent.mkdir(parents=True)
    LOCAL_OUTPUTS.write_text(content)
    message = fails_in_one_line(["status", "--local", *KEY], capsys)
    # The local stack's file is rewritten by restarting it, not by Pulumi.
    assert message.startswith(said) and message.endswith(
        "restart the local stack (`python -m local serve`), which writes it again")


def test_an_endpoint_nobody_answers_at_asks_whether_the_local_stack_runs(tmp_path, capsys):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"table_name": "images", "region": "eu-west-1"}))
    assert fails_in_one_line(["status", "--outputs", str(outputs), "--endpoint-url", f"http://127.0.0.1:{port}",
                              *KEY], capsys) == (
        f"nothing answers at http://127.0.0.1:{port}: is `python -m local serve` running?")


def test_a_missing_region_is_one_line_saying_how_to_set_it(monkeypatch, capsys):
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    said = fails_in_one_line(["status", "--table", "t", *KEY], capsys)
    assert said.startswith("no AWS region: set AWS_DEFAULT_REGION")


def test_a_key_that_is_not_an_upload_key_is_one_line_not_a_traceback(capsys):
    assert fails_in_one_line(["status", "--key", "photo.jpg", "--table", "t"], capsys).startswith(
        "key 'photo.jpg' is not uploads/{userId}/{imageId}.{ext}")


def test_a_native_redrive_rate_sqs_would_refuse_is_refused_first(capsys):
    said = fails_in_one_line(["replay", "--dlq", "--native", "--rate", "0.5", "--dlq-arn", "arn:d", "--queue-arn",
                              "arn:q"], capsys)
    assert said == "--rate with --native is a whole number of messages per second, 1 to 500: e.g. --rate 5"


@pytest.mark.parametrize(("code", "hint"), [
    ("ResourceNotFoundException", "check the name (its flag, or the stack outputs: --stack, --local, --outputs)"),
    ("AccessDeniedException", "your credentials may not do this: check AWS_PROFILE"),
    ("ExpiredTokenException", "your credentials have expired: `aws sso login`"),
    ("UnrecognizedClientException", "these credentials are not valid here"),
    ("ThrottlingException", "wait, then run it again")])
def test_aws_error_codes_a_user_causes_say_what_to_do(code, hint):
    error = ClientError({"Error": {"Code": code, "Message": "what AWS said\nover two lines"}}, "Scan")
    said = errors.explain(error)
    assert said.startswith(f"Scan failed: {code} (what AWS said over two lines): ") and hint in said


def test_botocore_errors_are_explained_on_one_line():
    assert errors.explain(EndpointConnectionError(endpoint_url="https://sqs.eu-west-1.amazonaws.com/")) == (
        "cannot reach https://sqs.eu-west-1.amazonaws.com: check the network (a proxy, a VPN) and the region "
        "(AWS_DEFAULT_REGION)")
    assert errors.explain(ProfileNotFound(profile="ops")).endswith("`aws configure list-profiles` lists them; "
                                                                   "set AWS_PROFILE to one")
    assert "\n" not in errors.explain(ParamValidationError(report="line one\nline two"))


def test_a_bug_is_not_hidden_behind_a_one_line_message(monkeypatch):
    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "status", dataclasses.replace(cli.COMMANDS["status"], run=broken))
    with pytest.raises(KeyError):
        cli.main(["status", "--table", "images", *KEY])
