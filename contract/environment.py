"""Settings objects to environment variables and back: the only reader of the process environment.

A settings class is a frozen dataclass whose fields are `variable(NAME, default)`s, or nested settings
classes (flattened: their variables sit beside the others). Values are strings on the wire: numbers
in decimal, booleans `true`/`false`, tuples comma-separated (empty: none), a workflow type by its name.
`to_env` passes string fields through untouched, so the component may give Pulumi outputs (an ARN not
known until deployed) where the local runner gives plain strings.

A function reads its settings with `current(cls)`: at import inside Lambda (`at_cold_start`), so a
function missing a variable fails its cold start with `MissingSettings` naming each missing one (a
half-configured function never runs), and again per invocation, which costs a dictionary lookup: the
result is kept per distinct environment, so the local runner and the tests, which run every function
in one process with each one's own environment, get each function's own.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Example:
    ...     queue_url: str = variable("SQS_QUEUE_URL")
    ...     sizes: tuple[int, ...] = variable("VARIANT_SIZES", (1280, 640))
    >>> to_env(Example(queue_url="https://q"))
    {'SQS_QUEUE_URL': 'https://q', 'VARIANT_SIZES': '1280,640'}
    >>> from_env(Example, {"SQS_QUEUE_URL": "https://q", "VARIANT_SIZES": "160"}).sizes
    (160,)
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

from contract.workflow_types import WorkflowType, workflow_type

T = TypeVar("T")
_REQUIRED: Any = dataclasses.MISSING


class MissingSettings(RuntimeError):
    """Variables a function needs are not set (or cannot be read); the message names each one."""


def variable(name: str, default: Any = _REQUIRED, *, at_least_one: bool = False) -> Any:
    """A field carried by the environment variable `name`. `default` is its value in settings built in code (the
    component's defaults come from here); reading the environment needs every variable, defaulted or not.
    `at_least_one`: a tuple that may not be empty (an empty one is refused like an unreadable value)."""
    metadata = {"env": name, "at_least_one": at_least_one}
    if default is _REQUIRED:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def process_environment() -> Mapping[str, str]:
    """This process's environment (what Lambda sets from the function's configuration)."""
    return os.environ


def deployer_variable(name: str) -> str | None:
    """A variable of the machine running `pulumi preview/up` (not of a function), e.g. where build caches live."""
    return os.environ.get(name)


def in_lambda() -> bool:
    """Running inside AWS Lambda (its runtime sets `AWS_LAMBDA_FUNCTION_NAME`)."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


@cache
def _fields(cls: type) -> tuple[tuple[dataclasses.Field[Any], Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls))


def _nested(f: dataclasses.Field[Any]) -> bool:
    """A nested settings class (its variables flattened) rather than one variable."""
    return "env" not in f.metadata


def _encode(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | WorkflowType):
        return str(value)
    if isinstance(value, tuple | list):
        return ",".join(str(item) for item in value)
    return value  # a string, or a Pulumi output of one


def _decode(text: str, kind: Any) -> Any:
    if kind is bool:
        if text not in ("true", "false"):
            raise ValueError("expected true or false")
        return text == "true"
    if kind is int:
        return int(text)
    if kind is WorkflowType:
        return workflow_type(text)
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return tuple(_decode(part, item) for part in text.split(",")) if text else ()
    return text


def to_env(settings: Any) -> dict[str, Any]:
    """Every variable of `settings` (nested settings flattened), in field order."""
    env: dict[str, Any] = {}
    for f, _ in _fields(type(settings)):
        value = getattr(settings, f.name)
        env |= to_env(value) if _nested(f) else {f.metadata["env"]: _encode(value)}
    return env


@cache
def variables(cls: type) -> tuple[str, ...]:
    """The names of the variables `cls` reads."""
    return tuple(name for f, kind in _fields(cls)
                 for name in (variables(kind) if _nested(f) else (f.metadata["env"],)))


def _read(cls: type[T], environ: Mapping[str, str], problems: list[str]) -> T | None:
    values: dict[str, Any] = {}
    for f, kind in _fields(cls):
        if _nested(f):
            values[f.name] = _read(kind, environ, problems)
            continue
        name = f.metadata["env"]
        if name not in environ:
            problems.append(f"{name} is not set")
            continue
        try:
            values[f.name] = _decode(environ[name], kind)
            if f.metadata.get("at_least_one") and not values[f.name]:
                raise ValueError("expected at least one item")
        except (ValueError, KeyError) as error:
            problems.append(f"{name}={environ[name]!r} cannot be read: {error.args[0] if error.args else error}")
    return None if problems else cls(**values)


def from_env(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """`cls` read from `environ` (default: this process's); `MissingSettings` naming every problem."""
    problems: list[str] = []
    settings = _read(cls, process_environment() if environ is None else environ, problems)
    if settings is None:
        raise MissingSettings(f"{cls.__name__}: " + "; ".join(problems)
                              + " (the function's environment comes from the component: redeploy the stack)")
    return settings


_current: dict[tuple[type, tuple[str | None, ...]], Any] = {}


def current(cls: type[T]) -> T:
    """`cls` as this process's environment sets it now (read once per distinct environment)."""
    environ = process_environment()
    key = (cls, tuple(environ.get(name) for name in variables(cls)))
    settings = _current.get(key)
    if settings is None:
        settings = _current[key] = from_env(cls, environ)
    return settings


def at_cold_start(cls: type) -> None:
    """Inside Lambda, read `cls` now, during init: a missing variable fails the cold start, naming it."""
    if in_lambda():
        current(cls)
