"""A model-based test of the image lifecycle: Hypothesis drives event sequences through the local runner.

Rules: uploads and re-uploads (same or other extension, good or bad content), overwrites while a
run is under way, duplicate deliveries, an orchestrator crash after StartExecution, throttling
into the DLQ, lost EventBridge events, status writes that keep failing, replays, and delivery
in small steps. At quiescence every image must be terminal, name its newest upload, and, when
that upload is a good image, carry its dimensions and variants decoded from that very content;
each dead letter and each repair raised exactly one alert. A good image left `failed` by injected
faults must complete once replayed: nothing is lost.

`make test` explores a modest number of sequences; `make soak` (HYPOTHESIS_PROFILE=soak) many more.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
from dataclasses import dataclass
from io import BytesIO

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from PIL import Image

from local.faults import Faults
from local.runner import LocalRunner, Upload
from local.samples import encode, photo
from tests.e2e.workflow_types import WORKFLOW_TYPES, stack_settings
from tools import replay
from tools.status import plain_item

SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"
GOOD = {"landscape": encode(photo(96, 64), "JPEG", quality=80), "portrait": encode(photo(48, 80), "JPEG", quality=80),
        "png": encode(photo(120, 90, "RGBA"), "PNG")}
SIZES = {"landscape": (96, 64), "portrait": (48, 80), "png": (120, 90)}
BAD = {"text": b"hello, this is not an image at all", "truncated": GOOD["landscape"][:300]}
CONTENTS = {**GOOD, **BAD}
EXTENSIONS = ("jpg", "png", "JPG", "jpeg")
EXAMPLES = itertools.count()
EXPLORED: list[int] = []


@dataclass
class Newest:
    key: str
    content: str


class ImageLifecycle(RuleBasedStateMachine):
    runner: LocalRunner  # one runner (one moto) for the whole test; each example uses its own user

    @initialize()
    def start(self) -> None:
        self.user = f"model-{next(EXAMPLES)}"
        self.newest: dict[str, Newest] = {}
        self.faulted: set[str] = set()
        self.alerts_before = len(self.runner.read_alerts())
        self.dead_letters_before = self.runner.counts.dead_letters_settled
        self.repairs_before = self._repairs()
        self.steps = 0

    def _repairs(self) -> int:
        return sum(run["requeued"] + run["failed"] for run in self.runner.reconciler_runs)

    def _image_id(self, image: str) -> str:
        return f"{image}-{self.user}"

    # -- uploads -----------------------------------------------------------------------------

    @rule(image=st.sampled_from(["p", "q"]), extension=st.sampled_from(EXTENSIONS),
          content=st.sampled_from(sorted(CONTENTS)))
    def upload(self, image: str, extension: str, content: str) -> None:
        key = f"uploads/{self.user}/{self._image_id(image)}.{extension}"
        self.runner.upload(Upload(f"{image}.{extension}", key, CONTENTS[content]))
        self.newest[image] = Newest(key, content)
        self.steps += 1

    @rule(image=st.sampled_from(["p", "q"]), content=st.sampled_from(sorted(CONTENTS)))
    def overwrite_same_key(self, image: str, content: str) -> None:
        """Another upload to the key last used, often while the previous one's run is under way."""
        if image in self.newest:
            self.upload(image, self.newest[image].key.rsplit(".", 1)[1], content)

    # -- delivery and faults -----------------------------------------------------------------

    @rule()
    def deliver_a_little(self) -> None:
        self.runner.step()

    @rule()
    def settle(self) -> None:
        self.runner.settle()

    @rule(image=st.sampled_from(["p", "q"]), kind=st.sampled_from(["s3", "orchestrator"]))
    def duplicate_next_delivery(self, image: str, kind: str) -> None:
        self.runner.faults.target("duplicate", f"{kind}:uploads/{self.user}/{self._image_id(image)}")

    @rule(image=st.sampled_from(["p", "q"]))
    def crash_orchestrator_after_start(self, image: str) -> None:
        self.runner.faults.target("crash", f"uploads/{self.user}/{self._image_id(image)}")
        self.faulted.add(image)

    @rule(image=st.sampled_from(["p", "q"]), times=st.integers(1, 4))
    def throttle_start_execution(self, image: str, times: int) -> None:
        self.runner.faults.target("throttle", self._image_id(image), times)
        self.faulted.add(image)

    @rule(image=st.sampled_from(["p", "q"]))
    def lose_next_execution_event(self, image: str) -> None:
        self.runner.faults.target("lost_event", self._image_id(image))

    @rule(image=st.sampled_from(["p", "q"]), times=st.integers(1, 9))
    def fail_status_writes(self, image: str, times: int) -> None:
        self.runner.faults.target("dynamodb", f"'{self._image_id(image)}'", times)
        self.faulted.add(image)

    @rule()
    def replay_failures(self) -> None:
        self.runner.settle()
        for _ in range(10):  # as an operator would: a throttled replay says so, and is run again later
            try:
                replay.replay_failed(boto3.client("dynamodb"), boto3.client("sqs"), table=self.runner.pipeline.table,
                                     queue_url=self.runner.pipeline.queue_url, rate=1000)
                return
            except ClientError as error:
                assert error.response["Error"]["Code"] == "ProvisionedThroughputExceededException", error

    # -- what must hold ----------------------------------------------------------------------

    @invariant()
    def statuses_only_take_known_values(self) -> None:
        for image in self.newest:
            item = self._item(image)
            assert item is None or item["status"] in ("queued", "processing", "completed", "failed"), item

    def _item(self, image: str) -> dict | None:
        raw = boto3.client("dynamodb").get_item(
            TableName=self.runner.pipeline.table, ConsistentRead=True,
            Key={"imageId": {"S": self._image_id(image)}, "userId": {"S": self.user}}).get("Item")
        return plain_item(raw) if raw else None

    def teardown(self) -> None:
        faults = self.runner.faults
        faults.targeted.clear()
        self.runner.settle()
        alerts = len(self.runner.read_alerts()) - self.alerts_before
        dead_letters = self.runner.counts.dead_letters_settled - self.dead_letters_before
        assert alerts == dead_letters + self._repairs() - self.repairs_before, (alerts, dead_letters)
        # A failure that is not the content's (dead-lettered, re-runs used up) needs an injected fault,
        # and a replay after the fault is gone must settle it as the content deserves: nothing is lost.
        if any((self._item(image) or {}).get("error", "InvalidImage") != "InvalidImage" for image in self.newest):
            assert self.faulted, "an image failed for a reason other than its content, without any fault"
            self.replay_failures()
            self.runner.settle()
        for image, newest in self.newest.items():
            self._check(image, newest)
        EXPLORED.append(self.steps)

    def _check(self, image: str, newest: Newest) -> None:
        item = self._item(image)
        assert item is not None, f"{image}: no status item"
        assert item["status"] in ("completed", "failed"), item
        etag = hashlib.md5(CONTENTS[newest.content]).hexdigest()  # S3's ETag of a single PUT
        assert (item["uploadKey"], item["uploadVersion"]) == (newest.key, etag), (newest, item)
        if newest.content in BAD:
            assert (item["status"], item["error"]) == ("failed", "InvalidImage"), item
            return
        assert item["status"] == "completed", item
        assert (int(item["width"]), int(item["height"])) == SIZES[newest.content], item
        variants = json.loads(item["variants"])
        assert all(f"/{item['uploadId'][:16]}/" in v["key"] for v in variants), variants
        s3 = boto3.client("s3")
        smallest = min(variants, key=lambda v: v["size"])
        body = s3.get_object(Bucket=self.runner.pipeline.output_bucket, Key=smallest["key"])["Body"].read()
        with Image.open(BytesIO(body)) as decoded:
            assert decoded.size == (smallest["width"], smallest["height"])
            width, height = SIZES[newest.content]
            assert abs(decoded.width / decoded.height - width / height) < 0.05, (decoded.size, newest)


CHUNK = 25  # sequences per runner: moto's state grows with every upload, so a fresh one keeps time linear


@pytest.mark.parametrize("workflow_type", WORKFLOW_TYPES)
def test_every_upload_sequence_ends_with_each_image_reflecting_its_newest_upload(workflow_type):
    EXPLORED.clear()
    examples, steps = (int(os.environ.get("SOAK_EXAMPLES", 300)), 30) if SOAK else (12, 14)
    for start in range(0, examples, CHUNK):
        runner = LocalRunner(stack_settings("dev", workflow_type), faults=Faults())
        with runner.running():
            ImageLifecycle.runner = runner
            run_state_machine_as_test(ImageLifecycle, settings=settings(
                max_examples=min(CHUNK, examples - start), stateful_step_count=steps, deadline=None,
                derandomize=not SOAK, database=None if not SOAK else settings.default.database,
                suppress_health_check=list(HealthCheck)))
    print(f"\nstateful lifecycle ({workflow_type}): {len(EXPLORED)} sequences explored, {sum(EXPLORED)} uploads",
          file=sys.stderr)
    assert len(EXPLORED) >= examples // 2 and sum(EXPLORED) > 0
