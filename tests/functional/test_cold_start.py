"""Inside Lambda a function missing a variable fails its init, naming it: it never runs half-configured.

Each import runs in a fresh interpreter: the check happens once, when Lambda imports the handler module.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from components import Settings
from components.environment import function_environment
from contract.environment import variables
from contract.functions import FUNCTIONS, handler_path
from tests.conftest import ROOT

ENVIRONMENTS = function_environment(Settings(), queue_url="https://sqs/q", dlq_url="https://sqs/d",
                                    table_name="status", topic_arn="arn:aws:sns:eu-west-1:1:alerts",
                                    state_machine_arn="arn:aws:states:eu-west-1:1:stateMachine:m",
                                    output_bucket="output")
EVERY_VARIABLE = {name for cls in FUNCTIONS.values() for name in variables(cls)}


def import_in_lambda(function: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Import the function's handler module as Lambda's init does, with only `environment` of the pipeline's."""
    inherited = {name: value for name, value in os.environ.items() if name not in EVERY_VARIABLE}
    module = handler_path(function).rsplit(".", 1)[0]
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=ROOT,
                          env=inherited | environment | {"AWS_LAMBDA_FUNCTION_NAME": f"image-pipeline-{function}",
                                                         "PYTHONPATH": str(ROOT)}, timeout=120)


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
