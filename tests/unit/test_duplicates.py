"""The duplicates index's rules that need no table: keys, flat hashes, and a busy table."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from contract.errors import TransientError
from contract.table import item_bytes
from handlers.image import fingerprints
from handlers.lifecycle import duplicates, hash_bands
from handlers.lifecycle.uploads import upload_identity


def test_index_items_can_never_be_an_images_item():
    keys = duplicates.index_keys("alice", "ab" * 32, "0123456789abcdef", [5])
    assert keys == [duplicates.content_key("alice", "ab" * 32), *hash_bands.bucket_keys("alice", 0x0123456789ABCDEF, 5)]
    assert len(keys) == 1 + 5
    assert all("/" in key["userId"]["S"] for key in keys)  # a real userId never contains "/"
    assert all(duplicates.is_index_item(key) for key in keys)
    assert not duplicates.is_index_item({"imageId": {"S": "sha256:x"}, "userId": {"S": "alice"}})
    # One bucket per user, layout and band value, whatever the upload: two users never share one.
    assert [k["imageId"]["S"] for k in keys[1:]] == [f"phash{i}of5:{band}:alice" for i, band in enumerate(
        ["0024", "0d15", "13c4", "1abc", "def"])]
    assert {k["userId"]["S"] for k in keys[1:]} == {"alice/bucket"}
    assert {k["imageId"]["S"] for k in keys[1:]}.isdisjoint(
        k["imageId"]["S"] for k in duplicates.index_keys("bob", "ab" * 32, "0123456789abcdef", [5])[1:])
    # A bucket item of an older release (one per upload) is still an index item, never an image.
    assert duplicates.is_index_item({"imageId": {"S": "phash0:01:alice"}, "userId": {"S": "alice/upload-1"}})


def test_each_distance_has_its_own_buckets_so_a_changed_distance_never_mixes_band_widths():
    layouts = [{k["imageId"]["S"] for k in hash_bands.bucket_keys("u", 0x0123456789ABCDEF, count)}
               for count in hash_bands.BAND_COUNTS]
    assert [len(keys) for keys in layouts] == list(hash_bands.BAND_COUNTS)
    assert len(set().union(*layouts)) == sum(hash_bands.BAND_COUNTS)  # no key in two layouts
    assert all(key.startswith("phash") for keys in layouts for key in keys)  # what the functions' IAM allows
    # Cleaning up after an upload covers every layout, the content claim once.
    everything = duplicates.index_keys("u", "ab" * 32, "0123456789abcdef", hash_bands.BAND_COUNTS)
    assert len(everything) == 1 + sum(hash_bands.BAND_COUNTS) == 37
    assert hash_bands.band_count(4) == 5 and hash_bands.band_count(0) == 1 and hash_bands.band_count(7) == 8


def bucket(*entries: list[str], version: int = 1) -> dict:
    key = hash_bands.bucket_keys("u", 0x0123_4567_89AB_CDEF, 5)[0]
    return key | {"entries": {"S": json.dumps(list(entries))}, "version": {"N": str(version)}}


def test_a_bucket_puts_the_upload_first_keeps_its_images_other_uploads_and_drops_stale_entries_met():
    lookup = hash_bands.Lookup("a", "up-2", 0x0123_4567_89AB_CDEF, "cd" * 32, 4)
    lookup.stale.add(("x", "up-x"))
    held = bucket(["a", "up-2", "0123456789abcdef", "cd" * 6], ["x", "up-x", "0123456789abcdee", "11" * 6],
                  ["a", "up-1", "0123456789abcdee", "22" * 6], ["y", "up-y", "0123456789abcdef", "33" * 6], version=7)
    item = lookup.bucket_item(hash_bands.bucket_keys("u", 0x0123_4567_89AB_CDEF, 5)[0], held, 16)
    assert json.loads(item["entries"]["S"]) == [["a", "up-2", "0123456789abcdef", "cd" * 6],
                                                 ["a", "up-1", "0123456789abcdee", "22" * 6],
                                                 ["y", "up-y", "0123456789abcdef", "33" * 6]]
    assert item["version"] == {"N": "8"} and item["kind"] == {"S": "fingerprint"}
    # Capped at the newest `candidates`, this upload's entry first.
    capped = lookup.bucket_item(hash_bands.bucket_keys("u", 0x0123_4567_89AB_CDEF, 5)[0], held, 2)
    assert [entry[:2] for entry in json.loads(capped["entries"]["S"])] == [["a", "up-2"], ["a", "up-1"]]


def test_a_bucket_of_long_names_fits_in_one_read_unit_and_always_keeps_the_newest_entry():
    key = hash_bands.bucket_keys("u", 0x0123_4567_89AB_CDEF, 5)[0]
    long = "\N{GRINNING FACE}" * 240  # 960 bytes in UTF-8
    held = bucket(*([f"{long}{n}", f"up-{n}", "0123456789abcdef", f"{n:012x}"] for n in range(64)))
    lookup = hash_bands.Lookup("a", "up", 0x0123_4567_89AB_CDEF, "cd" * 32, 4)
    item = lookup.bucket_item(key, held, 64)
    assert item_bytes(item) <= hash_bands.MAX_BUCKET_BYTES
    assert [entry[1] for entry in json.loads(item["entries"]["S"])] == ["up", "up-0", "up-1", "up-2"]
    alone = hash_bands.Lookup("\N{GRINNING FACE}" * 1100, "up", 0x0123_4567_89AB_CDEF, "cd" * 32, 4)
    assert [entry[1] for entry in json.loads(alone.bucket_item(key, held, 64)["entries"]["S"])] == ["up"]


def test_a_lookup_meets_other_images_within_the_distance_closest_then_oldest_first():
    lookup = hash_bands.Lookup("a", "up-a", 0x0123_4567_89AB_CDEF, "cd" * 32, 2)
    new = lookup.add([bucket(["a", "up-0", "0123456789abcdee", "00" * 6],  # its own image: never a candidate
                             ["c", "up-c", "0123456789abcdec", "11" * 6],  # 2 bits
                             ["x", "up-x", "0123456789abcdef", "cd" * 6],  # the same bytes: an exact duplicate
                             ["d", "up-d", "0123456789abcdee", "22" * 6],  # 1 bit
                             ["f", "up-f", "fedcba9876543210", "33" * 6]),  # far
                      None,
                      bucket(["e", "up-e", "0123456789abcdec", "44" * 6], ["d", "up-d", "0123456789abcdee", "22" * 6])])
    # Closest first; at one distance the older first (by its newest place in any bucket): c is second in one.
    assert [(c.image_id, c.distance, c.rank) for c in new] == [("d", 1, 1), ("c", 2, 1), ("e", 2, 0)]
    assert lookup.add([bucket(["d", "up-d", "0123456789abcdee", "22" * 6])]) == []  # met before


@pytest.mark.parametrize("phash", [0, 1 << 63, (1 << 64) - 1, 0xFF00000000000000])
def test_a_flat_images_hash_gets_no_near_duplicate_lookup(phash):
    assert not duplicates.informative(phash)
    # Not even a request: a client that refuses every call is never called.
    assert duplicates.Index(Busy(), "status").near(duplicates.Upload("u", "a", "1"), phash, "ab", 4) is None


def test_a_photos_hash_is_informative():
    assert duplicates.informative(0x0123_4567_89AB_CDEF)
    assert fingerprints.hamming(0x0123_4567_89AB_CDEF, 0) == 32


class Busy:
    """A DynamoDB client whose every call is throttled."""

    def __getattr__(self, name):
        def call(**_):
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, name)
        return call


def test_a_throttled_table_is_a_transient_error_the_workflow_retries_never_a_failed_image():
    index = duplicates.Index(Busy(), "status")
    with pytest.raises(TransientError, match="ProvisionedThroughputExceededException"):
        index.claim(duplicates.Upload("u", "a", "1"), "ab" * 32)
    with pytest.raises(TransientError):
        index.near(duplicates.Upload("u", "a", "1"), 0x0123_4567_89AB_CDEF, "ab" * 32, 4)


def test_an_entry_names_its_upload_by_the_uploads_token_which_tells_it_from_the_images_other_uploads():
    upload, newer = (upload_identity({"bucketName": "in", "s3Key": "uploads/u/a.jpg", "eTag": etag, "sequencer": "0A"})
                     for etag in ("e1", "e2"))
    lookup = hash_bands.Lookup("a", upload["id"], 0x0123_4567_89AB_CDEF, "cd" * 32, 4)
    assert lookup.entry == ["a", upload["token"], "0123456789abcdef", "cd" * 6]
    assert hash_bands.same_upload(upload["id"], upload["token"]) and hash_bands.same_upload(upload["id"], upload["id"])
    assert not hash_bands.same_upload(newer["id"], upload["token"])
    # Short ids (tests', older items') compare whole: "upload-1" is not "upload-12".
    assert not hash_bands.same_upload("upload-12", "upload-1")


def test_a_bucket_of_16_entries_of_typical_names_is_under_1_7_kb_two_write_units():
    """A user and images named by UUIDs, real upload ids: 93 bytes an entry (113 with whole ids and 16 SHA digits)."""
    key, held = hash_bands.bucket_keys(str(uuid.UUID(int=1)), 0x0123_4567_89AB_CDEF, 5)[0], None
    for n in range(20):
        upload = upload_identity({"bucketName": "in", "s3Key": f"uploads/u/{n}.jpg", "eTag": "e" * 32})
        lookup = hash_bands.Lookup(str(uuid.UUID(int=n)), upload["id"], 0x0123_4567_89AB_CDEF ^ n, f"{n:064x}", 4)
        held = lookup.bucket_item(key, held, 16)
    assert len(json.loads(held["entries"]["S"])) == 16
    assert 1024 < item_bytes(held) < 1700
