"""The real state machine definition, executed by moto's ASL interpreter, with the real step handlers."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from components.workflow.definition import Moderation, build_definition
from contract.errors import TransientError
from contract.ownership import RESULT_ATTRIBUTES
from tests import corpus, images

MODERATION = Moderation(output_bucket="out", topic_arn="arn:aws:sns:eu-west-1:123456789012:alerts",
                        labels=("Violence", "Drugs & Tobacco"))


@pytest.mark.parametrize("moderation", [None, MODERATION, dataclasses.replace(MODERATION, labels=())])
def test_the_definition_is_structurally_complete(moderation):
    definition = build_definition(table_name="t", function_arns={"validate": "v", "variants": "r", "metadata": "m",
                                                                 "quarantine": "q"}, moderation=moderation)
    states = definition["States"]
    reachable, frontier = set(), [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reachable:
            reachable.add(name)
            frontier += [t for t in targets(states[name]) if t]
    assert reachable == set(states), f"unreachable: {set(states) - reachable}"

    for name, state in states.items():
        for target in filter(None, targets(state)):
            assert target in states, f"{name} -> {target} does not exist"
        if state["Type"] == "Task":
            assert state.get("Catch"), f"{name} has no Catch"
        if state["Type"] == "Parallel":
            for branch in state["Branches"]:
                for task in branch["States"].values():
                    errors = {e for retry in task["Retry"] for e in retry["ErrorEquals"]}
                    assert "Lambda.TooManyRequestsException" in errors and "InvalidImage" not in errors
    assert {s["Type"] for s in states.values()} >= {"Task", "Parallel", "Choice", "Pass", "Succeed", "Fail"}
    assert definition["TimeoutSeconds"] == 900
    assert ("Moderate" in states) == (moderation is not None)


def targets(state):
    yield state.get("Next")
    yield state.get("Default")
    for rule in state.get("Choices", []) + state.get("Catch", []):
        yield rule["Next"]


def test_every_attribute_an_upload_sets_is_cleared_by_a_newer_one():
    """A newer upload's MarkProcessing, and a dead letter failing one, remove what an older outcome recorded."""
    definition = build_definition(table_name="t", function_arns={"validate": "v", "variants": "r", "metadata": "m",
                                                                 "quarantine": "q"}, moderation=MODERATION)
    states = definition["States"]
    outcome = set()
    for name in ("RecordCompleted", "RecordRejected", "RecordFailed"):
        expression = states[name]["Parameters"]["UpdateExpression"]
        outcome |= set(re.findall(r"#(\w+) =", expression.split(" REMOVE ")[0]))
    outcome -= {"status", "updatedAt"}
    cleared = states["MarkProcessing"]["Parameters"]["UpdateExpression"].split(" REMOVE ")[1]
    assert outcome <= set(re.findall(r"#(\w+)", cleared))
    assert outcome - {"reason", "error", "failedAt", "failedBy"} <= set(RESULT_ATTRIBUTES)


def test_a_photo_ends_completed_with_every_variant_and_its_metadata(workflow):
    execution, item = workflow.run(images.jpeg_with_exif(6), metadata={"album": "holiday"})

    assert execution["status"] == "SUCCEEDED"
    assert item["status"] == "completed"
    assert item["executionArn"] == execution["executionArn"]
    assert (item["format"], item["width"], item["height"]) == ("JPEG", "1600", "1200")
    variants = json.loads(item["variants"])
    assert [(v["size"], v["width"], v["height"]) for v in variants] == [(1280, 960, 1280), (640, 480, 640),
                                                                          (160, 120, 160)]
    metadata = json.loads(item["metadata"])
    assert (metadata["cameraMake"], metadata["orientation"], metadata["userMetadata"]) == ("Canon", 6,
                                                                                         {"album": "holiday"})
    assert "gps" not in metadata
    objects = workflow.variant_objects()
    token = item["uploadId"][:16]  # variants live under their upload, so two uploads never mix
    assert sorted(objects) == [f"variants/user-1/img-1/{token}/{size}.jpg" for size in (1280, 160, 640)]
    assert [v["key"] for v in variants] == [f"variants/user-1/img-1/{token}/{size}.jpg" for size in (1280, 640, 160)]
    head = objects[f"variants/user-1/img-1/{token}/640.jpg"]
    assert (head["ContentType"], head["CacheControl"]) == ("image/jpeg", "public, max-age=31536000, immutable")
    assert item["completedAt"] >= item["startedAt"]


