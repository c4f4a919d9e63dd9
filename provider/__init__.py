"""`ImagePipeline` as a Pulumi component package, usable from TypeScript, Go, C#, Java and YAML.

This folder is the plugin: Pulumi runs `python provider <engine>`, that is `provider/__main__.py` (its
`PulumiPlugin.yaml` and `requirements.txt` sit beside it), which hosts the component with Pulumi's Python
component provider. The schema every language's SDK is generated from
is inferred from `components/settings/args.py` and the component's output annotations; both that module and
the schema snapshot, `provider/schema.json`, are written by `python -m provider.codegen`.
"""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "image-pipeline"  # the type token is image-pipeline:index:ImagePipeline
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
