"""Parse `image-pipeline:pipeline` into `Settings`, collecting every problem before raising.

Errors are what AWS (or the engine) would reject; warnings are the pitfalls it accepts.
Each message starts with the key path, e.g. `queue.visibility_timeout_seconds: ...`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from components.settings.config import IMAGE_FORMATS, NetworkSettings, Settings, is_pending
from components.settings.errors import ConfigError
from contract.workflow_types import EXPRESS

T = TypeVar("T")
# A key ARN, never an alias: IAM authorizes KMS calls against the key's ARN, so grants naming an
# alias match nothing and every encrypted call would be denied.
KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9_-]+")
TAG_VALUE = re.compile(r"[\w\s.:/=+\-@]*")  # what SQS, SNS and IAM all accept in tags
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# The price data `python -m tools cost` uses; absent when the library is used without the repository's tools.
PRICES = Path(__file__).resolve().parents[2] / "tools" / "data" / "prices.json"


def parse_settings(raw: dict[str, Any]) -> Settings:
    """Build `Settings` from a plain dict, or raise `ConfigError` with all problems."""
    problems: list[str] = []
    settings = _parse_dataclass(Settings, raw, "", problems)
    given = raw.get("workflow") if isinstance(raw, dict) else None
    settings = dataclasses.replace(settings, workflow=settings.workflow.with_type_defaults(
        given if isinstance(given, dict) else {}))
    problems.extend(_range_problems(settings, ""))
    problems.extend(_rule_problems(settings))
    if problems:
        raise ConfigError(problems)
    return settings


def _parse_dataclass(cls: type[T], raw: Any, path: str, problems: list[str], base: T | None = None) -> T:
    """Overlay `raw` on `base` (the section's defaults, which may differ per parent field)."""
    base = cls() if base is None else base
    if not isinstance(raw, dict):
        problems.append(f"{path.rstrip('.') or '<root>'}: expected a mapping, got {_describe(raw)}")
        return base
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for unknown in sorted(set(raw) - set(fields)):
        suggestion = _closest(unknown, fields)
        problems.append(f"{path}{unknown}: unknown key{suggestion}")
    values: dict[str, Any] = {}
    for name in fields:
        if name in raw:
            ok, value = _parse_value(hints[name], raw[name], f"{path}{name}", problems,
                                     getattr(base, name))
            if ok:
                values[name] = value
    return dataclasses.replace(base, **values)  # type: ignore[type-var]


def _parse_value(hint: Any, value: Any, path: str, problems: list[str], default: Any = None) -> tuple[bool, Any]:
    """Return (ok, parsed); on a type error record it and return (False, None). A pending value (only where the
    settings accept outputs, `components.settings.loading`) is kept, and judged once known."""
    if is_pending(value):
        return True, value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return True, None
        return _parse_value(next(a for a in args if a is not type(None)), value, path, problems, default)
    if dataclasses.is_dataclass(hint):
        return True, _parse_dataclass(hint, value, f"{path}.", problems, default)
    if origin is list:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {_describe(value)}")
            return False, None
        parsed = [_parse_value(args[0], item, f"{path}[{i}]", problems) for i, item in enumerate(value)]
        return all(ok for ok, _ in parsed), [item for _, item in parsed]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            problems.append(f"{path}: expected a mapping of strings, got {_describe(value)}")
            return False, None
        return True, dict(value)
    # bool is a subclass of int: `timeout: true` must not pass as 1.
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        problems.append(f"{path}: expected an integer, got {_describe(value)}")
        return False, None
    if hint in (str, bool) and not isinstance(value, hint):
        problems.append(f"{path}: expected a {hint.__name__}, got {_describe(value)}")
        return False, None
    return True, value


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _closest(unknown: str, known: dict[str, Any]) -> str:
    import difflib

    match = [key for key in known if key.startswith(unknown)] or difflib.get_close_matches(unknown, known, n=1)
    return f" (did you mean '{match[0]}'?)" if match else f" (known: {', '.join(known)})"


def _range_problems(section: Any, path: str) -> list[str]:
    problems: list[str] = []
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        key = f"{path}{f.name}"
        if dataclasses.is_dataclass(value):
            problems.extend(_range_problems(value, f"{key}."))
            continue
        if value is None or isinstance(value, (list, dict)) or is_pending(value):
            continue
        low, high, choices = f.metadata.get("min"), f.metadata.get("max"), f.metadata.get("choices")
        if low is not None and value < low:
            problems.append(f"{key}: {value} is below the minimum {low:,} (AWS range {_span(low, high)})")
        elif high is not None and value > high:
            problems.append(f"{key}: {value} is above the maximum {high:,} (AWS range {_span(low, high)})")
        if choices is not None and value not in choices:
            problems.append(f"{key}: {value!r} is not one of {', '.join(map(str, choices))}")
    return problems


def _span(low: int | None, high: int | None) -> str:
    return f"{low:,} to {high:,}" if high is not None else f">= {low:,}"


def _alarm_problems(s: Settings) -> list[str]:
    """CloudWatch's rules for alarm periods and windows (PutMetricAlarm)."""
    a, problems = s.alarms, []
    if a.period_seconds not in (10, 20, 30) and a.period_seconds % 60:
        problems.append(f"alarms.period_seconds: {a.period_seconds} must be 10, 20, 30 or a multiple of 60")
    window, limit = a.period_seconds * a.evaluation_periods, 86_400 if a.period_seconds < 3_600 else 604_800
    if window > limit:
        problems.append(f"alarms.evaluation_periods: {a.evaluation_periods} x period_seconds {a.period_seconds} = "
                        f"{window} s; CloudWatch allows at most {limit:,} s for this period")
    return problems


def _visibility_key(s: Settings, queue_key: str) -> str:
    """The key that sets this queue's visibility timeout: the upload queue's when the DLQ inherits it."""
    if queue_key == "dead_letter_queue" and s.dead_letter_queue.visibility_timeout_seconds is None:
        return "queue.visibility_timeout_seconds"
    return f"{queue_key}.visibility_timeout_seconds"


def _inherited(s: Settings, queue_key: str) -> str:
    if queue_key == "dead_letter_queue" and s.dead_letter_queue.visibility_timeout_seconds is None:
        return " (the dead-letter queue inherits it; or set dead_letter_queue.visibility_timeout_seconds)"
    return ""


def _rule_problems(s: Settings) -> list[str]:
    problems: list[str] = []
    for function_name, queue_key, fn, queue in s.consumers():
        visibility = queue.visibility_timeout_seconds
        if visibility < fn.timeout:
            problems.append(
                f"{_visibility_key(s, queue_key)}: {visibility}{_inherited(s, queue_key)} is below "
                f"functions.{function_name}.timeout ({fn.timeout}); AWS refuses the event source "
                f"mapping. Use at least {6 * fn.timeout + fn.batching_window_seconds} "
                "(6 x timeout + batching window)")
        if fn.batch_size > 10 and fn.batching_window_seconds < 1:
            problems.append(f"functions.{function_name}.batch_size: {fn.batch_size} needs "
                            "batching_window_seconds >= 1 (AWS allows at most 10 without a window)")
    wf = s.workflow
    problems += _workflow_type_problems(s)
    if wf.stale_after_seconds is not None and wf.stale_after_seconds < wf.execution_timeout_seconds + 60:
        problems.append(f"workflow.stale_after_seconds: {wf.stale_after_seconds} is below the execution timeout "
                        f"({wf.execution_timeout_seconds}) + 60; the reconciler would judge images whose "
                        "execution may still record them. Leave it unset for timeout + 300")
    if not wf.variant_sizes:
        problems.append("workflow.variant_sizes: list at least one size")
    if len(set(wf.variant_sizes)) != len(wf.variant_sizes):
        problems.append(f"workflow.variant_sizes: {wf.variant_sizes} has duplicates")
    problems += [f"workflow.variant_sizes: {size} is outside 16 to 10,000 px"
                 for size in wf.variant_sizes if not 16 <= size <= 10_000]
    if len(set(wf.square_sizes)) != len(wf.square_sizes):
        problems.append(f"workflow.square_sizes: {wf.square_sizes} has duplicates")
    problems += [f"workflow.square_sizes: {size} is outside 16 to 4,096 px"
                 for size in wf.square_sizes if not 16 <= size <= 4_096]
    if not wf.variant_formats:
        problems.append("workflow.variant_formats: list at least one of jpeg, webp, avif")
    problems += [f"workflow.variant_formats: {fmt!r} is not one of jpeg, webp, avif"
                 for fmt in wf.variant_formats if fmt not in ("jpeg", "webp", "avif")]
    problems += [f"workflow.allowed_formats: {fmt!r} is not one of {', '.join(IMAGE_FORMATS)}"
                 for fmt in wf.allowed_formats if fmt not in IMAGE_FORMATS]
    problems += [f"alarms.email_subscriptions: {address!r} is not an email address"
                 for address in _known(s.alarms.email_subscriptions) if not EMAIL.fullmatch(address)]
    enc = s.encryption
    if enc.kms_key_arn is not None and enc.mode != "kms":
        problems.append("encryption.kms_key_arn: only used with encryption.mode 'kms'; set mode: kms "
                        "or remove the key")
    if isinstance(enc.kms_key_arn, str) and not KMS_KEY_ARN.fullmatch(enc.kms_key_arn):
        problems.append(f"encryption.kms_key_arn: {enc.kms_key_arn!r} is not a KMS key ARN "
                        "(arn:aws:kms:<region>:<account>:key/<id>; an alias ARN will not do: IAM grants name keys)")
    problems += _alarm_problems(s)
    problems += _moderation_problems(s)
    problems += _network_problems(s)
    if not 1 <= len(s.storage.variants_cache_control) <= 256:
        problems.append("storage.variants_cache_control: 1 to 256 characters (it travels in the variants "
                        "function's environment, which Lambda limits to 4 KB)")
    if len(s.tags) > 40:
        problems.append(f"tags: {len(s.tags)} tags; at most 40 leave room for the component's own")
    problems += [f"tags.{key}: keys are 1 to 128 characters, values at most 256"
                 for key, value in s.tags.items() if not 1 <= len(key) <= 128 or len(value) > 256]
    problems += [f"tags.{key}: keys starting with 'aws:' are reserved by AWS"
                 for key in s.tags if key.lower().startswith("aws:")]
    problems += [f"tags.{key}: use only letters, digits, spaces and _ . : / = + - @ (SQS, SNS and IAM refuse others)"
                 for key, value in s.tags.items() if not (TAG_VALUE.fullmatch(key) and TAG_VALUE.fullmatch(value))]
    return problems


def step_time_budget(s: Settings) -> tuple[int, int]:
    """Seconds the workflow's steps may take one after another: (each once, with every retry's backoff).

    A task times out 10 s after its function (`components.workflow.states.lambda_task`); the variants and
    metadata steps run side by side. A step that fails fast (throttled) is retried 3 times after
    1, 2 and 4 s; a status write 6 times (1 + 2 + 4 + 8 + 16 + 20 s, `components.workflow.states.retry`).
    """
    fs = s.functions
    steps = [fs.validate.timeout, max(fs.variants.timeout, fs.metadata.timeout)]
    if s.moderation.enabled:
        steps.append(fs.quarantine.timeout)
    once = sum(timeout + 10 for timeout in steps)
    # + MarkProcessing and the final status write; EXPRESS: + the report of an unfinished end (3 retries)
    return once, once + 7 * len(steps) + 2 * 51 + (7 if s.workflow.type == EXPRESS.name else 0)


def _workflow_type_problems(s: Settings) -> list[str]:
    wf, problems = s.workflow, []
    too_long = wf.type == EXPRESS.name and wf.execution_timeout_seconds > 300
    if too_long:
        problems.append(f"workflow.execution_timeout_seconds: {wf.execution_timeout_seconds} is above "
                        "300, the longest an EXPRESS execution may run; set it to 300 or less, or leave it unset "
                        "(EXPRESS's default is 300)")
    if wf.type == EXPRESS.name and wf.log_level == "OFF":
        problems.append("workflow.log_level: OFF leaves an EXPRESS workflow without any record of its executions "
                        "(EXPRESS keeps no execution history); use ERROR or ALL")
    once, _ = step_time_budget(s)
    # Only when both sides are otherwise valid: a range error already names a timeout out of range.
    in_range = all(fn.timeout <= 900 for fn in s.functions.roles().values()) and wf.execution_timeout_seconds >= 1
    if in_range and not too_long and once > wf.execution_timeout_seconds:
        steps = "validate, variants or metadata" + (", quarantine" if s.moderation.enabled else "")
        remedy = ("lower those timeouts (an EXPRESS execution runs 300 s at most)" if wf.type == EXPRESS.name
                  else "lower those timeouts or raise this one")
        problems.append(f"workflow.execution_timeout_seconds: {wf.execution_timeout_seconds} is below what the steps "
                        f"may take once each ({once} s: the {steps} functions' timeouts + 10 s each); {remedy}")
    return problems


def _moderation_problems(s: Settings) -> list[str]:
    m = s.moderation
    problems = [f"moderation.labels: {label!r} is not a label name (1 to 100 letters, digits, spaces and & / ( ) . -)"
                for label in m.labels if not LABEL.fullmatch(label)]
    if len(set(m.labels)) != len(m.labels):
        problems.append(f"moderation.labels: {m.labels} has duplicates")
    if len(m.labels) > 50:
        problems.append(f"moderation.labels: {len(m.labels)} labels; at most 50")
    if m.enabled and "jpeg" not in s.workflow.variant_formats:
        problems.append("moderation.enabled: Rekognition reads JPEG and PNG only; add jpeg to "
                        "workflow.variant_formats (its smallest JPEG variant is what gets moderated)")
    if m.enabled and s.workflow.variant_sizes and max(s.workflow.variant_sizes) < 80:
        problems.append(f"moderation.enabled: no variant size in workflow.variant_sizes {s.workflow.variant_sizes} "
                        "reaches 80 px, Rekognition's smallest image: no image could be moderated")
    problems += [f"moderation.labels: {label!r} has spaces at an end or doubled; Rekognition's names match exactly"
                 for label in m.labels if LABEL.fullmatch(label) and " ".join(label.split()) != label]
    return problems


def _known(values: Any) -> list[Any]:
    """The items of a list setting known now: none of a pending list, not its pending items."""
    return [] if is_pending(values) else [value for value in values if not is_pending(value)]


SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8}([0-9a-f]{9})?")
SECURITY_GROUP_ID = re.compile(r"sg-[0-9a-f]{8}([0-9a-f]{9})?")


