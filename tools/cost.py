"""`python -m tools cost`: dollars per million images, by service, for a stack's settings.

Every quantity per image is counted from the settings (variants, formats, moderation, duplicates,
workflow type, batch sizes); durations come from measured CPU times (`tools/data/step_profile.json`,
written by `python -m bench steps`), scaled to each function's memory by Lambda's vCPU share (1,769 MB
is one vCPU; the steps are single-threaded, so more memory than that buys no speed), plus AWS call
latency and S3 transfer time (the profile's stated assumptions). Prices are data
(`tools/data/prices.json`: region, date, sources; `--prices FILE` overrides them).

Example:
    >>> from components import Settings
    >>> report = estimate(Settings.from_dict({}), images_per_month=1_000_000)
    >>> round(report.per_million("Step Functions"), 2)   # 7 transitions x $25 per million
    175.0
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.config import Settings

DATA = Path(__file__).parent / "data"
ONE_VCPU_MB = 1_769  # Lambda: "at 1,769 MB, a function has the equivalent of one vCPU"
EXPRESS_MEMORY_GB = 0.0625  # billed in 64 MB steps; our payloads are a few KB, so the first step
SECONDS_PER_MONTH = 30 * 86_400
ESM_POLLERS = 5  # an SQS event source mapping starts with five long-polling connections


def load(name: str, path: str | None = None) -> dict[str, Any]:
    return json.loads(Path(path or DATA / name).read_text())


@dataclass
class Report:
    """Per-image lines (service, what, dollars per image) and fixed monthly lines."""

    images_per_month: int
    workflow_type: str
    lines: list[tuple[str, str, float]] = field(default_factory=list)
    monthly: list[tuple[str, str, float]] = field(default_factory=list)

    def add(self, service: str, what: str, dollars_per_image: float) -> None:
        self.lines.append((service, what, dollars_per_image))

    def per_million(self, service: str | None = None) -> float:
        """Dollars per million images: per-image lines plus the fixed costs spread over the month's images."""
        variable = sum(d for s, _, d in self.lines if service in (None, s)) * 1e6
        fixed = sum(d for s, _, d in self.monthly if service in (None, s))
        return variable + fixed * 1e6 / max(self.images_per_month, 1)

    def services(self) -> list[str]:
        return list(dict.fromkeys(s for s, _, _ in self.lines + self.monthly))


def lambda_seconds(cpu_ms: float, io_ms: float, memory_mb: int) -> float:
    """Billed seconds: CPU time at the memory's vCPU share (the profile's CPU is one full core), plus waiting."""
    return (cpu_ms * ONE_VCPU_MB / min(memory_mb, ONE_VCPU_MB) + io_ms) / 1000


def variant_count(settings: Settings) -> int:
    wf = settings.workflow
    return (len(wf.variant_sizes) + len(wf.square_sizes)) * len(wf.variant_formats)


