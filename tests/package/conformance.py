"""Check programs in other languages against the package schema, without the Pulumi CLI.

- YAML: each resource of this package is validated with a JSON Schema derived from the package
  schema (unknown keys and wrong types fail, as Pulumi YAML's type checker would report them),
  and each `${resource.output}` must name a schema output.
  A value the schema does not mark `plain` may also be a `${resource.output}` reference.
- TypeScript: declarations for `@pulumi/image-pipeline` are derived from the schema, shaped as
  Pulumi's Node.js code generator shapes inputs (`pulumi.Input<T>` where the schema does not say
  `plain`), and `tsc --strict` checks the program.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from provider import PACKAGE
from provider.codegen import SCHEMA_FILE

TOKEN = f"{PACKAGE}:index:ImagePipeline"
REFERENCE = re.compile(r"\$\{([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)")


def package_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def _type_name(ref: str) -> str:
    return ref.rsplit(":", 1)[-1]


OUTPUT_REFERENCE = {"type": "string", "pattern": r"^\$\{[^}]+\}$"}  # `${vpc.privateSubnetIds}`


def _json_type(prop: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in prop:
        shaped = {"$ref": f"#/$defs/{_type_name(prop['$ref'])}"}
    elif prop["type"] == "array":
        shaped = {"type": "array", "items": _json_type(prop["items"])}
    elif prop["type"] == "object":
        shaped = {"type": "object", "additionalProperties": _json_type(prop["additionalProperties"])}
    else:
        shaped = {"type": prop["type"]}
    return shaped if prop.get("plain") else {"anyOf": [shaped, OUTPUT_REFERENCE]}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": required,
            "properties": {name: _json_type(prop) for name, prop in properties.items()}}


def inputs_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The component's inputs as a JSON Schema (draft 2020-12)."""
    resource = schema["resources"][TOKEN]
    document = _object(resource["inputProperties"], resource["requiredInputs"])
    document["$defs"] = {_type_name(token): _object(t["properties"], t.get("required", []))
                         for token, t in schema["types"].items()}
    return document


def _is_ours(resource_type: str) -> bool:
    return resource_type in (TOKEN, f"{PACKAGE}:ImagePipeline")


def yaml_problems(program: Path, schema: dict[str, Any]) -> list[str]:
    """What a Pulumi YAML program gets wrong about this package, one message per problem."""
    document = yaml.safe_load(program.read_text())
    validator = jsonschema.Draft202012Validator(inputs_json_schema(schema))
    outputs = set(schema["resources"][TOKEN]["properties"])
    problems, ours = [], set()
    source = (document.get("packages") or {}).get(PACKAGE)
    if source is None or not (program.parent / source / "PulumiPlugin.yaml").is_file():
        problems.append(f"packages.{PACKAGE}: {source!r} does not lead to this repository's PulumiPlugin.yaml")
    for name, resource in (document.get("resources") or {}).items():
        if not _is_ours(resource.get("type", "")):
            continue
        ours.add(name)
        for error in validator.iter_errors(resource.get("properties") or {}):
            where = ".".join(map(str, error.absolute_path))
            problems.append(f"resources.{name}.properties{'.' + where if where else ''}: {error.message}")
    text = json.dumps(document.get("outputs") or {}) + json.dumps(document.get("variables") or {})
    problems += [f"${{{name}.{output}}}: ImagePipeline has no output {output!r}"
                 for name, output in REFERENCE.findall(text) if name in ours and output not in outputs]
    return problems


def _ts_type(prop: dict[str, Any], *, inputs: bool = False) -> str:
    """As the Node.js generator writes it: with `inputs`, a value the schema does not mark `plain` is
    `pulumi.Input<T>` (it may be another resource's output), and so is each such list item."""
    if "$ref" in prop:
        shaped = _type_name(prop["$ref"])
    elif prop["type"] == "array":
        shaped = f"{_ts_type(prop['items'], inputs=inputs)}[]"
    elif prop["type"] == "object":
        shaped = f"{{[key: string]: {_ts_type(prop['additionalProperties'], inputs=inputs)}}}"
    else:
        shaped = {"integer": "number", "number": "number", "string": "string", "boolean": "boolean"}[prop["type"]]
    return f"pulumi.Input<{shaped}>" if inputs and not prop.get("plain") else shaped


def _ts_members(properties: dict[str, Any], required: list[str], *, output: bool = False) -> list[str]:
    lines = []
    for name, prop in sorted(properties.items()):
        lines.append(f"    /** {prop.get('description', '')} */")
        if output:
            lines.append(f"    readonly {name}: pulumi.Output<{_ts_type(prop)}>;")
        else:
            lines.append(f"    {name}{'' if name in required else '?'}: {_ts_type(prop, inputs=True)};")
    return lines


def typescript_declarations(schema: dict[str, Any]) -> str:
    """`@pulumi/image-pipeline` as `pulumi package add` generates it, and a minimal `@pulumi/pulumi`."""
    resource = schema["resources"][TOKEN]
    lines = ['declare module "@pulumi/pulumi" {',
             "  export class Output<T> { apply<U>(f: (value: T) => U): Output<U>; }",
             "  export type Input<T> = T | Promise<T> | Output<T>;",
             "  export class Config { constructor(name?: string); requireSecret(key: string): Output<string>; }",
             "  export interface ComponentResourceOptions { parent?: unknown; providers?: unknown[] }",
             "  export class ComponentResource { readonly urn: Output<string>; }",
             "}",
             f'declare module "@pulumi/{PACKAGE}" {{',
             '  import * as pulumi from "@pulumi/pulumi";']
    for token, typ in sorted(schema["types"].items()):
        members = _ts_members(typ["properties"], typ.get("required", []))
        lines += [f"  export interface {_type_name(token)} {{", *members, "  }"]
    lines += ["  export interface ImagePipelineArgs {",
              *_ts_members(resource["inputProperties"], resource["requiredInputs"]), "  }",
              "  export class ImagePipeline extends pulumi.ComponentResource {",
              "    constructor(name: string, args?: ImagePipelineArgs, opts?: pulumi.ComponentResourceOptions);",
              *_ts_members(resource["properties"], resource["required"], output=True), "  }", "}"]
    return "\n".join(lines) + "\n"
