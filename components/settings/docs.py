"""The tables of the docs, generated from the code so the two never disagree: the settings (docs/settings.md)
from `Settings`, the outputs (docs/deploy.md) from `ImagePipeline`'s annotated outputs and their docstrings,
which Pulumi's analyzer reads for the package schema too.

    python -m components.settings.docs            # the settings table
    python -m components.settings.docs outputs    # the outputs table
"""

from __future__ import annotations

import ast
import dataclasses
import gc
import sys
from pathlib import Path
from typing import Any

from components.settings.config import Settings

# Read as text, as Pulumi's analyzer reads the outputs' docstrings: no Pulumi import is needed for the docs.
COMPONENT_SOURCE = Path(__file__).resolve().parents[1] / "image_pipeline.py"


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


def parse_python(path: Path) -> ast.Module:
    """`path`'s syntax tree. On CPython 3.11 `ast.parse` has been seen to fail at random with `SystemError: AST
    constructor recursion depth mismatch` in a process that ran Pulumi (an asyncio future's finalizer logged
    meanwhile; CPython gh-106905 is one cause): no garbage collection runs while the tree is built, and a
    `SystemError` is tried once more, the source being the same. The tests that read the repository's source
    use this too."""
    source = path.read_text()
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            return ast.parse(source, str(path))
        except SystemError:
            return ast.parse(source, str(path))
    finally:
        if collecting:
            gc.enable()

def outputs() -> list[tuple[str, str]]:
    """(name, meaning) of each output: an annotation `name: pulumi.Output[type]` of the class
    `ImagePipeline` followed by its docstring."""
    tree = parse_python(COMPONENT_SOURCE)
    component = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "ImagePipeline")
    found = []
    for statement, following in zip(component.body, component.body[1:], strict=False):
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) \
                and not statement.target.id.startswith("_"):
            assert isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant), (
                f"ImagePipeline.{statement.target.id}: document the output in a docstring below it")
            found.append((statement.target.id, " ".join(str(following.value.value).split())))
    return found


def outputs_table() -> str:
    from pulumi.provider.experimental.util import camel_case  # the schema's spelling of each name

    lines = ["| output | in other languages | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | `{camel_case(name)}` | {doc} |" for name, doc in outputs()]
    return "\n".join(lines) + "\n"


TABLES = {"settings": settings_table, "outputs": outputs_table}

if __name__ == "__main__":
    print(TABLES[sys.argv[1] if len(sys.argv) > 1 else "settings"](), end="")
