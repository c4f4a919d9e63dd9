"""The duplicates index on moto: stale runs, re-uploads with another hash, and claims of many long names."""

from __future__ import annotations

import pytest

from contract.errors import UploadSuperseded
from handlers.lifecycle.duplicates import Index, NearDuplicate, Upload, content_key
from local.metering import MeteredDynamoDB

USER, TABLE, DISTANCE = "u", "status", 4
P1 = 0x0123_4567_89AB_CDEF
P2 = P1 ^ 1 << 60  # one bit off, in the first band (the first queried)
DYNAMODB_ITEM_LIMIT = 400 * 1024  # bytes, counted as DynamoDB does: attribute names + values, UTF-8


def sha(n: int) -> str:
    return f"{n:064x}"


def set_status(dynamodb, upload: Upload, status: str, content: int | None = None, phash: int | None = None) -> None:
    """What the workflow writes: MarkProcessing (`processing`), then RecordCompleted with the hashes."""
    item = {"imageId": {"S": upload.image_id}, "userId": {"S": upload.user_id}, "status": {"S": status},
            "uploadId": {"S": upload.upload_id}}
    if status == "completed":
        item |= {"sha256": {"S": sha(content)}, "phash": {"S": format(phash, "016x")}}
    dynamodb.put_item(TableName=TABLE, Item=item)


def process(dynamodb, upload: Upload, content: int, phash: int) -> tuple[str | None, NearDuplicate | None]:
    """One upload through the workflow's index steps: (duplicateOf, near duplicate)."""
    set_status(dynamodb, upload, "processing")
    original = Index(dynamodb, TABLE).claim(upload, sha(content))
    near = Index(dynamodb, TABLE).near(upload, phash, sha(content), DISTANCE)
    set_status(dynamodb, upload, "completed", content, phash)
    return (original and original.image_id), near


def item_bytes(item: dict) -> int:
    """DynamoDB's item size: each attribute's name plus its value, strings in UTF-8, numbers as digits."""
    return sum(len(name.encode()) + len(next(iter(value.values())).encode()) for name, value in item.items())


def test_a_late_run_of_the_same_bytes_put_twice_never_rewrites_the_index(dynamodb):
    # A client retry: the same bytes PUT twice to one key. The first run's variants step is held until
    # the second completes, then goes on (same ETag, so its read of the object succeeds).
    first, second = Upload(USER, "a", "upload-1"), Upload(USER, "a", "upload-2")
    set_status(dynamodb, first, "processing")
    assert process(dynamodb, second, 1, P1) == (None, None)
    with pytest.raises(UploadSuperseded, match="image 'a' now reflects another upload"):
        Index(dynamodb, TABLE).claim(first, sha(1))
    with pytest.raises(UploadSuperseded, match="image 'a' now reflects another upload"):
        Index(dynamodb, TABLE).near(first, P1, sha(1), DISTANCE)
    # Later copies still find the live upload.
    assert process(dynamodb, Upload(USER, "copy", "upload-3"), 1, P1) == ("a", None)
    assert process(dynamodb, Upload(USER, "similar", "upload-4"), 2, P2) == (None, NearDuplicate("a", 1))


def test_a_late_run_of_an_older_version_never_hides_the_newer_one(dynamodb):
    # A versioned bucket: version 1 (P1) is held while version 2, other bytes one bit off (P2), completes.
    older, newer = Upload(USER, "a", "version-1"), Upload(USER, "a", "version-2")
    set_status(dynamodb, older, "processing")
    assert process(dynamodb, newer, 2, P2) == (None, None)
    with pytest.raises(UploadSuperseded):
        Index(dynamodb, TABLE).claim(older, sha(1))
    with pytest.raises(UploadSuperseded):
        Index(dynamodb, TABLE).near(older, P1, sha(1), DISTANCE)
    assert process(dynamodb, Upload(USER, "copy", "upload-3"), 2, P2) == ("a", None)
    assert process(dynamodb, Upload(USER, "x", "upload-4"), 3, P1) == (None, NearDuplicate("a", 1))
    # `a` no longer holds the older bytes: their copy is no duplicate of it.
    assert process(dynamodb, Upload(USER, "y", "upload-5"), 1, P1) == (None, NearDuplicate("x", 0))


