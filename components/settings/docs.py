"""The settings table of docs/settings.md, generated from `Settings` so the two never disagree.

    python -m components.settings.docs
"""

from __future__ import annotations

import dataclasses
from typing import Any

from components.settings.config import Settings


def default_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}".replace(",", "_") if value >= 10_000 else str(value)
    if isinstance(value, (list, dict)):
        return str(value).replace("'", "") if value else ("[]" if isinstance(value, list) else "{}")
    return str(value)


def range_text(metadata: Any) -> str:
    low, high, choices = metadata.get("min"), metadata.get("max"), metadata.get("choices")
    if choices:
        if len(choices) > 6:
            return f"{choices[0]} ... {choices[-1]} (CloudWatch values)"
        return ", ".join(map(str, choices))
    if low is not None and high is not None:
        return f"{low:,} to {high:,}"
    return f">= {low:,}" if low is not None else ""


def rows(section: Any = None, prefix: str = "") -> list[tuple[str, str, str, str]]:
    section = Settings() if section is None else section
    found = []
    for field in dataclasses.fields(section):
        value = getattr(section, field.name)
        if dataclasses.is_dataclass(value):
            found += rows(value, f"{prefix}{field.name}.")
        else:
            found.append((f"{prefix}{field.name}", default_text(value), range_text(field.metadata),
                          field.metadata["doc"]))
    return found


def settings_table() -> str:
    lines = ["| key | default | AWS range / choices | meaning |", "|---|---|---|---|"]
    lines += [f"| `{key}` | `{default}` | {span} | {doc} |" for key, default, span, doc in rows()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
