"""The duplicates index's rules that need no table: keys, flat hashes, and a busy table."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from contract.errors import TransientError
from handlers.image import fingerprints
from handlers.lifecycle import duplicates


def test_index_items_can_never_be_an_images_item():
    keys = duplicates.index_keys("alice", "upload-1", "ab" * 32, "0123456789abcdef")
    assert len(keys) == 1 + duplicates.BANDS
    assert all("/" in key["userId"]["S"] for key in keys)  # a real userId never contains "/"
    assert all(duplicates.is_index_item(key) for key in keys)
    assert not duplicates.is_index_item({"imageId": {"S": "sha256:x"}, "userId": {"S": "alice"}})
    # One partition per user and band: two users never share one.
    assert {k["imageId"]["S"] for k in keys[1:]}.isdisjoint(
        k["imageId"]["S"] for k in duplicates.index_keys("bob", "upload-2", "ab" * 32, "0123456789abcdef")[1:])


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
