"""An upgrade never changes a finished image's outcome: items the previous release wrote have no upload identity.

The release before the upload identity (`git show abb97cf^:components/workflow/definition.py`) wrote
`status`, `executionArn`, `startedAt`, `updatedAt`, `s3Key`, `bucketName` when an execution started, then
`completedAt`, `format`, `width`, `height`, `variants`, `metadata` (or `failedAt`, `error`, `reason`), and
named executions differently, so no execution of its uploads can be found by today's name.
"""

from __future__ import annotations

import json

import pytest

from contract.environment import current
from contract.functions import RepairSettings
from handlers import dlq_processor, reconciler
from handlers.lifecycle import status
from handlers.lifecycle.uploads import execution_input, upload_identity, upload_message
from tests import images
from tests.functional.conftest import poll, s3_record

UPLOADED = "2026-11-28T05:00:00.000Z"  # the previous release processed this upload
FINISHED = "2026-11-28T05:00:04.870Z"
LATER = "2026-12-03T09:30:00.000Z"  # an upload after the upgrade
OLD_EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:workflow:img-1-8c1f0e5d2a7b4c39a6e1d0f2b3c4d5e6"


def previous_release_item(image_id: str = "img-1", user_id: str = "u", *, status: str = "completed",
                          bucket: str = "input") -> dict[str, dict[str, str]]:
    item = {"imageId": {"S": image_id}, "userId": {"S": user_id}, "status": {"S": status},
            "executionArn": {"S": OLD_EXECUTION}, "startedAt": {"S": "2026-11-28T05:00:02.114Z"},
            "updatedAt": {"S": FINISHED}, "s3Key": {"S": f"uploads/{user_id}/{image_id}.jpg"},
            "bucketName": {"S": bucket}}
    if status == "completed":
        variants = [{"size": 150, "format": "JPEG", "key": f"variants/{user_id}/{image_id}/150.jpg", "width": 150,
                     "height": 113}]
        item |= {"completedAt": {"S": FINISHED}, "format": {"S": "JPEG"}, "width": {"N": "1600"},
                 "height": {"N": "1200"}, "variants": {"S": json.dumps(variants)},
                 "metadata": {"S": json.dumps({"bytes": 1024, "contentType": "image/jpeg", "userMetadata": {}})}}
    else:
        item |= {"failedAt": {"S": FINISHED}, "error": {"S": "InvalidImage"}, "reason": {"S": "not an image"}}
    return item


def upload(event_time: str = UPLOADED, **kwargs) -> dict:
    return upload_message(s3_record("uploads/u/img-1.jpg", **kwargs) | {"eventTime": event_time})


def settle_dead_letter(pipeline, body: str) -> dict:
    pipeline.sqs.send_message(QueueUrl=pipeline.dlq_url, MessageBody=body)
    assert poll(pipeline, pipeline.dlq_url, dlq_processor.lambda_handler) == [{"batchItemFailures": []}]
    [alert] = pipeline.alerts()
    return alert


def test_a_dead_letter_of_the_upload_a_previous_release_completed_leaves_it_completed(pipeline):
    legacy = previous_release_item()
    pipeline.dynamodb.put_item(TableName="status", Item=legacy)

    alert = settle_dead_letter(pipeline, json.dumps(upload()))

    assert pipeline.item("img-1", "u") == legacy
    assert alert["images"]["u/img-1"].startswith("a newer upload, or a finished run of this one, owns the image")


def test_a_dead_letter_never_turns_a_previous_release_failure_into_another_one(pipeline):
    legacy = previous_release_item(status="failed")
    pipeline.dynamodb.put_item(TableName="status", Item=legacy)
    settle_dead_letter(pipeline, json.dumps(upload()))
    assert pipeline.item("img-1", "u") == legacy


def test_a_dead_letter_of_an_upload_made_after_the_previous_release_finished_still_fails_it(pipeline):
    pipeline.dynamodb.put_item(TableName="status", Item=previous_release_item())
    newer = upload(LATER, etag="etag-2", sequencer="0055AED6DCD90281F0")

    alert = settle_dead_letter(pipeline, json.dumps(newer))

    item = pipeline.item("img-1", "u")
    assert (item["status"]["S"], item["uploadId"]["S"]) == ("failed", upload_identity(newer)["id"])
    assert "variants" not in item and "completedAt" not in item
    assert alert["images"]["u/img-1"] == f"failed: {alert['reason']}"


