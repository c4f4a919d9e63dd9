"""The runner's speed patches change how fast a library runs, never what becomes of it."""

from __future__ import annotations

from typing import Any

from components import parse_settings, read_stack_settings
from local.runner import LocalRunner, Upload
from local.samples import library
from tests.conftest import ROOT
from tools.status import plain_item

SETTINGS = parse_settings(read_stack_settings("dev", ROOT))  # duplicates flagged, its default
RECORD = ("status", "duplicateOf", "nearDuplicateOf", "nearDuplicateDistance", "phash")


def outcomes(uploads: list[Upload], *, fast: bool) -> dict[str, dict[str, Any]]:
    """Each image's status item (what the duplicate index decided included), uploading one image at a time
    and letting it settle, so which earlier image a near duplicate names does not depend on thread timing."""
    runner = LocalRunner(SETTINGS, fast=fast)
    with runner.running():
        for upload in uploads:
            runner.upload(upload)
            while runner.step():
                pass
            runner.wait_for_executions(below=1)
        runner.settle()
        items = runner.emulator.dynamodb.scan(TableName=runner.pipeline.table)["Items"]
    return {item["imageId"]: {name: item.get(name) for name in RECORD}
            for item in map(plain_item, items) if item.get("userId") == "photographer"}


def test_a_library_of_bursts_ends_the_same_with_the_speedups_as_on_stock_moto():
    uploads = [Upload(name, f"uploads/photographer/{name}", data) for name, data in library(40, seed=7)]
    fast, stock = outcomes(uploads, fast=True), outcomes(uploads, fast=False)
    assert fast == stock
    assert {record["status"] for record in fast.values()} == {"completed"}
    assert sum(record["nearDuplicateOf"] is not None for record in fast.values()) >= 10  # the bursts were found
