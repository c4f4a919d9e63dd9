"""What `serve` shows while it runs: a line per image that ends, each alert, and the totals.

Every poll it reads the status table (small locally) and the alerts inbox, prints what changed,
and a totals line whenever the totals move:

    12:01:05 completed       uploads/me/photo.jpg  3 variants
    12:01:09 failed          uploads/me/notes.jpg  InvalidImage: not an image: the bytes are text
    12:01:09 ALERT           image-pipeline: 1 image dead-lettered
    12:01:09 bad key         key 'uploads/me/a/b.jpg' is not uploads/{userId}/{imageId}.{ext}
    12:01:12 rejected        uploads/me/beach.jpg  moderation labels: ["Swimwear or Underwear"]
    12:01:12 uploads 4 · running 0 · completed 1 · failed 1 · rejected 1 · bad keys 1 · dead-lettered 0 · alerts 2
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handlers.lifecycle.duplicates import is_index_item
from handlers.lifecycle.status import plain_item

TERMINAL = ("completed", "failed", "rejected")


@dataclass
class Totals:
    uploads: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    rejected: int = 0  # by moderation
    bad_keys: int = 0  # uploads whose key is not uploads/{userId}/{imageId}.{ext}
    dead_lettered: int = 0
    alerts: int = 0

    def line(self) -> str:
        return (f"uploads {self.uploads} · running {self.running} · completed {self.completed} · "
                f"failed {self.failed} · rejected {self.rejected} · bad keys {self.bad_keys} · "
                f"dead-lettered {self.dead_lettered} · "
                f"alerts {self.alerts}")


@dataclass
class LiveView:
    """Feed `update` the table's items, the running count and new alerts; it calls `emit` per line."""

    emit: Callable[[str], None]
    clock: Callable[[], datetime] = datetime.now
    _seen: dict[tuple[str, str], str] = field(default_factory=dict)  # image -> "status|time" last seen
    _totals: Totals = field(default_factory=Totals)
    _shown: str = ""
    endings: int = 0  # outcome lines shown so far: serve saves --state when it grows

    def prime(self, items: list[dict[str, Any]]) -> None:
        """Take `items` (DynamoDB's) as already shown: outcomes restored from `--state` are not news."""
        for item in map(plain_item, items):
            self._seen[(item["userId"], item["imageId"])] = _version(item)

    def update(self, items: list[dict[str, Any]], *, uploads: int, running: int, dead_lettered: int,
               alerts: list[dict[str, Any]], bad_keys: list[str] | None = None) -> Totals:
        """`items` as DynamoDB returns them; `alerts` as SNS envelopes (with `Subject`); `bad_keys`: why
        each upload key refused since the last update was refused (they never get a status item)."""
        stamp = f"{self.clock():%H:%M:%S}"
        plain = [plain_item(raw) for raw in items if not is_index_item(raw)]
        for item in plain:
            image = (item["userId"], item["imageId"])
            version = _version(item)
            if item.get("status") in TERMINAL and self._seen.get(image) != version:
                self.emit(f"{stamp} {item['status']:<15} {describe(item)}")
                self.endings += 1
            self._seen[image] = version
        for reason in bad_keys or []:
            self.emit(f"{stamp} {'bad key':<15} {' '.join(reason.split())[:160]}")
        for envelope in alerts:
            said = envelope.get("Subject") or " ".join(str(envelope.get("Message", "")).split())[:80]
            self.emit(f"{stamp} {'ALERT':<15} {said or '(no subject)'}")
        statuses = Counter(str(item.get("status")) for item in plain)
        self._totals = Totals(uploads=uploads, running=running, completed=statuses["completed"],
                              failed=statuses["failed"], rejected=statuses["rejected"],
                              bad_keys=self._totals.bad_keys + len(bad_keys or []),
                              dead_lettered=dead_lettered,
                              alerts=self._totals.alerts + len(alerts))
        line = self._totals.line()
        if line != self._shown:
            self._shown = line
            self.emit(f"{stamp} {line}")
        return self._totals


def describe(item: dict[str, Any]) -> str:
    """`uploads/me/photo.jpg  3 variants`, or the failure's reason, on one line."""
    key = item.get("uploadKey") or f"{item['userId']}/{item['imageId']}"
    if item.get("status") == "completed":
        variants = json.loads(item.get("variants") or "[]")
        return f"{key}  {len(variants)} variant{'s' if len(variants) != 1 else ''}"
    reason = " ".join(str(item.get("reason") or item.get("error") or "?").split())
    return f"{key}  {reason[:160]}"


def _version(item: dict[str, Any]) -> str:
    return f"{item.get('status')}|{item.get('updatedAt') or item.get('completedAt') or item.get('failedAt')}"
