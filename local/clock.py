"""The two clocks the delivery loop runs on: virtual for batch runs, real for `serve`.

Lambda's pollers hide a failed message until its visibility timeout elapses. In a batch run
(`python -m local`) nothing should wait for that: the virtual clock jumps straight to the next
moment something is due. `serve` runs in real time: the clock is the system's and an idle
loop sleeps a little before polling again.

Example:
    >>> clock = VirtualClock()
    >>> clock.jump_to(360.0); clock.now()
    360.0
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on this clock."""

    def jump_to(self, moment: float) -> bool:
        """Make `moment` the present if this clock can; True if it did."""

    def idle(self) -> None:
        """Called when nothing moved: wait a little (real time) or not at all (virtual)."""


class VirtualClock:
    """Time stands still until the runner jumps it to the next due moment: no sleeping."""

    def __init__(self) -> None:
        self._now = 0.0

    def now(self) -> float:
        return self._now

    def jump_to(self, moment: float) -> bool:
        self._now = max(self._now, moment)
        return True

    def idle(self) -> None:
        return None


class RealClock:
    """The system's monotonic clock; an idle loop polls every `poll_seconds`."""

    def __init__(self, poll_seconds: float = 0.2) -> None:
        self.poll_seconds = poll_seconds

    def now(self) -> float:
        return time.monotonic()

    def jump_to(self, moment: float) -> bool:
        return moment <= self.now()

    def idle(self) -> None:
        time.sleep(self.poll_seconds)
