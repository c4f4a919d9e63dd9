"""Model-based: the duplicates index under any sequence of one user's uploads, re-uploads (with other
bytes and a slightly different hash), failures, retries, another image's upload between one upload's claim
and its lookup, and late runs of superseded uploads, with buckets of 3 entries so that old entries are
pushed out; at the default distance 4 (5 bands) and at 2 (3 bands).

The model knows which image holds which content and whether it completed, and every upload ever entered
into each of the pigeonhole's d + 1 band buckets (newest first, never pruned). After every upload:
- `duplicateOf` names one of the other completed images holding the same bytes (none if there is none);
- `nearDuplicateOf` names a completed other image within the distance, at its true distance, and none when
  there is no such image;
- the guarantee: when a completed image within the distance is among the 3 newest uploads of a bucket this
  upload shares, and fewer than 4 stale entries (uploads their image no longer reflects) of its buckets are
  at least as close, a near duplicate at least as close is named;
- the bound: the upload's claim and lookup read at most 20 items and write at most 12.
A late run of an upload its image no longer reflects is refused and changes nothing later uploads see.
"""

from __future__ import annotations

import hashlib
import os

import boto3
import pytest
from hypothesis import assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule
from moto import mock_aws

from contract.errors import UploadSuperseded
from handlers.image import fingerprints
from handlers.lifecycle.duplicates import MAX_STALE_CHECKS, Index, NearDuplicate, Upload, informative
from local.metering import Metered, MeteredDynamoDB
from local.stack import create_status_table

USER, TABLE, CANDIDATES = "u", "status", 3
MAX_READS, MAX_WRITES = 20, 12
SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"
BASE, UNRELATED = 0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210
# Content -> its 64-bit perceptual hash: a burst of shots 1 to 4 bits from `photo` (3 to 7 bits from each
# other), an unrelated pair 1 bit apart, and a flat image's hash (no lookup).
PHASH = {"photo": BASE, "first": BASE ^ 1 << 60, "near": BASE ^ 0b101 << 20,
         "burst": BASE ^ (1 << 3 | 1 << 40 | 1 << 50), "crop": BASE ^ 0b1111 << 8,
         "other": UNRELATED, "other2": UNRELATED ^ 1 << 7, "flat": 1}
SHA = {content: hashlib.sha256(content.encode()).hexdigest() for content in PHASH}
Entry = tuple[str, str, str]  # image, upload, content


