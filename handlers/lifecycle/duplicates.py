"""Which of a user's images has the same content, or nearly: index items in the status table.

Two kinds of small items live in the status table beside the images, keyed so that no image
item can ever collide with them (a real `userId` never contains "/"):

| item | imageId | userId | what it says |
|---|---|---|---|
| content claim | `sha256:{hex}` | `{userId}/content` | the user's images with these exact bytes, in order |
| band bucket | `phash{i}of{n}:{band hex}:{userId}` | `{userId}/bucket` | the newest uploads with this band value |

Only the upload that owns its image writes: each write comes after a strongly consistent read of the
image's status item shows this upload `processing`; a run that lost the image (a newer upload, or the
same bytes PUT again, took it) raises `UploadSuperseded` and writes nothing. A run that loses the image
between that read and its writes never takes the new owner's place: the claim is written under its
version number, and a bucket keeps every entry of the run's own image (each names its upload).

Exact duplicates are race-safe: the claim is written with `attribute_not_exists`, then under a
version number, so of simultaneous uploads of the same bytes exactly one becomes the original and
the others record `duplicateOf` it, once it has completed (a copy waits for a still-processing
original's outcome); when the original stops holding the bytes, the next holder becomes the
original, and the original uploaded anew with the same bytes keeps its place.

Near duplicates use multi-index hashing: at a distance d, a 64-bit hash in d + 1 bands as even as 64
bits allow (13, 13, 13, 13 and 12 bits at 4); two hashes at most d bits apart agree on at least one band
(pigeonhole). A bucket (`handlers.lifecycle.hash_bands`) lists the uploads with one band value, newest
first: the newest `candidates` of them (the `near_duplicate_candidates` setting) that fit in
`MAX_BUCKET_BYTES`, one strongly consistent read unit. A lookup reads the owner's status item, the d + 1
buckets in one BatchGetItem and at most `MAX_STALE_CHECKS` candidates' status items, then writes itself
first into each bucket under its version number: at most d + 6 items read and d + 1 written (10 and 5 at
4), however large the user's library (a race lost to another upload costs one read and one write more, and
one read of each image within the distance that entered the bucket meanwhile).

What is found: the first live image (completed, or still being processed) among the candidates within
the distance, closest first and at one distance the older first. Whenever a live image within the distance is among the
`candidates` newest uploads sharing a band with this one, and fewer than `MAX_STALE_CHECKS` stale entries
(uploads their image no longer reflects) in those buckets are at least as close, a near duplicate at
least as close as it is found. Of two near duplicates processed at once, at least the later writer of a
bucket they share finds the other (its conditional write fails, it reads the bucket again).

Index items are never trusted alone: each entry names the upload it came from and counts only while
that image's status item still reflects that upload; stale entries met are dropped at the next write.

Example:
    >>> content_key("user-1", "ab" * 32)["userId"]
    {'S': 'user-1/content'}
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from contract.errors import TransientError, UploadSuperseded
from contract.functions import VariantsSettings
from contract.table import item_bytes
from handlers.lifecycle import status
from handlers.lifecycle.hash_bands import KIND, Candidate, Lookup, NearDuplicate, band_count, bucket_keys, same_upload
from handlers.lifecycle.status import now

WRITE_ATTEMPTS = 8  # of a claim or a bucket, each after losing a race to another upload
LOW_DETAIL_BITS = 8  # a photo's pHash has about 32 bits set (median threshold); a flat image's 0 or 1
MAX_STALE_CHECKS = 4  # candidates' status items read per lookup (an image's two entries cost one read)
ORIGINAL_WAIT_SECONDS = 30  # how long a copy waits for a still-processing original's outcome
# The claim keeps the first holder and the newest others that fit: 8 KB is about 100 holders of typical
# names (a holder of 256 emoji takes 1 KB), far below DynamoDB's 400 KB item limit, and 8 write units.
MAX_CLAIM_BYTES = 8 * 1024
LIVE_STATUSES = ("queued", "processing", "completed")  # a failed or rejected image is no original
TRANSIENT_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                   "InternalServerError", "ServiceUnavailable", "TransactionConflictException"}


@dataclass(frozen=True)
class Upload:
    """The image an execution is processing: who, which image, which upload of it."""

    user_id: str
    image_id: str
    upload_id: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Upload:
        return cls(user_id=event["userId"], image_id=event["imageId"], upload_id=event["upload"]["id"])


@dataclass(frozen=True)
class Original:
    """The image an exact duplicate duplicates, with its status item (plain) when it has completed."""

    image_id: str
    item: dict[str, Any]


def is_index_item(item: dict[str, Any]) -> bool:
    """True for claim and bucket items (typed or plain): everything here, no image."""
    user = item["userId"]
    return "/" in (user["S"] if isinstance(user, dict) else user)


def content_key(user_id: str, sha256: str) -> dict[str, Any]:
    return {"imageId": {"S": f"sha256:{sha256}"}, "userId": {"S": f"{user_id}/content"}}


def index_keys(user_id: str, sha256: str, phash: str, band_counts: Iterable[int]) -> list[dict[str, Any]]:
    """The keys of every index item an upload's fingerprint may have written to in any of the layouts of
    `band_counts` (`hash_bands.BAND_COUNTS`: every distance's), to clean up after it."""
    return [content_key(user_id, sha256),
            *(key for count in band_counts for key in bucket_keys(user_id, int(phash, 16), count))]


def informative(phash: int) -> bool:
    """False for the hash of a flat or nearly flat image (one colour, a plain gradient, a 1 px high banner):
    its DCT is almost all zeros, so the hash is almost all 0 bits (or 1s) and would match every other
    such image. Those get no near-duplicate lookup; their exact duplicates are still found."""
    return LOW_DETAIL_BITS < phash.bit_count() < 64 - LOW_DETAIL_BITS


def _back_off(attempt: int) -> None:
    """After a lost race: jittered, so racers spread out."""
    time.sleep(random.uniform(0, 0.01 * 2 ** attempt))


class Index:
    """The lookups of one table; `dynamodb` is a low-level client; `candidates` entries kept per bucket."""

    def __init__(self, dynamodb: Any, table: str,
                 candidates: int = VariantsSettings.near_duplicate_candidates) -> None:
        self.dynamodb, self.table, self.candidates = dynamodb, table, candidates
        self._items: dict[str, dict[str, Any] | None] = {}

    def _call(self, call: Any, **kwargs: Any) -> Any:
        """One DynamoDB call; throttling and service errors become `TransientError`, which the workflow retries
        (a good image must never fail because the index was busy)."""
        try:
            return call(**kwargs)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in TRANSIENT_CODES or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                raise TransientError(f"DynamoDB {code} while looking for duplicates; retrying") from None
            raise

    def _put_if_unchanged(self, item: dict[str, Any], read: dict[str, Any] | None) -> bool:
        """Write `item` unless its key changed since `read` (None: it did not exist); False when it had."""
        condition = {"ConditionExpression": "attribute_not_exists(imageId)"} if read is None else {
            "ConditionExpression": "version = :version", "ExpressionAttributeValues": {":version": read["version"]}}
        try:
            self._call(self.dynamodb.put_item, TableName=self.table, Item=item, **condition)
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        return self._call(self.dynamodb.get_item, TableName=self.table, Key=key, ConsistentRead=True).get("Item")

    def image(self, user_id: str, image_id: str) -> dict[str, Any] | None:
        """An image's status item (typed), read once per lookup and strongly consistent. Only a read made after
        an entry was read can tell that entry stale: an upload's entry is written after its status item."""
        if image_id not in self._items:
            self._items[image_id] = self._call(status.get_item, dynamodb=self.dynamodb, table=self.table,
                                               image_id=image_id, user_id=user_id)
        return self._items[image_id]

    def _check_owner(self, upload: Upload) -> None:
        """Raise `UploadSuperseded` unless `upload` still owns its image (read afresh): only the upload the
        status item reflects, while it is processed, writes to the index."""
        self._items.pop(upload.image_id, None)
        item = self.image(upload.user_id, upload.image_id) or {}
        if item.get("uploadId", {}).get("S") != upload.upload_id:
            raise UploadSuperseded(f"image {upload.image_id!r} now reflects another upload: this run leaves "
                                   "the duplicates index alone")
        if (state := item.get("status", {}).get("S")) != "processing":
            raise UploadSuperseded(f"image {upload.image_id!r} is {state}, no longer processing: this run "
                                   "leaves the duplicates index alone")

    def reflects(self, user_id: str, image_id: str, upload_id: str) -> bool:
        """Does the image still stand for that upload (its id or a bucket entry's token), and is it alive
        (not failed or rejected)?"""
        item = self.image(user_id, image_id)
        return (item is not None and same_upload(item.get("uploadId", {}).get("S", ""), upload_id)
                and item.get("status", {}).get("S") in LIVE_STATUSES)

    def claim(self, upload: Upload, sha256: str) -> Original | None:
        """Claim these bytes for `upload`'s image; the image that holds them first, if another does.

        The claim lists its holders in the order they came. The original is the first that still holds
        the bytes: when it is re-uploaded with other content, fails or is rejected, the next holder
        takes its place. A retry of this very step finds itself where it was and gives the same answer.
        Raises `UploadSuperseded` when `upload` no longer owns its image (checked after reading the claim,
        before writing it under the version read: the new owner's entry is never replaced).
        """
        key = content_key(upload.user_id, sha256)
        me = [upload.image_id, upload.upload_id]
        for attempt in range(WRITE_ATTEMPTS):  # each turn settles, or lost a race that changed the claim
            held = self._get(key)
            self._check_owner(upload)
            holders = self._holders(upload, json.loads(held["holders"]["S"]) if held else [])
            item = _claim_item(key, holders, me, int(held["version"]["N"]) + 1 if held else 1)
            holders = json.loads(item["holders"]["S"])
            written = self._put_if_unchanged(item, held)
            if written and holders[0] == me:
                return None
            if written and (original := self._settled(upload.user_id, holders[0])) is not None:
                return original
            if not written:
                _back_off(attempt)
            self._items.clear()  # the first holder failed, was rejected or replaced meanwhile: claim again
        raise TransientError(f"the content claim of {upload.image_id} kept changing under it; retrying the step")

    def _settled(self, user_id: str, holder: list[str]) -> Original | None:
        """The first holder as the original once it completed; None if it failed, was rejected or replaced.

        Its first look is the status item `_holders` has just read. While it is still processing (two
        uploads of the same bytes at once), wait for its outcome, up to `ORIGINAL_WAIT_SECONDS`: a copy
        must not name an original that is about to be rejected.
        """
        image_id, upload_id = holder
        deadline, pause = time.monotonic() + ORIGINAL_WAIT_SECONDS, 0.2
        while True:
            if not self.reflects(user_id, image_id, upload_id):
                return None
            found = self.image(user_id, image_id) or {}
            if found["status"]["S"] == "completed" or time.monotonic() >= deadline:  # running: name it all the same
                return Original(image_id, status.plain_item(found))
            time.sleep(pause)
            pause = min(pause * 1.5, 2.0)
            self._items.pop(image_id, None)  # look again

    def _holders(self, upload: Upload, holders: list[list[str]]) -> list[list[str]]:
        """`holders` without those that no longer hold the bytes up to the first that does, and with `upload`."""
        me = [upload.image_id, upload.upload_id]
        kept: list[list[str]] = []
        for image, upload_id in holders:
            if image == upload.image_id:
                if me not in kept:
                    kept.append(me)  # this image again (a retry, or the same bytes uploaded anew) keeps its place
            elif kept or self.reflects(upload.user_id, image, upload_id):
                kept.append([image, upload_id])  # past the first live holder, the rest are checked when first
        if me not in kept:
            kept.append(me)
        return kept

    def near(self, upload: Upload, phash: int, sha256: str, max_distance: int) -> NearDuplicate | None:
        """The closest other live image within `max_distance` (see the module's guarantee), and `upload`
        entered first in its `max_distance` + 1 buckets (nothing for a flat image's hash, see `informative`). Raises
        `UploadSuperseded` when `upload` no longer owns its image."""
        if not informative(phash):
            return None
        self._items.clear()  # read before the buckets (by the claim): an entry may be newer than what was read
        self._check_owner(upload)
        lookup = Lookup(upload.image_id, upload.upload_id, phash, sha256, max_distance)
        keys = bucket_keys(upload.user_id, phash, band_count(max_distance))
        buckets = self._read_buckets(keys)
        lookup.add(buckets.values())
        self._check(upload.user_id, lookup, lookup.candidates(), MAX_STALE_CHECKS)
        for key in keys:
            self._enter(upload.user_id, lookup, key, buckets[key["imageId"]["S"]])
        return lookup.found

    def _read_buckets(self, keys: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
        """The buckets of `keys` (None where there is none yet) in one strongly consistent BatchGetItem,
        asked again for any keys DynamoDB left unprocessed."""
        found: dict[str, dict[str, Any]] = {}
        request = {self.table: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(WRITE_ATTEMPTS):
            response = self._call(self.dynamodb.batch_get_item, RequestItems=request)
            found |= {item["imageId"]["S"]: item for item in response.get("Responses", {}).get(self.table, [])}
            if not (request := response.get("UnprocessedKeys") or {}):
                return {key["imageId"]["S"]: found.get(key["imageId"]["S"]) for key in keys}
            _back_off(attempt)
        raise TransientError("DynamoDB kept leaving hash buckets unread while looking for duplicates; retrying")

    def _check(self, user_id: str, lookup: Lookup, candidates: list[Candidate], checks: int) -> None:
        """Offer `lookup` the first of `candidates` whose image still reflects it, reading at most `checks`
        status items (an image already read costs nothing); the stale ones met are remembered."""
        for candidate in candidates:
            if candidate.image_id not in self._items:
                if checks == 0:
                    continue
                checks -= 1
            if self.reflects(user_id, candidate.image_id, candidate.upload_token):
                lookup.offer(candidate)
                return
            lookup.stale.add((candidate.image_id, candidate.upload_token))

    def _enter(self, user_id: str, lookup: Lookup, key: dict[str, Any], held: dict[str, Any] | None) -> None:
        """Write `lookup`'s upload first into one bucket read as `held`. A lost race reads the bucket again
        and checks the uploads that entered it meanwhile (a near duplicate processed at the same time is
        found by at least the later writer) before writing again."""
        for attempt in range(WRITE_ATTEMPTS):
            if self._put_if_unchanged(lookup.bucket_item(key, held, self.candidates), held):
                return
            held = self._get(key)
            raced = lookup.add([held])
            for candidate in raced:  # its image was maybe read before this upload of it entered the bucket
                self._items.pop(candidate.image_id, None)
            self._check(user_id, lookup, raced, len({candidate.image_id for candidate in raced}))
            _back_off(attempt)
        raise TransientError(f"a hash bucket of {lookup.image_id} kept changing under it; retrying the step")


def _claim_item(key: dict[str, Any], holders: list[list[str]], me: list[str], version: int) -> dict[str, Any]:
    """The content claim: `holders` without the oldest after the first (never `me`) until it fits in
    `MAX_CLAIM_BYTES`, so no number or length of names can make it too large to write."""
    holders = list(holders)
    while True:
        item = key | {"kind": KIND, "holders": {"S": json.dumps(holders, ensure_ascii=False, separators=(",", ":"))},
                      "version": {"N": str(version)}, "updatedAt": {"S": now()}}
        droppable = [position for position, holder in enumerate(holders[1:], 1) if holder != me]
        if item_bytes(item) <= MAX_CLAIM_BYTES or not droppable:
            return item
        del holders[droppable[0]]
