"""Generic parsing of a plain mapping into the settings dataclasses: types, unknown keys, ranges, choices.

Nothing here knows AWS: the ranges and choices are the fields' own (`setting(...)` in
`components.settings.config`); the cross-resource rules are `components.settings.rules`. Each problem is
recorded, never raised, so that every one is reported at once; each starts with its key path.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, TypeVar

from components.settings.config import is_pending

T = TypeVar("T")


def parse_dataclass(cls: type[T], raw: Any, path: str, problems: list[str], base: T | None = None) -> T:
    """Overlay `raw` on `base` (the section's defaults, which may differ per parent field)."""
    base = cls() if base is None else base
    if not isinstance(raw, dict):
        problems.append(f"{path.rstrip('.') or '<root>'}: expected a mapping, got {_describe(raw)}")
        return base
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for unknown in sorted(set(raw) - set(fields)):
        suggestion = _closest(unknown, fields)
        problems.append(f"{path}{unknown}: unknown key{suggestion}")
    values: dict[str, Any] = {}
    for name in fields:
        if name in raw:
            ok, value = _parse_value(hints[name], raw[name], f"{path}{name}", problems,
                                     getattr(base, name))
            if ok:
                values[name] = value
    return dataclasses.replace(base, **values)  # type: ignore[type-var]


def _parse_value(hint: Any, value: Any, path: str, problems: list[str], default: Any = None) -> tuple[bool, Any]:
    """Return (ok, parsed); on a type error record it and return (False, None). A pending value (only where the
    settings accept outputs, `components.settings.loading`) is kept, and judged once known."""
    if is_pending(value):
        return True, value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return True, None
        return _parse_value(next(a for a in args if a is not type(None)), value, path, problems, default)
    if dataclasses.is_dataclass(hint):
        return True, parse_dataclass(hint, value, f"{path}.", problems, default)
    if origin is list:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {_describe(value)}")
            return False, None
        parsed = [_parse_value(args[0], item, f"{path}[{i}]", problems) for i, item in enumerate(value)]
        return all(ok for ok, _ in parsed), [item for _, item in parsed]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            problems.append(f"{path}: expected a mapping of strings, got {_describe(value)}")
            return False, None
        return True, dict(value)
    # bool is a subclass of int: `timeout: true` must not pass as 1.
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        problems.append(f"{path}: expected an integer, got {_describe(value)}")
        return False, None
    if hint in (str, bool) and not isinstance(value, hint):
        problems.append(f"{path}: expected a {hint.__name__}, got {_describe(value)}")
        return False, None
    return True, value


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _closest(unknown: str, known: dict[str, Any]) -> str:
    match = [key for key in known if key.startswith(unknown)] or difflib.get_close_matches(unknown, known, n=1)
    return f" (did you mean '{match[0]}'?)" if match else f" (known: {', '.join(known)})"


def range_problems(section: Any, path: str = "") -> list[str]:
    """Every field of `section` (and its subsections) outside its `setting(...)` range or choices."""
    problems: list[str] = []
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        key = f"{path}{f.name}"
        if dataclasses.is_dataclass(value):
            problems.extend(range_problems(value, f"{key}."))
            continue
        if value is None or isinstance(value, (list, dict)) or is_pending(value):
            continue
        low, high, choices = f.metadata.get("min"), f.metadata.get("max"), f.metadata.get("choices")
        if low is not None and value < low:
            problems.append(f"{key}: {value} is below the minimum {low:,} (AWS range {_span(low, high)})")
        elif high is not None and value > high:
            problems.append(f"{key}: {value} is above the maximum {high:,} (AWS range {_span(low, high)})")
        if choices is not None and value not in choices:
            problems.append(f"{key}: {value!r} is not one of {', '.join(map(str, choices))}")
    return problems


def _span(low: int | None, high: int | None) -> str:
    return f"{low:,} to {high:,}" if high is not None else f">= {low:,}"


def known_items(values: Any) -> list[Any]:
    """The items of a list setting known now: none of a pending list, not its pending items."""
    return [] if is_pending(values) else [value for value in values if not is_pending(value)]
