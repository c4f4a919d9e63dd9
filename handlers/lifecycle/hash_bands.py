"""The band buckets of the near-duplicate index (`handlers.lifecycle.duplicates`), without any client: their
keys, their entries, and one lookup's candidates.

At a distance d (`near_duplicate_distance`) a 64-bit perceptual hash is cut into d + 1 bands as even as
64 bits allow (d = 4: 13, 13, 13, 13 and 12 bits); two hashes at most d bits apart agree on at least one
(pigeonhole). One bucket per (user, band layout, band index, band value) lists the newest uploads with that
band, newest first, each as `[imageId, upload token, pHash (16 hex), SHA-256 (last 12 hex)]`. The layout is
in the key, so a changed distance starts new buckets and never mixes bands of two widths.

Example:
    >>> bucket_keys("u", 0x0123_4567_89AB_CDEF, band_count(4))[0]
    {'imageId': {'S': 'phash0of5:0024:u'}, 'userId': {'S': 'u/bucket'}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from contract.table import item_bytes
from handlers.image import fingerprints
from handlers.lifecycle.status import now

BAND_COUNTS = range(1, 9)  # every layout a setting can choose: distances 0 to 7
MAX_BUCKET_BYTES = 4 * 1024  # one strongly consistent read unit: about 40 entries of typical names
# An entry names its upload by the upload's token (`handlers.lifecycle.uploads.upload_identity`: the id's
# first 16 hex digits), 64 bits, which no two uploads of one image share by chance.
UPLOAD_DIGITS = 16
SHA_DIGITS = 12  # an entry's SHA-256, its last hex digits: 48 bits tell an exact duplicate from a near one
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
    upload_token: str  # its upload's id, cut to `UPLOAD_DIGITS`

    def order(self) -> tuple[int, int, str, str]:
        """Closest first; at one distance the older first, so a copy's original is named rather than the copy
        (as `duplicateOf` names the first holder of the bytes)."""
        return self.distance, -self.rank, self.image_id, self.upload_token


def band_count(max_distance: int) -> int:
    """Bands a distance needs so that two hashes within it share one (pigeonhole)."""
    return max_distance + 1


def bucket_keys(user_id: str, phash: int, count: int) -> list[dict[str, Any]]:
    """The keys of a hash's `count` buckets: one partition per user, layout and band value, so users never
    share (or heat) each other's partitions. The `phash` prefix is what the functions' IAM allows."""
    return [{"imageId": {"S": f"phash{index}of{count}:{band}:{user_id}"}, "userId": {"S": f"{user_id}/bucket"}}
            for index, band in enumerate(fingerprints.bands(phash, count))]


def same_upload(upload_id: str, named: str) -> bool:
    """Is `named` (an entry's token, or a whole upload id) the upload `upload_id`?"""
    return upload_id[:UPLOAD_DIGITS] == named[:UPLOAD_DIGITS]


def entries(bucket: dict[str, Any] | None) -> list[list[str]]:
    return json.loads(bucket["entries"]["S"]) if bucket else []


class Lookup:
    """One upload's near-duplicate lookup: its entry, the candidates met, the stale entries found, the answer."""

    def __init__(self, image_id: str, upload_id: str, phash: int, sha256: str, max_distance: int) -> None:
        self.image_id, self.phash, self.sha, self.max_distance = image_id, phash, sha256[-SHA_DIGITS:], max_distance
        self.entry = [image_id, upload_id[:UPLOAD_DIGITS], format(phash, "016x"), self.sha]
        self.met: dict[tuple[str, str], Candidate] = {}
        self.stale: set[tuple[str, str]] = set()
        self.found: NearDuplicate | None = None

    def add(self, buckets: Iterable[dict[str, Any] | None]) -> list[Candidate]:
        """Take in the candidates of `buckets`; those not met before, closest first."""
        new: set[tuple[str, str]] = set()
        for bucket in buckets:
            for rank, (image, token, phash, sha) in enumerate(entries(bucket)):
                if image == self.image_id or sha == self.sha:
                    continue  # never its own image; an exact duplicate is `duplicateOf`, not a near one
                distance = fingerprints.hamming(self.phash, int(phash, 16))
                met = self.met.get((image, token))
                if distance <= self.max_distance and (met is None or rank < met.rank):
                    if met is None:
                        new.add((image, token))
                    self.met[image, token] = Candidate(distance, rank, image, token)
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
