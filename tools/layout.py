"""Text that fits a terminal: at most `WIDTH` columns, long values wrapped or shortened, aligned columns.

Every human-readable line the tools print goes through these helpers, so a 150-character execution
ARN or a 1,000-character failure reason never breaks the layout; `--json` prints the values whole.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

WIDTH = 100
ELLIPSIS = "…"
BARS = "▁▂▃▄▅▆▇█"
NO_DATA = "·"


def one_line(value: object) -> str:
    """`value` as text on one line: newlines and runs of spaces become single spaces."""
    return " ".join(str(value).split())


def shorten(value: object, width: int, *, middle: bool = False) -> str:
    """`value` on one line, at most `width` characters: cut at the end, or in the middle (for ids whose
    start and end both matter), with an ellipsis where text was left out."""
    text = one_line(value)
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    if not middle:
        return text[:width - 1] + ELLIPSIS
    head = width // 2
    tail = width - 1 - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def labelled(label: str, value: object, *, label_width: int = 16, width: int = WIDTH) -> list[str]:
    """`label  value`, the value wrapped at `width` with a hanging indent under its first character.

    Words longer than a line (ARNs, JSON without spaces) are broken, so no line is ever wider."""
    lines = textwrap.wrap(one_line(value), width=width, initial_indent=f"{label:<{label_width - 1}} ",
                          subsequent_indent=" " * label_width, break_on_hyphens=False)
    return lines or [label]


def paragraph(text: str, *, indent: int = 0, hanging: int = 2, width: int = WIDTH) -> list[str]:
    """`text` wrapped at `width`: the first line indented by `indent`, the others by `indent + hanging`."""
    return textwrap.wrap(one_line(text), width=width, initial_indent=" " * indent,
                         subsequent_indent=" " * (indent + hanging), break_on_hyphens=False)


def columns(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int], *,
            right: Sequence[int] = (), indent: str = "") -> list[str]:
    """The header and rows aligned in columns of `widths` (cells already shortened to fit); the columns
    numbered in `right` are right-aligned (numbers). The last column is not padded."""
    lines = []
    for row in (header, *rows):
        cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths,
                                                                                               strict=True))]
        lines.append((indent + " ".join(cells)).rstrip())
    return lines


def fitted_widths(header: Sequence[str], rows: Sequence[Sequence[str]], caps: Sequence[int]) -> list[int]:
    """Each column as wide as its widest cell or header, but at most its cap."""
    return [min(cap, max(len(str(cell)) for cell in column)) for cap, column in
            zip(caps, zip(header, *rows, strict=True), strict=True)]


def number(value: float | None) -> str:
    """A metric value in at most 7 characters: `40`, `2.5`, `12.3k`, `1.5M`, or `-` for none."""
    if value is None:
        return "-"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    if abs(value) < 1e4:
        return f"{value:.1f}"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value:.0f}"  # unreachable: below 1e4 is handled above


def sparkline(values: Sequence[float | None]) -> str:
    """One bar per value, its height in proportion to the value (zero is the lowest bar); `·` where
    there is no value."""
    present = [v for v in values if v is not None]
    top = max(present, default=0.0)
    if top <= 0:
        return "".join(NO_DATA if v is None else BARS[0] for v in values)
    return "".join(NO_DATA if v is None else BARS[round(max(v, 0.0) / top * (len(BARS) - 1))] for v in values)
