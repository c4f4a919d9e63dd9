"""Write the component package's interface from `components.settings.config.Settings`.

Two files, both reviewed as diffs when a setting changes (`tests/package` fails when either is stale):

- `components/settings/args.py`: one TypedDict per settings section, every key optional, its docstring the
  setting's meaning, default and range. Pulumi's analyzer reads these annotations and docstrings.
- `provider/schema.json`: the schema the analyzer infers from them and from `ImagePipeline`'s
  output annotations, exactly what the plugin serves and every language's SDK is generated from.

    python -m provider.codegen
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from components.settings.config import EACH, WHOLE, Settings
from components.settings.docs import range_text
from components.settings.loading import camel_cased
from provider import PACKAGE, ROOT, VERSION

ARGS_MODULE = ROOT / "components" / "settings" / "args.py"
SCHEMA_FILE = ROOT / "provider" / "schema.json"
HEADER = '''"""The typed inputs of `ImagePipeline`, one TypedDict per settings section; every key is optional.

Generated from `components.settings.config` by `python -m provider.codegen`: do not edit. Pulumi's analyzer
infers the package schema (`provider/schema.json`) from these annotations and docstrings; other
languages spell the keys in camelCase (`visibility_timeout_seconds` -> `visibilityTimeoutSeconds`).
`pulumi.Input` marks the settings that may be another resource's output (in the schema: not `plain`).
"""

from typing import TypedDict

import pulumi
'''


def args_name(section: type) -> str:
    """`QueueSettings` -> `QueueArgs`; the root `Settings` -> `ImagePipelineArgs`."""
    return "ImagePipelineArgs" if section is Settings else section.__name__.replace("Settings", "Args")


def literal(value: Any) -> str:
    """A default as every language writes it: JSON."""
    return json.dumps(value)


def _annotation(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):  # `int | None`: None means "leave it out"
        return _annotation(next(arg for arg in args if arg is not type(None)))
    if dataclasses.is_dataclass(hint):
        return args_name(hint)
    if origin is list:
        return f"list[{_annotation(args[0])}]"
    if origin is dict:
        return f"dict[str, {_annotation(args[1])}]"
    return hint.__name__


def _input_annotation(hint: Any, outputs: str | None) -> str:
    """WHOLE: the value or any item may be an output; EACH: any item, in a list known at preview."""
    plain = _annotation(hint)
    if outputs is None:
        return plain
    if plain.startswith("list["):
        items = f"list[pulumi.Input[{plain[5:-1]}]]"
        return items if outputs == EACH else f"pulumi.Input[{items}]"
    assert outputs == WHOLE, outputs
    return f"pulumi.Input[{plain}]"


def _field_doc(field: dataclasses.Field[Any], default: Any) -> str:
    doc = field.metadata["doc"]
    if dataclasses.is_dataclass(default):
        # A section whose defaults differ from its type's (functions.variants: 2,048 MB, 120 s).
        plain = type(default)()
        changed = [f"{f.name} {literal(getattr(default, f.name))}" for f in dataclasses.fields(default)
                   if getattr(default, f.name) != getattr(plain, f.name)]
        return doc + (f" Defaults as {args_name(type(default))} but {', '.join(changed)}." if changed else "")
    span = range_text(field.metadata)
    if default is None:  # "Default: the queue's." already says it
        stated = "" if "default" in doc.lower() else " Default: unset."
    else:
        stated = f" Default: {literal(default)}."
    bounds = f" One of: {span}." if field.metadata.get("choices") else f" Range: {span}." if span else ""
    return f"{doc}{stated}{bounds}"


def _sections(section: type, found: dict[type, None]) -> dict[type, None]:
    """Every settings section under `section`, leaves first (a TypedDict names only earlier ones)."""
    for hint in typing.get_type_hints(section).values():
        inner = next((a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)), hint)
        if dataclasses.is_dataclass(inner) and inner not in found:
            _sections(inner, found)
    found[section] = None
    return found


def _docstring(text: str, indent: str) -> str:
    # One line: the analyzer keeps a docstring's line breaks and indentation in the description. Setting
    # names as the schema spells them (`jpeg_quality` -> `jpegQuality`); values such as first_frame stay.
    return f'{indent}"""{camel_cased(text).replace(chr(34) * 3, chr(39) * 3)}"""'


def args_source() -> str:
    """The text of `components/settings/args.py`."""
    blocks = [HEADER]
    for section in _sections(Settings, {}):
        hints, defaults = typing.get_type_hints(section), section()
        summary = (section.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        body = [f"class {args_name(section)}(TypedDict, total=False):", _docstring(" ".join(summary.split()), "    ")]
        for field in dataclasses.fields(section):
            body += ["", f"    {field.name}: {_input_annotation(hints[field.name], field.metadata.get('outputs'))}",
                     _docstring(_field_doc(field, getattr(defaults, field.name)), "    ")]
        blocks.append("\n" + "\n".join(body) + "\n")
    return "\n".join(blocks)


def package_schema() -> dict[str, Any]:
    """The schema the plugin serves, inferred by Pulumi's analyzer as `component_provider_host` does."""
    from pulumi.provider.experimental.analyzer import Analyzer
    from pulumi.provider.experimental.schema import generate_schema

    from components.image_pipeline import ImagePipeline

    result = Analyzer(PACKAGE).analyze([ImagePipeline])
    dependencies = sorted(result["dependencies"], key=lambda d: f"{d.name}{d.version}")
    return generate_schema(PACKAGE, VERSION, None, result["component_definitions"], result["type_definitions"],
                           dependencies).to_json()


def schema_text() -> str:
    return json.dumps(package_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    ARGS_MODULE.write_text(args_source())
    # The analyzer reads the module just written (a fresh interpreter would too).
    import importlib

    import components.settings.args

    importlib.reload(components.settings.args)
    SCHEMA_FILE.write_text(schema_text())
    print(f"wrote {ARGS_MODULE.relative_to(ROOT)} and {SCHEMA_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
