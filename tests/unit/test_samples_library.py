"""The benchmarks' library: bursts of near duplicates as the variants step sees them, unrelated photos apart."""

from __future__ import annotations

import itertools
from collections import defaultdict

from contract.recipe import Recipe
from handlers.image import fingerprints, imaging
from local.samples import BURST_DISTANCE, library

PHOTOS = library(60, seed=3)


def phash(data: bytes) -> int:
    """The pHash the variants step stores: from the smallest variant of the default recipe."""
    _, smallest = imaging.make_variants_and_smallest(data, Recipe())
    return fingerprints.perceptual_hash(smallest)


def test_shots_of_a_burst_are_near_duplicates_and_other_photos_are_not():
    hashes = {name: phash(data) for name, data in PHOTOS}
    bursts: dict[str, list[int]] = defaultdict(list)
    for name, value in hashes.items():
        if name.startswith("burst-"):
            bursts[name.split("-")[1]].append(value)
    assert len(bursts) >= 2 and all(3 <= len(shots) <= 12 for shots in list(bursts.values())[:-1])
    assert max(fingerprints.hamming(a, b) for shots in bursts.values()
               for a, b in itertools.combinations(shots, 2)) <= BURST_DISTANCE
    firsts = [shots[0] for shots in bursts.values()] + [v for n, v in hashes.items() if n.startswith("photo-")]
    assert min(fingerprints.hamming(a, b) for a, b in itertools.combinations(firsts, 2)) > BURST_DISTANCE
    assert len({data for _, data in PHOTOS}) == len(PHOTOS)  # no exact duplicates: every shot is its own


def test_a_smaller_library_is_the_start_of_a_larger_one_of_the_same_seed():
    assert library(25, seed=3) == PHOTOS[:25]
    assert library(25, seed=4) != PHOTOS[:25]
