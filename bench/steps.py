"""The step profile the cost tool prices (`tools/data/step_profile.json`): CPU per step, bytes, counts.

    python -m bench steps            # prints the profile and writes build/step_profile.json
    cp build/step_profile.json tools/data/step_profile.json   # to make it the cost tool's default

- CPU ms of each workflow step on a 12 MP photo (5 MB JPEG), median of 5 after a warm-up, one process:
  validate (inspect), metadata (EXIF), variants (decode + cascade + encode) per format, fingerprint;
- CPU ms per message of the S3 event handler and the orchestrator, ours and the original design's
  (`bench.queue_handlers`: in-process on moto, so moto's share is in both);
- bytes of the variants per format, of a completed status item, and of log output per invocation
  (the local pipeline, 20 photos, dev stack);
- STANDARD state transitions per image, counted in the executions' histories (dev: no moderation;
  staging: moderation);
- the custom metrics the handlers emit.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import statistics
import time
from typing import Any

from bench.content import median_ms
from bench.imaging import SIZES, photo_jpeg
from bench.measure import ROOT
from contract.workflow_types import STANDARD

ASSUMPTIONS = {"aws_call_ms": 15, "dynamodb_call_ms": 5, "s3_mb_per_s": 90, "workflow_overhead_ms": 150,
               "lambda_platform_log_bytes": 300, "moderation_ms": 300,
               "note": "in-region latency of one AWS API call, of one DynamoDB call, S3 transfer rate per function, "
                       "Step Functions' own time per EXPRESS execution, the START/END/REPORT lines Lambda logs "
                       "per invocation, and one Rekognition call: typical figures, not measured here"}


def step_cpu(data: bytes) -> tuple[dict[str, Any], dict[str, int]]:
    from contract.recipe import Recipe
    from handlers.image import fingerprints, imaging

    def recipe(sizes: list[int], formats: list[str]) -> Recipe:
        return Recipe(variant_sizes=tuple(sizes), variant_formats=tuple(formats))

    cpu: dict[str, Any] = {"validate": median_ms(lambda: imaging.inspect(data)),
                           "metadata": median_ms(lambda: imaging.extract_metadata(data)), "variants": {}}
    sizes: dict[str, int] = {}
    for fmt in ("jpeg", "webp", "avif"):
        formats = ["jpeg"] if fmt == "jpeg" else ["jpeg", fmt]
        cpu["variants"][fmt] = median_ms(lambda f=formats: imaging.make_variants_and_smallest(data, recipe(SIZES, f)))
        variants, _ = imaging.make_variants_and_smallest(data, recipe(SIZES, [fmt]))
        sizes[fmt] = sum(len(v.data) for v in variants)
    # The decode and one small encode: the part of the step that does not grow with the variants.
    cpu["variants_160"] = median_ms(lambda: imaging.make_variants_and_smallest(data, recipe([160], ["jpeg"])))
    _, smallest = imaging.make_variants_and_smallest(data, recipe(SIZES, ["jpeg"]))
    cpu["fingerprint"] = median_ms(lambda: fingerprints.fingerprint(data, smallest))
    return cpu, sizes


def local_run(stack: str, count: int = 20) -> dict[str, float]:
    from local import express
    from local.runner import LocalRunner, Upload
    from local.samples import encode, photo
    from tests.e2e.workflow_types import stack_settings

    runner = LocalRunner(stack_settings(stack, STANDARD.name), quiet=False)
    uploads = [Upload(f"p{i}.jpg", f"uploads/u{i}/p{i}.jpg", encode(photo(800 + i, 600), "JPEG", quality=85))
               for i in range(count)]
    logs = io.StringIO()
    with runner.running(), contextlib.redirect_stdout(logs):
        runner.run(uploads)
        counts = runner.delivery.counts.invocations
        sfn = runner.emulator.sfn
        entered = [sum(e["type"].endswith("StateEntered") for e in sfn.get_execution_history(
            executionArn=x.execution_arn, maxResults=1000)["events"]) for x in express.executions(
            runner.pipeline.state_machine_arn)]
        table = runner.pipeline.table
        items = runner.emulator.dynamodb.scan(TableName=table)["Items"]
        sizes = [dynamodb_item_bytes(i) for i in items if i["userId"]["S"].startswith("u") and "/" not in
                 i["userId"]["S"] and i.get("status", {}).get("S") == "completed"]
    invocations = sum(counts.get(name, 0) for name in ("s3_event_handler", "orchestrator")) + 3 * count
    return {"transitions": statistics.median(entered), "item_bytes": max(sizes),
            "log_bytes_per_invocation": len(logs.getvalue().encode()) / invocations}


def dynamodb_item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (strings: UTF-8 bytes; numbers: about 1 byte per 2 digits
    + 1; null and booleans 1 byte)."""
    size = 0
    for name, value in item.items():
        (kind, content), = value.items()
        size += len(name.encode())
        size += (len(content.encode()) if kind == "S" else len(content.lstrip("-").replace(".", "")) // 2 + 1
                 if kind == "N" else 1)
    return size


def run() -> tuple[str, dict[str, Any]]:
    from bench import queue_handlers

    data = photo_jpeg()
    cpu, variant_bytes = step_cpu(data)
    with contextlib.redirect_stdout(io.StringIO()):
        _, queue = queue_handlers.run()
    cpu |= {"orchestrator": 1000 / queue["orchestrator_msgs_per_s"],
            "orchestrator_original": 1000 / queue["baseline_msgs_per_s"],
            # The S3 event handler sends per upload what the orchestrator starts per message: the same order of
            # work; the original adds a client pair and a HeadObject per upload.
            "s3_event_handler": 1000 / queue["orchestrator_msgs_per_s"],
            "s3_event_handler_original": 1000 / queue["baseline_msgs_per_s"]}
    plain, moderated = local_run("dev"), local_run("staging")
    metrics = {m for path in (ROOT / "handlers").glob("*.py")
               for m in re.findall(r'add_metric\(name="(\w+)"', path.read_text())}
    profile = {
        "measured": time.strftime("%Y-%m-%d") + ", python -m bench steps",
        "photo": {"megapixels": 12.0, "bytes": len(data)},
        "cpu_ms": {k: (round(v, 2) if isinstance(v, float) else {f: round(x, 2) for f, x in v.items()})
                   for k, v in cpu.items()},
        "variant_sizes": SIZES,
        "variant_bytes": variant_bytes,
        "status_item_bytes": int(max(plain["item_bytes"], moderated["item_bytes"])),
        "log_bytes_per_invocation": round(plain["log_bytes_per_invocation"]),
        "standard_transitions": {"plain": int(plain["transitions"]), "moderation": int(moderated["transitions"])},
        "custom_metrics": len(metrics) + 10,  # + the dynamic f"Reconciled..."/f"Executions..." names
        "assumptions": ASSUMPTIONS,
    }
    out = ROOT / "build" / "step_profile.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(profile, indent=2) + "\n")
    return f"### Step profile (written to {out.relative_to(ROOT)})\n\n```\n{json.dumps(profile, indent=2)}\n```\n", \
        profile

