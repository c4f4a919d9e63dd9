"""End to end, on both workflow types: with moderation on, only a moderated, completed image is readable.

The rule: nothing of an image is under `variants/` unless the image is `completed` and was moderated
(or recorded why not); on every other end its variants are in `quarantine/` or gone. Each test lists
the output bucket, as a reader of the bucket (the CDN) would see it.
"""

from __future__ import annotations

import json
import time

import boto3
import pytest

from components import parse_settings, read_stack_settings
from local.runner import LocalRunner, Upload
from tests.conftest import ROOT
from tests.corpus import encode, photo
from tests.e2e.workflow_types import WORKFLOW_TYPES
from tools.status import plain_item

PHOTO = encode(photo(1600, 1200, seed=1), "JPEG", quality=85)
NEWER = encode(photo(900, 1200, seed=7), "JPEG", quality=85)
ICON = encode(photo(48, 48, seed=3), "PNG")


@pytest.fixture(params=WORKFLOW_TYPES)
def moderating(request):
    raw = read_stack_settings("dev", ROOT)
    raw["moderation"] = {"enabled": True, "min_confidence": 80, "labels": ["Violence"]}
    raw["workflow"] = raw.get("workflow", {}) | {"type": request.param} | (
        {"execution_timeout_seconds": 300} if request.param == "EXPRESS" else {})
    runner = LocalRunner(parse_settings(raw), iam_enforce=True)
    with runner.running():
        yield runner


def item(runner, image_id: str) -> dict:
    raw = boto3.client("dynamodb").get_item(TableName=runner.pipeline.table, ConsistentRead=True,
                                            Key={"imageId": {"S": image_id}, "userId": {"S": "u"}})["Item"]
    return plain_item(raw)


def listed(runner, prefix: str) -> list[str]:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=runner.pipeline.output_bucket,
                                                                         Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def readable(runner, image_id: str) -> list[str]:
    """What the CDN could serve of the image: everything under its `variants/` prefix."""
    return listed(runner, f"variants/u/{image_id}/")


def test_rekognition_throttling_past_every_retry_and_re_run_leaves_nothing_readable(moderating):
    moderating.emulator.moderation.throttle_next = 10_000  # unavailable for the whole run
    moderating.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    assert item(moderating, "a")["status"] == "failed"
    assert len(moderating.emulator.moderation.calls) == 7 * (1 + moderating.settings.workflow.repair_attempts)
    assert readable(moderating, "a") == []
    assert moderating.enforcer.denied == []


def test_a_moderation_step_that_fails_after_process_leaves_nothing_readable(moderating):
    moderating.emulator.moderation.fail_images["a"] = "ImageTooLargeException"
    moderating.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO), Upload("b.jpg", "uploads/u/b.jpg", NEWER)])
    failed = item(moderating, "a")
    assert (failed["status"], failed["error"]) == ("failed", "Rekognition.ImageTooLargeException")
    assert readable(moderating, "a") == []
    assert item(moderating, "b")["status"] == "completed"  # the other image is unaffected
    assert readable(moderating, "b") == sorted(v["key"] for v in json.loads(item(moderating, "b")["variants"]))


def test_a_run_superseded_after_its_verdict_leaves_only_the_newer_upload_readable(moderating):
    """A newer upload takes the image while the first run is being moderated: the first run's variants,
    moderated but no longer the image's, must not stay readable beside the newer ones."""
    runner, stand_in = moderating, moderating.emulator.moderation
    first: dict[str, str] = {}

    def newer_upload_arrives(key: str) -> None:
        if first:
            return
        first["uploadId"] = item(runner, "a")["uploadId"]
        runner.upload(Upload("a.jpg", "uploads/u/a.jpg", NEWER))
        runner.step()  # its event is delivered and its execution starts while this one waits for Rekognition
        deadline = time.monotonic() + 30
        while item(runner, "a")["uploadId"] == first["uploadId"]:
            assert time.monotonic() < deadline, "the newer upload's execution never took the image"
            time.sleep(0.01)

    stand_in.on_detect = newer_upload_arrives
    runner.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    newest = item(runner, "a")
    assert newest["status"] == "completed" and newest["uploadId"] != first["uploadId"]
    assert readable(runner, "a") == sorted(v["key"] for v in json.loads(newest["variants"]))
    assert all(f"/{newest['uploadId'][:16]}/" in key for key in readable(runner, "a"))
    assert runner.enforcer.denied == []


