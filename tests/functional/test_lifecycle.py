"""Which upload wins: re-uploads, other extensions, late events and overwrites, on the real definition."""

from __future__ import annotations

import json
import threading

from handlers.lifecycle.uploads import execution_input
from tests import images

KEY = "uploads/user-1/img-1.jpg"


def test_a_re_upload_of_the_same_key_is_processed_and_wins(workflow):
    _, first = workflow.run(images.jpeg(1600, 1200), sequencer="0A")
    execution, second = workflow.run(images.jpeg(800, 600), sequencer="0B")
    assert (execution["status"], second["status"]) == ("SUCCEEDED", "completed")
    assert (second["width"], second["height"]) == ("800", "600")
    assert second["uploadId"] != first["uploadId"]
    assert all(f"/{second['uploadId'][:16]}/" in v["key"] for v in json.loads(second["variants"]))


def test_a_good_upload_after_a_bad_one_completes(workflow):
    _, bad = workflow.run(images.text_named_jpg(), sequencer="0A")
    assert bad["status"] == "failed"
    _, good = workflow.run(images.jpeg(), sequencer="0B")
    assert good["status"] == "completed"
    assert "reason" not in good and "error" not in good and "failedAt" not in good


def test_a_png_after_a_jpg_of_the_same_image_is_a_newer_upload(workflow):
    workflow.run(images.jpeg(1600, 1200), "uploads/user-1/photo.jpg", sequencer="0A",
                 event_time="2026-11-28T05:00:00.000Z")
    _, item = workflow.run(images.png_with_alpha(), "uploads/user-1/photo.png", sequencer="01",
                           event_time="2026-11-28T05:00:01.000Z")
    assert (item["status"], item["format"], item["uploadKey"]) == ("completed", "PNG", "uploads/user-1/photo.png")


def test_a_late_event_for_an_older_upload_changes_nothing(workflow):
    older = workflow.put(images.jpeg(1600, 1200), sequencer="0A")
    newer = workflow.put(images.jpeg(800, 600), sequencer="0B")
    _, done = workflow.process(newer)
    assert done["status"] == "completed"
    late, after = workflow.process(older)
    assert workflow.entered(late["executionArn"]) == ["MarkProcessing", "SkipDuplicate"]
    assert after == done


def test_an_older_key_event_after_a_newer_key_changes_nothing(workflow):
    png = workflow.put(images.png_with_alpha(), "uploads/user-1/photo.png", event_time="2026-11-28T05:00:01.000Z")
    jpg = workflow.put(images.jpeg(), "uploads/user-1/photo.jpg", event_time="2026-11-28T05:00:00.000Z")
    _, done = workflow.process(png)
    _, after = workflow.process(jpg)
    assert after == done and after["uploadKey"] == "uploads/user-1/photo.png"


def test_an_overwrite_while_running_never_mixes_contents(workflow):
    """The object changes after its event: the first execution reads with If-Match and stops."""
    first = workflow.put(images.jpeg(1600, 1200), sequencer="0A")
    second = workflow.put(images.jpeg(800, 600), sequencer="0B")  # overwrites before `first` runs
    stale, item = workflow.process(first)
    assert (stale["status"], stale["error"]) == ("FAILED", "StaleExecution")
    assert item["status"] == "processing"  # until the newer upload's own execution takes it
    assert workflow.variant_objects() == {}
    _, item = workflow.process(second)
    assert (item["status"], item["width"], item["height"]) == ("completed", "800", "600")


def test_an_older_execution_finishing_late_cannot_overwrite_a_newer_upload(workflow):
    """Versioned bucket: each execution reads its own version; the older one finishes last and is refused."""
    s3, bucket = workflow.s3, workflow.pipeline.input_bucket
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = workflow.put(images.jpeg(1600, 1200), sequencer="0A")
    first["versionId"] = s3.list_object_versions(Bucket=bucket)["Versions"][0]["VersionId"]
    blocked, release = threading.Event(), threading.Event()

    def hold_the_older_variants(name, event):
        if name.endswith("variants") and event["upload"]["id"] == execution_input(first)["upload"]["id"]:
            blocked.set()
            release.wait(30)

    workflow.lambdas.before_invoke = hold_the_older_variants
    older = workflow.start(first)
    assert blocked.wait(30)
    _, newer = workflow.run(images.jpeg(800, 600), sequencer="0B")
    assert (newer["status"], newer["width"]) == ("completed", "800")
    release.set()
    finished = workflow.wait(older)
    assert (finished["status"], finished["error"]) == ("FAILED", "StaleExecution")
    # The duplicate index checks ownership before it writes: the late run stops in Process (its Variants or its
    # Metadata branch, whichever ends first), before it could try to record anything.
    entered = workflow.entered(older)
    assert entered[-1] == "Superseded" and "RecordCompleted" not in entered
    assert workflow.item("img-1", "user-1") == newer
    # The older run wrote its variants under its own upload token: the newer item's never changed.
    assert {v["key"] for v in json.loads(newer["variants"])} <= set(workflow.variant_objects())


def test_a_deleted_upload_fails_with_a_reason(workflow):
    body = workflow.put(images.jpeg())
    workflow.s3.delete_object(Bucket=workflow.pipeline.input_bucket, Key=KEY)
    execution, item = workflow.process(body)
    assert (execution["status"], item["status"]) == ("FAILED", "failed")
    assert item["reason"] == f"the upload s3://{workflow.pipeline.input_bucket}/{KEY} no longer exists"


def test_the_status_item_keeps_the_execution_input_for_replay(workflow):
    body = workflow.put(images.text_named_jpg())
    _, item = workflow.process(body)
    assert item["status"] == "failed"
    stored = json.loads(item["originalMessage"])
    assert {k: stored[k] for k in body} == body
