"""The duplicates index over one user's library of 10,000 near-identical photos (a long burst of one scene):
every photo finds a near duplicate, and the work per photo stays the same from the 100th to the 10,000th.
And over 10,000 unrelated photos: a resized copy of the 100th is still found, as it would not be with eight
8-bit bands (the layout of distance 7), whose buckets each collect about 40 chance entries.

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


def process(hashes: list[int], distance: int = DISTANCE) -> list[tuple]:
    """Every photo through the variants step's claim and lookup (buckets of the default 16 entries), one after
    another: (original, near, pHash, used) each."""
    table = MemoryTable(TABLE)
    meter = MeteredDynamoDB(table)
    results = []
    for n, phash in enumerate(hashes, 1):
        upload = Upload(USER, f"photo-{n:05d}", f"upload-{n:05d}")
        sha256 = hashlib.sha256(upload.image_id.encode()).hexdigest()
        set_status(table, upload, "processing")
        meter.reset()
        index = Index(meter, TABLE)
        original = index.claim(upload, sha256)
        near = index.near(upload, phash, sha256, distance)
        results.append((original, near, phash, meter.snapshot()))
        set_status(table, upload, "completed")
    return results


@pytest.fixture(scope="module")
def processed():
    return process(library())


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
    # 5 buckets (distance 4) in one batch; the claim and the 5 buckets written.
    assert processed[-1][3].calls == {"get_item": 4, "batch_get_item": 1, "put_item": 6}
    assert (processed[-1][3].reads, processed[-1][3].writes) == (8, 6)


def test_the_10000th_photo_costs_what_the_100th_did(processed):
    hundredth, last = processed[99][3], processed[-1][3]
    assert processed[99][2] == processed[-1][2] == BASE
    assert last.as_dict() == hundredth.as_dict()
    # Every item is a strongly consistent read of at most 4 KB: one read unit each, misses included.
    assert last.read_unit_total == last.calls["get_item"] + 5
    # A full bucket of 16 entries is over 1 KB: 2 write units each, and 1 for the claim.
    assert last.write_unit_total == 1 + 5 * 2


@pytest.mark.parametrize(("distance", "found"), [(4, True), (7, False)], ids=["5 bands of 13 bits", "8 bands of 8"])
def test_a_resized_copy_of_the_100th_of_10000_unrelated_photos_is_found_with_bands_of_13_bits(distance, found):
    """The copy is 2 bits from the 100th photo, so it shares at least 3 of the 100th's 5 bands of 13 or 12 bits.
    Those buckets have collected about 10,000 / 8,192 chance entries since (10,000 / 4,096 in the 12-bit one):
    far fewer than 16. With 8-bit bands each has collected about 40 and the 100th is long gone from all."""
    rng = random.Random(100)
    unrelated = [rng.getrandbits(64) for _ in range(PHOTOS)]
    copy = unrelated[99] ^ (1 << 5 | 1 << 33)
    *library_, (_, near, _, used) = process([*unrelated, copy], distance)
    assert all(near is None for _, near, *_ in library_)  # unrelated photos are nobody's near duplicate
    assert (near is not None and near.image_id == "photo-00100" and near.distance == 2) is found, near
    assert used.reads <= MAX_READS and used.writes <= MAX_WRITES


def test_the_cost_tools_index_figures_are_what_the_index_costs_in_a_full_library():
    """`tools cost` prices tools/data/index_profile.json (written by `python -m bench duplicates` at 10,000
    images): a full library of 40 on moto costs the same per image, since the work no longer grows."""
    import boto3
    from moto import mock_aws

    from bench.duplicates import Library, index_profile
    from components import parse_settings
    from local.stack import create_status_table
    from tools import cost

    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_status_table(client, "status")
        library = Library(client)
        for _ in range(35):
            library.add()
        fresh = index_profile([library.add(metered=True)[0] for _ in range(5)], library)
    committed = cost.load("index_profile.json")
    same = ("items_read", "items_written", "read_units", "write_units", "status_reads", "claim_write_units",
            "near_duplicate_distance", "near_duplicate_candidates")
    assert {key: fresh[key] for key in same} == {key: committed[key] for key in same}
    assert committed["library"] >= 10_000
    # And the tool's formula gives back the measured figure for the settings it was measured with.
    assert cost.index_units(parse_settings({}), committed)[:2] == (committed["write_units"], committed["read_units"])
