"""`python -m tools capacity`: which quota binds first at a sustained upload rate, and the headroom of each.

A closed-form model: each limit is a rate (per second) or a concurrency; demand comes from the stack's
settings and the cost tool's per-image durations (`tools.cost`). Quotas are data
(`tools/data/quotas.json`, with their sources; `--quotas FILE` overrides them).

Example:
    >>> from components import parse_settings
    >>> rows = limits(parse_settings({}), rate=500)
    >>> [(row.name, round(row.headroom, 2)) for row in rows[:2]]   # 7 transitions an image; eu-west-1 buckets
    [('Step Functions state transitions (STANDARD)', 0.43), ('Step Functions StartExecution (STANDARD)', 0.6)]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from components.settings.config import Settings
from components.settings.rules import UNRESERVED_MINIMUM, reserved_concurrency
from contract.workflow_types import EXPRESS, STANDARD
from tools import cost
from tools.arguments import per_second
from tools.command import settings_command

BIG_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")  # Step Functions' larger token buckets


@dataclass(frozen=True)
class Limit:
    name: str
    demand: float
    limit: float
    unit: str
    raise_by: str
    beyond: str = "queue"
    """What exceeding it does: `start` (StartExecution throttled: messages retried, then dead-lettered),
    `queue` (messages wait in the queue), `slow` (executions wait for transition tokens), `steps`
    (step invocations throttled: retried three times, then the image is recorded failed), `dynamodb`
    (status writes throttled), `moderation` (Rekognition throttled), `deploy` (AWS refuses the stack itself)."""

    @property
    def headroom(self) -> float:
        """limit / demand: below 1 this limit throttles at the rate."""
        return self.limit / self.demand if self.demand else float("inf")


def step_seconds(settings: Settings, profile: dict[str, Any] | None = None) -> dict[str, float]:
    """Each function's billed seconds per image, as the cost tool computes them."""
    return cost.estimate(settings, profile=profile).seconds


def limits(settings: Settings, rate: float, *, quotas: dict[str, Any] | None = None,
           profile: dict[str, Any] | None = None, region: str = "eu-west-1") -> list[Limit]:
    """Every limit at `rate` images per second, the one that binds first (least headroom) first."""
    q = quotas or cost.load("quotas.json")
    wf, fs = settings.workflow, settings.functions
    sfn = q["step_functions"]["big_regions" if region in BIG_REGIONS else "other_regions"]
    seconds = step_seconds(settings, profile)
    p = profile or cost.load("step_profile.json")
    transitions = p["standard_transitions"]["moderation" if settings.moderation.enabled else "plain"]
    reserved, needed = reserved_concurrency(settings)
    # Functions with a reservation run in it; the others share what the account has left.
    created = settings.created_functions()
    concurrency = sum(rate * s for name, s in seconds.items() if created[name].reserved_concurrency is None)
    # The orchestrator's invocations at once: the mapping's cap, its reserved concurrency, SQS's own limit.
    caps = [fs.orchestrator.maximum_concurrency or q["lambda"]["sqs_max_concurrency"],
            q["lambda"]["sqs_max_concurrency"]]
    if fs.orchestrator.reserved_concurrency is not None:
        caps.append(fs.orchestrator.reserved_concurrency)
    orchestrator_cap = min(caps) / max(seconds["orchestrator"], 1e-6)
    writes, _ = cost.status_units(settings, p)
    starts = (f"Service Quotas: Step Functions StartExecution, or an {EXPRESS.name} workflow (6,000/s)"
              if wf.kind is STANDARD else f"Service Quotas: Step Functions StartExecution ({wf.kind.name})")
    rows = [
        Limit(f"Step Functions StartExecution ({wf.kind.name})", rate, sfn[wf.kind.name]["start_execution_refill"],
              "/s", starts, "start"),
        Limit("Orchestrator throughput (concurrency x batch / batch time)", rate, orchestrator_cap, "/s",
              "functions.orchestrator: maximum_concurrency, reserved_concurrency or batch_size"),
        Limit("DynamoDB on-demand writes (table)", rate * writes, q["dynamodb"]["table_write_units"], " WRU/s",
              "Service Quotas: DynamoDB table-level on-demand throughput", "dynamodb"),
        Limit("SQS standard queue", rate * 3, q["sqs"]["standard_requests"], "/s", "none (nearly unlimited)"),
    ]
    if not reserved or needed <= fs.account_concurrency_quota:  # else nothing deploys: the row below says so
        rows.append(Limit("Lambda concurrency (functions without a reservation)", concurrency,
                          fs.account_concurrency_quota - reserved, "",
                          "Service Quotas: Lambda Concurrent executions (functions.account_concurrency_quota)",
                          "steps"))
    if reserved:
        rows.append(Limit(f"Lambda reserved concurrency (reserved + {UNRESERVED_MINIMUM} unreserved)", needed,
                          fs.account_concurrency_quota, "", "Service Quotas: Lambda Concurrent executions, or reserve "
                          "less (functions.<name>.reserved_concurrency)", "deploy"))
    if settings.moderation.enabled:
        rows.append(Limit("Rekognition DetectModerationLabels", rate, q["rekognition"]["detect_moderation_labels"],
                          "/s", "Service Quotas: Amazon Rekognition DetectModerationLabels transactions per second",
                          "moderation"))
    if wf.kind.counts_state_transitions:
        rows.append(Limit(f"Step Functions state transitions ({wf.kind.name})", rate * transitions,
                          sfn[wf.kind.name]["state_transition_refill"], "/s",
                          f"Service Quotas: Step Functions StateTransition (or use {EXPRESS.name}: no limit)", "slow"))
    return sorted(rows, key=lambda row: row.headroom)