class NewerUploadMeanwhile:
    """A DynamoDB client through which `newer` takes the image and completes just before `older`'s first
    hash bucket is written (after whatever check and read `older` made)."""

    def __init__(self, dynamodb, older: Upload, newer: Upload) -> None:
        self.dynamodb, self.older, self.newer, self.done = dynamodb, older, newer, False

    def put_item(self, **kwargs):
        if not self.done and kwargs["Item"]["userId"]["S"].endswith("/bucket"):
            self.done = True
            process(self.dynamodb, self.newer, 2, P1)
        return self.dynamodb.put_item(**kwargs)

    def __getattr__(self, name):
        return getattr(self.dynamodb, name)


def test_a_run_that_loses_the_image_while_it_writes_its_bands_never_hides_the_new_owner(dynamodb):
    older, newer = Upload(USER, "a", "version-1"), Upload(USER, "a", "version-2")
    set_status(dynamodb, older, "processing")
    Index(NewerUploadMeanwhile(dynamodb, older, newer), TABLE).near(older, P1, sha(1), DISTANCE)
    assert process(dynamodb, Upload(USER, "x", "upload-3"), 3, P1) == (None, NearDuplicate("a", 0))


def test_a_stale_band_entry_never_hides_the_same_images_live_one(dynamodb):
    assert process(dynamodb, Upload(USER, "a", "upload-1"), 1, P1) == (None, None)
    assert process(dynamodb, Upload(USER, "a", "upload-2"), 2, P2) == (None, None)  # re-uploaded, one bit off
    assert process(dynamodb, Upload(USER, "x", "upload-3"), 3, P1) == (None, NearDuplicate("a", 1))


def test_a_claim_of_many_copies_with_long_names_stays_below_dynamodbs_item_limit(dynamodb):
    # imageIds of 249 emoji are valid names (4 bytes each in UTF-8, 12 as JSON escapes).
    names = ["\N{GRINNING FACE}" * 247 + chr(0x1F600 + n // 64) + chr(0x1F600 + n % 64) for n in range(140)]
    for n, name in enumerate(names):
        upload = Upload(USER, name, f"upload-{n}")
        set_status(dynamodb, upload, "processing")
        original = Index(dynamodb, TABLE).claim(upload, sha(1))
        assert (original and original.image_id) == (names[0] if n else None), n
        set_status(dynamodb, upload, "completed", 1, P1)
    claim = dynamodb.get_item(TableName=TABLE, Key=content_key(USER, sha(1)), ConsistentRead=True)["Item"]
    assert item_bytes(claim) <= DYNAMODB_ITEM_LIMIT


class AnotherLookupMeanwhile:
    """A DynamoDB client through which `other`'s whole lookup runs after this one read its buckets and before
    it writes the first: two near duplicates processed at once, neither in the other's buckets when read."""

    def __init__(self, dynamodb, other: Upload, phash: int) -> None:
        self.dynamodb, self.other, self.phash, self.found = dynamodb, other, phash, "not yet"

    def put_item(self, **kwargs):
        if self.found == "not yet" and kwargs["Item"]["userId"]["S"].endswith("/bucket"):
            set_status(self.dynamodb, self.other, "processing")
            self.found = Index(self.dynamodb, TABLE).near(self.other, self.phash, sha(2), DISTANCE)
        return self.dynamodb.put_item(**kwargs)

    def __getattr__(self, name):
        return getattr(self.dynamodb, name)


def test_of_two_near_duplicates_processed_at_once_the_later_writer_finds_the_other(dynamodb):
    first, second = Upload(USER, "a", "upload-1"), Upload(USER, "b", "upload-2")
    set_status(dynamodb, first, "processing")
    meanwhile = AnotherLookupMeanwhile(dynamodb, second, P2)
    found = Index(meanwhile, TABLE).near(first, P1, sha(1), DISTANCE)
    assert meanwhile.found is None  # `b` looked before `a` had written anything
    assert found == NearDuplicate("b", 1)  # `a` lost the race to write a bucket, read it again, found `b` processing
    # Both are in every bucket: a third finds the closer of the two.
    assert process(dynamodb, Upload(USER, "c", "upload-3"), 3, P1) == (None, NearDuplicate("a", 0))


def test_an_exact_copy_reads_the_claim_its_own_status_and_its_originals_once_each(dynamodb):
    process(dynamodb, Upload(USER, "a", "upload-1"), 1, P1)
    copy = Upload(USER, "copy", "upload-2")
    set_status(dynamodb, copy, "processing")
    meter = MeteredDynamoDB(dynamodb)
    assert Index(meter, TABLE).claim(copy, sha(1)).image_id == "a"
    assert (meter.snapshot().reads, meter.snapshot().writes, meter.snapshot().calls) == (
        3, 1, {"get_item": 3, "put_item": 1})
