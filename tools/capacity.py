"""`python -m tools capacity`: which quota binds first at a sustained upload rate, and the headroom of each.

A closed-form model: each limit is a rate (per second) or a concurrency; demand comes from the stack's
settings and the cost tool's per-image durations (`tools.cost`). Quotas are data
(`tools/data/quotas.json`, with their sources; `--quotas FILE` overrides them).

Example:
    >>> from components import Settings
    >>> rows = limits(Settings.from_dict({}), rate=500)
    >>> [(row.name, round(row.headroom, 2)) for row in rows[:2]]   # 7 transitions an image; eu-west-1 buckets
    [('Step Functions state transitions (STANDARD)', 0.43), ('Step Functions StartExecution (STANDARD)', 0.6)]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from components.config import Settings
from tools import cost

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
    (step invocations throttled: retried three times, then the image is recorded failed)."""

    @property
    def headroom(self) -> float:
        """limit / demand: below 1 this limit throttles at the rate."""
        return self.limit / self.demand if self.demand else float("inf")


def step_seconds(settings: Settings, profile: dict[str, Any] | None = None) -> dict[str, float]:
    """Each function's billed seconds per image, as the cost tool computes them."""
    report = cost.estimate(settings, profile=profile)
    seconds: dict[str, float] = {}
    for _, what, _ in report.lines:
        if " duration (" in what and " ms)" in what:
            name = what.split(" duration")[0]
            seconds[name] = float(what.rsplit(", ", 1)[1].removesuffix(" ms)")) / 1000
    return seconds


def limits(settings: Settings, rate: float, *, quotas: dict[str, Any] | None = None,
           profile: dict[str, Any] | None = None, region: str = "eu-west-1") -> list[Limit]:
    """Every limit at `rate` images per second, the one that binds first (least headroom) first."""
    q = quotas or cost.load("quotas.json")
    wf, fs = settings.workflow, settings.functions
    sfn = q["step_functions"]["big_regions" if region in BIG_REGIONS else "other_regions"]
    seconds = step_seconds(settings, profile)
    p = profile or cost.load("step_profile.json")
    transitions = p["standard_transitions"]["moderation" if settings.moderation.enabled else "plain"]
    concurrency = sum(rate * s for s in seconds.values())
    batch = fs.orchestrator.batch_size
    orchestrator_cap = (fs.orchestrator.maximum_concurrency or q["lambda"]["sqs_max_concurrency"]) * batch / max(
        seconds["orchestrator"] * batch, 0.001)
    writes = 14 if wf.duplicates != "off" else 4
    rows = [
        Limit(f"Step Functions StartExecution ({wf.type})", rate, sfn[wf.type]["start_execution_refill"], "/s",
              "Service Quotas: Step Functions StartExecution (or EXPRESS: 6,000/s)", "start"),
        Limit("Lambda concurrency (account, all functions)", concurrency, fs.account_concurrency_quota, "",
              "Service Quotas: Lambda Concurrent executions (functions.account_concurrency_quota)", "steps"),
        Limit("Orchestrator throughput (maximum_concurrency x batch)", rate, orchestrator_cap, "/s",
              "functions.orchestrator.maximum_concurrency or batch_size"),
        Limit("DynamoDB on-demand writes (table)", rate * writes, q["dynamodb"]["table_write_units"], " WRU/s",
              "Service Quotas: DynamoDB table-level on-demand throughput"),
        Limit("SQS standard queue", rate * 3, q["sqs"]["standard_requests"], "/s", "none (nearly unlimited)"),
    ]
    if wf.type == "STANDARD":
        rows.append(Limit("Step Functions state transitions (STANDARD)", rate * transitions,
                          sfn["STANDARD"]["state_transition_refill"], "/s",
                          "Service Quotas: Step Functions StateTransition (or use EXPRESS: no limit)", "slow"))
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


def beyond(settings: Settings, binding: Limit, rate: float) -> str:
    """What the pipeline does while `rate` exceeds the binding limit."""
    served = rate * binding.headroom
    if binding.beyond == "slow":
        return (f"Above it, executions start but wait for state-transition tokens: they run longer (the "
                f"executions-throttled alarm fires) and open executions pile up; about {served:,.0f} images/s "
                "finish. An execution that reaches its timeout is re-run by the DLQ processor.")
    if binding.beyond == "steps":
        return (f"Above it, Lambda throttles step invocations: the workflow retries each 3 times, then records the "
                f"image failed (Lambda.TooManyRequestsException; replay it with `tools replay`). About "
                f"{served:,.0f} images/s get through.")
    backlog = throttled_backlog(settings, rate, served)
    hour = backlog["backlog_per_minute"] * 60
    text = (f"Above it, {served:,.0f} images/s start; the queue grows by {backlog['backlog_per_minute']:,.0f} "
            f"messages a minute, the oldest-message alarm fires after {backlog['age_alarm_after_s']:,.0f} s, and "
            f"an hour at this rate leaves {hour:,.0f} messages, which drain in {hour / served / 60:,.0f} minutes "
            "once uploads stop.")
    if binding.beyond == "start":
        text += (f" A message throttled on every receive is dead-lettered (its image failed, replayable) after "
                 f"{backlog['dead_letter_after_s']:,.0f} s.")
    return text


def render(settings: Settings, stack: str, rate: float) -> str:
    rows = limits(settings, rate)
    lines = [f"Capacity of stack {stack} ({settings.workflow.type}) at {rate:g} images/s", "",
             "| limit | demand | quota | headroom | to raise it |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.name} | {row.demand:,.0f}{row.unit} | {row.limit:,.0f}{row.unit} | "
                     f"{row.headroom:.2f}x | {row.raise_by} |")
    binding = rows[0]
    per_user = cost.load("quotas.json")["s3"]["put_per_prefix"] / cost.variant_count(settings)
    lines += ["", f"Binds first: {binding.name} ({binding.headroom:.2f}x headroom). One user's uploads alone are "
              f"bound by S3's 3,500 PUT/s per prefix (variants/{{userId}}/): {per_user:,.0f} images/s."]
    if binding.headroom < 1:
        lines.append(beyond(settings, binding, rate))
    other = "EXPRESS" if settings.workflow.type == "STANDARD" else "STANDARD"
    timeout = {"execution_timeout_seconds": min(settings.workflow.execution_timeout_seconds, 300)} \
        if other == "EXPRESS" else {}
    alternative = limits(dataclasses.replace(settings, workflow=dataclasses.replace(
        settings.workflow, type=other, **timeout)), rate)[0]
    article = "an" if other == "EXPRESS" else "a"
    lines.append(f"With {article} {other} workflow instead: {alternative.name} binds first "
                 f"({alternative.headroom:.2f}x headroom).")
    return "\n".join(lines)
