"""The examples in other languages conform to the package schema (README "Use it from another language")."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from provider import ROOT
from tests.package.conformance import package_schema, typescript_declarations, yaml_problems

YAML_EXAMPLE = ROOT / "examples" / "yaml" / "Pulumi.yaml"
TYPESCRIPT_EXAMPLE = ROOT / "examples" / "typescript" / "index.ts"
TSC = ROOT / "tests" / "asl" / "node_modules" / ".bin" / "tsc"


@pytest.fixture(scope="module")
def schema():
    return package_schema()


def test_the_yaml_example_validates_against_the_schema(schema):
    assert yaml_problems(YAML_EXAMPLE, schema) == []


def test_a_yaml_program_with_mistakes_gets_each_one_named(schema, tmp_path):
    program = yaml.safe_load(YAML_EXAMPLE.read_text())
    properties = program["resources"]["images"]["properties"]
    properties["queue"]["visibilityTimeout"] = 360                      # not a key
    properties["workflow"]["variantSizes"] = ["1600"]                   # not an integer
    properties["functions"]["variants"]["memory_size"] = 1769            # snake_case
    program["outputs"]["queue"] = "${images.queueName}"                 # not an output
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(program))
    program["packages"]["image-pipeline"] = str(ROOT / "provider")
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(program))
    problems = yaml_problems(tmp_path / "Pulumi.yaml", schema)
    assert len(problems) == 4, problems
    assert any("queue" in p and "'visibilityTimeout' was unexpected" in p for p in problems)
    assert any("workflow.variantSizes.0" in p and "is not of type 'integer'" in p for p in problems)
    assert any("functions.variants" in p and "'memory_size' was unexpected" in p for p in problems)
    assert "${images.queueName}: ImagePipeline has no output 'queueName'" in problems


def test_every_setting_section_of_the_schema_is_shown_by_an_example(schema):
    """The examples between them set every section, so each section's shape is checked somewhere."""
    yaml_sections = set(yaml.safe_load(YAML_EXAMPLE.read_text())["resources"]["images"]["properties"])
    typescript = TYPESCRIPT_EXAMPLE.read_text()
    shown = yaml_sections | {name for name in schema["resources"]["image-pipeline:index:ImagePipeline"]
                             ["inputProperties"] if f"    {name}: " in typescript}
    assert shown >= set(schema["resources"]["image-pipeline:index:ImagePipeline"]["inputProperties"]) - {"moderation"}


def _tsc(folder: Path, program: str, schema) -> subprocess.CompletedProcess[str]:
    if not TSC.exists() or shutil.which("node") is None:
        pytest.skip("tsc is not installed (npm not found when `make test` ran)")
    (folder / "image-pipeline.d.ts").write_text(typescript_declarations(schema))
    (folder / "index.ts").write_text(program)
    (folder / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "target": "es2020", "module": "commonjs", "types": []},
        "files": ["image-pipeline.d.ts", "index.ts"]}))
    return subprocess.run([str(TSC), "-p", "."], cwd=folder, capture_output=True, text=True, timeout=120)


def test_the_typescript_example_type_checks_against_the_schema(schema, tmp_path):
    result = _tsc(tmp_path, TYPESCRIPT_EXAMPLE.read_text(), schema)
    assert result.returncode == 0, result.stdout + result.stderr


WIRED_PROGRAM = """import * as pulumi from "@pulumi/pulumi";
import * as imagePipeline from "@pulumi/image-pipeline";

declare const vpc: { privateSubnetIds: pulumi.Output<string[]>; functionsGroupId: pulumi.Output<string> };
declare const key: { arn: pulumi.Output<string> };
const oncall = new pulumi.Config().requireSecret("oncallEmail");

new imagePipeline.ImagePipeline("images", {
    network: { subnetIds: vpc.privateSubnetIds, securityGroupIds: [vpc.functionsGroupId] },
    encryption: { mode: "kms", kmsKeyArn: key.arn },
    alarms: { emailSubscriptions: [oncall, "images-oncall@example.com"] },
});
"""


def test_a_typescript_program_passes_other_resources_outputs_where_the_settings_accept_them(schema, tmp_path):
    result = _tsc(tmp_path, WIRED_PROGRAM, schema)
    assert result.returncode == 0, result.stdout + result.stderr


def test_tsc_refuses_outputs_where_the_settings_decide_what_is_created(schema, tmp_path):
    """The negative control: one subscription per address, so the list itself must be known; a queue setting too."""
    broken = (WIRED_PROGRAM.replace("emailSubscriptions: [oncall, \"images-oncall@example.com\"]",
                                    "emailSubscriptions: oncall.apply(address => [address])")
              .replace("network: {",
                       "queue: { visibilityTimeoutSeconds: oncall.apply(a => a.length) },\n    network: {"))
    result = _tsc(tmp_path, broken, schema)
    assert result.returncode != 0
    assert "Type 'Output<string[]>' is missing the following properties from type 'Input<string>[]'" in result.stdout
    assert "Type 'Output<number>' is not assignable to type 'number'" in result.stdout


def test_a_yaml_program_passes_a_resources_output_only_where_the_settings_accept_one(schema, tmp_path):
    program = yaml.safe_load(YAML_EXAMPLE.read_text())
    properties = program["resources"]["images"]["properties"]
    properties["network"] = {"subnetIds": "${vpc.privateSubnetIds}", "securityGroupIds": ["${group.id}"]}
    properties["encryption"]["kmsKeyArn"] = "${key.arn}"
    program["packages"]["image-pipeline"] = str(ROOT / "provider")
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(program))
    assert yaml_problems(tmp_path / "Pulumi.yaml", schema) == []
    properties["queue"]["visibilityTimeoutSeconds"] = "${settings.visibility}"  # decides the queue: known at preview
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(program))
    problems = yaml_problems(tmp_path / "Pulumi.yaml", schema)
    assert problems == ["resources.images.properties.queue.visibilityTimeoutSeconds: '${settings.visibility}' "
                        "is not of type 'integer'"]


def test_tsc_reports_a_typescript_program_with_a_wrong_key_or_type(schema, tmp_path):
    broken = (TYPESCRIPT_EXAMPLE.read_text()
              .replace("executionTimeoutSeconds: 300", "executionTimeout: 300")
              .replace("memorySize: 1769", 'memorySize: "1769"'))
    result = _tsc(tmp_path, broken, schema)
    assert result.returncode != 0
    assert "'executionTimeout' does not exist in type 'WorkflowArgs'" in result.stdout
    assert "Type 'string' is not assignable to type 'number'" in result.stdout
