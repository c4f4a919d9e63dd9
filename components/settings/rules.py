"""AWS's rules across settings (what CreateFunction, CreateEventSourceMapping, PutMetricAlarm, KMS,
Rekognition and tagging refuse) and the quotas they imply. Each message starts with its key path and says
what to do. `components.settings.validation` collects them with the generic problems and raises once.
"""

from __future__ import annotations

import ipaddress
import re

from components.settings.config import IMAGE_FORMATS, Settings, is_pending
from components.settings.parsing import known_items
from contract.workflow_types import STANDARD, WORKFLOW_TYPES

# A key ARN, never an alias: IAM authorizes KMS calls against the key's ARN, so grants naming an
# alias match nothing and every encrypted call would be denied.
KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9_-]+")
TAG_VALUE = re.compile(r"[\w\s.:/=+\-@]*")  # what SQS, SNS and IAM all accept in tags
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8}([0-9a-f]{9})?")
SECURITY_GROUP_ID = re.compile(r"sg-[0-9a-f]{8}([0-9a-f]{9})?")
# Rekognition's label names (e.g. "Drugs & Tobacco"); no quote or brace can break the definition's intrinsics.
LABEL = re.compile(r"(?=.*\S)[A-Za-z0-9 &/().-]{1,100}")
UNRESERVED_MINIMUM = 100  # Lambda keeps this much of the account's concurrency unreserved


def rule_problems(s: Settings) -> list[str]:
    """What AWS (or the engine) would reject across settings, and the quotas; each message names its key."""
    problems: list[str] = []
    for function_name, queue_key, fn, queue in s.consumers():
        visibility = queue.visibility_timeout_seconds
        if visibility < fn.timeout:
            problems.append(
                f"{visibility_key(s, queue_key)}: {visibility}{inherited(s, queue_key)} is below "
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
                 for address in known_items(s.alarms.email_subscriptions) if not EMAIL.fullmatch(address)]
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


def visibility_key(s: Settings, queue_key: str) -> str:
    """The key that sets this queue's visibility timeout: the upload queue's when the DLQ inherits it."""
    if queue_key == "dead_letter_queue" and s.dead_letter_queue.visibility_timeout_seconds is None:
        return "queue.visibility_timeout_seconds"
    return f"{queue_key}.visibility_timeout_seconds"


def inherited(s: Settings, queue_key: str) -> str:
    if queue_key == "dead_letter_queue" and s.dead_letter_queue.visibility_timeout_seconds is None:
        return " (the dead-letter queue inherits it; or set dead_letter_queue.visibility_timeout_seconds)"
    return ""


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
    reports_own_end = not WORKFLOW_TYPES.get(s.workflow.type, STANDARD).emits_status_events
    return once, once + 7 * len(steps) + 2 * 51 + (7 if reports_own_end else 0)


def _workflow_type_problems(s: Settings) -> list[str]:
    wf, problems = s.workflow, []
    kind = WORKFLOW_TYPES.get(wf.type)
    if kind is None:  # already reported as not one of the choices
        return problems
    # Longer than the type allows yet within the setting's range (beyond the range is a range error already).
    too_long = kind.longest_run_seconds < wf.execution_timeout_seconds <= STANDARD.longest_run_seconds
    if too_long:
        longest = kind.longest_run_seconds
        problems.append(f"workflow.execution_timeout_seconds: {wf.execution_timeout_seconds} is above "
                        f"{longest}, the longest an {kind.name} execution may run; set it to {longest} or less, or "
                        f"leave it unset ({kind.name}'s default is {kind.default_execution_timeout})")
    if not kind.can_describe_executions and wf.log_level == "OFF":
        problems.append("workflow.log_level: OFF leaves an EXPRESS workflow without any record of its executions "
                        "(EXPRESS keeps no execution history); use ERROR or ALL")
    once, _ = step_time_budget(s)
    # Only when both sides are otherwise valid: a range error already names a timeout out of range.
    in_range = all(fn.timeout <= 900 for fn in s.functions.roles().values()) and wf.execution_timeout_seconds >= 1
    if in_range and not too_long and once > wf.execution_timeout_seconds:
        steps = "validate, variants or metadata" + (", quarantine" if s.moderation.enabled else "")
        capped = kind.longest_run_seconds < STANDARD.longest_run_seconds
        remedy = (f"lower those timeouts (an {kind.name} execution runs {kind.longest_run_seconds} s at most)"
                  if capped else "lower those timeouts or raise this one")
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


def _network_problems(s: Settings) -> list[str]:
    """Lambda's VPC rules (CreateFunction VpcConfig: up to 16 subnets, 5 security groups) and ours."""
    n, problems = s.network, []
    if n.create_vpc and (n.subnet_ids or n.security_group_ids):
        problems.append("network.create_vpc: true creates its own subnets and security groups; remove "
                        "network.subnet_ids and network.security_group_ids, or set create_vpc: false")
    problems += [f"network.subnet_ids: {sid!r} is not a subnet ID (subnet-0123456789abcdef0)"
                 for sid in known_items(n.subnet_ids) if not SUBNET_ID.fullmatch(sid)]
    problems += [f"network.security_group_ids: {gid!r} is not a security group ID (sg-0123456789abcdef0)"
                 for gid in known_items(n.security_group_ids) if not SECURITY_GROUP_ID.fullmatch(gid)]
    for key, ids, most in (("subnet_ids", n.subnet_ids, 16), ("security_group_ids", n.security_group_ids, 5)):
        known = known_items(ids)
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


def reserved_concurrency(s: Settings) -> tuple[int, int]:
    """(concurrent executions the created functions reserve, the account quota that needs): Lambda refuses a
    reservation that leaves fewer than 100 unreserved (Lambda docs, "Configuring reserved concurrency")."""
    reserved = sum(fn.reserved_concurrency or 0 for fn in s.created_functions().values())
    return reserved, reserved + UNRESERVED_MINIMUM
