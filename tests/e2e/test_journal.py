"""`serve --state`'s journal: what a request changes in the input bucket is on the disk when the request
returns, comes back after the snapshot at the next start, and goes once a save covers it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from components import parse_settings, read_stack_settings
from local import snapshot
from local.emulator import Emulator
from local.journal import Journal, replay
from tests.conftest import ROOT

SETTINGS = parse_settings(read_stack_settings("dev", ROOT))


def request(journal: Journal, change: Any) -> None:
    """One request to the endpoint that makes `change`, as werkzeug runs it."""
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        change()
        start_response("200 OK", [])
        return [b""]
    journal.wsgi(app)({}, lambda *_: None)


@contextlib.contextmanager
def restarted(state: Path) -> Iterator[tuple[Emulator, list[dict[str, Any]], int]]:
    with Emulator(SETTINGS) as emulator:
        restored = snapshot.load(state, emulator.s3, emulator.dynamodb, emulator.pipeline)
        yield emulator, *replay(state, emulator.s3, restored["manifest"])


def test_what_requests_change_in_the_input_bucket_comes_back_after_the_snapshot(tmp_path: Path):
    state, errors = tmp_path / "state", []
    with Emulator(SETTINGS) as emulator:
        p, s3 = emulator.pipeline, emulator.s3
        s3.put_object(Bucket=p.input_bucket, Key="uploads/me/old.jpg", Body=b"saved")
        snapshot.save(state, s3, emulator.dynamodb, p)
        with Journal(state, s3, p.input_bucket, errors.append) as journal:
            request(journal, lambda: s3.put_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg", Body=b"a" * 5000,
                                                   ContentType="image/jpeg", Metadata={"camera": "phone"},
                                                   Tagging="source=phone"))
            request(journal, lambda: s3.delete_object(Bucket=p.input_bucket, Key="uploads/me/old.jpg"))
            request(journal, lambda: s3.copy_object(Bucket=p.input_bucket, Key="uploads/me/b.jpg",
                                                    CopySource={"Bucket": p.input_bucket, "Key": "uploads/me/a.jpg"}))
            request(journal, lambda: s3.put_object(Bucket=p.output_bucket, Key="variants/me/a/t/160.jpg", Body=b"v"))
            s3.put_object(Bucket=p.input_bucket, Key="uploads/me/outside.jpg", Body=b"not through the endpoint")
            acknowledged = {o["Key"]: (o["ETag"], o["LastModified"]) for o in
                            s3.list_objects_v2(Bucket=p.input_bucket)["Contents"] if "outside" not in o["Key"]}
        journal_file = state / "journal" / "1"
        whole = journal_file.read_bytes()
        # The kill came while a fourth record was being written: its header and a part of its bytes.
        journal_file.write_bytes(whole + b'{"put": {"bucket": "local-input", "key": "uploads/me/c.jpg", "etag": "x", '
                                 b'"size": 9000, "lastModified": "2026-11-28T12:00:00.000Z"}}\nhalf of it')
    assert errors == []

    with restarted(state) as (emulator, manifest, changed):
        p, s3 = emulator.pipeline, emulator.s3
        after = {o["Key"]: (o["ETag"], o["LastModified"])
                 for o in s3.list_objects_v2(Bucket=p.input_bucket)["Contents"]}
        assert after == acknowledged and set(after) == {"uploads/me/a.jpg", "uploads/me/b.jpg"}
        got = s3.get_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg")
        assert (got["ContentType"], got["Metadata"], got["Body"].read()) == (
            "image/jpeg", {"camera": "phone"}, b"a" * 5000)
        assert s3.get_object_tagging(Bucket=p.input_bucket, Key="uploads/me/a.jpg")["TagSet"] == [
            {"Key": "source", "Value": "phone"}]
        assert sorted(e["key"] for e in manifest) == ["uploads/me/a.jpg", "uploads/me/b.jpg"]
        assert changed == 3  # a, the removal of old, b


def test_a_save_drops_the_journal_files_it_covers_and_keeps_what_came_after_it(tmp_path: Path):
    state, errors = tmp_path / "state", []
    with Emulator(SETTINGS) as emulator:
        p, s3 = emulator.pipeline, emulator.s3
        with Journal(state, s3, p.input_bucket, errors.append) as journal:
            request(journal, lambda: s3.put_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg", Body=b"before"))
            covered = journal.rotate()
            request(journal, lambda: s3.put_object(Bucket=p.input_bucket, Key="uploads/me/b.jpg", Body=b"during"))
            snapshot.save(state, s3, emulator.dynamodb, p)
            journal.drop(covered)
            request(journal, lambda: s3.put_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg", Body=b"after"))
    assert sorted(path.name for path in (state / "journal").iterdir()) == ["2"]
    assert errors == []

    with restarted(state) as (emulator, _, changed):
        p, s3 = emulator.pipeline, emulator.s3
        bodies = {key: s3.get_object(Bucket=p.input_bucket, Key=key)["Body"].read()
                  for key in ("uploads/me/a.jpg", "uploads/me/b.jpg")}
        assert bodies == {"uploads/me/a.jpg": b"after", "uploads/me/b.jpg": b"during"}
        assert changed == 1  # b is in the snapshot already; a is newer than the snapshot's
    with Journal(state, None, "local-input", errors.append) as journal:
        assert journal.rotate() == 3  # a journal after a restart continues the numbering


def test_tags_changed_after_an_upload_come_back_as_acknowledged(tmp_path: Path):
    """A retag keeps the object's ETag and time: the journal's record still differs from the snapshot's."""
    state, errors = tmp_path / "state", []
    with Emulator(SETTINGS) as emulator:
        p, s3 = emulator.pipeline, emulator.s3
        s3.put_object(Bucket=p.input_bucket, Key="uploads/me/saved.jpg", Body=b"s", Tagging="k=C")
        snapshot.save(state, s3, emulator.dynamodb, p)
        with Journal(state, s3, p.input_bucket, errors.append) as journal:
            request(journal, lambda: s3.put_object_tagging(Bucket=p.input_bucket, Key="uploads/me/saved.jpg",
                                                           Tagging={"TagSet": [{"Key": "k", "Value": "D"}]}))
            request(journal, lambda: s3.put_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg", Body=b"a"))
            request(journal, lambda: s3.put_object_tagging(Bucket=p.input_bucket, Key="uploads/me/a.jpg",
                                                           Tagging={"TagSet": [{"Key": "k", "Value": "A"}]}))
            request(journal, lambda: s3.put_object(Bucket=p.input_bucket, Key="uploads/me/b.jpg", Body=b"b",
                                                   Tagging="k=B"))
            request(journal, lambda: s3.delete_object_tagging(Bucket=p.input_bucket, Key="uploads/me/b.jpg"))
    assert errors == []

    with restarted(state) as (emulator, _, _):
        p, s3 = emulator.pipeline, emulator.s3
        tags = {key: s3.get_object_tagging(Bucket=p.input_bucket, Key=f"uploads/me/{key}")["TagSet"]
                for key in ("saved.jpg", "a.jpg", "b.jpg")}
        assert tags == {"saved.jpg": [{"Key": "k", "Value": "D"}], "a.jpg": [{"Key": "k", "Value": "A"}],
                        "b.jpg": []}


def test_a_version_disposed_of_by_an_overwrite_while_it_is_read_is_journaled_as_the_newer_one(tmp_path: Path):
    """moto closes an overwritten version's bytes: a read racing the overwrite raises ValueError ("I/O
    operation on closed file"), which must neither fail the request nor lose the newer version."""
    state, errors = tmp_path / "state", []
    with Emulator(SETTINGS) as emulator:
        p, s3 = emulator.pipeline, emulator.s3
        get_object, raced = s3.get_object, []

        def racing(**kwargs: Any) -> Any:
            if not raced:
                raced.append(kwargs["Key"])
                s3.put_object(Bucket=p.input_bucket, Key=kwargs["Key"], Body=b"newer")  # the overwrite wins the race
                raise ValueError("I/O operation on closed file.")
            return get_object(**kwargs)

        with Journal(state, s3, p.input_bucket, errors.append) as journal:
            s3.get_object = racing
            request(journal, lambda: s3.put_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg", Body=b"older"))
            s3.get_object = get_object
    assert (errors, raced) == ([], ["uploads/me/a.jpg"])

    with restarted(state) as (emulator, _, _):
        p, s3 = emulator.pipeline, emulator.s3
        assert s3.get_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg")["Body"].read() == b"newer"