def _network_problems(s: Settings) -> list[str]:
    """Lambda's VPC rules (CreateFunction VpcConfig: up to 16 subnets, 5 security groups) and ours."""
    import ipaddress

    n, problems = s.network, []
    if n.create_vpc and (n.subnet_ids or n.security_group_ids):
        problems.append("network.create_vpc: true creates its own subnets and security groups; remove "
                        "network.subnet_ids and network.security_group_ids, or set create_vpc: false")
    problems += [f"network.subnet_ids: {sid!r} is not a subnet ID (subnet-0123456789abcdef0)"
                 for sid in _known(n.subnet_ids) if not SUBNET_ID.fullmatch(sid)]
    problems += [f"network.security_group_ids: {gid!r} is not a security group ID (sg-0123456789abcdef0)"
                 for gid in _known(n.security_group_ids) if not SECURITY_GROUP_ID.fullmatch(gid)]
    for key, ids, most in (("subnet_ids", n.subnet_ids, 16), ("security_group_ids", n.security_group_ids, 5)):
        known = _known(ids)
        if len(set(known)) != len(known):
            problems.append(f"network.{key}: {known} has duplicates")
        if not is_pending(ids) and len(ids) > most:
            problems.append(f"network.{key}: {len(ids)} given; Lambda allows at most {most}")
    if not is_pending(n.subnet_ids) and len(n.subnet_ids) == 1:
        problems.append("network.subnet_ids: one subnet is one AZ; list private subnets in at least two AZs "
                        "(Lambda and the endpoints survive an AZ outage only then)")
    if n.subnet_ids and not n.security_group_ids:
        problems.append("network.security_group_ids: list the functions' security groups (1 to 5) with subnet_ids")
    if n.security_group_ids and not n.subnet_ids and not n.create_vpc:
        problems.append("network.subnet_ids: security_group_ids need the subnets the functions run in")
    try:
        cidr = ipaddress.IPv4Network(n.vpc_cidr)
        if not 16 <= cidr.prefixlen <= 24:
            problems.append(f"network.vpc_cidr: {n.vpc_cidr} is /{cidr.prefixlen}; use /16 to /24 (a VPC may be "
                            "/16 to /28, and each AZ's subnet is an eighth of it)")
        if cidr.is_loopback or cidr.is_link_local or cidr.is_multicast or cidr.is_reserved or cidr.is_unspecified:
            problems.append(f"network.vpc_cidr: {n.vpc_cidr} is a loopback, link-local or reserved range (169.254 "
                            "holds the VPC's DNS and metadata addresses); use a private one (RFC 1918)")
        elif cidr.is_global:
            problems.append(f"network.vpc_cidr: {n.vpc_cidr} is a public range; use a private one (RFC 1918)")
    except ValueError as error:
        problems.append(f"network.vpc_cidr: {n.vpc_cidr!r} is not an IPv4 CIDR block ({error})")
    if n.create_vpc and not n.endpoints:
        problems.append("network.endpoints: false leaves the functions in the created VPC no way to reach AWS (it "
                        "has no NAT); keep endpoints: true, or place them in your own subnets (subnet_ids)")
    if n.require_vpc_endpoints and not (n.enabled and n.endpoints):
        problems.append("network.require_vpc_endpoints: needs the pipeline's own endpoints (create_vpc or "
                        "subnet_ids, with endpoints: true) to name in the policies")
    return problems


