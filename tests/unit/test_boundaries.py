"""The layout's rules (docs/architecture.md): what each folder may import, who reads the environment, where a
workflow type is named. Lambda code never imports what the Lambda runtime lacks; shared documents stay plain."""

from __future__ import annotations

import ast
import sys

import pytest

from components.settings.docs import parse_python as parse
from tests.conftest import ROOT

PLAIN_COMPONENT_MODULES = ("policies", "workflow/definition", "workflow/states", "workflow/express",
                           "workflow/moderation", "environment", "dashboard", "settings/config",
                           "settings/validation", "settings/parsing", "settings/rules", "settings/pitfalls",
                           "settings/prices", "settings/stacks", "settings/names", "settings/errors",
                           "network/services")


def imported_dotted(path) -> set[str]:
    """The dotted names a file imports (`from a.b import c` gives `a.b` and `a.b.c`)."""
    names = set()
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def imported_modules(path) -> set[str]:
    """The top-level packages a file imports (`pulumi`, `boto3`, `handlers`, ...)."""
    return {name.split(".")[0] for name in imported_dotted(path)}


def files(folder: str, *, but: tuple[str, ...] = ()) -> list:
    return [path for path in sorted((ROOT / folder).rglob("*.py"))
            if not any(path.is_relative_to(ROOT / other) for other in but)]


def ids(path) -> str:
    return path.relative_to(ROOT).as_posix()


ENTRY_POINTS = tuple(path.stem for path in (ROOT / "handlers").glob("*.py") if path.stem != "__init__")


@pytest.mark.parametrize("path", files("handlers"), ids=ids)
def test_handlers_never_import_pulumi_or_the_component_library(path):
    assert not imported_modules(path) & {"pulumi", "pulumi_aws", "components", "local", "tools"}


@pytest.mark.parametrize("path", files("contract"), ids=ids)
def test_the_contract_imports_the_standard_library_only(path):
    """Both sides import the contract; it imports neither (nor anything the Lambda runtime may lack)."""
    assert imported_modules(path) - {"contract"} <= set(sys.stdlib_module_names)


@pytest.mark.parametrize("path", files("handlers/image"), ids=ids)
def test_the_image_core_is_pure(path):
    """Bytes in, bytes out: no AWS, and nothing of the lifecycle or the entry points above it."""
    imported = imported_dotted(path)
    assert not {name.split(".")[0] for name in imported} & {"boto3", "botocore", "aws_lambda_powertools"}
    assert not {name for name in imported if name.startswith(("handlers.lifecycle", *(
        f"handlers.{entry}" for entry in ENTRY_POINTS)))}


@pytest.mark.parametrize("path", files("handlers/lifecycle"), ids=ids)
def test_the_lifecycle_rules_never_import_an_entry_point(path):
    assert not {name for name in imported_dotted(path) if name.split(".")[:2] in (
        ["handlers", entry] for entry in ENTRY_POINTS)}


@pytest.mark.parametrize("path", files("components"), ids=ids)
def test_the_component_packages_the_functions_but_never_imports_them(path):
    assert "handlers" not in imported_modules(path)


@pytest.mark.parametrize("module", PLAIN_COMPONENT_MODULES)
def test_shared_documents_are_built_without_pulumi(module):
    assert not imported_modules(ROOT / "components" / f"{module}.py") & {"pulumi", "pulumi_aws"}


@pytest.mark.parametrize("path", files("components") + files("handlers") + files("provider"), ids=ids)
def test_the_component_and_the_functions_read_the_process_environment_only_through_the_contract(path):
    """`contract.environment` is the one reader of os.environ (a deployer's variable: `deployer_variable`)."""
    tree = parse(path)
    reads = [node.lineno for node in ast.walk(tree)
             if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"))
             or (isinstance(node, ast.ImportFrom) and node.module == "os"
             and {alias.name for alias in node.names} & {"environ", "getenv", "environb"})]
    assert reads == [], f"lines {reads} read the environment; use contract.environment"


def test_a_workflow_type_is_named_in_at_most_two_modules():
    """Everything else asks the `contract.workflow_types` objects what differs (`settings.workflow.kind`)."""
    naming = sorted(ids(path) for folder in ("components", "contract", "handlers", "local", "tools", "bench",
                                             "provider", "policy", "ci_roles")
                    for path in files(folder)
                    if any(isinstance(node, ast.Constant) and node.value == "EXPRESS"
                           for node in ast.walk(parse(path))))
    assert len(naming) <= 2, naming
    assert "contract/workflow_types.py" in naming
