"""End to end on the local runner: faults, bad inputs and IAM enforcement, and nothing is lost."""

from __future__ import annotations

import os
import sys
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from components import parse_settings, read_stack_settings
from local import parallel
from local.faults import Faults, FaultSpecError
from local.report import image_of
from local.runner import LocalRunner, Upload
from local.samples import encode, photo, png_header, text_named_jpg, truncated_jpeg
from tests.conftest import ROOT
from tests.e2e.workflow_types import WORKFLOW_TYPES, stack_settings

FAULTS = "throttle=0.35,dynamodb=0.05,crash=0.1,duplicate=0.1,lost_event=0.3,stuck_write=0.05"
SETTINGS = parse_settings(read_stack_settings("dev", ROOT))
SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"


def uploads(count: int = 200) -> list[Upload]:
    """Mostly good small photos, with corrupt files, non-images and bad keys mixed in; every 7th
    upload re-uploads an earlier image (other content, same key or another extension), and every
    9th overwrites the previous upload's key at once, while its run is under way."""
    good = encode(photo(320, 240), "JPEG", quality=80)
    other = encode(photo(200, 300), "PNG")
    batch: list[Upload] = []
    for i in range(count):
        kind = i % 20
        if i % 9 == 8 and batch and ".." not in batch[-1].key:
            previous = batch[-1]
            batch.append(Upload(f"overwrite-{i}", previous.key, other if previous.data != other else good))
        elif i % 7 == 6 and batch:
            earlier = batch[i // 2]
            stem = earlier.key.rsplit(".", 1)[0]
            key = f"{stem}.png" if i % 2 else earlier.key
            batch.append(Upload(f"reupload-{i}", key, other if earlier.data != other else good))
        elif kind == 5:
            batch.append(Upload(f"broken-{i}.jpg", f"uploads/user-{i % 3}/broken-{i}.jpg", truncated_jpeg()))
        elif kind == 11:
            batch.append(Upload(f"text-{i}.jpg", f"uploads/user-{i % 3}/text-{i}.jpg", text_named_jpg()))
        elif kind == 13:
            batch.append(Upload(f"bomb-{i}.png", f"uploads/user-{i % 3}/bomb-{i}.png", png_header(40_000, 40_000)))
        elif kind == 17:
            batch.append(Upload(f"escape-{i}.jpg", f"uploads/user-{i % 3}/../escape-{i}.jpg", good))
        else:
            batch.append(Upload(f"photo-{i}.jpg", f"uploads/user-{i % 3}/photo-{i}.jpg", good))
    return batch


def newest_outcomes(report) -> dict[str, tuple[Upload, object]]:
    """Per image, its newest upload (the last in the list) and the outcome the report gives for it."""
    newest = {}
    for upload, outcome in zip(report.uploads, report.outcomes, strict=True):
        newest[image_of(upload)] = (upload, outcome)
    return newest


@pytest.fixture(scope="module", params=WORKFLOW_TYPES)
def faulty_run(request):
    batch = uploads()
    report = parallel.run(stack_settings("dev", request.param), batch, workers=2, faults=FAULTS, seed=11,
                          iam_enforce=True)
    report.uploads, report.workflow_type = batch, request.param
    return report


def test_every_image_ends_in_exactly_one_terminal_state_reflecting_its_newest_upload(faulty_run):
    assert len(faulty_run.outcomes) == 200
    assert faulty_run.counts.get("missing", 0) == 0
    assert set(faulty_run.counts) <= {"completed", "failed"}
    assert all(o.reason for o in faulty_run.outcomes if o.status == "failed")
    assert faulty_run.regressions == []


def test_no_upload_was_started_twice_under_one_name(faulty_run):
    if faulty_run.workflow_type == "STANDARD":
        assert faulty_run.duplicate_executions == 0
    else:  # EXPRESS runs a redelivered message again; the conditional writes keep one outcome (test above)
        assert faulty_run.duplicate_executions > 0


def test_every_kind_of_fault_was_injected(faulty_run):
    # lost_event: an execution-status event (STANDARD) or the workflow's own report (EXPRESS)
    assert set(faulty_run.faults_injected) == {"throttle", "dynamodb", "crash", "duplicate", "lost_event",
                                                "stuck_write"}
    assert faulty_run.delivery["invocationErrors"] > 0  # crashed orchestrator batches


def test_images_that_could_not_be_started_went_through_the_dlq_with_an_alert_each(faulty_run):
    never_started = [o for o in faulty_run.outcomes if o.error == "DeadLettered"]
    assert never_started, "the throttling rate should push some messages to the DLQ"
    alerted = {image for a in faulty_run.alerts if a.get("error") == "DeadLettered" for image in a["images"]}
    assert {f"{o.s3Key.split('/')[1]}/{o.imageId}" for o in never_started} <= alerted


def test_bad_inputs_fail_with_their_reason_and_good_ones_complete(faulty_run):
    for image, (upload, outcome) in newest_outcomes(faulty_run).items():
        if outcome.error == "DeadLettered":
            continue
        if upload.file.startswith("broken-"):
            assert outcome.reason == "the JPEG image data is truncated", outcome
        if upload.file.startswith("text-"):
            assert outcome.reason.startswith("the file is not a JPEG, PNG, GIF, WebP or HEIC image"), outcome
        if upload.file.startswith("bomb-"):
            assert "decompression-bomb guard" in outcome.reason, outcome
        if upload.file.startswith("escape-"):
            assert outcome.status == "failed" and outcome.reason.startswith("refused at upload (bad key)"), outcome
        if upload.file.startswith(("photo-", "reupload-", "overwrite-")):
            assert outcome.status == "completed", (image, outcome)
            assert len(outcome.variants) == 3


def test_the_full_faulty_run_passes_iam_enforcement_with_no_denials(faulty_run):
    assert faulty_run.iam_checked > 2000
    assert faulty_run.iam_denied == []


def test_a_call_outside_a_roles_policy_is_denied():
    runner = LocalRunner(SETTINGS, iam_enforce=True)
    with runner.running():
        import boto3

        with runner.enforcer.acting_as("orchestrator"), pytest.raises(ClientError, match="AccessDenied"):
            boto3.client("dynamodb").update_item(
                TableName=runner.pipeline.table, Key={"imageId": {"S": "a"}, "userId": {"S": "u"}},
                UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": "completed"}})
        [denied] = runner.enforcer.denied
        assert (denied.principal, denied.action) == ("orchestrator", "dynamodb:UpdateItem")
        assert denied.resource.endswith(f":table/{runner.pipeline.table}")


def test_the_same_seed_gives_the_same_run():
    first = parallel.run(SETTINGS, uploads(40), faults=FAULTS, seed=5)  # one worker: one schedule
    second = parallel.run(SETTINGS, uploads(40), faults=FAULTS, seed=5)
    assert first.faults_injected == second.faults_injected
    assert [(o.file, o.status, o.reason) for o in first.outcomes] == [
        (o.file, o.status, o.reason) for o in second.outcomes]


def test_fault_specs_are_validated():
    with pytest.raises(FaultSpecError, match="unknown fault 'slow'"):
        Faults.parse("slow=0.1")
    with pytest.raises(FaultSpecError, match=r"throttle=1.5 is outside 0 to 1"):
        Faults.parse("throttle=1.5")


@pytest.mark.skipif(not SOAK, reason="make soak: 1,000 uploads with every fault")
def test_a_thousand_uploads_with_every_fault_lose_nothing():
    batch = uploads(1000)
    report = parallel.run(SETTINGS, batch, workers=2, faults=FAULTS, seed=23, iam_enforce=True)
    report.uploads = batch
    newest = newest_outcomes(report)
    figures = {"uploads": len(batch), "images": len(newest), **report.counts,
               "terminal": sum(1 for _, o in newest.values() if o.status in ("completed", "failed")),
               "imagesByOutcome": dict(Counter(f"{o.status} {o.error or ''}".strip() for _, o in newest.values())),
               "missing": report.counts.get("missing", 0), "regressions": len(report.regressions),
               "variantWrites": sum(report.variant_writes.values()),
               "duplicateVariantWrites": report.duplicate_variant_writes,
               "faults": report.faults_injected, "delivery": report.delivery}
    print(f"\nfault figures: {figures}", file=sys.stderr)
    assert figures["missing"] == 0 and figures["regressions"] == 0
    assert figures["terminal"] == len(newest)
