"""The package schema: generated from the settings, snapshot-tested, complete and documented.

A change to the component's interface must show up in review as a diff of `provider/schema.json`
(and of `components/settings/args.py`, which the schema is inferred from).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from pulumi.provider.experimental.util import camel_case
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components.settings.config import Settings
from components.settings.docs import range_text
from components.settings.loading import camel_cased
from provider import PACKAGE, ROOT, VERSION
from provider.codegen import ARGS_MODULE, SCHEMA_FILE, args_name, args_source, literal, package_schema, schema_text

TOKEN = f"{PACKAGE}:index:ImagePipeline"
PLUGIN_DIR = ROOT / "provider"  # the folder `pulumi package add` is given: its own manifest and __main__.py
REGENERATE = "the component's interface changed: run `python -m provider.codegen` and review the diff"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def settings_fields(section: Any = None, path: str = "") -> list[tuple[str, type, dataclasses.Field[Any], Any]]:
    """(key path, owning section type, field, default) for every setting and section."""
    section = Settings() if section is None else section
    found = []
    for field in dataclasses.fields(section):
        default = getattr(section, field.name)
        found.append((f"{path}{field.name}", type(section), field, default))
        if dataclasses.is_dataclass(default):
            found += settings_fields(default, f"{path}{field.name}.")
    return found


def test_the_args_module_is_generated_from_the_settings():
    assert ARGS_MODULE.read_text() == args_source(), REGENERATE


def test_the_schema_snapshot_is_what_the_analyzer_infers_today():
    assert SCHEMA_FILE.read_text() == schema_text(), REGENERATE


def test_the_plugin_folder_holds_its_own_manifest_entry_point_and_requirements():
    """Pulumi's Python host runs `python <plugin folder>`, the folder's own `__main__.py`; PulumiPlugin.yaml has
    no `main` (pulumi/pulumi `PluginProject`). At the repository root that would start the stack program."""
    assert not (ROOT / "PulumiPlugin.yaml").exists()
    manifest = yaml.safe_load((PLUGIN_DIR / "PulumiPlugin.yaml").read_text())
    assert set(manifest) <= {"runtime", "packages", "requiredPulumiVersion"}
    assert manifest["runtime"]["name"] == "python"
    assert manifest["requiredPulumiVersion"] == ">=3.154.0"  # git plugins in subfolders, `pulumi install` of them
    assert (PLUGIN_DIR / "__main__.py").is_file()
    pins = {line.split("==")[0] for line in requirements(PLUGIN_DIR / "requirements.txt")}
    assert pins == {"pulumi", "pulumi-aws", "PyYAML"}  # the program's own pins, one list


def requirements(path: Path) -> list[str]:
    """The pinned lines of a requirements file, following `-r` as pip does (relative to the file)."""
    lines = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            lines += requirements(path.parent / line[3:].strip())
        elif line:
            lines.append(line)
    return lines


def test_the_plugin_process_serves_the_snapshot_over_pulumis_provider_protocol(tmp_path):
    """As the engine starts it: `python <plugin folder> <engine address>`, from another folder; it prints its
    port, then answers GetSchema."""
    plugin = subprocess.Popen([sys.executable, str(PLUGIN_DIR), "127.0.0.1:1"],
                              cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        port = int(plugin.stdout.readline())
        stub = provider_pb2_grpc.ResourceProviderStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        served = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60).schema
    finally:
        plugin.terminate()
        plugin.wait(timeout=30)
    assert json.loads(served) == package_schema() == json.loads(SCHEMA_FILE.read_text())


def test_the_package_has_one_component_with_the_current_type_token(schema):
    assert schema["name"] == PACKAGE and schema["version"] == VERSION
    assert list(schema["resources"]) == [TOKEN]
    assert schema["resources"][TOKEN]["isComponent"] is True
    assert schema["resources"][TOKEN]["requiredInputs"] == []  # every setting has a default


def _type_of(schema: dict[str, Any], section: type) -> dict[str, Any]:
    if section is Settings:
        resource = schema["resources"][TOKEN]
        return {"properties": resource["inputProperties"], "required": resource["requiredInputs"]}
    return schema["types"][f"{PACKAGE}:index:{args_name(section)}"]


@pytest.mark.parametrize("key, owner, field, default", settings_fields(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_setting_appears_optional_with_its_description_and_default(schema, key, owner, field, default):
    owning = _type_of(schema, owner)
    prop = owning["properties"][camel_case(field.name)]
    assert camel_case(field.name) not in owning.get("required", [])
    assert camel_cased(field.metadata["doc"]) in prop["description"]  # setting names as the schema spells them
    if dataclasses.is_dataclass(default):
        assert prop["$ref"] == f"#/types/{PACKAGE}:index:{args_name(type(default))}"
        return
    default = getattr(owner(), field.name)  # the type's own default; a parent's differences are on its key
    if default is None:
        assert "default" in prop["description"].lower()
    else:
        assert f"Default: {literal(default)}." in prop["description"]
    assert camel_cased(range_text(field.metadata)) in prop["description"]
    expected = {bool: "boolean", int: "integer", str: "string", list: "array", dict: "object"}
    assert prop["type"] == expected[type(default)] if default is not None else "type" in prop


def test_a_functions_own_defaults_are_documented_on_its_key(schema):
    functions = schema["types"][f"{PACKAGE}:index:FunctionsArgs"]["properties"]
    assert "memorySize 2048, timeout 120" in functions["variants"]["description"]
    assert "maximumConcurrency 10" in functions["orchestrator"]["description"]
    assert "Defaults as" not in functions["s3EventHandler"]["description"]


def test_every_output_is_in_the_schema_with_a_description(schema):
    outputs = schema["resources"][TOKEN]["properties"]
    assert set(outputs) == {"inputBucketName", "outputBucketName", "queueUrl", "queueArn", "deadLetterQueueUrl",
                            "deadLetterQueueArn", "stateMachineArn", "tableName", "topicArn", "functionNames"}
    assert all(prop.get("description") for prop in outputs.values())
    assert outputs["functionNames"]["additionalProperties"]["type"] == "string"