# Rekognition's label names (e.g. "Drugs & Tobacco"); no quote or brace can break the definition's intrinsics.
LABEL = re.compile(r"(?=.*\S)[A-Za-z0-9 &/().-]{1,100}")
UNRESERVED_MINIMUM = 100  # Lambda keeps this much of the account's concurrency unreserved


def reserved_concurrency(s: Settings) -> tuple[int, int]:
    """(concurrent executions the created functions reserve, the account quota that needs): Lambda refuses a
    reservation that leaves fewer than 100 unreserved (Lambda docs, "Configuring reserved concurrency")."""
    reserved = sum(fn.reserved_concurrency or 0 for fn in s.created_functions().values())
    return reserved, reserved + UNRESERVED_MINIMUM


def pitfall_warnings(s: Settings) -> list[str]:
    """Settings AWS accepts that lose or delay messages in production."""
    warnings: list[str] = []
    for function_name, queue_key, fn, queue in s.consumers():
        visibility = queue.visibility_timeout_seconds
        recommended = 6 * fn.timeout + fn.batching_window_seconds
        if fn.timeout <= visibility < recommended:
            warnings.append(
                f"{_visibility_key(s, queue_key)}: {visibility}{_inherited(s, queue_key)} is below 6 x "
                f"functions.{function_name}.timeout + batching window ({recommended}); retried "
                "invocations may see messages reappear while still in flight")
    if s.dlq.message_retention_seconds <= s.queue.message_retention_seconds:
        warnings.append(
            f"dead_letter_queue.message_retention_seconds: {s.dlq.message_retention_seconds} is not "
            f"longer than the queue's {s.queue.message_retention_seconds}; a message keeps its "
            "original enqueue time in the DLQ and may expire there unseen")
    if s.dead_letter_queue.max_receive_count < 5:
        warnings.append(
            f"dead_letter_queue.max_receive_count: {s.dead_letter_queue.max_receive_count} is below "
            "5, the Lambda docs' minimum for queues that feed Lambda; throttled invocations may "
            "send healthy messages to the DLQ")
    warnings += [f"moderation.labels: {label!r} starts with a small letter; Rekognition's names are capitalised "
                 "(e.g. 'Violence') and match exactly, so this label would never reject an image"
                 for label in s.moderation.labels if label[:1].islower()]
    reserved, needed = reserved_concurrency(s)
    quota = s.functions.account_concurrency_quota
    if reserved and needed > quota:
        warnings.append(
            f"functions.account_concurrency_quota: the functions reserve {reserved} concurrent executions; AWS "
            f"keeps {UNRESERVED_MINIMUM} unreserved, so the account needs a quota of at least "
            f"{needed} (it is {quota}). Check with `aws lambda get-account-settings`; "
            "raise it in Service Quotas (Lambda, Concurrent executions)")
    if s.encryption.kms_key_arn is not None:
        warnings.append("encryption.kms_key_arn: the key's policy must let cloudwatch.amazonaws.com (alarms to the "
                        "topic), events.amazonaws.com (execution events to the DLQ; no aws:SourceAccount "
                        "condition) and the pipeline's roles use it, or alerts and events are lost")
    warnings += _network_warnings(s)
    once, retried = step_time_budget(s)
    if once <= s.workflow.execution_timeout_seconds < retried:
        warnings.append(
            f"workflow.execution_timeout_seconds: {s.workflow.execution_timeout_seconds} s is less than the steps may "
            f"take with the longest retry backoffs ({retried} s); an execution that retries that much times out, "
            "and the " + ("reconciler" if s.workflow.type == EXPRESS.name else "DLQ processor") + " re-runs its image")
    return warnings


