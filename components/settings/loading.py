"""Read `image-pipeline:pipeline` from the running stack, or the component's inputs, validate, warn.

Stack files are read by their callers (`components.settings.stacks`), never here.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from typing import Any

from components.settings.config import EACH, Settings, is_pending
from components.settings.errors import ConfigError
from components.settings.names import name_problems
from components.settings.pitfalls import settings_warnings
from components.settings.stacks import CONFIG_KEY
from components.settings.validation import parse_settings

CONFIG_SOURCE = f"config '{CONFIG_KEY}'"  # where a stack's problems are, for the Python program


def load_settings() -> Settings:
    """Settings of the stack being deployed; every problem fails `pulumi preview` at once."""
    import pulumi

    return settings_from_args(pulumi.Config("image-pipeline").get_object("pipeline") or {})


def settings_from_args(args: Mapping[str, Any], *, camel_case: bool = False, source: str = CONFIG_SOURCE,
                       name: str | None = None) -> Settings:
    """Validate the component's `args` (and its `name`, `components.settings.names`); every problem at once, naming
    keys as the caller spells them.

    Integers in lists arrive as floats from other languages (`[1280.0, 640.0]`): whole ones are ints.
    A value only known after deployment (another resource's output, a secret) cannot decide what the
    stack creates: each is a problem naming its key, except at the settings that accept one (`outputs=` in
    `components.settings.config`: subnets, security groups, the KMS key, alert addresses). Those are validated for
    shape now and for content once known: the settings hold, in their place, outputs that resolve only
    after every setting validated with the values known (all problems at once, failing the deployment).
    """
    import pulumi

    unknown: list[str] = []
    known = _known(args, "", unknown)
    if isinstance(known, dict) and not unknown and outputs_in(known):
        # Unsecret the check: its outcome must not make the plain settings it gates secret.
        checked = pulumi.Output.unsecret(pulumi.Output.from_input(known).apply(
            lambda resolved: _resolved(resolved, known, camel_case=camel_case, source=source)))
        known = _gated(known, checked)
    try:
        settings = parse_settings(known if isinstance(known, dict) else {})  # UNKNOWN: all outputs
        problems = unknown
    except ConfigError as error:
        problems = unknown + error.problems
    problems += [] if name is None else name_problems(name)
    if problems:
        raise config_failure(problems, camel_case=camel_case, source=source) from None
    for warning in settings_warnings(settings):
        pulumi.log.warn(camel_cased(warning) if camel_case else warning)
    return settings


def config_failure(problems: list[str], *, camel_case: bool = False, source: str = CONFIG_SOURCE) -> Exception:
    """The error that fails `pulumi preview` listing every problem, keys named as the caller spells them
    (a RunError: the engine prints the message without a Python traceback)."""
    import pulumi

    shown = [camel_cased(problem) for problem in problems] if camel_case else problems
    return pulumi.RunError(str(ConfigError(shown, source)))


def _resolved(resolved: dict[str, Any], given: dict[str, Any], *, camel_case: bool, source: str) -> bool:
    """Once the outputs are known: every setting validated again with their values, every problem at once."""
    problems = [f"{path}: resolved to an empty list; give at least one, or leave the key out"
                for path, _ in outputs_in(given) if _at(resolved, path) == []]
    try:
        parse_settings(_known(resolved, "", []))
    except ConfigError as error:
        problems += error.problems
    if problems:
        raise config_failure(problems, camel_case=camel_case, source=source)
    return True


def outputs_in(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """(key path, value) of every output in `value`, as `a.b[0]`."""
    if is_pending(value):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [found for key, item in value.items() for found in outputs_in(item, f"{path}.{key}".lstrip("."))]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in outputs_in(item, f"{path}[{i}]")]
    return []


def _at(value: Any, path: str) -> Any:
    for part in re.findall(r"[^.\[\]]+", path):
        value = value[int(part)] if isinstance(value, list) else value.get(part)
    return value


def _gated(value: Any, checked: Any) -> Any:
    """`value` with each output replaced by one that resolves to the same value once `checked` has."""
    import pulumi

    if is_pending(value):
        return pulumi.Output.all(checked, value).apply(lambda both: both[1])
    if isinstance(value, Mapping):
        return {key: _gated(item, checked) for key, item in value.items()}
    if isinstance(value, list):
        return [_gated(item, checked) for item in value]
    return value


UNKNOWN = object()  # stands for a value dropped from the settings because it is not known yet


@functools.cache
def accepts_outputs(section: type = Settings, prefix: str = "") -> dict[str, str]:
    """The settings that may be outputs, by key path: WHOLE or EACH (`components.settings.config`)."""
    found: dict[str, str] = {}
    for field in dataclasses.fields(section):  # type: ignore[arg-type]
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(default):
            found |= accepts_outputs(type(default), f"{prefix}{field.name}.")
        elif field.metadata.get("outputs"):
            found[f"{prefix}{field.name}"] = field.metadata["outputs"]
    return found


def _accepts_output(path: str) -> bool:
    """An output is accepted as the whole value of a WHOLE setting, or as an item of a WHOLE or EACH list."""
    if accepts_outputs().get(path) not in (None, EACH):
        return True
    return accepts_outputs().get(re.sub(r"\[\d+\]$", "", path)) is not None and path.endswith("]")


def _known(value: Any, path: str, unknown: list[str]) -> Any:
    """`value` with whole floats as ints; UNKNOWN for an output, recorded in `unknown` (a list or mapping
    holding one is kept without it, so the rest is still validated). An output where the settings accept
    one is kept as it is."""
    import pulumi

    if isinstance(value, pulumi.Output) and path and _accepts_output(path):
        return value
    if isinstance(value, pulumi.Output):
        each = accepts_outputs().get(path) == EACH
        unknown.append(f"{path}: must be a list known at preview (one resource per item); each item may be an "
                       "output or a secret" if each else
                       f"{path or '<inputs>'}: must be known at preview (a literal, stack config or a function "
                       "result), not another resource's output or a secret: the settings decide what is created")
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        items = [_known(item, f"{path}[{i}]", unknown) for i, item in enumerate(value)]
        return UNKNOWN if UNKNOWN in items else items
    if isinstance(value, Mapping):
        known = {key: _known(item, f"{path}.{key}" if path else key, unknown) for key, item in value.items()}
        return {key: item for key, item in known.items() if item is not UNKNOWN}
    return value


@functools.cache
def _setting_names(section: type = Settings) -> frozenset[str]:
    names: set[str] = set()
    for field in dataclasses.fields(section):  # type: ignore[arg-type]
        names.add(field.name)
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(default):
            names |= _setting_names(type(default))
    return frozenset(names)


SNAKE_WORD = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def camel_cased(message: str) -> str:
    """Setting names in `message` as other languages spell them (values such as first_frame stay): with the
    analyzer's own `camel_case`, so they are the schema's names."""
    from pulumi.provider.experimental.util import camel_case

    names = _setting_names()
    return SNAKE_WORD.sub(lambda m: camel_case(m.group()) if m.group() in names else m.group(), message)
