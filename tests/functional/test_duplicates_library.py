"""The duplicates index over one user's library of 10,000 near-identical photos (a long burst of one scene):
every photo finds a near duplicate, and the work per photo stays the same from the 100th to the 10,000th.

On an in-memory table (`tests.memory_table`): moto would take minutes for the 160,000 calls. The same
lookups on moto are `test_duplicates_model` and `test_duplicates_index`.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from handlers.lifecycle.duplicates import Index, Upload
from local.metering import MeteredDynamoDB
from tests.memory_table import MemoryTable

USER, TABLE, DISTANCE = "u", "status", 4
BASE = 0x0123_4567_89AB_CDEF
PHOTOS, UNRELATED_EVERY = 10_000, 1_000
MAX_READS, MAX_WRITES = 20, 12


def set_status(table: MemoryTable, upload: Upload, status: str) -> None:
    table.put_item(TableName=TABLE, Item={"imageId": {"S": upload.image_id}, "userId": {"S": USER},
                                          "status": {"S": status}, "uploadId": {"S": upload.upload_id}})


def library() -> list[int]:
    """Each photo's hash: the scene's with up to 2 random bits flipped (the 100th and the last exactly the
    scene's, so that their figures can be compared), and every 1,000th an unrelated photo."""
    rng = random.Random(24)
    hashes = []
    for n in range(1, PHOTOS + 1):
        if n % UNRELATED_EVERY == 500:
            hashes.append(rng.getrandbits(64))
        elif n in (100, PHOTOS):
            hashes.append(BASE)
        else:
            hashes.append(BASE ^ sum(1 << bit for bit in rng.sample(range(64), rng.randint(0, 2))))
    return hashes


@pytest.fixture(scope="module")
def processed():
    """Every photo through the variants step's claim and lookup, one after another: (near, used) each."""
    table = MemoryTable(TABLE)
    meter = MeteredDynamoDB(table)
    results = []
    for n, phash in enumerate(library(), 1):
        upload = Upload(USER, f"photo-{n:05d}", f"upload-{n:05d}")
        sha256 = hashlib.sha256(upload.image_id.encode()).hexdigest()
        set_status(table, upload, "processing")
        meter.reset()
        index = Index(meter, TABLE)
        original = index.claim(upload, sha256)
        near = index.near(upload, phash, sha256, DISTANCE)
        results.append((original, near, phash, meter.snapshot()))
        set_status(table, upload, "completed")
    return results


def test_every_photo_of_a_burst_after_the_first_finds_a_near_duplicate_and_no_unrelated_photo_does(processed):
    for n, (original, near, *_) in enumerate(processed, 1):
        assert original is None, n  # every photo's bytes differ
        if n % UNRELATED_EVERY == 500:
            assert near is None, n
        elif n > 1:
            assert near is not None and near.distance <= DISTANCE, n
            assert int(near.image_id[-5:]) % UNRELATED_EVERY != 500, n  # never an unrelated photo


def test_each_photo_reads_at_most_20_items_and_writes_at_most_12_however_large_the_library(processed):
    worst = max((used.reads, used.writes) for *_, used in processed)
    assert all(used.reads <= MAX_READS and used.writes <= MAX_WRITES for *_, used in processed), worst
    # The claim (not found), the owner's status item (before the claim and before the lookup), one candidate's;
    # 8 buckets in one batch; the claim and the 8 buckets written.
    assert processed[-1][3].calls == {"get_item": 4, "batch_get_item": 1, "put_item": 9}
    assert (processed[-1][3].reads, processed[-1][3].writes) == (11, 9)


def test_the_10000th_photo_costs_what_the_100th_did(processed):
    hundredth, last = processed[99][3], processed[-1][3]
    assert processed[99][2] == processed[-1][2] == BASE
    assert last.as_dict() == hundredth.as_dict()
    # Every item is a strongly consistent read of at most 4 KB: one read unit each, misses included.
    assert last.read_unit_total == last.calls["get_item"] + 8
