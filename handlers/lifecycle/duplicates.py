"""Which of a user's images has the same content, or nearly: index items in the status table.

Two kinds of small items live in the status table beside the images, keyed so that no image
item can ever collide with them (a real `userId` never contains "/"):

| item | imageId | userId | what it says |
|---|---|---|---|
| content claim | `sha256:{hex}` | `{userId}/content` | the user's images with these exact bytes, in order |
| hash band | `phash{i}:{8 bits hex}:{userId}` | `{userId}/{uploadId}` | an upload whose perceptual hash has this band |

Only the upload that owns its image writes: each write comes after a strongly consistent read of the
image's status item shows this upload `processing`; a run that lost the image (a newer upload, or the
same bytes PUT again, took it) raises `UploadSuperseded` and writes nothing. Band items are keyed by
upload, so a run that loses the image between that read and its writes adds only items that no longer
count, never replacing the new owner's; the claim is written under its version number after that read,
so the new owner's place in it is never taken back.

Exact duplicates are race-safe: the claim is written with `attribute_not_exists`, then under a
version number, so of simultaneous uploads of the same bytes exactly one becomes the original and
the others record `duplicateOf` it, once it has completed (a copy waits for a still-processing
original's outcome); when the original stops holding the bytes, the next holder becomes the
original, and the original uploaded anew with the same bytes keeps its place.

Near duplicates use multi-index hashing: a 64-bit hash in eight 8-bit bands; two hashes at
most 7 bits apart agree on at least one band (pigeonhole), so a lookup is 8 strongly consistent
queries, never a scan (each returns the user's images sharing that band: about 1 in 256 of them
by chance, dropped by their distance before any further read). An image writes its band items
before it looks, so of two near duplicates processed at once, at least the later one to look
finds the other.

Index items are never trusted alone: each names the upload it came from, and counts only while
that image's status item still reflects that upload (stale ones are skipped, and deleted when met).

Example:
    >>> content_key("user-1", "ab" * 32)["userId"]
    {'S': 'user-1/content'}
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from contract.errors import TransientError, UploadSuperseded
from handlers.image import fingerprints
from handlers.lifecycle import status
from handlers.lifecycle.status import now

BANDS = 8  # of 8 bits: any two hashes within 7 bits share one
CLAIM_ATTEMPTS = 8
LOW_DETAIL_BITS = 8  # a photo's pHash has about 32 bits set (median threshold); a flat image's 0 or 1
MAX_CANDIDATES = 1_000  # per band query: bounds a lookup's reads whatever the user's library
ORIGINAL_WAIT_SECONDS = 30  # how long a copy waits for a still-processing original's outcome
# The claim keeps the first holder and the newest others that fit: 8 KB is about 100 holders of typical
# names (a holder of 256 emoji takes 1 KB), far below DynamoDB's 400 KB item limit, and 8 write units.
MAX_CLAIM_BYTES = 8 * 1024
LIVE_STATUSES = ("queued", "processing", "completed")  # a failed or rejected image is no original
KIND = {"S": "fingerprint"}
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


@dataclass(frozen=True)
class NearDuplicate:
    image_id: str
    distance: int


def is_index_item(item: dict[str, Any]) -> bool:
    """True for claim and band items (typed or plain): everything here, no image."""
    user = item["userId"]
    return "/" in (user["S"] if isinstance(user, dict) else user)


def content_key(user_id: str, sha256: str) -> dict[str, Any]:
    return {"imageId": {"S": f"sha256:{sha256}"}, "userId": {"S": f"{user_id}/content"}}


def index_keys(user_id: str, upload_id: str, sha256: str, phash: str) -> list[dict[str, Any]]:
    """The keys of every index item an upload's fingerprint may have written (to clean up after it)."""
    return [content_key(user_id, sha256), *(_band_key(index, band, user_id, upload_id)
                                            for index, band in enumerate(fingerprints.bands(int(phash, 16), BANDS)))]


def _band_key(index: int, band: str, user_id: str, upload_id: str) -> dict[str, Any]:
    """One item per upload (its id is unique: a digest of bucket, key, version and sequencer), so an upload
    never replaces another upload's band item of the same image."""
    return {"imageId": {"S": _band_partition(index, band, user_id)}, "userId": {"S": f"{user_id}/{upload_id}"}}


def _band_partition(index: int, band: str, user_id: str) -> str:
    """One partition per user and band value: users never share (or heat) each other's partitions."""
    return f"phash{index}:{band}:{user_id}"


def item_bytes(item: dict[str, Any]) -> int:
    """A (typed, flat) item's size as DynamoDB counts it: each attribute's name plus its value, in UTF-8."""
    return sum(len(name.encode()) + len(str(next(iter(value.values()))).encode()) for name, value in item.items())


def informative(phash: int) -> bool:
    """False for the hash of a flat or nearly flat image (one colour, a plain gradient, a 1 px high banner):
    its DCT is almost all zeros, so the hash is almost all 0 bits (or 1s) and would match every other
    such image. Those get no near-duplicate lookup; their exact duplicates are still found."""
    return LOW_DETAIL_BITS < phash.bit_count() < 64 - LOW_DETAIL_BITS


