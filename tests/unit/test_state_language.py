"""The workflow definition against a States Language validator (asl-validator, from npm).

Run when `make test` could install it (npm present); skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from components.workflow.definition import Moderation, build_definition
from tests.conftest import ROOT

VALIDATOR = ROOT / "tests" / "asl" / "node_modules" / ".bin" / "asl-validator"
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:{}"


def validate(definition: dict, tmp_path) -> subprocess.CompletedProcess:
    if not VALIDATOR.exists():
        pytest.skip("asl-validator is not installed (npm not found when `make test` ran)")
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))
    return subprocess.run([str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, timeout=60)


def definition(moderation: Moderation | None = None) -> dict:
    return build_definition(table_name="status", moderation=moderation, function_arns={
        step: ARN.format(step) for step in ("validate", "variants", "metadata", "quarantine")})


@pytest.mark.parametrize("moderation", [
    None, Moderation("output", "arn:aws:sns:eu-west-1:123456789012:alerts"),
    Moderation("output", "arn:aws:sns:eu-west-1:123456789012:alerts", 90, ("Explicit", "Drugs & Tobacco"))],
    ids=["plain", "moderated", "moderated-by-label"])
def test_the_workflow_definition_is_valid_states_language(tmp_path, moderation):
    result = validate(definition(moderation), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_invalid_definition_is_refused(tmp_path):
    broken = definition()
    broken["States"]["RecordFailed"]["Next"] = "NoSuchState"
    result = validate(broken, tmp_path)
    assert result.returncode != 0 and "NoSuchState" in result.stdout + result.stderr