def _network_warnings(s: Settings) -> list[str]:
    """What a VPC costs: interface endpoints are billed per AZ per hour (`components.network.services`), at the prices
    `python -m tools cost` uses."""
    from components.network.services import endpoint_hours_cost, endpoint_zones, interface_services

    n, default = s.network, NetworkSettings()
    unused = [f"network.{key}: only used with create_vpc: true; it is ignored here"
              for key in ("vpc_cidr", "availability_zones")
              if not n.create_vpc and getattr(n, key) != getattr(default, key)]
    if not (n.enabled and n.endpoints):
        return unused
    services = interface_services(s)
    if is_pending(n.subnet_ids):  # how many AZs: known once the subnets are
        return [*unused, f"network: {len(services)} interface endpoints ({', '.join(services)}) in each AZ of "
                "network.subnet_ids, each billed by the hour per AZ; `python -m tools cost` prices the stack"]
    zones = endpoint_zones(s)
    where, most = ((f"{zones} AZs", "") if n.create_vpc else
                   (f"the AZs of network.subnet_ids (one subnet per AZ; {zones} subnets)", "at most "))
    try:
        prices = json.loads(PRICES.read_text())
        hourly, per_gb = prices["privatelink"]["interface_endpoint_az_hour"], prices["privatelink"]["data_processed_gb"]
        cost = (f" at ${hourly:g} an hour each (~${endpoint_hours_cost(s, hourly):,.0f} a month {most}in "
                f"{prices['region']}, plus ${per_gb:g} per GB)")
    except (OSError, ValueError, KeyError):
        cost = ", each billed by the hour, plus per GB"
    return [*unused, f"network: {len(services)} interface endpoints ({', '.join(services)}) in {where} are "
            f"{most}{len(services) * zones} endpoint-AZs{cost}; `python -m tools cost` prices the stack"]