def test_a_timed_out_execution_of_the_previous_release_is_not_re_run_over_its_completed_image(pipeline):
    legacy = previous_release_item()
    pipeline.dynamodb.put_item(TableName="status", Item=legacy)
    event = {"version": "0", "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
             "detail": {"executionArn": OLD_EXECUTION, "name": OLD_EXECUTION.rsplit(":", 1)[-1],
                        "status": "TIMED_OUT", "error": "", "cause": "", "input": json.dumps(upload())}}

    alert = settle_dead_letter(pipeline, json.dumps(event))

    assert pipeline.item("img-1", "u") == legacy
    assert pipeline.depth(pipeline.queue_url) == 0
    assert alert["outcome"].startswith("nothing: ")


def test_the_reconciler_never_re_runs_an_unrecorded_failure_over_a_previous_release_outcome(pipeline):
    legacy = previous_release_item()
    pipeline.dynamodb.put_item(TableName="status", Item=legacy)
    described = {"executionArn": OLD_EXECUTION, "name": OLD_EXECUTION.rsplit(":", 1)[-1], "status": "FAILED",
                 "error": "States.TaskFailed", "input": json.dumps(execution_input(upload()))}

    outcome = reconciler.settle_unrecorded(described, current(RepairSettings))

    assert (outcome.action, outcome.detail) == ("nothing", "the image reflects this or a newer upload")
    assert pipeline.item("img-1", "u") == legacy
    assert pipeline.depth(pipeline.queue_url) == 0


def test_the_reconciler_still_re_runs_an_unrecorded_failure_of_a_newer_upload(pipeline):
    pipeline.dynamodb.put_item(TableName="status", Item=previous_release_item())
    newer = upload(LATER, etag="etag-2", sequencer="0055AED6DCD90281F0")
    described = {"executionArn": OLD_EXECUTION, "name": "img-1-new", "status": "FAILED",
                 "error": "States.TaskFailed", "input": json.dumps(execution_input(newer))}
    assert reconciler.settle_unrecorded(described, current(RepairSettings)).action == "requeued"
    assert pipeline.depth(pipeline.queue_url) == 1


@pytest.mark.parametrize(("state", "event_time", "newer"), [
    ("completed", UPLOADED, False), ("completed", FINISHED, False), ("completed", "", False),
    ("completed", LATER, True), ("failed", UPLOADED, False), ("failed", LATER, True),
    ("processing", UPLOADED, True), ("queued", UPLOADED, True),  # not finished: taken as before
])
def test_only_a_provably_newer_upload_takes_an_image_a_previous_release_wrote(state, event_time, newer):
    item = previous_release_item(status=state)
    assert status.is_newer(upload_identity(upload(event_time)), item) is newer


def previous_release_workflow_item(workflow, data: bytes) -> dict[str, dict[str, str]]:
    workflow.s3.put_object(Bucket=workflow.pipeline.input_bucket, Key="uploads/user-1/img-1.jpg", Body=data)
    legacy = previous_release_item(user_id="user-1", bucket=workflow.pipeline.input_bucket)
    workflow.dynamodb.put_item(TableName=workflow.pipeline.table, Item=legacy)
    return legacy


def test_a_re_upload_after_the_upgrade_takes_a_previous_release_image(workflow):
    previous_release_workflow_item(workflow, images.jpeg(1600, 1200))
    execution, item = workflow.run(images.jpeg(800, 600), sequencer="0B", event_time=LATER)
    assert (execution["status"], item["status"], item["width"], item["height"]) == ("SUCCEEDED", "completed",
                                                                                   "800", "600")
    assert item["uploadId"] and item["completedAt"] != FINISHED


def test_a_late_event_of_the_upload_a_previous_release_completed_changes_nothing(workflow):
    data = images.jpeg(1600, 1200)
    legacy = previous_release_workflow_item(workflow, data)
    late, _ = workflow.run(data, sequencer="0A", event_time=UPLOADED)
    assert workflow.entered(late["executionArn"]) == ["MarkProcessing", "SkipDuplicate"]
    assert workflow.dynamodb.get_item(TableName=workflow.pipeline.table, Key={
        "imageId": legacy["imageId"], "userId": legacy["userId"]})["Item"] == legacy