def estimate(settings: Settings, *, images_per_month: int = 1_000_000, megapixels: float | None = None,
             profile: dict[str, Any] | None = None, prices: dict[str, Any] | None = None,
             design: str = "ours") -> Report:
    """The cost of `images_per_month` new, valid images. `design="original"` prices the original
    design's handlers instead (a client per message, HeadObject + SendMessage per upload, a status
    write per message in the orchestrator) on the same steps."""
    p, r = profile or load("step_profile.json"), prices or load("prices.json")
    a, cpu, fs, wf = p["assumptions"], p["cpu_ms"], settings.functions, settings.workflow
    mp = megapixels or p["photo"]["megapixels"]
    scale = mp / p["photo"]["megapixels"]
    upload_mb = p["photo"]["bytes"] / 1e6 * scale
    call, ddb, mbps = a["aws_call_ms"], a["dynamodb_call_ms"], a["s3_mb_per_s"]
    express, original = wf.type == "EXPRESS", design == "original"
    # The original design had no duplicate index (and no moderation: price it with moderation off).
    moderated, indexed = settings.moderation.enabled, wf.duplicates != "off" and not original
    report = Report(images_per_month, wf.type)
    variants = variant_count(settings)
    variant_mb = sum(p["variant_bytes"][f] for f in wf.variant_formats) / 1e6 * (variants / max(
        len(wf.variant_formats) * 3, 1))

    # Lambda: what each function does for one image.
    orchestrator_calls = 2 if (express or original) else 1
    invocations = {
        "s3_event_handler": (1, cpu["s3_event_handler_original" if original else "s3_event_handler"],
                             call * (2 if original else 1)),
        "orchestrator": (1 / fs.orchestrator.batch_size, cpu["orchestrator_original" if original else "orchestrator"],
                         call * orchestrator_calls),
        "validate": (1, cpu["validate"], 2 * call),
        "variants": (1, (cpu["variants"]["jpeg"] + sum(cpu["variants"].get(f, 0) - cpu["variants"]["jpeg"]
                                                       for f in wf.variant_formats if f != "jpeg")) * scale
                     + cpu["fingerprint"],
                     call + upload_mb / mbps * 1000 + variants * call + variant_mb / mbps * 1000
                     + (18 * ddb if indexed else 0)),
        "metadata": (1, cpu["metadata"], 2 * call),
    }
    gb_second = r["lambda"]["gb_second"]
    step_seconds = 0.0
    for name, (per_image, cpu_ms, io_ms) in invocations.items():
        fn = getattr(fs, name)
        seconds = lambda_seconds(cpu_ms, io_ms, fn.memory_size)  # per image (a batch's messages add up)
        report.add("Lambda", f"{name} requests", per_image * r["lambda"]["request"])
        report.add("Lambda", f"{name} duration ({fn.memory_size} MB {fn.architecture}, {seconds * 1000:.0f} ms)",
                   seconds * fn.memory_size / 1024 * gb_second[fn.architecture])
        if name in ("validate", "variants", "metadata"):
            step_seconds += seconds if name != "metadata" else 0  # metadata runs beside variants

    # Step Functions.
    transitions = p["standard_transitions"]["moderation" if moderated else "plain"]
    sfn = r["step_functions"]
    if express:
        billed = math.ceil((step_seconds + a["workflow_overhead_ms"] / 1000) * 10) / 10  # 100 ms steps
        report.add("Step Functions", "EXPRESS requests", sfn["express_request"])
        report.add("Step Functions", f"EXPRESS duration ({billed:.1f} s x 64 MB)",
                   billed * EXPRESS_MEMORY_GB * sfn["express_gb_second"])
    else:
        report.add("Step Functions", f"STANDARD state transitions ({transitions})",
                   transitions * sfn["standard_transition"])

    # SQS: the send, the event source mapping's receive and delete per batch; idle long polls monthly.
    batch = fs.orchestrator.batch_size
    report.add("SQS", "send + receive + delete", r["sqs"]["request"] * (1 + 2 / batch))
    report.monthly.append(("SQS", "idle long polling (2 queues)",
                           2 * ESM_POLLERS * SECONDS_PER_MONTH / 20 * r["sqs"]["request"]))

    # S3: variants written; reads of the upload (validate, variants, metadata; HEADs are GET-priced).
    gets = 3 + 2 + (1 if original else 0) + (2 if moderated else 0)
    report.add("S3", f"PUT {variants} variants", variants * r["s3"]["put"])
    report.add("S3", f"GET/HEAD x {gets}", gets * r["s3"]["get"])
    report.add("S3", f"variants stored one month ({variant_mb:.2f} MB)",
               variant_mb / 1024 * r["s3"]["storage_gb_month"])

    # DynamoDB on demand: status writes (1 WRU per KB of the larger of the item before and after).
    item_kb = math.ceil(p["status_item_bytes"] / 1024)
    writes = 1 + item_kb + (1 if (express or original) else 0)
    reads = 0
    if indexed:
        writes, reads = writes + 9, reads + 8 + 1
    report.add("DynamoDB", f"{writes} write units" + (f", {reads} read units" if reads else ""),
               writes * r["dynamodb"]["write_request_unit"] + reads * r["dynamodb"]["read_request_unit"])

    # CloudWatch: logs per invocation (measured), metrics and alarms monthly.
    invocations_per_image = sum(n for n, _, _ in invocations.values())
    log_bytes = p["log_bytes_per_invocation"] + a["lambda_platform_log_bytes"]  # + START, END, REPORT lines
    report.add("CloudWatch", "logs", invocations_per_image * log_bytes / 1e9 * r["cloudwatch"]["logs_ingested_gb"])
    report.monthly.append(("CloudWatch", f"{p['custom_metrics']} custom metrics",
                           p["custom_metrics"] * r["cloudwatch"]["metric_month"]))
    report.monthly.append(("CloudWatch", f"{p['alarms']} alarms", p["alarms"] * r["cloudwatch"]["alarm_month"]))
    if wf.tracing:
        report.add("X-Ray", "traces (5 % sampled)", 0.05 * r["xray"]["trace"])
    if moderated:
        report.add("Rekognition", "DetectModerationLabels", r["rekognition"]["image"])
    if settings.encryption.mode == "kms":
        # S3 Bucket Keys, SQS data-key reuse and DynamoDB's table key cache leave few requests per image.
        report.monthly.append(("KMS", "customer keys (data, alerts)", 2 * r["kms"]["key_month"]))
    return report


def render(settings: Settings, stack: str, reports: dict[str, Report], megapixels: float) -> str:
    """A table per workflow type, side by side: dollars per million images by service."""
    types = list(reports)
    services = list(dict.fromkeys(s for rep in reports.values() for s in rep.services()))
    images = next(iter(reports.values())).images_per_month
    lines = [f"Cost of {images:,} images a month on stack {stack} ({megapixels:g} MP photos), dollars per million "
             "images", "", "| service | " + " | ".join(types) + " |", "|---|" + "---|" * len(types)]
    for service in services:
        lines.append(f"| {service} | " + " | ".join(f"{reports[t].per_million(service):,.2f}" for t in types) + " |")
    lines.append("| **total** | " + " | ".join(f"**{reports[t].per_million():,.2f}**" for t in types) + " |")
    lines += ["", f"Details ({settings.workflow.type}, the stack's type):"]
    for service, what, dollars in reports[settings.workflow.type].lines:
        lines.append(f"  {service:<15} {what:<60} {dollars * 1e6:>10,.2f} per million")
    for service, what, dollars in reports[settings.workflow.type].monthly:
        lines.append(f"  {service:<15} {what:<60} {dollars:>10,.2f} per month")
    return "\n".join(lines)
