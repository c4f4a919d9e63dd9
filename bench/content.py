"""Content: what the placeholder and the hashes add to the variants step, on a 12 MP photo.

The variants step decodes the upload once and resizes in a cascade (`handlers.image.imaging`); the
fingerprint (`handlers.image.fingerprints`) then costs a SHA-256 of the uploaded bytes plus a pHash,
ThumbHash and average colour of the smallest variant's pixels (160 px). Baseline, measured in the
same run: the same fingerprint taken from the original (decoded whole, as a step of its own would).
Goal: placeholder + hashes <= 5 % of the variants step. The step hashes the upload while it
downloads (`objects.read_hashed`), so what it adds after the download is the placeholder and the
pHash; the table gives both, with the SHA-256 and without. Median of 5 runs after a warm-up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from io import BytesIO

from bench.imaging import SIZES, photo_jpeg
from bench.measure import table

RUNS = 5


def median_ms(call: Callable[[], object]) -> float:
    call()  # warm-up
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run() -> tuple[str, dict[str, float]]:
    from PIL import Image

    from contract.recipe import Recipe
    from handlers.image import fingerprints
    from handlers.image.imaging import make_variants_and_smallest

    data = photo_jpeg()
    _, smallest = make_variants_and_smallest(data, Recipe(variant_sizes=tuple(SIZES)))

    def from_original() -> object:
        with Image.open(BytesIO(data)) as image:
            image.load()
            return fingerprints.fingerprint(data, image.convert("RGB"))

    figures = {
        "variants step ms": median_ms(lambda: make_variants_and_smallest(data, Recipe(variant_sizes=tuple(SIZES)))),
        "sha256 ms": median_ms(lambda: fingerprints.sha256_hex(data)),
        "phash ms": median_ms(lambda: fingerprints.perceptual_hash(smallest)),
        "thumbhash ms": median_ms(lambda: fingerprints.thumbhash(smallest, fingerprints.PLACEHOLDER_SIDE)),
        "average colour ms": median_ms(lambda: fingerprints.average_colour(smallest)),
        "fingerprint ms": median_ms(lambda: fingerprints.fingerprint(data, smallest)),
        # What the step spends after the download: the SHA-256 is taken chunk by chunk while it arrives.
        "placeholder + phash ms": median_ms(lambda: fingerprints.fingerprint(data, smallest, sha256="known")),
        "fingerprint from the original ms": median_ms(from_original),
    }
    figures["fingerprint share of variants step"] = figures["fingerprint ms"] / figures["variants step ms"]
    figures["placeholder + phash share of variants step"] = (figures["placeholder + phash ms"]
                                                            / figures["variants step ms"])
    figures["from the original / fingerprint"] = figures["fingerprint from the original ms"] / figures["fingerprint ms"]
    rows = [[name.removesuffix(" ms"), f"{value:.1f}"] for name, value in figures.items() if name.endswith(" ms")]
    rows.append(["fingerprint / variants step", f"{figures['fingerprint share of variants step']:.1%}"])
    rows.append(["placeholder + phash / variants step",
                 f"{figures['placeholder + phash share of variants step']:.1%}"])
    rows.append(["from the original / fingerprint", f"{figures['from the original / fingerprint']:.0f}x"])
    title = (f"Content: placeholder and hashes of a {len(data) / 1e6:.1f} MB 12 MP JPEG (variants {SIZES} px, JPEG); "
             "goal: fingerprint <= 5 % of the variants step")
    return table(title, ["task", "ms"], rows), figures