class Index:
    """The lookups of one table; `dynamodb` is a low-level client."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb, self.table = dynamodb, table
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

    def _conditional(self, call: Any, **kwargs: Any) -> bool:
        """A conditional write: False when its condition refused it."""
        try:
            self._call(call, **kwargs)
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def image(self, user_id: str, image_id: str) -> dict[str, Any] | None:
        """An image's status item (typed), read once per lookup and strongly consistent."""
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
        """Does the image still stand for that upload, and is it alive (not failed or rejected)?"""
        item = self.image(user_id, image_id)
        return (item is not None and item.get("uploadId", {}).get("S") == upload_id
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
        for attempt in range(CLAIM_ATTEMPTS):  # each turn settles, or lost a race that changed the claim
            held = self._call(self.dynamodb.get_item, TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            self._check_owner(upload)
            holders = self._holders(upload, json.loads(held["holders"]["S"]) if held else [])
            version = int(held["version"]["N"]) if held else 0
            item = _claim_item(key, holders, me, version + 1)
            holders = json.loads(item["holders"]["S"])
            condition = ("attribute_not_exists(imageId)" if held is None else "version = :version")
            values = {":version": {"N": str(version)}} if held is not None else {}
            written = self._conditional(self.dynamodb.put_item, TableName=self.table, Item=item,
                                        ConditionExpression=condition,
                                        **({"ExpressionAttributeValues": values} if values else {}))
            if written and holders[0] == me:
                return None
            if written and (original := self._settled(upload.user_id, holders[0])) is not None:
                return original
            if not written:  # another upload changed the claim first: jittered, so racers spread out
                time.sleep(random.uniform(0, 0.01 * 2 ** attempt))
            self._items.clear()  # the first holder failed, was rejected or replaced meanwhile: claim again
        raise TransientError(f"the content claim of {upload.image_id} kept changing under it; retrying the step")

    def _settled(self, user_id: str, holder: list[str]) -> Original | None:
        """The first holder as the original once it completed; None if it failed, was rejected or replaced.

        While it is still processing (two uploads of the same bytes at once), wait for its outcome, up
        to `ORIGINAL_WAIT_SECONDS`: a copy must not name an original that is about to be rejected.
        """
        image_id, upload_id = holder
        deadline, pause = time.monotonic() + ORIGINAL_WAIT_SECONDS, 0.2
        while True:
            self._items.pop(image_id, None)
            if not self.reflects(user_id, image_id, upload_id):
                return None
            found = self.image(user_id, image_id) or {}
            if found["status"]["S"] == "completed" or time.monotonic() >= deadline:  # running: name it all the same
                return Original(image_id, status.plain_item(found))
            time.sleep(pause)
            pause = min(pause * 1.5, 2.0)

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
        """Register `upload`'s hash bands, then find the closest other live image within `max_distance`
        (nothing for a flat image's hash, see `informative`). Raises `UploadSuperseded` when `upload` no
        longer owns its image."""
        if not informative(phash):
            return None
        self._check_owner(upload)
        bands = fingerprints.bands(phash, BANDS)
        hex_hash = format(phash, "016x")
        for index, band in enumerate(bands):
            self._call(self.dynamodb.put_item, TableName=self.table,
                       Item=_band_key(index, band, upload.user_id, upload.upload_id)
                                   | {"kind": KIND, "ownerImageId": {"S": upload.image_id},
                                      "ownerUploadId": {"S": upload.upload_id}, "phash": {"S": hex_hash},
                                      "sha256": {"S": sha256}})
        mine: list[dict[str, Any]] = []  # this image's items of other uploads
        candidates: list[tuple[int, str, dict[str, Any]]] = []
        for index, band in enumerate(bands):
            for entry in self._entries(index, band, upload.user_id):
                owner, owner_upload = entry["ownerImageId"]["S"], entry["ownerUploadId"]["S"]
                if owner == upload.image_id:
                    if owner_upload != upload.upload_id:
                        mine.append(entry)
                    continue
                if entry.get("sha256", {}).get("S") == sha256:
                    continue  # an exact duplicate is `duplicateOf`, not a near one
                distance = fingerprints.hamming(phash, int(entry["phash"]["S"], 16))
                if distance <= max_distance:
                    candidates.append((distance, owner, entry))
        if mine:  # an older upload's (or, if this run has just lost the image, the new owner's: kept)
            self._items.pop(upload.image_id, None)
            for entry in mine:
                if not self.reflects(upload.user_id, upload.image_id, entry["ownerUploadId"]["S"]):
                    self._forget(entry)
        # Closest first, every item of an image (an image re-uploaded with a slightly different hash has a
        # stale item and a live one), and only until one is live: a user with many similar images costs one
        # status read per image met, not one per item (stale items met on the way are deleted).
        for distance, owner, entry in sorted(candidates, key=lambda c: (c[0], c[1], c[2]["userId"]["S"])):
            if self.reflects(upload.user_id, owner, entry["ownerUploadId"]["S"]):
                return NearDuplicate(owner, distance)
            self._forget(entry)
        return None

    def _entries(self, index: int, band: str, user_id: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "imageId = :band AND begins_with(userId, :user)",
            "ExpressionAttributeValues": {":band": {"S": _band_partition(index, band, user_id)},
                                          ":user": {"S": f"{user_id}/"}}}
        read = 0
        while read < MAX_CANDIDATES:
            page = self._call(self.dynamodb.query, **kwargs, Limit=MAX_CANDIDATES - read)
            read += len(page.get("Items", []))
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _forget(self, entry: dict[str, Any]) -> None:
        """Delete a band item that no longer stands for its image's upload (unless it was renewed meanwhile)."""
        self._conditional(self.dynamodb.delete_item, TableName=self.table,
                     Key={"imageId": entry["imageId"], "userId": entry["userId"]},
                     ConditionExpression="ownerUploadId = :upload",
                     ExpressionAttributeValues={":upload": entry["ownerUploadId"]})


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
