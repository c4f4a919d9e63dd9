"""The AWS names the component's children get from its name, and the limits they must fit.

Pulumi auto-names a child `<logical name>-<7 random characters>`, and a child's logical name is the
component's name plus a suffix (`images-prod` -> `images-prod-s3-event-handler-role-1a2b3c4`); a
`name_prefix` gets 26 characters (a timestamp and a counter). Too long a component name fails the
deployment one resource at a time; `name_problems` names every limit it breaks at preview instead.

    >>> name_problems("images-prod")
    []
    >>> longest_name()
    34

This module is plain (no pulumi import): the settings' validation uses it. The suffixes below are the
ones the building blocks use; `tests/infra/test_names.py` checks them against every child of a stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.settings.config import FunctionsSettings

AUTONAME = 8  # "-" and 7 random characters (Pulumi's auto-naming)
NAME_PREFIX = 26  # what a `name_prefix` gets (the AWS provider's unique suffix)
# S3 bucket names allow only lowercase letters, digits, dots and hyphens (Pulumi lowercases auto-names);
# Lambda, SQS, EventBridge and dashboards refuse dots: letters, digits and hyphens fit every child.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
# S3 refuses bucket names that start with these (the buckets' names start with the component's).
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
FUNCTIONS = tuple(name.replace("_", "-") for name in FunctionsSettings().roles())


@dataclass(frozen=True)
class NameLimit:
    names: str
    """What AWS limits, e.g. "IAM role names"."""
    limit: int
    children: tuple[str, ...]
    """Each child's name with `{}` for the component's name, before what is added to it."""
    added: int = AUTONAME


LIMITS = (
    NameLimit("IAM role names", 64, (*(f"{{}}-{f}-role" for f in FUNCTIONS), "{}-workflow-role")),
    NameLimit("IAM role policy names", 128, (*(f"{{}}-{f}-network-policy" for f in FUNCTIONS),
                                            *(f"{{}}-{f}-policy" for f in FUNCTIONS), "{}-workflow-policy")),
    NameLimit("Lambda function names", 64, tuple(f"{{}}-{f}" for f in FUNCTIONS)),
    NameLimit("Lambda layer names", 140, ("{}-pillow-python312-arm64", "{}-pillow-python312-x86_64"), 0),
    NameLimit("SQS queue names", 80, ("{}-queue", "{}-dlq", "{}-events-dlq")),
    NameLimit("SNS topic names", 256, ("{}-alerts",)),
    NameLimit("Step Functions state machine names", 80, ("{}-workflow",)),
    NameLimit("DynamoDB table names", 255, ("{}-status",)),
    NameLimit("S3 bucket names", 63, ("{}-input", "{}-output")),
    NameLimit("CloudWatch Logs log group names", 512, (*(f"/aws/lambda/{{}}-{f}-" for f in FUNCTIONS),
                                                      "/aws/vendedlogs/states/{}-"), NAME_PREFIX),
    NameLimit("CloudWatch alarm names", 255, (
        *(f"{{}}-{f}-{what}" for f in FUNCTIONS for what in ("errors", "throttles", "duration")),
        *(f"{{}}-executions-{what}" for what in ("failed", "timed-out", "throttled", "aborted")),
        "{}-queue-depth", "{}-dlq-depth", "{}-oldest-message-age", "{}-queue-stalled", "{}-events-undelivered")),
    NameLimit("CloudWatch dashboard names", 255, ("{}-image-pipeline",), 0),
    NameLimit("EventBridge rule names", 64, ("{}-unfinished-executions", "{}-reconcile-schedule")),
    NameLimit("EC2 security group names", 255, ("{}-functions-sg", "{}-endpoints-sg")),
    NameLimit("KMS alias names", 256, ("alias/{}-",), NAME_PREFIX),
)


def longest(limit: NameLimit, name: str) -> str:
    """The child of `limit` whose name is longest (before what is added to it)."""
    return max((child.format(name) for child in limit.children), key=len)


def longest_name() -> int:
    """The longest component name whose every child fits its limit."""
    return min(limit.limit - limit.added - len(longest(limit, "")) for limit in LIMITS)


def name_problems(name: str) -> list[str]:
    """Each AWS name limit the component's name makes a child exceed, and the character rule."""
    problems = [] if NAME.fullmatch(name) else [
        f"component name: {name!r} may hold only letters, digits and hyphens, starting with a letter or digit "
        "(S3 bucket names, and the SQS, Lambda and EventBridge names made from it, allow nothing else)"]
    problems += [f"component name: {name!r} starts with {prefix!r}, which S3 reserves: its buckets' names start "
                 "with the component's name" for prefix in S3_RESERVED_PREFIXES if name.lower().startswith(prefix)]
    for limit in LIMITS:
        child = longest(limit, name)
        total = len(child) + limit.added
        if total > limit.limit:
            added = (f" + the {limit.added} characters Pulumi adds" if limit.added == AUTONAME else
                     f" + the {limit.added} characters of a name prefix's suffix" if limit.added else "")
            problems.append(f"component name: {name!r} is {len(name)} characters, so {child!r}{added} is {total}, "
                            f"over the {limit.limit} AWS allows for {limit.names}; use a name of at most "
                            f"{longest_name()} characters")
    return problems