@pytest.mark.parametrize(("data", "key", "size"), [
    (images.cmyk_jpeg(), "uploads/u/cmyk.jpg", (800, 600)),
    (images.progressive_jpeg(), "uploads/u/progressive.jpg", (1600, 1200)),
    (images.png_with_alpha(), "uploads/u/alpha.png", (900, 600)),
    (images.png_16bit(), "uploads/u/deep.png", (700, 500)),
    (images.palette_gif(), "uploads/u/palette.gif", (640, 480)),
    (images.animated_gif(), "uploads/u/animated.gif", (400, 300)),
    (images.webp(), "uploads/u/photo.webp", (1000, 800)),
    (images.long_thin_png(), "uploads/u/banner.png", (16_000, 4)),
    (corpus.heics()["phone-12mp.heic"], "uploads/u/IMG_0001.HEIC", (4032, 3024)),
    (corpus.colour_managed_jpegs()["display-p3.jpg"], "uploads/u/p3.jpg", (2000, 1500)),
    (corpus.colour_managed_jpegs()["adobe-rgb.jpg"], "uploads/u/adobe.jpg", (1600, 1200)),
    (corpus.portraits()["off-centre-portrait.jpg"], "uploads/u/portrait.jpg", (3000, 2000)),
])
def test_every_kind_of_image_ends_completed(workflow, data, key, size):
    execution, item = workflow.run(data, key)
    assert (execution["status"], item["status"]) == ("SUCCEEDED", "completed"), item
    assert (int(item["width"]), int(item["height"])) == size
    assert len(json.loads(item["variants"])) == 3


@pytest.mark.parametrize(("data", "error", "reason"), [
    (images.text_named_jpg(), "InvalidImage",
     "the file is not a JPEG, PNG, GIF, WebP or HEIC image (it starts with b'hello, t')"),
    (b"", "InvalidImage", "the file is empty (0 bytes)"),
    (images.truncated_jpeg(), "InvalidImage", "the JPEG image data is truncated"),
    (images.png_header(30_000, 30_000), "InvalidImage",
     "the image is 30000x30000 = 900,000,000 pixels; the limit is 50,000,000 (decompression-bomb guard)"),
])
def test_each_permanent_error_ends_failed_with_its_reason(workflow, data, error, reason):
    execution, item = workflow.run(data)
    assert execution["status"] == "FAILED"
    assert (item["status"], item["error"], item["reason"]) == ("failed", error, reason)
    assert workflow.variant_objects() == {}


def test_permanent_errors_are_not_retried(workflow):
    workflow.run(images.text_named_jpg())
    assert [outcome for name, outcome in workflow.lambdas.invocations if name.endswith("validate")] == [
        "InvalidImage"]


def test_a_transient_error_is_retried_and_then_succeeds(workflow):
    failures = iter([TransientError("S3 SlowDown; retrying")])

    def flaky(name, event):
        if name.endswith("variants"):
            error = next(failures, None)
            if error:
                raise error

    workflow.lambdas.before_invoke = flaky
    execution, item = workflow.run(images.jpeg())
    assert (execution["status"], item["status"]) == ("SUCCEEDED", "completed")
    assert [o for n, o in workflow.lambdas.invocations if n.endswith("variants")] == ["TransientError", "ok"]


def test_a_stale_duplicate_never_overwrites_completed(workflow):
    _, item = workflow.run(images.jpeg())
    assert item["status"] == "completed"
    duplicate, after = workflow.run(images.jpeg())  # same upload, another execution
    assert duplicate["status"] == "SUCCEEDED"
    assert workflow.entered(duplicate["executionArn"]) == ["MarkProcessing", "SkipDuplicate"]
    assert after == item


def test_a_duplicate_of_a_failed_image_does_not_resurrect_it(workflow):
    _, failed = workflow.run(images.text_named_jpg())
    _, after = workflow.run(images.text_named_jpg())
    assert after == failed


def test_each_step_that_rejects_an_upload_counts_it_apart_from_errors(workflow, capsys):
    """Rejections are the user's file, not our error: the steps' error alarms subtract them."""
    workflow.run(images.truncated_jpeg())  # passes validate (its header is fine), rejected by variants
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    rejected = [m for m in emitted if "ImagesRejected" in m]
    # One rejection, by variants (validate passed the header). The `service` dimension is the function's
    # POWERTOOLS_SERVICE_NAME in Lambda; in one test process it is whichever the first import saw.
    assert len(rejected) == 1 and rejected[0]["ImagesRejected"] == [1.0]
