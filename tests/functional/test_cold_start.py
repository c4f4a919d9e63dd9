"""Inside Lambda a function missing a variable fails its init, naming it: it never runs half-configured.
And a function starts from what Lambda has: the code archive's files and its own layers, nothing else.

Each import runs in a fresh interpreter: the check happens once, when Lambda imports the handler module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components import Settings
from components.environment import function_environment
from components.functions import handler_code
from contract.environment import variables
from contract.functions import FUNCTIONS, WORKFLOW_STEPS, handler_path
from tests.conftest import ROOT

ENVIRONMENTS = function_environment(Settings(), queue_url="https://sqs/q", dlq_url="https://sqs/d",
                                    table_name="status", topic_arn="arn:aws:sns:eu-west-1:1:alerts",
                                    state_machine_arn="arn:aws:states:eu-west-1:1:stateMachine:m",
                                    output_bucket="output")
EVERY_VARIABLE = {name for cls in FUNCTIONS.values() for name in variables(cls)}


# Only the workflow's steps get the Pillow layer (`components/image_pipeline.py`); the other functions' Lambda
# environment has no PIL or pi_heif, so importing either fails their init.
PILLOW_LAYER = ("PIL", "pi_heif")
WITHOUT = """import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {absent!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Absent())
"""


def import_in_lambda(function: str, environment: dict[str, str], *, task_root: Path = ROOT,
                     without: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """Import the function's handler module as Lambda's init does, with only `environment` of the pipeline's,
    from `task_root` (Lambda's /var/task), with the packages `without` names missing."""
    inherited = {name: value for name, value in os.environ.items() if name not in EVERY_VARIABLE}
    module = handler_path(function).rsplit(".", 1)[0]
    code = (WITHOUT.format(absent=without) if without else "") + f"import {module}"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=task_root,
                          env=inherited | environment | {"AWS_LAMBDA_FUNCTION_NAME": f"image-pipeline-{function}",
                                                         "PYTHONPATH": str(task_root)}, timeout=120)


@pytest.fixture(scope="module")
def archive_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The code archive's files alone, as Lambda unpacks them (no components/, local/, tests/)."""
    task_root = tmp_path_factory.mktemp("task")
    for path, asset in handler_code().assets.items():
        (task_root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(asset.path, task_root / path)
    return task_root


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_missing_a_variable_fails_its_cold_start_naming_it(function):
    complete = import_in_lambda(function, ENVIRONMENTS[function])
    assert complete.returncode == 0, complete.stderr

    missing = variables(FUNCTIONS[function])[-1]
    environment = {name: value for name, value in ENVIRONMENTS[function].items() if name != missing}
    failed = import_in_lambda(function, environment)

    assert failed.returncode != 0
    last_line = failed.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"contract.environment.MissingSettings: {FUNCTIONS[function].__name__}: "
                                f"{missing} is not set ("), failed.stderr


def test_a_variants_function_with_no_formats_fails_its_cold_start():
    failed = import_in_lambda("variants", ENVIRONMENTS["variants"] | {"VARIANT_FORMATS": ""})
    assert failed.returncode != 0
    assert failed.stderr.strip().splitlines()[-1].startswith(
        "contract.environment.MissingSettings: VariantsSettings: VARIANT_FORMATS='' cannot be read: "
        "expected at least one item ("), failed.stderr


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_starts_from_its_archive_and_its_own_layers_alone(function, archive_only):
    without = () if function in WORKFLOW_STEPS else PILLOW_LAYER
    started = import_in_lambda(function, ENVIRONMENTS[function], task_root=archive_only, without=without)
    assert started.returncode == 0, started.stderr
