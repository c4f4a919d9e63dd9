"""`serve --state`: what a save keeps, that an interrupted save keeps the last one, and which uploads
are announced again after a restart."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from components import parse_settings, read_stack_settings
from local import snapshot
from local.emulator import Emulator
from local.samples import encode, photo
from tests.conftest import ROOT

SETTINGS = parse_settings(read_stack_settings("dev", ROOT))
MIB = 1024 * 1024


def status_item(image: str, key: str, etag: str, status: str = "completed") -> dict:
    return {"imageId": {"S": image}, "userId": {"S": "me"}, "status": {"S": status},
            "uploadKey": {"S": key}, "uploadVersion": {"S": etag}}


def test_a_save_keeps_etags_times_headers_and_odd_keys_inside_its_folder(tmp_path: Path):
    state = tmp_path / "state"
    with Emulator(SETTINGS) as emulator:
        p, s3 = emulator.pipeline, emulator.s3
        big = bytes(range(256)) * (6 * MIB // 256)
        s3.upload_fileobj(io.BytesIO(big), p.input_bucket, "uploads/me/big.jpg",
                          Config=TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB))
        s3.put_object(Bucket=p.output_bucket, Key="variants/me/big/t/160.jpg", Body=b"jpeg",
                      ContentType="image/jpeg", CacheControl="public, max-age=31536000, immutable",
                      ContentLanguage="de", Metadata={"who": "me"}, Tagging="team=images&tier=thumb")
        s3.put_object(Bucket=p.input_bucket, Key="uploads/me/", Body=b"")  # the console's "Create folder"
        s3.put_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg", Body=b"under the folder marker")
        s3.put_object(Bucket=p.input_bucket, Key="../../escaped.txt", Body=b"stays inside")
        before = {o["Key"]: (o["ETag"], o["LastModified"]) for o in
                  s3.list_objects_v2(Bucket=p.input_bucket)["Contents"]}
        assert before["uploads/me/big.jpg"][0].endswith('-2"')
        assert snapshot.save(state, s3, emulator.dynamodb, p) == {"objects": 5, "items": 0}
    assert not (tmp_path / "escaped.txt").exists() and not any(tmp_path.parent.glob("escaped.txt"))

    with Emulator(SETTINGS) as emulator:
        p, s3 = emulator.pipeline, emulator.s3
        assert snapshot.load(state, s3, emulator.dynamodb, p)["objects"] == 5
        after = {o["Key"]: (o["ETag"], o["LastModified"]) for o in
                 s3.list_objects_v2(Bucket=p.input_bucket)["Contents"]}
        assert after == before  # the multipart ETag (md5-2) and every time, as they were
        variant = s3.head_object(Bucket=p.output_bucket, Key="variants/me/big/t/160.jpg")
        assert variant["ContentType"] == "image/jpeg"
        assert variant["CacheControl"] == "public, max-age=31536000, immutable"
        assert (variant["ContentLanguage"], variant["Metadata"]) == ("de", {"who": "me"})
        tags = s3.get_object_tagging(Bucket=p.output_bucket, Key="variants/me/big/t/160.jpg")["TagSet"]
        assert {t["Key"]: t["Value"] for t in tags} == {"team": "images", "tier": "thumb"}
        assert s3.get_object(Bucket=p.input_bucket, Key="../../escaped.txt")["Body"].read() == b"stays inside"


def test_an_interrupted_save_leaves_the_last_snapshot_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    state = tmp_path / "state"
    with Emulator(SETTINGS) as emulator:
        p, s3 = emulator.pipeline, emulator.s3
        s3.put_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg", Body=b"first")
        snapshot.save(state, s3, emulator.dynamodb, p)
        s3.put_object(Bucket=p.input_bucket, Key="uploads/me/b.jpg", Body=b"second")

        def interrupted(**_: object) -> None:
            raise KeyboardInterrupt  # the third Ctrl-C, mid-save

        monkeypatch.setattr(s3, "get_object", interrupted)
        with pytest.raises(KeyboardInterrupt):
            snapshot.save(state, s3, emulator.dynamodb, p)
    with Emulator(SETTINGS) as emulator:
        loaded = snapshot.load(state, emulator.s3, emulator.dynamodb, emulator.pipeline)
        assert [e["key"] for e in loaded["manifest"]] == ["uploads/me/a.jpg"]


def test_each_images_newest_restored_upload_is_announced_again_unless_its_status_records_it(tmp_path: Path):
    pipeline = type("P", (), {"input_bucket": "in", "table": "t"})()

    def entry(key: str, at: str) -> dict:
        return {"bucket": "in", "key": f"uploads/me/{key}", "etag": f"etag-{key}", "lastModified": at}

    manifest = [
        entry("done.jpg", "2026-11-28T10:00:00.100Z"),
        entry("pic.jpg", "2026-11-28T10:00:00.100Z"), entry("pic.png", "2026-11-28T10:00:05.000Z"),
        entry("late.jpg", "2026-11-28T10:00:09.000Z"),
        entry("busy.jpg", "2026-11-28T10:00:00.000Z"),
        entry("edited.jpg", "2026-11-28T10:00:00.000Z"),
        # Two extensions within one second: the status records the newer one, to the millisecond.
        entry("tie.jpg", "2026-11-28T10:00:00.200Z"), entry("tie.png", "2026-11-28T10:00:00.600Z"),
        # The recorded upload's object was deleted: the older one left is not news.
        entry("gone.jpg", "2026-11-28T10:00:00.000Z"),
        entry("a/b.jpg", "2026-11-28T10:00:00.000Z"),  # a refused key
        entry("flagged.jpg", "2026-11-28T10:00:00.000Z"),  # rejected by moderation: finished too
    ]

    def recorded(image: str, key: str, at: str, status: str = "completed") -> dict:
        return status_item(image, f"uploads/me/{key}", f"etag-{key}", status) | {"uploadOrder": {"S": f"{at}|00"}}

    items = [recorded("done", "done.jpg", "2026-11-28T10:00:00.150Z"),
             recorded("pic", "pic.jpg", "2026-11-28T10:00:00.150Z"),
             recorded("busy", "busy.jpg", "2026-11-28T10:00:00.050Z", status="processing"),
             recorded("edited", "edited.jpg", "2026-11-28T09:00:00.000Z"),  # the key's content changed later
             recorded("tie", "tie.png", "2026-11-28T10:00:00.650Z"),
             recorded("gone", "gone.png", "2026-11-28T10:00:01.000Z"),
             recorded("flagged", "flagged.jpg", "2026-11-28T10:00:00.050Z", status="rejected"),
             {"imageId": {"S": "sha256:ab"}, "userId": {"S": "me/content"}, "kind": {"S": "fingerprint"}}]

    class Table:
        def get_paginator(self, _: str) -> object:
            return type("Pages", (), {"paginate": lambda self, **_: [{"Items": items}]})()

    assert [e["key"] for e in snapshot.unreflected_uploads(manifest, Table(), pipeline)] == [
        "uploads/me/pic.png",     # newer than the pic.jpg its status records
        "uploads/me/late.jpg",    # accepted, never processed
        "uploads/me/busy.jpg",    # its execution is gone with the old emulator
        "uploads/me/edited.jpg",  # other content under the recorded key, after the recorded upload
    ]


def test_the_manifest_is_json_a_person_can_read(tmp_path: Path):
    with Emulator(SETTINGS) as emulator:
        p = emulator.pipeline
        emulator.s3.put_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg", Body=encode(photo(64, 48), "JPEG"))
        snapshot.save(tmp_path, emulator.s3, emulator.dynamodb, p)
    [entry] = json.loads((tmp_path / "snapshot" / "manifest.json").read_text())
    assert {"bucket", "key", "etag", "lastModified"} <= set(entry) and entry["key"] == "uploads/me/a.jpg"


def test_a_damaged_snapshot_is_skipped_for_the_next_whole_one(tmp_path: Path):
    import shutil

    with Emulator(SETTINGS) as emulator:
        p = emulator.pipeline
        emulator.s3.put_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg", Body=b"kept")
        snapshot.save(tmp_path, emulator.s3, emulator.dynamodb, p)
    # A swap cut short and a damaged folder: `snapshot` lost an object file, `snapshot.new` is whole.
    shutil.copytree(tmp_path / "snapshot", tmp_path / "snapshot.new")
    (tmp_path / "snapshot" / "objects" / "0").unlink()
    with Emulator(SETTINGS) as emulator:
        loaded = snapshot.load(tmp_path, emulator.s3, emulator.dynamodb, emulator.pipeline)
        assert loaded["from"] == tmp_path / "snapshot.new"
        assert emulator.s3.get_object(Bucket=emulator.pipeline.input_bucket,
                                      Key="uploads/me/a.jpg")["Body"].read() == b"kept"


class EndsTheRunAt:
    """A client that lets the workflow finish an image's run (variants, then the `completed` status) just
    before the `moment`-th call the save makes, counted across the S3 and DynamoDB clients."""

    def __init__(self, client: object, calls: list[str], moment: int, finish: object) -> None:
        self._client, self._calls, self._moment, self._finish = client, calls, moment, finish

    def __getattr__(self, name: str) -> object:
        method = getattr(self._client, name)

        def called(*args: object, **kwargs: object) -> object:
            if len(self._calls) == self._moment:
                self._finish()
            self._calls.append(name)
            return method(*args, **kwargs)
        return called


@pytest.mark.parametrize("moment", range(8))
def test_a_run_that_ends_during_a_save_is_saved_whole_or_announced_again(tmp_path: Path, moment: int):
    state, key = tmp_path / "state", "uploads/me/a.jpg"
    variants = [f"variants/me/a/token/{size}.jpg" for size in (160, 640, 1280)]
    with Emulator(SETTINGS) as emulator:
        p, s3, db = emulator.pipeline, emulator.s3, emulator.dynamodb
        etag = s3.put_object(Bucket=p.input_bucket, Key=key, Body=encode(photo(64, 48), "JPEG"))["ETag"].strip('"')
        db.put_item(TableName=p.table, Item=status_item("a", key, etag, "processing"))

        def finish() -> None:  # the workflow's order: the variants are written before the status says so
            for variant in variants:
                s3.put_object(Bucket=p.output_bucket, Key=variant, Body=b"jpeg")
            db.put_item(TableName=p.table, Item=status_item("a", key, etag) | {
                "variants": {"S": json.dumps([{"key": v} for v in variants])}})

        calls: list[str] = []
        snapshot.save(state, EndsTheRunAt(s3, calls, moment, finish), EndsTheRunAt(db, calls, moment, finish), p)
    with Emulator(SETTINGS) as emulator:
        p, s3, db = emulator.pipeline, emulator.s3, emulator.dynamodb
        restored = snapshot.load(state, s3, db, p)
        item = db.get_item(TableName=p.table, Key={"imageId": {"S": "a"}, "userId": {"S": "me"}})["Item"]
        announced = [e["key"] for e in snapshot.unreflected_uploads(restored["manifest"], db, p)]
        if item["status"]["S"] == "completed":
            saved = {e["key"] for e in restored["manifest"]}
            assert set(variants) <= saved, f"completed, but the save has {sorted(saved)}"
            assert announced == []
        else:
            assert announced == [key]  # in flight when saved: the next start runs it again


def test_a_save_reads_only_what_changed_since_the_last_and_keeps_new_tags(tmp_path: Path):
    with Emulator(SETTINGS) as emulator:
        p, s3 = emulator.pipeline, emulator.s3
        s3.put_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg", Body=b"first")
        snapshot.save(tmp_path, s3, emulator.dynamodb, p)
        s3.put_object(Bucket=p.input_bucket, Key="uploads/me/b.jpg", Body=b"second")
        s3.put_object_tagging(Bucket=p.input_bucket, Key="uploads/me/a.jpg",
                              Tagging={"TagSet": [{"Key": "kept", "Value": "yes"}]})
        calls: list[str] = []
        reads = EndsTheRunAt(s3, calls, moment=-1, finish=lambda: None)
        assert snapshot.save(tmp_path, reads, emulator.dynamodb, p)["objects"] == 2
        assert calls == ["get_paginator", "get_object", "get_paginator"]  # the listings, and b.jpg's bytes
        assert (tmp_path / "snapshot" / "objects" / "0").stat().st_nlink == 1  # the last save's folder is gone
    with Emulator(SETTINGS) as emulator:
        p, s3 = emulator.pipeline, emulator.s3
        snapshot.load(tmp_path, s3, emulator.dynamodb, p)
        assert s3.get_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg")["Body"].read() == b"first"
        assert s3.get_object_tagging(Bucket=p.input_bucket, Key="uploads/me/a.jpg")["TagSet"] == [
            {"Key": "kept", "Value": "yes"}]


def test_a_snapshot_with_an_object_cut_short_is_skipped_for_the_older_whole_one(tmp_path: Path):
    import shutil

    with Emulator(SETTINGS) as emulator:
        p = emulator.pipeline
        emulator.s3.put_object(Bucket=p.input_bucket, Key="uploads/me/a.jpg", Body=b"kept whole")
        snapshot.save(tmp_path, emulator.s3, emulator.dynamodb, p)
        shutil.copytree(tmp_path / "snapshot", tmp_path / "older")
        emulator.s3.put_object(Bucket=p.input_bucket, Key="uploads/me/b.jpg", Body=b"written last")
        snapshot.save(tmp_path, emulator.s3, emulator.dynamodb, p)
    # A swap cut short kept the older save beside the newer, whose b.jpg lost its bytes (a power cut).
    (tmp_path / "older").rename(tmp_path / "snapshot.old")
    (tmp_path / "snapshot" / "objects" / "1").write_bytes(b"")
    with Emulator(SETTINGS) as emulator:
        loaded = snapshot.load(tmp_path, emulator.s3, emulator.dynamodb, emulator.pipeline)
        assert loaded["from"] == tmp_path / "snapshot.old"
        assert [e["key"] for e in loaded["manifest"]] == ["uploads/me/a.jpg"]
