"""SNS alerts: one per dead letter or repair, a subject SNS accepts, the details as JSON.

Example:
    >>> subject("image ü failed " + "x" * 200)[:16], len(subject("x" * 200))
    ('image ? failed x', 99)
"""

from __future__ import annotations

import json
import re
from typing import Any

SUBJECT_LIMIT = 99  # SNS subjects: ASCII, no line breaks, under 100 characters
MAX_ALERT_BODY = 200_000  # SNS messages are limited to 256 KB


def subject(text: str) -> str:
    ascii_text = re.sub(r"[^\x20-\x7e]", "?", text)
    return ascii_text if len(ascii_text) <= SUBJECT_LIMIT else ascii_text[: SUBJECT_LIMIT - 3] + "..."


def alert(sns: Any, topic_arn: str, *, title: str, details: dict[str, Any]) -> None:
    message = json.dumps(details, indent=2, default=str)
    if len(message) > MAX_ALERT_BODY:
        details = details | {"originalBody": str(details.get("originalBody", ""))[:10_000] + "... (truncated)"}
        message = json.dumps(details, indent=2, default=str)
    sns.publish(TopicArn=topic_arn, Subject=subject(title), Message=message)
