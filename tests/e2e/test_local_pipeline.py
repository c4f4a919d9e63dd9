"""End to end on the local runner: faults, bad inputs and IAM enforcement, and nothing is lost."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from components import Settings, read_stack_settings
from local import parallel
from local.faults import Faults, FaultSpecError
from local.runner import LocalRunner, Upload
from local.samples import encode, photo, png_header, text_named_jpg, truncated_jpeg

FAULTS = "throttle=0.35,dynamodb=0.05,crash=0.1,duplicate=0.1"
SETTINGS = Settings.from_dict(read_stack_settings("dev"))


def uploads(count: int = 200) -> list[Upload]:
    """Mostly good small photos, with corrupt files, non-images and bad keys mixed in."""
    good = encode(photo(320, 240), "JPEG", quality=80)
    batch = []
    for i in range(count):
        kind = i % 20
        if kind == 5:
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


@pytest.fixture(scope="module")
def faulty_run():
    return parallel.run(SETTINGS, uploads(), workers=2, faults=FAULTS, seed=11, iam_enforce=True)


def test_every_image_ends_in_exactly_one_terminal_state(faulty_run):
    assert len(faulty_run.outcomes) == 200
    assert faulty_run.counts.get("missing", 0) == 0
    assert set(faulty_run.counts) <= {"completed", "failed"}
    assert all(o.reason for o in faulty_run.outcomes if o.status == "failed")


def test_no_image_ever_had_two_executions(faulty_run):
    assert faulty_run.duplicate_executions == 0


def test_every_kind_of_fault_was_injected(faulty_run):
    assert set(faulty_run.faults_injected) == {"throttle", "dynamodb", "crash", "duplicate"}
    assert faulty_run.delivery["invocationErrors"] > 0  # crashed orchestrator batches


def test_images_that_could_not_be_started_went_through_the_dlq_with_an_alert_each(faulty_run):
    never_started = [o for o in faulty_run.outcomes if o.error == "DeadLettered"]
    assert never_started, "the throttling rate should push some messages to the DLQ"
    alerted = {image for a in faulty_run.alerts if a.get("error") == "DeadLettered" for image in a["images"]}
    assert {f"{o.s3Key.split('/')[1]}/{o.imageId}" for o in never_started} <= alerted


def test_bad_inputs_fail_with_their_reason_and_good_ones_complete(faulty_run):
    by_file = {o.file: o for o in faulty_run.outcomes}
    for name, outcome in by_file.items():
        if name.startswith("broken-") and outcome.error != "DeadLettered":
            assert outcome.reason == "the JPEG image data is truncated", outcome
        if name.startswith("text-") and outcome.error != "DeadLettered":
            assert outcome.reason.startswith("the file is not a JPEG, PNG, GIF or WebP image"), outcome
        if name.startswith("bomb-") and outcome.error != "DeadLettered":
            assert "decompression-bomb guard" in outcome.reason, outcome
        if name.startswith("escape-"):
            assert outcome.status == "failed" and outcome.reason.startswith("rejected at upload"), outcome
        if name.startswith("photo-"):
            assert outcome.status == "completed" or outcome.error == "DeadLettered", outcome
            if outcome.status == "completed":
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
    first = parallel.run(SETTINGS, uploads(40), faults=FAULTS, seed=5)
    second = parallel.run(SETTINGS, uploads(40), faults=FAULTS, seed=5)
    assert first.faults_injected == second.faults_injected
    assert [(o.file, o.status, o.reason) for o in first.outcomes] == [
        (o.file, o.status, o.reason) for o in second.outcomes]


def test_fault_specs_are_validated():
    with pytest.raises(FaultSpecError, match="unknown fault 'slow'"):
        Faults.parse("slow=0.1")
    with pytest.raises(FaultSpecError, match=r"throttle=1.5 is outside 0 to 1"):
        Faults.parse("throttle=1.5")
