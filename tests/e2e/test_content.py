"""End to end: what the pipeline learns of each image's content, duplicates, and moderation with quarantine."""

from __future__ import annotations

import base64
import dataclasses
import json

import boto3
import pytest
from PIL import Image

from components import Settings, parse_settings, read_stack_settings
from handlers.image import fingerprints
from local.runner import LocalRunner, Upload
from tests.conftest import ROOT
from tests.corpus import encode, photo
from tools.status import plain_item

DEV = read_stack_settings("dev", ROOT)
PHOTO = encode(photo(1600, 1200, seed=1), "JPEG", quality=85)
OTHER = encode(photo(900, 1200, seed=7), "JPEG", quality=85)


def settings(**sections) -> Settings:
    raw = json.loads(json.dumps(DEV))
    for section, values in sections.items():
        raw[section] = raw.get(section, {}) | values
    return parse_settings(raw)


def status(runner, image_id: str, user_id: str = "u") -> dict:
    raw = boto3.client("dynamodb").get_item(TableName=runner.pipeline.table,
                                            Key={"imageId": {"S": image_id}, "userId": {"S": user_id}})["Item"]
    return plain_item(raw)


def reencoded(data: bytes, scale: float, fmt: str = "JPEG", quality: int = 60) -> bytes:
    image = Image.open(__import__("io").BytesIO(data))
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    return encode(image, fmt, quality=quality)


@pytest.fixture
def flagging():
    runner = LocalRunner(settings(workflow={"duplicates": "flag"}), iam_enforce=True)
    with runner.running():
        yield runner


def test_a_completed_image_records_its_placeholder_colour_and_hashes(flagging):
    flagging.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    item = status(flagging, "a")
    assert item["status"] == "completed"
    assert item["sha256"] == fingerprints.sha256_hex(PHOTO)
    assert len(item["phash"]) == 16 and int(item["phash"], 16) >= 0
    width, height, _ = fingerprints.thumbhash_to_rgba(base64.b64decode(item["thumbhash"]))
    assert abs(width / height - 1600 / 1200) < 0.2  # the placeholder keeps the aspect ratio
    assert item["averageColor"].startswith("#") and len(item["averageColor"]) == 7
    assert item["duplicateOf"] is None and item["nearDuplicateOf"] is None
    assert flagging.enforcer.denied == []


def test_exact_and_near_duplicates_are_flagged_and_unrelated_images_are_not(flagging):
    flagging.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    flagging.run([Upload("copy.jpg", "uploads/u/copy.jpg", PHOTO),
                  Upload("smaller.webp", "uploads/u/smaller.webp", reencoded(PHOTO, 0.5, "WEBP", 70)),
                  Upload("other.jpg", "uploads/u/other.jpg", OTHER),
                  Upload("elsewhere.jpg", "uploads/v/elsewhere.jpg", PHOTO)])
    assert status(flagging, "copy")["duplicateOf"] == "a"
    smaller = status(flagging, "smaller")
    assert (smaller["duplicateOf"], smaller["nearDuplicateOf"]) == (None, "a")
    assert int(smaller["nearDuplicateDistance"]) <= 4
    other = status(flagging, "other")
    assert (other["duplicateOf"], other["nearDuplicateOf"]) == (None, None)
    elsewhere = status(flagging, "elsewhere", "v")  # another user's images are never compared
    assert (elsewhere["duplicateOf"], elsewhere["nearDuplicateOf"]) == (None, None)
    assert flagging.enforcer.denied == []


def test_simultaneous_uploads_of_the_same_bytes_end_with_one_original(flagging):
    names = [f"same-{i}" for i in range(6)]
    flagging.run([Upload(f"{name}.jpg", f"uploads/u/{name}.jpg", PHOTO) for name in names])
    items = [status(flagging, name) for name in names]
    assert {item["status"] for item in items} == {"completed"}
    originals = [item["imageId"] for item in items if item["duplicateOf"] is None]
    assert len(originals) == 1
    assert {item["duplicateOf"] for item in items if item["duplicateOf"]} == set(originals)


