"""Model-based: the duplicates index under any sequence of one user's uploads, re-uploads (with other
bytes and a slightly different hash), failures, retries and late runs of superseded uploads.

The model knows which image holds which content and whether it completed; after every upload the
index must name, as `duplicateOf`, one of the other completed images holding the same bytes (none
if there is none), and as `nearDuplicateOf` the closest completed image within the distance. A late
run of an upload its image no longer reflects is refused and changes nothing later uploads see.
"""

from __future__ import annotations

import os

import boto3
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule
from moto import mock_aws

from contract.errors import UploadSuperseded
from handlers.image import fingerprints
from handlers.lifecycle.duplicates import Index, Upload
from local.stack import create_status_table

USER, TABLE, DISTANCE = "u", "status", 4
SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"
# Content -> its 64-bit perceptual hash: `near` is 2 bits from `photo`, `first` 1 bit (in the first band,
# the first queried: a re-upload from `photo` to `first` leaves a stale band item met before the live
# ones), the others 32 or more from all three.
PHASH = {"photo": 0x0123_4567_89AB_CDEF, "near": 0x0123_4567_89AB_CDEF ^ 0b101 << 20,
         "first": 0x0123_4567_89AB_CDEF ^ 1 << 60, "other": 0xFEDC_BA98_7654_3210, "flat": 0x0F0F_0F0F_F0F0_F0F0}
SHA = {content: f"{index:064x}" for index, content in enumerate(PHASH, 1)}


class DuplicatesModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.mock = mock_aws()
        self.mock.start()
        self.dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        create_status_table(self.dynamodb, TABLE)
        self.images: dict[str, tuple[str, str]] = {}  # image -> (content, terminal status)
        self.held: dict[str, set[str]] = {}  # image -> every content it has held
        self.duplicate_of: dict[str, str | None] = {}  # image -> the original its newest upload recorded
        self.superseded: list[tuple[Upload, str]] = []  # uploads a newer one of their image replaced
        self.current: dict[str, tuple[Upload, str]] = {}
        self.uploads = 0

    def teardown(self) -> None:
        self.mock.stop()

    def _item(self, image: str, upload_id: str, status: str, content: str) -> dict:
        item = {"imageId": {"S": image}, "userId": {"S": USER}, "status": {"S": status}, "uploadId": {"S": upload_id}}
        if status == "completed":
            item |= {"sha256": {"S": SHA[content]}, "phash": {"S": format(PHASH[content], "016x")}}
        return item

    @rule(image=st.sampled_from("abcde"), content=st.sampled_from(sorted(PHASH)),
          outcome=st.sampled_from(["completed", "completed", "failed"]), retried=st.booleans())
    def upload(self, image: str, content: str, outcome: str, retried: bool) -> None:
        self.uploads += 1
        upload = Upload(USER, image, f"upload-{self.uploads}")
        was = self.images.get(image)
        # MarkProcessing: the newer upload takes the image and clears the older outcome.
        self.dynamodb.put_item(TableName=TABLE, Item=self._item(image, upload.upload_id, "processing", content))
        original = Index(self.dynamodb, TABLE).claim(upload, SHA[content])
        if retried:  # the step ran again (a Lambda retry): the same answer
            again = Index(self.dynamodb, TABLE).claim(upload, SHA[content])
            assert (again and again.image_id) == (original and original.image_id)
        near = Index(self.dynamodb, TABLE).near(upload, PHASH[content], SHA[content], DISTANCE)

        completed = {other: held for other, (held, status) in self.images.items()
                     if other != image and status == "completed"}
        same = {other for other, held in completed.items() if held == content}
        if original is not None:
            assert original.image_id in same, (image, content, original, self.images)
        else:  # the original itself, uploaded anew with the same bytes, keeps its place
            assert not same or content in self.held[image], (image, content, self.images)
        close = {other: fingerprints.hamming(PHASH[held], PHASH[content]) for other, held in completed.items()
                 if held != content and fingerprints.hamming(PHASH[held], PHASH[content]) <= DISTANCE}
        if close:
            assert near is not None and near.distance == min(close.values()) and near.image_id in close
        else:
            assert near is None, (image, content, near, self.images)

        self.dynamodb.put_item(TableName=TABLE, Item=self._item(image, upload.upload_id, outcome, content))
        self.images[image] = (content, outcome)
        self.held.setdefault(image, set()).add(content)
        if image in self.current:
            self.superseded.append(self.current[image])
        self.current[image] = (upload, content)
        # The original, uploaded anew with the bytes it holds, stays the original (no image names it back).
        if was == (content, "completed") and self.duplicate_of.get(image, "") is None:
            assert original is None, (image, content, original)
        self.duplicate_of[image] = original.image_id if original else None

    @rule(data=st.data())
    def late_run_of_a_superseded_upload(self, data: st.DataObject) -> None:
        """An older upload's variants step, held until a newer upload of its image took over, goes on."""
        if not self.superseded:
            return
        upload, content = data.draw(st.sampled_from(self.superseded))
        with pytest.raises(UploadSuperseded):
            Index(self.dynamodb, TABLE).claim(upload, SHA[content])
        if content != "flat":  # a flat hash never reaches the index
            with pytest.raises(UploadSuperseded):
                Index(self.dynamodb, TABLE).near(upload, PHASH[content], SHA[content], DISTANCE)

TestDuplicatesModel = DuplicatesModel.TestCase
# A step is about 30 DynamoDB calls on moto (50 ms); `make soak` runs 33 times as many examples.
TestDuplicatesModel.settings = settings(max_examples=1_000 if SOAK else 30, stateful_step_count=20, deadline=None)