def throttled_backlog(settings: Settings, rate: float, served: float) -> dict[str, float]:
    """What the queue does while only `served` images/s start: backlog growth, and when the age alarm fires.

    Messages arrive at `rate` and start at `served`; the one starting at time t arrived at t x served/rate,
    so the oldest message's age grows as t x (1 - served/rate). A throttled StartExecution fails its record,
    which SQS returns after the visibility timeout; after max_receive_count receives it is dead-lettered.
    """
    excess = max(rate - served, 0.0)
    if not excess:
        return {"backlog_per_minute": 0.0, "age_alarm_after_s": float("inf"), "dead_letter_after_s": float("inf")}
    age_rate = 1 - served / rate
    return {"backlog_per_minute": excess * 60,
            "age_alarm_after_s": settings.alarms.oldest_message_age_seconds / age_rate,
            "dead_letter_after_s": settings.dead_letter_queue.max_receive_count
            * settings.queue.visibility_timeout_seconds}


def beyond(settings: Settings, limit: Limit, rate: float) -> str:
    """What the pipeline does while `rate` exceeds `limit`."""
    served = rate * limit.headroom
    if limit.beyond == "deploy":
        return (f"- {limit.name}: `pulumi up` fails: Lambda refuses a reservation that leaves less than "
                f"{UNRESERVED_MINIMUM} of the account's {limit.limit:,.0f} concurrent executions unreserved "
                f"(InvalidParameterValueException); raise the quota to at least {limit.demand:,.0f} first")
    if limit.beyond == "slow":
        return (f"- {limit.name}: executions start but wait for state-transition tokens, so they run longer (the "
                f"executions-throttled alarm fires) and pile up; about {served:,.0f} images/s finish. One that reaches "
                "its timeout is re-run by the DLQ processor, `repair_attempts` times, then failed.")
    if limit.beyond == "steps":
        return (f"- {limit.name}: Lambda throttles invocations (steps, and the queue consumers scale no further): "
                "a step is retried 3 times, then the image is recorded failed (Lambda.TooManyRequestsException; "
                f"`tools replay` re-runs it). About {served:,.0f} images/s get through.")
    if limit.beyond == "dynamodb":
        return (f"- {limit.name}: status writes are throttled; each is retried 6 times, then the execution ends "
                "StatusNotRecorded and the DLQ processor re-runs it (`repair_attempts` times), then fails it. A new "
                "on-demand table takes about 4,000 writes/s at first and doubles as traffic grows.")
    if limit.beyond == "moderation":
        return (f"- {limit.name}: Rekognition is throttled; each call is retried 6 times, then the execution ends "
                "TransientError and is re-run (`repair_attempts` times), then the image is failed.")
    backlog = throttled_backlog(settings, rate, served)
    hour = backlog["backlog_per_minute"] * 60
    text = (f"- {limit.name}: {served:,.0f} images/s get through; the queue grows by "
            f"{backlog['backlog_per_minute']:,.0f} messages a minute, the oldest-message alarm fires after "
            f"{backlog['age_alarm_after_s']:,.0f} s, and an hour at this rate leaves {hour:,.0f} messages, which "
            f"drain in {hour / served / 60:,.0f} minutes once uploads stop.")
    if limit.beyond == "start":
        text += (" A message throttled on every receive is dead-lettered (its image failed, replayable) after "
                 f"{backlog['dead_letter_after_s']:,.0f} s.")
    return text


