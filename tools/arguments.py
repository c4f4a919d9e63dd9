"""What `python -m tools` and `python -m local` accept on their command lines, checked in one place.

Every bad value is one line in argparse's own words, naming the flag:

    python -m tools capacity: error: argument --rate: '-5/s' is not a rate (more than 0; e.g. 500/s, 30000/min or 500)
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from handlers.lifecycle.uploads import utc_iso

__all__ = ["Number", "Parser", "per_second", "positive", "sizes", "timestamp", "whole"]

DURATION = re.compile(r"(\d+)([mhd])")  # with `fullmatch`: `$` would accept a final newline
UNITS = {"m": "minutes", "h": "hours", "d": "days"}
RATE_UNITS = {"": 1, "s": 1, "min": 60, "h": 3600}


class Parser(argparse.ArgumentParser):
    """argparse, saying a mistake in one line (no usage block: `--help` has it), and reading `-5` or
    `-5/s` after a flag as that flag's (bad) value rather than as an unknown option."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # argparse takes only `-5` and `-.5` as values; `-5/s` would be "expected one argument".
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


@dataclass(frozen=True)
class Number:
    """An argparse `type`: a finite number from `low` (excluded with `above`) to `high`, else the one line
    "'<value>' is not <what> (<range>[; <note>])"."""

    what: str = "a number"
    whole: bool = False
    low: float = 0
    high: float | None = None
    above: bool = False
    note: str = ""

    @property
    def said(self) -> str:
        if self.high is not None:
            bounds = (f"more than {self.low:g}, at most {self.high:,.0f}" if self.above else
                      f"{self.low:g} to {self.high:g}")
        else:
            bounds = f"more than {self.low:g}" if self.above else f"{self.low:g} or more"
        return f"{self.what} ({bounds}{'; ' + self.note if self.note else ''})"

    def __call__(self, value: str) -> float:
        try:
            parsed: float = int(value) if self.whole else float(value)
        except ValueError:
            parsed = math.nan
        if not math.isfinite(parsed) or parsed < self.low or (self.above and parsed == self.low) or (
                self.high is not None and parsed > self.high):
            raise argparse.ArgumentTypeError(f"{value!r} is not {self.said}")
        return parsed


positive = Number(above=True)
whole = Number("a whole number", whole=True, low=1)
RATE = Number("a rate", above=True, high=1e9, note="e.g. 500/s, 30000/min or 500")
SIZE = Number("a list of pixel sizes", whole=True, low=1, note="e.g. 1280,640,160")


def per_second(value: str) -> float:
    """`500/s`, `500`, `30000/min` or `1800000/h`: images per second."""
    count, _, unit = value.strip().lower().partition("/")
    if unit in RATE_UNITS:
        with contextlib.suppress(argparse.ArgumentTypeError):
            return RATE(count) / RATE_UNITS[unit]
    raise argparse.ArgumentTypeError(f"{value!r} is not {RATE.said}")


def sizes(value: str) -> list[int]:
    """`1280,640,160`: pixel sizes."""
    with contextlib.suppress(argparse.ArgumentTypeError):
        return [int(SIZE(part)) for part in value.split(",")]
    raise argparse.ArgumentTypeError(f"{value!r} is not {SIZE.said}")


def timestamp(value: str) -> str:
    """An ISO 8601 time (any offset), or a duration back from now (`30m`, `2h`, `1d`), as the status
    table stores times: UTC, milliseconds, `Z`."""
    if not value:
        return ""  # no lower bound
    duration = DURATION.fullmatch(value.strip())
    try:
        if duration:
            return utc_iso(datetime.now(UTC) - timedelta(**{UNITS[duration[2]]: int(duration[1])}))
        return utc_iso(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except OverflowError:  # before year 1 or after 9999 once in UTC
        raise argparse.ArgumentTypeError(f"{value!r} is outside the years 1 to 9999") from None
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is neither an ISO 8601 time (2026-11-28T00:00:00Z) nor a "
                                         "duration back from now (30m, 2h, 1d)") from None
