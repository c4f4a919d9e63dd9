"""`python -m tools cost`: dollars per million images, by service, for a stack's settings.

Every quantity per image is counted from the settings (variants, formats, moderation, duplicates,
workflow type, batch sizes); durations come from measured CPU times (`tools/data/step_profile.json`,
written by `python -m bench steps`), scaled to each function's memory by Lambda's vCPU share (1,769 MB
is one vCPU; the steps are single-threaded, so more memory than that buys no speed), plus AWS call
latency and S3 transfer time (the profile's stated assumptions). Prices are data
(`components/settings/prices.json`, the component's package data: region, date, sources; `--prices FILE`
overrides them).

Example:
    >>> from components import parse_settings
    >>> report = estimate(parse_settings({}), images_per_month=1_000_000)
    >>> round(report.per_million("Step Functions"), 2)   # 7 transitions x $25 per million
    175.0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.network.services import HOURS_PER_MONTH, endpoint_hours_cost, endpoint_zones, interface_services
from components.settings import prices as price_data
from components.settings.config import Settings
from contract.workflow_types import WORKFLOW_TYPES, WorkflowType
from handlers.lifecycle.hash_bands import MAX_BUCKET_BYTES, band_count
from tools.arguments import positive, whole
from tools.command import settings_command

DATA = Path(__file__).parent / "data"
ONE_VCPU_MB = 1_769  # Lambda: "at 1,769 MB, a function has the equivalent of one vCPU"
EXPRESS_MEMORY_GB = 0.0625  # billed in 64 MB steps; our payloads are a few KB, so the first step
SECONDS_PER_MONTH = 30 * 86_400
ESM_POLLERS = 5  # an SQS event source mapping starts with five long-polling connections
UPLOADS_KEPT = "S3 uploads kept"  # storage of the originals: your retention, not the pipeline's work
# Through interface endpoints (`network`), per image: the S3 event handler's SendMessage and the orchestrator's
# StartExecution (S3 and DynamoDB go through the free gateway endpoints; SNS only for failures). Each call's
# bytes, both ways: a role session's SigV4-signed HTTPS headers (the session token alone is about 1 KB) and the
# response's, about 2,500 bytes, plus the message itself (the queue message, and the same as execution input).
ENDPOINT_CALLS = 2
CALL_BYTES = 2_500
MESSAGE_BYTES = 700
PRICED_SERVICES = ("lambda", "step_functions", "sqs", "s3", "dynamodb", "cloudwatch", "kms", "rekognition", "xray")


def load(name: str, path: str | None = None) -> dict[str, Any]:
    return json.loads(Path(path or DATA / name).read_text())


@dataclass
class Report:
    """Per-image lines (service, what, dollars per image) and fixed monthly lines."""

    images_per_month: int
    workflow_type: str
    lines: list[tuple[str, str, float]] = field(default_factory=list)
    monthly: list[tuple[str, str, float]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    """Each function's billed seconds per image (a batch's messages add up), for `tools.capacity`."""
    warnings: list[str] = field(default_factory=list)

    def add(self, service: str, what: str, dollars_per_image: float) -> None:
        self.lines.append((service, what, dollars_per_image))

    def per_million(self, service: str | None = None, *, processing: bool = False) -> float:
        """Dollars per million images: per-image lines plus the fixed costs spread over the month's images;
        `processing`: without keeping the uploads (what the pipeline's design decides)."""
        def counted(s: str) -> bool:
            return service in (None, s) and not (processing and s == UPLOADS_KEPT)
        variable = sum(d for s, _, d in self.lines if counted(s)) * 1e6
        fixed = sum(d for s, _, d in self.monthly if counted(s))
        return variable + fixed * 1e6 / max(self.images_per_month, 1)

    def fixed_per_month(self) -> float:
        return sum(d for _, _, d in self.monthly)

    def services(self) -> list[str]:
        return list(dict.fromkeys(s for s, _, _ in self.lines + self.monthly))


def lambda_seconds(cpu_ms: float, io_ms: float, memory_mb: int) -> float:
    """Billed seconds: CPU time at the memory's vCPU share (the profile's CPU is one full core), plus waiting."""
    return (cpu_ms * ONE_VCPU_MB / min(memory_mb, ONE_VCPU_MB) + io_ms) / 1000


def variant_count(settings: Settings) -> int:
    wf = settings.workflow
    return (len(wf.variant_sizes) + len(wf.square_sizes)) * len(wf.variant_formats)


def variant_area(settings: Settings, profile: dict[str, Any]) -> float:
    """The variants' pixels against the profile's (1280, 640 and 160 px long edges of a 4:3 photo)."""
    wf = settings.workflow
    measured = sum(side * side * 3 / 4 for side in profile["variant_sizes"])
    return (sum(side * side * 3 / 4 for side in wf.variant_sizes) + sum(side * side for side in wf.square_sizes)) \
        / measured


def index_units(settings: Settings, measured: dict[str, Any]) -> tuple[int, int, int]:
    """The duplicate index's (write units, read units, calls) per image (`handlers.lifecycle.duplicates`), from
    what `python -m bench duplicates` measured in a full library (`tools/data/index_profile.json`): the claim's
    writes and the status reads as measured, and one bucket per band (`near_duplicate_distance` + 1) read (one
    unit: a bucket is at most 4 KB) and written (its size scaled to `near_duplicate_candidates`)."""
    wf = settings.workflow
    bands = band_count(wf.near_duplicate_distance)
    bucket_bytes = min(measured["bucket_bytes"] * wf.near_duplicate_candidates / measured["near_duplicate_candidates"],
                       MAX_BUCKET_BYTES)
    writes = measured["claim_write_units"] + bands * math.ceil(bucket_bytes / 1024)
    return writes, measured["status_reads"] + bands, measured["status_reads"] + 1 + 1 + bands


def status_units(settings: Settings, profile: dict[str, Any], *, original: bool = False) -> tuple[int, int]:
    """DynamoDB write and read units per image: MarkProcessing (1), the final write (1 per KB of the item,
    the larger of before and after), EXPRESS's queued mark or the original orchestrator's write (1), and
    the duplicate index (`index_units`)."""
    writes = 1 + math.ceil(profile["status_item_bytes"] / 1024)
    writes += 1 if (settings.workflow.kind.marks_queued or original) else 0
    if settings.workflow.duplicates != "off" and not original:
        index_writes, index_reads, _ = index_units(settings, load("index_profile.json"))
        return writes + index_writes, index_reads
    return writes, 0


def alarm_count(settings: Settings) -> tuple[int, int]:
    """(alarms, alarm metrics): 3 queue alarms, 3 per function, 4 execution alarms and the queue-stalled one
    (two metrics), and for STANDARD the undelivered-events alarm (`components.monitoring`)."""
    alarms = 3 + 3 * len(settings.created_functions()) + 5 + settings.workflow.kind.emits_status_events
    return alarms, alarms + 1


def traced_fraction(images_per_month: int) -> float:
    """X-Ray's default rule records the first request each second and 5 % of the rest."""
    rate = images_per_month / SECONDS_PER_MONTH
    return 1.0 if rate <= 1 else (1 + 0.05 * (rate - 1)) / rate


def estimate(settings: Settings, *, images_per_month: int = 1_000_000, megapixels: float | None = None,
             profile: dict[str, Any] | None = None, prices: dict[str, Any] | None = None,
             design: str = "ours") -> Report:
    """The cost of `images_per_month` new, valid images. `design="original"` prices the original
    design's handlers instead (a client per message, HeadObject + SendMessage per upload, a status
    write per message in the orchestrator) on the same steps."""
    p, r = profile or load("step_profile.json"), prices or price_data.load_prices()
    a, cpu, fs, wf = p["assumptions"], p["cpu_ms"], settings.functions, settings.workflow
    mp = megapixels or p["photo"]["megapixels"]
    if mp * 1e6 > wf.max_pixels:
        raise ValueError(f"--avg-megapixels {mp:g} is above workflow.max_pixels ({wf.max_pixels / 1e6:g} MP): "
                         "such uploads are rejected, not processed")
    scale = mp / p["photo"]["megapixels"]
    upload_mb = p["photo"]["bytes"] / 1e6 * scale
    call, ddb, mbps = a["aws_call_ms"], a["dynamodb_call_ms"], a["s3_mb_per_s"]
    kind, original = wf.kind, design == "original"
    # The original design had no duplicate index (and no moderation: price it with moderation off).
    moderated, indexed = settings.moderation.enabled, wf.duplicates != "off" and not original
    report = Report(images_per_month, wf.type)
    variants, area = variant_count(settings), variant_area(settings, p)
    variant_mb = sum(p["variant_bytes"][f] for f in wf.variant_formats) / 1e6 * area
    # The step decodes once (the smallest variant's run: decode + one small encode), then resizes and
    # encodes in proportion to the variants' pixels.
    decode = cpu["variants_160"] * scale
    encode = sum((cpu["variants"].get(f, 0) - (cpu["variants"]["jpeg"] if f != "jpeg" else cpu["variants_160"]))
                 for f in wf.variant_formats) * area

    # Lambda: what each function does for one image.
    orchestrator_calls = 2 if (kind.marks_queued or original) else 1
    invocations = {
        "s3_event_handler": (1, cpu["s3_event_handler_original" if original else "s3_event_handler"],
                             call * (2 if original else 1)),
        "orchestrator": (1 / fs.orchestrator.batch_size, cpu["orchestrator_original" if original else "orchestrator"],
                         call * orchestrator_calls),
        "validate": (1, cpu["validate"], 2 * call),  # a HEAD and the first bytes
        "variants": (1, decode + encode + cpu["fingerprint"],
                     call + upload_mb / mbps * 1000 + variants * call + variant_mb / mbps * 1000
                     + (index_units(settings, load("index_profile.json"))[2] * ddb if indexed else 0)),
        "metadata": (1, cpu["metadata"], 2 * call),
        # With moderation: publishing the staged variants (a copy and a delete each; rarely, quarantining).
        **({"quarantine": (1, 0, 2 * variants * call)} if moderated else {}),
    }
    gb_second = r["lambda"]["gb_second"]
    step_seconds = 0.0
    for name, (per_image, cpu_ms, io_ms) in invocations.items():
        fn = getattr(fs, name)
        seconds = lambda_seconds(cpu_ms, io_ms, fn.memory_size)  # per image (a batch's messages add up)
        report.seconds[name] = seconds
        if seconds > fn.timeout:
            report.warnings.append(f"{name} would take {seconds:,.0f} s an image, above functions.{name}.timeout "
                                   f"({fn.timeout} s)")
        report.add("Lambda", f"{name} requests", per_image * r["lambda"]["request"])
        report.add("Lambda", f"{name} duration ({fn.memory_size} MB {fn.architecture}, {seconds * 1000:.0f} ms)",
                   seconds * fn.memory_size / 1024 * gb_second[fn.architecture])
        if name in ("validate", "variants", "metadata"):
            step_seconds += seconds if name != "metadata" else 0  # metadata runs beside variants

    # Step Functions.
    transitions = p["standard_transitions"]["moderation" if moderated else "plain"]
    sfn = r["step_functions"]
    if kind.counts_state_transitions:
        report.add("Step Functions", f"{kind.name} state transitions ({transitions})",
                   transitions * sfn["standard_transition"])
    else:
        moderation_s = a["moderation_ms"] / 1000 if moderated else 0  # Rekognition's call
        billed = math.ceil((step_seconds + moderation_s + a["workflow_overhead_ms"] / 1000) * 10) / 10  # 100 ms
        report.add("Step Functions", f"{kind.name} requests", sfn["express_request"])
        report.add("Step Functions", f"{kind.name} duration ({billed:.1f} s x 64 MB)",
                   billed * EXPRESS_MEMORY_GB * sfn["express_gb_second"])

    # SQS: the send, the event source mapping's receive and delete per batch; idle long polls monthly.
    batch = fs.orchestrator.batch_size
    report.add("SQS", "send + receive + delete", r["sqs"]["request"] * (1 + 2 / batch))
    report.monthly.append(("SQS", "idle long polling (2 queues)",
                           2 * ESM_POLLERS * SECONDS_PER_MONTH / 20 * r["sqs"]["request"]))

    # S3: variants written; reads of the upload (validate, variants, metadata; HEADs are GET-priced).
    gets = 3 + 2 + (1 if original else 0) + (2 if moderated else 0)
    report.add("S3", "PUT of the upload", r["s3"]["put"])
    report.add("S3", f"PUT {variants} variants", variants * r["s3"]["put"])
    if moderated:  # staged until the verdict; a COPY is priced as a PUT, the staged copy's DELETE is free
        report.add("S3", f"COPY {variants} staged variants to variants/", variants * r["s3"]["put"])
    report.add("S3", f"GET/HEAD x {gets}", gets * r["s3"]["get"])
    # Storage is what one month's images add; every month kept adds as much again (no lifecycle rule).
    # The uploads themselves: kept as long as you keep them (the pipeline sets no lifecycle rule on them).
    report.add(UPLOADS_KEPT, f"upload stored a month ({upload_mb:.2f} MB; each month kept adds as much)",
               upload_mb / 1024 * r["s3"]["storage_gb_month"])
    report.add("S3", f"variants stored a month ({variant_mb:.2f} MB; each month kept adds as much)",
               variant_mb / 1024 * r["s3"]["storage_gb_month"])

    # DynamoDB on demand.
    writes, reads = status_units(settings, p, original=original)
    report.add("DynamoDB", f"{writes} write units" + (f", {reads} read units" if reads else ""),
               writes * r["dynamodb"]["write_request_unit"] + reads * r["dynamodb"]["read_request_unit"])

    # CloudWatch: logs per invocation (measured), metrics and alarms monthly.
    invocations_per_image = sum(n for n, _, _ in invocations.values())
    log_bytes = p["log_bytes_per_invocation"] + a["lambda_platform_log_bytes"]  # + START, END, REPORT lines
    report.add("CloudWatch", "logs", invocations_per_image * log_bytes / 1e9 * r["cloudwatch"]["logs_ingested_gb"])
    report.monthly.append(("CloudWatch", f"{p['custom_metrics']} custom metrics",
                           p["custom_metrics"] * r["cloudwatch"]["metric_month"]))
    alarms, alarm_metrics = alarm_count(settings)
    report.monthly.append(("CloudWatch", f"{alarms} alarms ({alarm_metrics} metrics)",
                           alarm_metrics * r["cloudwatch"]["alarm_month"]))
    if settings.alarms.dashboard:
        report.monthly.append(("CloudWatch", "dashboard", r["cloudwatch"]["dashboard_month"]))
    if wf.tracing:
        traced = traced_fraction(images_per_month)
        report.add("X-Ray", f"traces ({traced:.0%} of images: 1 a second, then 5 %)", traced * r["xray"]["trace"])
    if moderated:
        report.add("Rekognition", "DetectModerationLabels", r["rekognition"]["image"])
    # One customer key (the alerts topic's, and with mode kms the data stores'); S3 Bucket Keys, SQS data-key
    # reuse and DynamoDB's table key cache leave few requests per image.
    report.monthly.append(("KMS", "customer key", r["kms"]["key_month"]))
    if settings.network.enabled and settings.network.endpoints:
        link = r["privatelink"]
        services = interface_services(customer_key=settings.encryption.customer_key, tracing=wf.tracing)
        zones = endpoint_zones(settings.network)
        spread = zones if settings.network.create_vpc else f"up to {zones}"
        hours = endpoint_hours_cost(settings.network, len(services), link["interface_endpoint_az_hour"])
        report.monthly.append(("VPC endpoints", f"{len(services)} interface endpoints x {spread} AZs x "
                               f"{HOURS_PER_MONTH} h", hours))
        through = ENDPOINT_CALLS * (CALL_BYTES + MESSAGE_BYTES)
        report.add("VPC endpoints", f"{through:,} bytes through interface endpoints (SendMessage, StartExecution)",
                   through / 1e9 * link["data_processed_gb"])
    return report


def render(settings: Settings, stack: str, reports: dict[str, Report], megapixels: float) -> str:
    """A table per workflow type, side by side: dollars per million images by service."""
    types = list(reports)
    services = list(dict.fromkeys(s for rep in reports.values() for s in rep.services()))
    images = next(iter(reports.values())).images_per_month
    plural = "s" if images != 1 else ""
    lines = [f"Cost of {images:,} image{plural} a month on stack {stack} ({megapixels:g} MP photos), "
             "dollars per million images", "", "| service | " + " | ".join(types) + " |", "|---|" + "---|" * len(types)]
    for service in services:
        lines.append(f"| {service} | " + " | ".join(f"{reports[t].per_million(service):,.2f}" for t in types) + " |")
    lines.append("| **total** | " + " | ".join(f"**{reports[t].per_million():,.2f}**" for t in types) + " |")
    own = reports[settings.workflow.kind.name]
    lines += ["", f"Of which fixed: ${own.fixed_per_month():,.2f} a month whatever the volume (spread over "
              f"{images:,} images above); the month's bill: ${own.per_million() * images / 1e6:,.2f}."]
    lines += [f"warning: {w}" for w in own.warnings]
    lines += ["", f"Details ({settings.workflow.kind.name}, the stack's type):"]
    for service, what, dollars in own.lines:
        lines.append(f"  {service:<15} {what:<60} {dollars * 1e6:>10,.2f} per million")
    for service, what, dollars in own.monthly:
        lines.append(f"  {service:<15} {what:<60} {dollars:>10,.2f} per month")
    return "\n".join(lines)


def with_workflow_type(settings: Settings, kind: WorkflowType) -> Settings:
    """These settings with workflow type `kind`, the execution timeout cut to the longest run it allows."""
    timeout = min(settings.workflow.execution_timeout_seconds, kind.longest_run_seconds)
    return dataclasses.replace(settings, workflow=dataclasses.replace(
        settings.workflow, type=kind.name, execution_timeout_seconds=timeout))


def load_prices(path: str | None) -> dict[str, Any]:
    """The prices in `path` (`--prices`), else the component's `components/settings/prices.json`; a file that
    cannot be read or lacks a service is refused in one line."""
    try:
        prices = price_data.load_prices(path)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--prices {path}: {error}") from None
    missing = sorted(set(PRICED_SERVICES) - set(prices))
    if missing:
        raise ValueError(f"--prices {path}: no {', '.join(missing)} "
                         "(copy components/settings/prices.json and edit it)")
    return prices


def compared(args: argparse.Namespace, settings: Settings, region: str) -> str:
    """The stack priced as each workflow type, side by side; a warning if the prices are another region's."""
    prices = load_prices(args.prices)
    reports = {kind.name: estimate(with_workflow_type(settings, kind), images_per_month=args.images,
                                   megapixels=args.avg_megapixels, prices=prices) for kind in WORKFLOW_TYPES.values()}
    text = render(settings, args.stack, reports, args.avg_megapixels)
    if region != prices.get("region"):
        text += (f"\nwarning: the stack runs in {region}; these are {prices.get('region')} prices: pass --prices with "
                 f"{region}'s")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=whole, default=1_000_000, help="images a month (default 1,000,000)")
    parser.add_argument("--avg-megapixels", type=positive, default=12.0, help="average photo size (default 12)")
    parser.add_argument("--prices", help="a prices file like components/settings/prices.json")


COMMAND = settings_command(
    "cost", f"dollars per million images by service, {' and '.join(WORKFLOW_TYPES)} side by side", add_arguments,
    compared)