def test_an_original_re_uploaded_with_other_content_hands_its_claim_to_the_next_copy(flagging):
    flagging.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    flagging.run([Upload("a.jpg", "uploads/u/a.jpg", OTHER)])  # `a` no longer holds PHOTO
    flagging.run([Upload("b.jpg", "uploads/u/b.jpg", PHOTO)])
    flagging.run([Upload("c.jpg", "uploads/u/c.jpg", PHOTO)])
    assert status(flagging, "b")["duplicateOf"] is None
    assert status(flagging, "c")["duplicateOf"] == "b"
    assert status(flagging, "a")["nearDuplicateOf"] is None


def test_the_original_uploaded_anew_with_the_same_bytes_stays_the_original(flagging):
    flagging.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    flagging.run([Upload("b.jpg", "uploads/u/b.jpg", PHOTO)])
    flagging.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    assert (status(flagging, "a")["duplicateOf"], status(flagging, "b")["duplicateOf"]) == (None, "a")


def test_a_copy_never_names_an_original_that_ends_rejected(moderating):
    """Uploaded together: the copy waits for the still-processing original's outcome before naming it."""
    moderating.run([Upload("f.jpg", "uploads/u/f.jpg", PHOTO, {"moderation-labels": "Violence"}),
                    Upload("g.jpg", "uploads/u/g.jpg", PHOTO)])
    assert status(moderating, "f")["status"] == "rejected"
    assert (status(moderating, "g")["status"], status(moderating, "g")["duplicateOf"]) == ("completed", None)


def test_reuse_copies_an_exact_duplicates_variants_instead_of_resizing():
    runner = LocalRunner(settings(workflow={"duplicates": "reuse"}), iam_enforce=True)
    with runner.running():
        runner.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
        runner.run([Upload("b.jpg", "uploads/u/b.jpg", PHOTO)])
        original, copy = status(runner, "a"), status(runner, "b")
        assert copy["duplicateOf"] == "a"
        variants = json.loads(copy["variants"])
        assert variants and all(v["reusedFrom"] == "a" for v in variants)
        assert all("/b/" in v["key"] for v in variants)
        s3 = boto3.client("s3")
        for mine, theirs in zip(variants, json.loads(original["variants"]), strict=True):
            ours = s3.get_object(Bucket=runner.pipeline.output_bucket, Key=mine["key"])
            assert ours["Body"].read() == s3.get_object(Bucket=runner.pipeline.output_bucket,
                                                         Key=theirs["key"])["Body"].read()
            assert ours["ContentType"] == "image/jpeg"
        assert (copy["thumbhash"], copy["phash"]) == (original["thumbhash"], original["phash"])
        assert runner.enforcer.denied == []


def test_duplicates_off_records_hashes_but_looks_for_nothing():
    runner = LocalRunner(settings(workflow={"duplicates": "off"}))
    with runner.running():
        runner.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO), Upload("b.jpg", "uploads/u/b.jpg", PHOTO)])
        assert status(runner, "b")["duplicateOf"] is None and status(runner, "b")["sha256"]
        items = boto3.client("dynamodb").scan(TableName=runner.pipeline.table)["Items"]
        assert len(items) == 2  # no claim or band items


MODERATED = {"enabled": True, "min_confidence": 80, "labels": ["Violence", "Explicit"]}


@pytest.fixture
def moderating():
    runner = LocalRunner(settings(moderation=MODERATED), iam_enforce=True)
    with runner.running():
        yield runner