def test_a_rejected_image_has_its_variants_in_quarantine_and_none_readable(moderating):
    moderating.run([Upload("bad.jpg", "uploads/u/bad.jpg", PHOTO, {"moderation-labels": "Violence"})])
    rejected = item(moderating, "bad")
    assert rejected["status"] == "rejected"
    assert readable(moderating, "bad") == []
    assert listed(moderating, "quarantine/") == sorted(v["key"] for v in json.loads(rejected["variants"]))
    assert listed(moderating, "quarantine/") and all(k.startswith("quarantine/variants/u/bad/")
                                                    for k in listed(moderating, "quarantine/"))
    assert moderating.enforcer.denied == []


def test_an_accepted_image_and_one_too_small_to_moderate_are_readable_once_completed(moderating):
    moderating.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO), Upload("icon.png", "uploads/u/icon.png", ICON)])
    for image_id in ("a", "icon"):
        completed = item(moderating, image_id)
        assert completed["status"] == "completed"
        assert readable(moderating, image_id) == sorted(v["key"] for v in json.loads(completed["variants"]))
    assert item(moderating, "a")["moderationSkipped"] is None
    assert item(moderating, "icon")["moderationSkipped"].startswith("not moderated: no variant is 80 px")
    assert [key.startswith("variants/") for _, key in moderating.emulator.moderation.calls] == [False]
    assert listed(moderating, "quarantine/") == []
    assert moderating.enforcer.denied == []


COMPLETED_WRITE = "#completedAt"  # RecordCompleted's write (`local.faults.dynamodb_write_faults` identity)


def ended_after_publishing(runner, monkeypatch, runs: int) -> None:
    """The next `runs` executions end right after Publish without recording anything, as an execution that
    reaches its timeout (or is stopped) there does: the `completed` write fails past its retries and none
    of the workflow's own withdrawals runs, so only the DLQ processor or the reconciler settles the image."""
    from handlers import quarantine

    real, skipped = quarantine.settle, {"withdrawals": 0}

    def settle_without_withdrawing(event, *args, **kwargs):
        if event["action"].startswith("withdraw") and skipped["withdrawals"] < runs:
            skipped["withdrawals"] += 1
            return {"variants": event.get("variants", [])}
        return real(event, *args, **kwargs)

    monkeypatch.setattr(quarantine, "settle", settle_without_withdrawing)
    runner.faults.target("dynamodb", COMPLETED_WRITE, times=7 * runs)  # its 6 attempts and one more, per run


def test_a_run_that_ends_between_publish_and_completed_past_every_re_run_leaves_nothing_readable(
        moderating, monkeypatch):
    runs = 1 + moderating.settings.workflow.repair_attempts
    ended_after_publishing(moderating, monkeypatch, runs)
    moderating.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    failed = item(moderating, "a")
    assert (failed["status"], failed["error"]) == ("failed", "ExecutionFailed")
    assert f"after {runs - 1} re-run(s)" in failed["reason"]
    assert readable(moderating, "a") == []
    assert moderating.enforcer.denied == []


def test_a_run_that_ends_after_publishing_then_a_re_run_that_fails_before_publish_leaves_nothing_readable(
        moderating, monkeypatch):
    ended_after_publishing(moderating, monkeypatch, runs=1)
    stand_in = moderating.emulator.moderation

    def refuse_the_re_run(key: str) -> None:
        if len(stand_in.calls) == 2:  # the re-run's request: Rekognition refuses it, a step error
            stand_in.fail_images["a"] = "ImageTooLargeException"

    stand_in.on_detect = refuse_the_re_run
    moderating.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    failed = item(moderating, "a")
    assert (failed["status"], failed["error"]) == ("failed", "Rekognition.ImageTooLargeException")
    assert len(stand_in.calls) == 2
    assert readable(moderating, "a") == []
    assert moderating.enforcer.denied == []


def test_the_run_counts_each_staged_variant_write_once_and_no_rewrite(moderating):
    """The run's summary counts variant writes (a rewrite of one key would mean wasted work): with moderation
    they are written under `staging/` and published by a copy, which is no write of the variant."""
    moderating.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    variants = json.loads(item(moderating, "a")["variants"])
    assert dict(moderating.variant_writes) == {v["key"]: 1 for v in variants}
