"""The real state machine definition, executed by moto's ASL interpreter, with the real step handlers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from components import Settings, read_stack_settings
from components.workflow_definition import build_definition
from handlers.clients import clients
from handlers.errors import TransientError
from handlers.uploads import upload_message
from local.inprocess import MOTO_CONFIG, InProcessLambdas
from local.stack import LocalPipeline, deploy
from tests import images
from tests.functional.conftest import s3_record
from tools.status import plain_item


class Workflow:
    def __init__(self, pipeline: LocalPipeline, lambdas: InProcessLambdas) -> None:
        self.pipeline, self.lambdas = pipeline, lambdas
        self.s3, self.sfn, self.dynamodb = boto3.client("s3"), boto3.client("stepfunctions"), boto3.client("dynamodb")

    def run(self, data: bytes, key: str = "uploads/user-1/img-1.jpg", *, name: str | None = None,
            metadata: dict[str, str] | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
        put = self.s3.put_object(Bucket=self.pipeline.input_bucket, Key=key, Body=data, Metadata=metadata or {})
        body = upload_message(s3_record(key, bucket=self.pipeline.input_bucket, size=len(data),
                                        etag=put["ETag"].strip('"'), sequencer=None))
        execution = self.sfn.start_execution(stateMachineArn=self.pipeline.state_machine_arn,
                                             name=name or f"run-{time.monotonic_ns()}", input=json.dumps(body))
        return self.wait(execution["executionArn"]), self.item(body["imageId"], body["userId"])

    def wait(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.01)
        raise AssertionError(f"{execution_arn} still running after {timeout} s")

    def item(self, image_id: str, user_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.pipeline.table,
                                      Key={"imageId": {"S": image_id}, "userId": {"S": user_id}}).get("Item")
        return plain_item(item) if item else None

    def variant_objects(self) -> dict[str, dict[str, Any]]:
        listed = self.s3.list_objects_v2(Bucket=self.pipeline.output_bucket).get("Contents", [])
        return {o["Key"]: self.s3.head_object(Bucket=self.pipeline.output_bucket, Key=o["Key"]) for o in listed}


@pytest.fixture
def workflow() -> Iterator[Workflow]:
    settings = Settings.from_dict(read_stack_settings("dev"))
    with mock_aws(config=MOTO_CONFIG), InProcessLambdas(retry_scale=0.01) as lambdas:
        clients.reset()
        yield Workflow(deploy(settings), lambdas)
        clients.reset()


def test_the_definition_is_structurally_complete():
    definition = build_definition(table_name="t", function_arns={"validate": "v", "variants": "r", "metadata": "m"})
    states = definition["States"]

    def targets(state):
        yield state.get("Next")
        yield state.get("Default")
        for rule in state.get("Choices", []) + state.get("Catch", []):
            yield rule["Next"]

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
    assert sorted(objects) == [f"variants/user-1/img-1/{size}.jpg" for size in (1280, 160, 640)]
    head = objects["variants/user-1/img-1/640.jpg"]
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
])
def test_every_kind_of_image_ends_completed(workflow, data, key, size):
    execution, item = workflow.run(data, key)
    assert (execution["status"], item["status"]) == ("SUCCEEDED", "completed"), item
    assert (int(item["width"]), int(item["height"])) == size
    assert len(json.loads(item["variants"])) == 3


@pytest.mark.parametrize(("data", "error", "reason"), [
    (images.text_named_jpg(), "InvalidImage",
     "the file is not a JPEG, PNG, GIF or WebP image (it starts with b'hello, t')"),
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
    history = workflow.sfn.get_execution_history(executionArn=duplicate["executionArn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert entered == ["MarkProcessing", "SkipDuplicate"]
    assert after == item


def test_a_duplicate_of_a_failed_image_does_not_resurrect_it(workflow):
    _, failed = workflow.run(images.text_named_jpg())
    _, after = workflow.run(images.text_named_jpg())
    assert after == failed