class DuplicatesModel(RuleBasedStateMachine):
    distance = 4  # the default: 5 bands of 13, 13, 13, 13 and 12 bits

    def __init__(self) -> None:
        super().__init__()
        self.mock = mock_aws()
        self.mock.start()
        self.dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        self.meter = MeteredDynamoDB(self.dynamodb)
        create_status_table(self.dynamodb, TABLE)
        self.images: dict[str, tuple[str, str]] = {}  # image -> (content, terminal status)
        self.held: dict[str, set[str]] = {}  # image -> every content it has held
        self.duplicate_of: dict[str, str | None] = {}  # image -> the original its newest upload recorded
        self.superseded: list[tuple[Upload, str]] = []  # uploads a newer one of their image replaced
        self.current: dict[str, tuple[Upload, str]] = {}
        self.buckets: dict[tuple[int, str], list[Entry]] = {}  # every upload entered, newest first
        self.uploads = 0

    def teardown(self) -> None:
        self.mock.stop()

    def _item(self, image: str, upload_id: str, status: str, content: str) -> dict:
        item = {"imageId": {"S": image}, "userId": {"S": USER}, "status": {"S": status}, "uploadId": {"S": upload_id}}
        if status == "completed":
            item |= {"sha256": {"S": SHA[content]}, "phash": {"S": format(PHASH[content], "016x")}}
        return item

    def _bands(self, content: str) -> list[tuple[int, str]]:
        return list(enumerate(fingerprints.bands(PHASH[content], self.distance + 1)))  # pigeonhole's d + 1

    def _live(self, image: str, upload_id: str) -> bool:
        return self.images.get(image, ("", ""))[1] == "completed" and self.current[image][0].upload_id == upload_id

    def _check_near(self, upload: Upload, content: str, near: NearDuplicate | None) -> None:
        """`near` against the model, as the buckets stood when the lookup read them."""
        distance = {other: fingerprints.hamming(PHASH[held], PHASH[content])
                    for other, (held, status) in self.images.items()
                    if other != upload.image_id and status == "completed" and held != content}
        close = {other: d for other, d in distance.items() if d <= self.distance}
        if not informative(PHASH[content]) or not close:
            assert near is None, (upload, content, near, self.images)
            return
        if near is not None:
            assert close.get(near.image_id) == near.distance, (upload, content, near, self.images)
        entries = {entry for band in self._bands(content) for entry in self.buckets.get(band, [])}
        newest = {entry[:2] for band in self._bands(content) for entry in self.buckets.get(band, [])[:CANDIDATES]}
        for other, d in close.items():
            if (other, self.current[other][0].upload_id) not in newest:
                continue  # pushed out of every bucket it shares with this upload: not covered
            stale = {(image, upload_id) for image, upload_id, held in entries
                     if image != upload.image_id and held != content and not self._live(image, upload_id)
                     and fingerprints.hamming(PHASH[held], PHASH[content]) <= d}
            if len(stale) < MAX_STALE_CHECKS:
                assert near is not None and near.distance <= d, (upload, content, near, other, d, stale, self.buckets)

    def _entered(self, upload: Upload, content: str) -> None:
        if informative(PHASH[content]):
            for band in self._bands(content):
                me = (upload.image_id, upload.upload_id, content)
                self.buckets[band] = [me, *(entry for entry in self.buckets.get(band, []) if entry != me)]

    def _process(self, upload: Upload, content: str,
                 meanwhile: tuple[str, str, str] | None = None) -> tuple[str | None, NearDuplicate | None]:
        """The variants step's claim and lookup through one index, as `handlers.variants` makes them, counted;
        `meanwhile` (image, content, outcome): another image's whole upload between the two (the step makes
        the variants in between: seconds in which anything else may happen)."""
        self.meter.reset()
        index = Index(self.meter, TABLE, candidates=CANDIDATES)
        original = index.claim(upload, SHA[content])
        used_by_claim = self.meter.snapshot()
        if meanwhile is not None:
            self._upload(*meanwhile, retried=False)
            self.meter.reset()
        near = index.near(upload, PHASH[content], SHA[content], self.distance)
        used = self.meter.snapshot()
        if meanwhile is not None:  # the bound is per upload: the claim's share and the lookup's
            used = Metered(used_by_claim.calls + used.calls, used_by_claim.items_read + used.items_read,
                           used_by_claim.items_written + used.items_written)
        assert used.reads <= MAX_READS and used.writes <= MAX_WRITES, (upload, content, used.as_dict())
        self._check_near(upload, content, near)
        self._entered(upload, content)
        return (original and original.image_id), near

    @rule(image=st.sampled_from("abcdef"), content=st.sampled_from(sorted(PHASH)),
          outcome=st.sampled_from(["completed", "completed", "failed"]), retried=st.booleans())
    def upload(self, image: str, content: str, outcome: str, retried: bool) -> None:
        self._upload(image, content, outcome, retried=retried)

    @rule(image=st.sampled_from("abcdef"), content=st.sampled_from(sorted(PHASH)), other=st.sampled_from("abcdef"),
          other_content=st.sampled_from(sorted(PHASH)), outcome=st.sampled_from(["completed", "failed"]))
    def upload_while_another_completes(self, image: str, content: str, other: str, other_content: str,
                                       outcome: str) -> None:
        """Another image uploaded (often anew, with other bytes) between this upload's claim and its lookup.
        Of other bytes: two uploads of the same bytes at once are the attack tests' (a copy waits for its
        original's outcome)."""
        assume(other != image and other_content != content)
        self._upload(image, content, "completed", retried=False, meanwhile=(other, other_content, outcome))

    def _upload(self, image: str, content: str, outcome: str, *, retried: bool,
                meanwhile: tuple[str, str, str] | None = None) -> None:
        self.uploads += 1
        upload = Upload(USER, image, f"upload-{self.uploads}")
        was = self.images.get(image)
        completed = {other: held for other, (held, status) in self.images.items()
                     if other != image and status == "completed"}  # what the claim sees
        # MarkProcessing: the newer upload takes the image and clears the older outcome.
        self.dynamodb.put_item(TableName=TABLE, Item=self._item(image, upload.upload_id, "processing", content))
        previous = self.current.get(image)
        self.images[image], self.current[image] = (content, "processing"), (upload, content)
        original, _ = self._process(upload, content, meanwhile)
        if retried:  # the step ran again (a Lambda retry): the same original
            again, _ = self._process(upload, content)
            assert again == original

        same = {other for other, held in completed.items() if held == content}
        if original is not None:
            assert original in same, (image, content, original, self.images)
        else:  # the original itself, uploaded anew with the same bytes, keeps its place
            assert not same or content in self.held[image], (image, content, self.images)

        self.dynamodb.put_item(TableName=TABLE, Item=self._item(image, upload.upload_id, outcome, content))
        self.images[image] = (content, outcome)
        self.held.setdefault(image, set()).add(content)
        if previous is not None:
            self.superseded.append(previous)
        # The original, uploaded anew with the bytes it holds, stays the original (no image names it back).
        if was == (content, "completed") and self.duplicate_of.get(image, "") is None:
            assert original is None, (image, content, original)
        self.duplicate_of[image] = original

    @rule(data=st.data())
    def late_run_of_a_superseded_upload(self, data: st.DataObject) -> None:
        """An older upload's variants step, held until a newer upload of its image took over, goes on."""
        if not self.superseded:
            return
        upload, content = data.draw(st.sampled_from(self.superseded))
        with pytest.raises(UploadSuperseded):
            Index(self.dynamodb, TABLE).claim(upload, SHA[content])
        if informative(PHASH[content]):  # a flat hash never reaches the index
            with pytest.raises(UploadSuperseded):
                Index(self.dynamodb, TABLE).near(upload, PHASH[content], SHA[content], self.distance)


TestDuplicatesModel = DuplicatesModel.TestCase
# A step is about 25 DynamoDB calls on moto (40 ms); `make soak` runs 33 times as many examples.
TestDuplicatesModel.settings = settings(max_examples=1_000 if SOAK else 30, stateful_step_count=20, deadline=None)


class DuplicatesModelAtDistance2(DuplicatesModel):
    """3 bands of 22, 21 and 21 bits: the burst's 3 and 4 bit shots are no longer near `photo`."""

    distance = 2


TestDuplicatesModelAtDistance2 = DuplicatesModelAtDistance2.TestCase
TestDuplicatesModelAtDistance2.settings = settings(max_examples=300 if SOAK else 10, stateful_step_count=20,
                                                   deadline=None)
