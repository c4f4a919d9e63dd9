"""The layout's rules: Lambda code never imports what the Lambda runtime lacks; shared documents stay plain."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

PLAIN_COMPONENT_MODULES = ("policies", "workflow/definition", "environment", "dashboard", "settings/config",
                           "settings/validation", "settings/parsing", "settings/rules", "settings/pitfalls",
                           "settings/prices", "network/services")


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "handlers").rglob("*.py")),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_handlers_never_import_pulumi_or_the_component_library(path):
    assert not imported_modules(path) & {"pulumi", "pulumi_aws", "components", "local", "tools"}


@pytest.mark.parametrize("module", PLAIN_COMPONENT_MODULES)
def test_shared_documents_are_built_without_pulumi(module):
    assert not imported_modules(ROOT / "components" / f"{module}.py") & {"pulumi", "pulumi_aws"}


@pytest.mark.parametrize("path", sorted((ROOT / "components").rglob("*.py")),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_component_reads_the_process_environment_only_through_the_contract(path):
    """`contract.environment` is the one reader of os.environ (a deployer's variable: `deployer_variable`)."""
    tree = ast.parse(path.read_text())
    reads = [node.lineno for node in ast.walk(tree)
             if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"))
             or (isinstance(node, ast.ImportFrom) and node.module == "os"
             and {alias.name for alias in node.names} & {"environ", "getenv", "environb"})]
    assert reads == [], f"lines {reads} read the environment; use contract.environment"