def test_a_flagged_image_ends_rejected_its_variants_quarantined_and_an_alert_sent(moderating):
    moderating.run([Upload("bad.jpg", "uploads/u/bad.jpg", PHOTO, {"moderation-labels": "Violence/Weapon Violence"}),
                    Upload("fine.jpg", "uploads/u/fine.jpg", OTHER),
                    Upload("beach.jpg", "uploads/u/beach.jpg", OTHER, {"moderation-labels": "Swimwear or Underwear"})])
    bad = status(moderating, "bad")
    assert bad["status"] == "rejected"
    assert "Violence" in bad["reason"] and bad["rejectedAt"]
    assert {label["Name"] for label in json.loads(bad["moderationLabels"])} == {"Violence", "Weapon Violence"}
    s3 = boto3.client("s3")
    for variant in json.loads(bad["variants"]):
        assert variant["key"].startswith("quarantine/variants/u/bad/")
        s3.head_object(Bucket=moderating.pipeline.output_bucket, Key=variant["key"])
        original = variant["key"].removeprefix("quarantine/")
        with pytest.raises(s3.exceptions.ClientError):
            s3.head_object(Bucket=moderating.pipeline.output_bucket, Key=original)
    assert status(moderating, "fine")["status"] == "completed"
    assert status(moderating, "beach")["status"] == "completed"  # a label the stack does not reject
    [alert] = [a for a in moderating.read_alerts() if "bad" in json.dumps(a)]
    assert alert["labels"] == ["Violence", "Weapon Violence"] and alert["userId"] == "u"
    calls = moderating.emulator.moderation.calls  # the smallest JPEG variant of each image, staged, nothing else
    assert sorted(key.split("/")[3] for _, key in calls) == ["bad", "beach", "fine"]
    assert all(key.startswith("staging/variants/") and key.endswith("/160.jpg")
               and bucket == moderating.pipeline.output_bucket for bucket, key in calls)
    assert moderating.enforcer.denied == []


def test_a_re_upload_of_a_rejected_image_that_passes_completes(moderating):
    moderating.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO, {"moderation-labels": "Explicit"})])
    assert status(moderating, "a")["status"] == "rejected"
    moderating.run([Upload("a.jpg", "uploads/u/a.jpg", OTHER)])
    item = status(moderating, "a")
    assert (item["status"], item.get("moderationLabels"), item.get("rejectedAt")) == ("completed", None, None)


def test_moderation_needs_a_jpeg_variant_and_says_so():
    with pytest.raises(Exception, match=r"moderation\.enabled: Rekognition reads JPEG and PNG only"):
        settings(moderation=MODERATED, workflow={"variant_formats": ["webp"]})
    assert dataclasses.asdict(Settings().moderation) == {"enabled": False, "min_confidence": 80, "labels": []}


def test_an_image_too_small_for_rekognition_completes_unmoderated_and_says_why(moderating):
    icon = encode(photo(48, 48, seed=3), "PNG")
    banner = encode(photo(2000, 40, seed=4), "PNG")
    moderating.run([Upload("icon.png", "uploads/u/icon.png", icon, {"moderation-labels": "Violence"}),
                    Upload("banner.png", "uploads/u/banner.png", banner)])
    for name in ("icon", "banner"):
        item = status(moderating, name)
        assert item["status"] == "completed", item.get("reason")
        assert item["moderationSkipped"].startswith("not moderated: no variant is 80 px on each side")
    assert moderating.emulator.moderation.calls == []
    moderating.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    assert status(moderating, "a")["moderationSkipped"] is None


def test_rekognition_throttling_past_the_retries_re_runs_the_upload_and_it_completes(moderating):
    moderating.emulator.moderation.throttle_next = 7  # the first attempt and its 6 retries
    moderating.run([Upload("a.jpg", "uploads/u/a.jpg", PHOTO)])
    item = status(moderating, "a")
    assert item["status"] == "completed", item.get("reason")
    assert len(moderating.emulator.moderation.calls) == 8
    assert moderating.execution_events.sent == 1  # the unrecorded failure reached the DLQ processor


def test_flat_images_are_never_near_duplicates_of_each_other(flagging):
    flat = {"black": Image.new("RGB", (800, 600), "black"), "white": Image.new("RGB", (800, 600), "white"),
            "gradient": Image.linear_gradient("L").resize((800, 600)).convert("RGB"),
            "clear": Image.new("RGBA", (800, 600), (0, 0, 0, 0))}
    flagging.run([Upload(f"{name}.png", f"uploads/u/{name}.png", encode(image, "PNG")) for name, image in flat.items()])
    for name in flat:
        item = status(flagging, name)
        assert (item["status"], item["nearDuplicateOf"]) == ("completed", None), name
