"""`python -m local` as a newcomer uses it: folders, the sample set kept, warnings, mistakes, stored times."""

from __future__ import annotations

import json
import re

from components import parse_settings, read_stack_settings, settings_warnings
from handlers.lifecycle.duplicates import is_index_item
from handlers.lifecycle.status import plain_item
from local.__main__ import main, uploads_from
from local.runner import LocalRunner, Upload
from local.samples import encode, jpeg_with_exif, photo, sample_set, text_named_jpg
from tests.conftest import ROOT

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_an_unknown_stack_lists_the_stacks_that_exist(capsys):
    assert main(["--stack", "qa"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (f"error: no stack 'qa': there is no Pulumi.qa.yaml in {error.split(' in ')[1].split(';')[0]}; "
                     "the stacks here are dev, prod, staging")
    assert "Traceback" not in error and error.count("\n") == 0


def test_a_folder_is_taken_recursively_without_hidden_files(tmp_path):
    (tmp_path / "holiday" / "day-2").mkdir(parents=True)
    (tmp_path / "holiday" / "beach.jpg").write_bytes(jpeg_with_exif(width=640, height=480))
    (tmp_path / "holiday" / "day-2" / "sunset.png").write_bytes(encode(photo(300, 200), "PNG"))
    (tmp_path / "holiday" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tmp_path / "holiday" / ".thumbnails").mkdir()
    (tmp_path / "holiday" / ".thumbnails" / "x.jpg").write_bytes(b"cache")
    uploads = uploads_from([tmp_path / "holiday"], "me")
    assert sorted(u.key for u in uploads) == ["uploads/me/beach.jpg", "uploads/me/sunset.png"]


def test_a_missing_path_or_an_empty_folder_is_one_line_and_exit_code_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: no such file or folder: {tmp_path / 'nope'}"
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: no files in {tmp_path / 'empty'}"


def test_the_sample_run_keeps_its_inputs_and_says_its_broken_files_fail_on_purpose(tmp_path, capsys):
    assert main(["--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    kept = sorted(p.name for p in (tmp_path / "inputs").iterdir())
    assert len(kept) == len(sample_set()) and kept
    assert f"the generated inputs are in {tmp_path / 'inputs'}" in out
    lines = out.splitlines()
    assert "failed          2 (2 expected: broken on purpose in the sample set)" in lines
    assert "     1 x the JPEG image data is truncated (expected: broken-upload.jpg)" in lines
    assert ("     1 x the file is not a JPEG, PNG, GIF, WebP or HEIC image (it starts with b'hello, t') "
            "(expected: notes.jpg)") in lines
    report = json.loads((tmp_path / "report.json").read_text())
    assert {o["file"]: o["expected"] for o in report["images"] if o["expected"]} == {
        "broken-upload.jpg": "failed", "notes.jpg": "failed"}
    assert {o["status"] for o in report["images"]} <= {"completed", "failed"} and "missing" not in report["summary"]
    # The dev stack's warnings (the original design's values, kept on purpose) are one line, not an alarm.
    assert len(settings_warnings(parse_settings(read_stack_settings("dev", ROOT)))) == 2 and "warning:" not in err
    assert ("note: stack dev has 2 settings warnings (dead_letter_queue.message_retention_seconds, "
            "dead_letter_queue.max_receive_count), as `pulumi preview` shows them: add --warnings to list them"
            ) in err.splitlines()


def test_warnings_lists_the_stacks_settings_warnings_and_a_user_s_failures_are_not_expected(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.jpg").write_bytes(text_named_jpg())
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--warnings"]) == 0
    out, err = capsys.readouterr()
    # What `pulumi preview` warns about dev, the local run lists too, naming each key.
    for warning in settings_warnings(parse_settings(read_stack_settings("dev", ROOT))):
        assert f"warning: {warning}" in err.splitlines()
    assert "failed          1" in out.splitlines() and "expected" not in out


def test_every_stored_time_has_one_format_iso_utc_with_z():
    """Times written by handlers, by the workflow ($$.State.EnteredTime) and by repairs compare as text."""
    runner = LocalRunner(parse_settings(read_stack_settings("dev", ROOT)))
    with runner.running():
        runner.run([Upload("a.jpg", "uploads/me/a.jpg", encode(photo(800, 600), "JPEG")),
                    Upload("b.jpg", "uploads/me/b.jpg", text_named_jpg())])
        items = [plain_item(i) for i in runner.emulator.dynamodb.scan(TableName=runner.pipeline.table)["Items"]
                 if not is_index_item(i)]  # the duplicates' claim and band items have no status
    assert {i["status"] for i in items} == {"completed", "failed"}
    times = {f"{i['imageId']}.{k}": v for i in items for k, v in i.items()
             if k.endswith(("At", "Since", "Timestamp"))}
    assert {"a.startedAt", "a.completedAt", "b.failedAt"} <= set(times)
    assert {k: v for k, v in times.items() if not ISO_Z.match(str(v))} == {}