def new_accounts(settings: Settings, quotas: dict[str, Any]) -> str:
    """What a new account starts with (AWS raises it with use), against what this stack needs."""
    reserved, needed = reserved_concurrency(settings)
    need = (f" (this stack needs at least {needed}: {reserved} reserved + {UNRESERVED_MINIMUM} unreserved)"
            if reserved else "")
    transitions = " and reduced Step Functions state transitions" if settings.workflow.kind.counts_state_transitions \
        else ""
    return (f"New accounts start lower: Lambda {quotas['lambda']['new_account_concurrent_executions']} concurrent "
            f"executions{need}{transitions}, raised automatically with use; `aws lambda get-account-settings` and "
            "Service Quotas show yours.")


def _number(value: float) -> str:
    return f"{value:.2g}" if value < 1 else f"{value:,.2f}" if value < 10 else f"{value:,.0f}"


def render(settings: Settings, stack: str, rate: float, region: str = "eu-west-1") -> str:
    rows = limits(settings, rate, region=region)
    lines = [f"Capacity of stack {stack} ({settings.workflow.kind.name}, {region}) at {_number(rate)} images/s", "",
             "| limit | demand | quota | headroom | to raise it |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.name} | {_number(row.demand)}{row.unit} | {row.limit:,.0f}{row.unit} | "
                     f"{_number(row.headroom)}x | {row.raise_by} |")
    binding = rows[0]
    per_user = cost.load("quotas.json")["s3"]["put_per_prefix"] / cost.variant_count(settings)
    lines += ["", f"Binds first: {binding.name} ({_number(binding.headroom)}x headroom). One user's uploads alone "
              f"are bound by S3's 3,500 PUT/s per prefix (variants/{{userId}}/): {per_user:,.0f} images/s."]
    lines.append(new_accounts(settings, cost.load("quotas.json")))
    exceeded = [row for row in rows if row.headroom < 1]
    if exceeded:
        lines += ["", "Beyond its quota, each limit exceeded at this rate:", *(beyond(settings, row, rate)
                                                                          for row in exceeded),
                  "Every dead letter and every repair sends one SNS alert: an overload fills the on-call mailbox."]
    other = EXPRESS if settings.workflow.kind is STANDARD else STANDARD
    alternative = limits(cost.with_workflow_type(settings, other), rate, region=region)[0]
    article = "an" if other is EXPRESS else "a"
    lines.append(f"With {article} {other.name} workflow instead: {alternative.name} binds first "
                 f"({_number(alternative.headroom)}x headroom).")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=per_second, required=True, help="sustained uploads, e.g. 500/s")


def at_rate(args: argparse.Namespace, settings: Settings, region: str) -> str:
    """The stack's limits at `--rate`."""
    return render(settings, args.stack, args.rate, region)


COMMAND = settings_command("capacity", "which quota binds first at a sustained upload rate", add_arguments, at_rate)
