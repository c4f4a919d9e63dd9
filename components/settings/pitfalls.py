"""The pitfalls: settings AWS accepts that lose or delay messages, cost money or do nothing in production.

Warnings, not errors (`pulumi preview` prints them; `python -m local` too); each message starts with its key.
"""

from __future__ import annotations

from components.network.services import endpoint_hours_cost, endpoint_zones, interface_services
from components.settings.config import NetworkSettings, Settings, is_pending
from components.settings.prices import endpoint_prices
from components.settings.rules import (
    UNRESERVED_MINIMUM,
    inherited,
    reserved_concurrency,
    step_time_budget,
    visibility_key,
)


def settings_warnings(s: Settings) -> list[str]:
    """Settings AWS accepts that lose or delay messages in production."""
    warnings: list[str] = []
    for function_name, queue_key, fn, queue in s.consumers():
        visibility = queue.visibility_timeout_seconds
        recommended = 6 * fn.timeout + fn.batching_window_seconds
        if fn.timeout <= visibility < recommended:
            warnings.append(
                f"{visibility_key(s, queue_key)}: {visibility}{inherited(s, queue_key)} is below 6 x "
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
    rerun_by = "DLQ processor" if s.workflow.kind.emits_status_events else "reconciler"
    if once <= s.workflow.execution_timeout_seconds < retried:
        warnings.append(
            f"workflow.execution_timeout_seconds: {s.workflow.execution_timeout_seconds} s is less than the steps may "
            f"take with the longest retry backoffs ({retried} s); an execution that retries that much times out, "
            f"and the {rerun_by} re-runs its image")
    return warnings




def _network_warnings(s: Settings) -> list[str]:
    """What a VPC costs: interface endpoints are billed per AZ per hour (`components.network.services`), at the prices
    `python -m tools cost` uses (`components.settings.prices`)."""
    n, default = s.network, NetworkSettings()
    unused = [f"network.{key}: only used with create_vpc: true; it is ignored here"
              for key in ("vpc_cidr", "availability_zones")
              if not n.create_vpc and getattr(n, key) != getattr(default, key)]
    if not (n.enabled and n.endpoints):
        return unused
    services = interface_services(customer_key=s.encryption.customer_key, tracing=s.workflow.tracing)
    if is_pending(n.subnet_ids):  # how many AZs: known once the subnets are
        return [*unused, f"network: {len(services)} interface endpoints ({', '.join(services)}) in each AZ of "
                "network.subnet_ids, each billed by the hour per AZ; `python -m tools cost` prices the stack"]
    zones = endpoint_zones(n)
    where, most = ((f"{zones} AZs", "") if n.create_vpc else
                   (f"the AZs of network.subnet_ids (one subnet per AZ; {zones} subnets)", "at most "))
    prices = endpoint_prices()
    if prices is None:
        cost = ", each billed by the hour, plus per GB"
    else:
        hourly, per_gb, region = prices
        cost = (f" at ${hourly:g} an hour each (~${endpoint_hours_cost(n, len(services), hourly):,.0f} a month "
                f"{most}in {region}, plus ${per_gb:g} per GB)")
    return [*unused, f"network: {len(services)} interface endpoints ({', '.join(services)}) in {where} are "
            f"{most}{len(services) * zones} endpoint-AZs{cost}; `python -m tools cost` prices the stack"]
