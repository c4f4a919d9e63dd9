"""The duplicate index's work per new image as one user's library of similar images grows.

The library is one scene shot again and again (every pHash within 2 bits of one base, every file other
bytes: a long burst), grown through the index itself as the variants step uses it: the image's status item
`processing`, `Index.claim`, `Index.near`, then `completed`, on moto. At 10, 100, 1,000 and 10,000 images
the next images are metered (`local.metering`: items read and written, the units DynamoDB bills) and the
next ones timed without the meter. Baseline, measured in the same run: the 10-image library. Goals: at
most 20 items read and 12 written per image at every size; time per image flat.

The figures at 10,000 images are written to build/index_profile.json: `tools cost` prices the committed
copy (tools/data/index_profile.json), and tests/functional/test_duplicates_library.py checks it against a
fresh measurement.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from typing import Any

from bench.measure import ROOT, table

SIZES = (10, 100, 1_000, 10_000)
METERED, TIMED = 10, 30  # images measured at each size
BASE_HASH = 0x0123_4567_89AB_CDEF
USER, TABLE = "user-1", "status"
READ_GOAL, WRITE_GOAL = 20, 12


class Library:
    """One user's images in a status table, each added through the index as the variants step adds it."""

    def __init__(self, dynamodb: Any) -> None:
        from contract.functions import VariantsSettings
        from local.metering import MeteredDynamoDB

        self.dynamodb, self.meter = dynamodb, MeteredDynamoDB(dynamodb)
        self.distance = VariantsSettings.near_duplicate_distance
        self.count, self.rng = 0, random.Random(24)

    def _status(self, image_id: str, upload_id: str, status: str) -> None:
        self.dynamodb.put_item(TableName=TABLE, Item={"imageId": {"S": image_id}, "userId": {"S": USER},
                                                      "status": {"S": status}, "uploadId": {"S": upload_id}})

    def add(self, *, metered: bool = False) -> tuple[dict[str, Any], float, bool]:
        """One more image: what its claim and lookup cost (metered, else nothing), its seconds, and whether
        it found a duplicate."""
        from handlers.lifecycle.duplicates import Index, Upload

        self.count += 1
        # Names as applications make them: a UUID for the image, the 32-hex digest `upload_identity` gives.
        upload = Upload(USER, str(uuid.UUID(int=self.rng.getrandbits(128))), f"{self.rng.getrandbits(128):032x}")
        sha256 = f"{self.rng.getrandbits(256):064x}"
        phash = BASE_HASH ^ sum(1 << bit for bit in self.rng.sample(range(64), self.rng.randint(0, 2)))
        self._status(upload.image_id, upload.upload_id, "processing")
        self.meter.reset()
        index = Index(self.meter if metered else self.dynamodb, TABLE)
        start = time.perf_counter()
        original = index.claim(upload, sha256)  # both, as the variants step makes them: a copy looks for near ones too
        near = index.near(upload, phash, sha256, self.distance)
        seconds = time.perf_counter() - start
        self._status(upload.image_id, upload.upload_id, "completed")
        return (self.meter.snapshot().as_dict() if metered else {}), seconds, bool(original or near)


def index_profile(metered: list[dict[str, Any]], library: Library) -> dict[str, Any]:
    """What `tools cost` needs, from the images metered in a full library: the fixed reads (claim, status
    items), the claim's write units, and one full bucket's size and write units."""
    from contract.functions import VariantsSettings
    from contract.table import item_bytes
    from handlers.lifecycle.hash_bands import band_count

    worst = max(metered, key=lambda m: (m["write_units"], m["read_units"]))
    bands = band_count(library.distance)
    bucket = library.dynamodb.get_item(TableName=TABLE, Key=_bucket_key(bands), ConsistentRead=True)["Item"]
    bucket_units = -(-item_bytes(bucket) // 1024)
    return {"measured": time.strftime("%Y-%m-%d") + ", python -m bench duplicates",
            "library": library.count, "near_duplicate_distance": library.distance,
            "near_duplicate_candidates": VariantsSettings.near_duplicate_candidates,
            "items_read": worst["items_read"], "items_written": worst["items_written"],
            "read_units": worst["read_units"], "write_units": worst["write_units"],
            "status_reads": worst["calls"].get("get_item", 0), "bucket_bytes": item_bytes(bucket),
            "claim_write_units": worst["write_units"] - bands * bucket_units}


def _bucket_key(bands: int) -> dict[str, Any]:
    from handlers.lifecycle.hash_bands import bucket_keys

    return bucket_keys(USER, BASE_HASH, bands)[0]


def run() -> tuple[str, dict[str, Any]]:
    import boto3
    from moto import mock_aws

    from local.stack import create_status_table

    figures: dict[str, Any] = {}
    rows = []
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        create_status_table(dynamodb, TABLE)
        library = Library(dynamodb)
        for size in SIZES:
            while library.count < size:
                library.add()
            metered = [library.add(metered=True) for _ in range(METERED)]
            timed = [library.add() for _ in range(TIMED)]
            worst = {key: max(m[0][key] for m in metered)
                     for key in ("items_read", "items_written", "read_units", "write_units")}
            ms = 1000 * statistics.median(seconds for _, seconds, _ in timed)
            found = sum(f for *_, f in metered + timed) / (METERED + TIMED)
            figures |= {f"{size}_{key}": value for key, value in worst.items()}
            figures |= {f"{size}_ms_per_image": ms, f"{size}_found": found}
            rows.append([f"{size:,}", worst["items_read"], worst["items_written"], f"{worst['read_units']:g}",
                         worst["write_units"], f"{ms:.1f}", f"{found:.0%}"])
        profile = index_profile([m[0] for m in metered], library)
    figures["ms_ratio"] = figures[f"{SIZES[-1]}_ms_per_image"] / figures[f"{SIZES[0]}_ms_per_image"]
    rows.append(["goal", f"<= {READ_GOAL}", f"<= {WRITE_GOAL}", "", "",
                 f"{figures['ms_ratio']:.2f}x the {SIZES[0]}-image library's", ""])
    out = ROOT / "build" / "index_profile.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(profile, indent=2) + "\n")
    figures["profile"] = profile
    return table(f"Duplicate index per new image in one user's library of N similar images (worst of {METERED} "
                 f"metered; time: median of {TIMED} on moto); written to {out.relative_to(ROOT)}",
                 ["N similar", "items read", "items written", "read units", "write units", "ms/image (moto)",
                  "duplicate found"], rows), figures
