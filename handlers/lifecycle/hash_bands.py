"""The band buckets of the near-duplicate index (`handlers.lifecycle.duplicates`), without any client: their
keys, their entries, and one lookup's candidates.

A 64-bit perceptual hash is cut into eight 8-bit bands; two hashes at most 7 bits apart agree on at least
one (pigeonhole). One bucket per (user, band index, band value) lists the newest uploads with that band,
newest first, each as `[imageId, uploadId, pHash (16 hex), SHA-256 (last 16 hex)]`.

Example:
    >>> bucket_keys("u", 0x0123_4567_89AB_CDEF)[0]
    {'imageId': {'S': 'phash0:01:u'}, 'userId': {'S': 'u/bucket'}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from contract.table import item_bytes
from handlers.image import fingerprints
from handlers.lifecycle.status import now

BANDS = 8  # of 8 bits: any two hashes within 7 bits share one
MAX_BUCKET_BYTES = 4 * 1024  # one strongly consistent read unit: about 30 entries of typical names
SHA_DIGITS = 16  # an entry's SHA-256, its last hex digits: 64 bits tell an exact duplicate from a near one
KIND = {"S": "fingerprint"}  # every index item's `kind`


@dataclass(frozen=True)
class NearDuplicate:
    image_id: str
    distance: int


@dataclass(frozen=True)
class Candidate:
    """A bucket entry of another image within the distance."""

    distance: int
    rank: int  # its position in the bucket that lists it nearest the front: 0 is the newest
    image_id: str
    upload_id: str

    def order(self) -> tuple[int, int, str, str]:
        """Closest first; at one distance the older first, so a copy's original is named rather than the copy
        (as `duplicateOf` names the first holder of the bytes)."""
        return self.distance, -self.rank, self.image_id, self.upload_id


def bucket_keys(user_id: str, phash: int) -> list[dict[str, Any]]:
    """The keys of a hash's 8 buckets: one partition per user and band value, so users never share (or heat)
    each other's partitions."""
    return [{"imageId": {"S": f"phash{index}:{band}:{user_id}"}, "userId": {"S": f"{user_id}/bucket"}}
            for index, band in enumerate(fingerprints.bands(phash, BANDS))]


def entries(bucket: dict[str, Any] | None) -> list[list[str]]:
    return json.loads(bucket["entries"]["S"]) if bucket else []


class Lookup:
    """One upload's near-duplicate lookup: its entry, the candidates met, the stale entries found, the answer."""

    def __init__(self, image_id: str, upload_id: str, phash: int, sha256: str, max_distance: int) -> None:
        self.image_id, self.phash, self.sha, self.max_distance = image_id, phash, sha256[-SHA_DIGITS:], max_distance
        self.entry = [image_id, upload_id, format(phash, "016x"), self.sha]
        self.met: dict[tuple[str, str], Candidate] = {}
        self.stale: set[tuple[str, str]] = set()
        self.found: NearDuplicate | None = None

    def add(self, buckets: Iterable[dict[str, Any] | None]) -> list[Candidate]:
        """Take in the candidates of `buckets`; those not met before, closest first."""
        new: set[tuple[str, str]] = set()
        for bucket in buckets:
            for rank, (image, upload_id, phash, sha) in enumerate(entries(bucket)):
                if image == self.image_id or sha == self.sha:
                    continue  # never its own image; an exact duplicate is `duplicateOf`, not a near one
                distance = fingerprints.hamming(self.phash, int(phash, 16))
                met = self.met.get((image, upload_id))
                if distance <= self.max_distance and (met is None or rank < met.rank):
                    if met is None:
                        new.add((image, upload_id))
                    self.met[image, upload_id] = Candidate(distance, rank, image, upload_id)
        return sorted((self.met[each] for each in new), key=Candidate.order)

    def candidates(self) -> list[Candidate]:
        return sorted(self.met.values(), key=Candidate.order)

    def offer(self, candidate: Candidate) -> None:
        """A live candidate: the answer if it is the first, or closer than the one found before."""
        if self.found is None or candidate.distance < self.found.distance:
            self.found = NearDuplicate(candidate.image_id, candidate.distance)

    def bucket_item(self, key: dict[str, Any], held: dict[str, Any] | None, candidates: int) -> dict[str, Any]:
        """The bucket read as `held` with this upload first, without the stale entries met (those of its own
        image's other uploads are kept: if this run has just lost the image, one is the new owner's), cut to
        the newest `candidates` that fit in `MAX_BUCKET_BYTES` (this upload's at least)."""
        kept = [self.entry] + [entry for entry in entries(held)
                               if entry[:2] != self.entry[:2] and (entry[0], entry[1]) not in self.stale]
        kept = kept[:candidates]
        version = {"N": str(int(held["version"]["N"]) + 1 if held else 1)}
        while True:
            item = key | {"kind": KIND, "entries": {"S": json.dumps(kept, ensure_ascii=False, separators=(",", ":"))},
                          "version": version, "updatedAt": {"S": now()}}
            if item_bytes(item) <= MAX_BUCKET_BYTES or len(kept) == 1:
                return item
            kept.pop()
