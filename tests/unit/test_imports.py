"""No import circle anywhere in the repository (tests aside): every `import` counts, at module level or inside
a function, in a `TYPE_CHECKING` block or not. A circle hidden in a function still makes each module
half-initialised for the other and hides which layer depends on which."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

from components.settings.docs import parse_python as parse
from tests.conftest import ROOT

SKIPPED = {"tests", "node_modules", "build", "out", "__pycache__"}  # and every hidden folder (.venv, .git)


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the repository by its dotted name (a package by its folder's)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if any(part in SKIPPED or part.startswith(".") for part in parts[:-1]):
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _package(name: str, path: Path) -> list[str]:
    return name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]


def _own(name: str, known: dict[str, Path]) -> str | None:
    """The repository module `name` is, or is in (`a.b.function` -> `a.b`); None for other packages."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(name: str, known: dict[str, Path]) -> dict[str, int]:
    """The repository modules `name` imports, each with the line of its first import."""
    path, found = known[name], {}
    for node in ast.walk(parse(path)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package(name, path)
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            # `from a import b` imports the module a.b when there is one, else a name of a
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            module = _own(target, known)
            if module is not None and module != name:
                found.setdefault(module, node.lineno)
    return found


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One circle through each strongly connected group of modules (Tarjan), as a path back to its start."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = {stack.pop()}
            while module not in group:
                group.add(stack.pop())
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [_path_around(sorted(group)[0], group, graph) for group in groups]


def _path_around(start: str, group: set[str], graph: dict[str, dict[str, int]]) -> list[str]:
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for imported in sorted(graph[path[-1]]):
            if imported == start:
                return [*path, start]
            if imported in group and imported not in seen:
                seen.add(imported)
                paths.append([*path, imported])
    raise AssertionError(f"no circle through {start}")


def describe(circle: list[str], graph: dict[str, dict[str, int]], known: dict[str, Path]) -> str:
    steps = [f"{known[a].relative_to(ROOT)}:{graph[a][b]} imports {b}" for a, b in itertools.pairwise(circle)]
    return " -> ".join(circle) + "\n    " + "\n    ".join(steps)


def test_the_repositorys_import_graph_has_no_circle():
    known = modules()
    graph = {name: imports(name, known) for name in known}
    assert {"components", "components.settings.config", "contract.environment", "handlers.orchestrator",
            "tools.cost", "local.settings"} <= set(known)  # the walk sees the whole repository
    found = circles(graph)
    assert not found, "import circles:\n" + "\n".join(describe(circle, graph, known) for circle in found)


def test_the_walk_finds_a_circle_through_a_function_level_import(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.b import B\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from . import c\n")
    (tmp_path / "pkg" / "c.py").write_text("import pkg.a as a\n")
    known = modules(tmp_path)
    graph = {name: imports(name, known) for name in known}
    assert graph["pkg.b"] == {"pkg.c": 2}
    assert circles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
