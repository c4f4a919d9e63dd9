"""Lambda layers: Powertools from AWS's public layer, Pillow (and pi-heif) built from PyPI wheels.

Pillow is compiled code, so the layer must match the function's architecture and Python:
`pip install --platform manylinux... --only-binary=:all:` fetches the right wheels on any
machine, with no Docker. Builds are cached under `build/layers/` (one folder per Pillow
version, runtime and architecture; `IMAGE_PIPELINE_LAYER_CACHE` names another folder) and reused by every
later `pulumi preview/up`.

pi-heif decodes HEIC/HEIF (libheif with libde265; decode only, no GPL encoder: BSD-3-Clause,
its bundled libraries LGPL-3.0, loaded dynamically, as the LGPL allows).

Example:
    >>> powertools_layer_arn("eu-west-1", "arm64", "python3.12", 27)
    'arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:27'
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from contract.environment import deployer_variable

POWERTOOLS_ACCOUNT = "017000801446"
PI_HEIF = "pi-heif==1.4.0"  # the HEIC decoder the handlers register with Pillow
DEFAULT_CACHE_DIR = Path(__file__).parent.parent / "build" / "layers"
CACHE_VARIABLE = "IMAGE_PIPELINE_LAYER_CACHE"
# manylinux tags Pillow publishes; Lambda's Amazon Linux 2023 satisfies glibc 2.28 and older.
PLATFORMS = {
    "arm64": ["manylinux_2_28_aarch64", "manylinux2014_aarch64"],
    "x86_64": ["manylinux_2_28_x86_64", "manylinux2014_x86_64"],
}


class LayerBuildError(RuntimeError):
    """pip could not fetch wheels for the layer; the message carries pip's output."""


def powertools_layer_arn(region: str, architecture: str, runtime: str, version: int) -> str:
    """The AWS-managed Powertools for AWS Lambda (Python) v3 layer for this function shape."""
    python = runtime.replace(".", "")
    return (f"arn:aws:lambda:{region}:{POWERTOOLS_ACCOUNT}:layer:"
            f"AWSLambdaPowertoolsPythonV3-{python}-{architecture}:{version}")


def layer_cache_dir() -> Path:
    """Where built layers are kept: `IMAGE_PIPELINE_LAYER_CACHE` of the deploying machine, or `build/layers/`."""
    chosen = deployer_variable(CACHE_VARIABLE)
    return DEFAULT_CACHE_DIR if chosen is None else Path(chosen)


def build_pillow_layer(version: str, architecture: str, runtime: str, cache_dir: Path | None = None) -> Path:
    """Build (or reuse) a layer folder holding `python/PIL` for the given target, in `cache_dir` (default:
    `layer_cache_dir()`).

    Returns the folder to archive; Lambda unpacks `python/` onto `sys.path`.
    """
    cache_dir = layer_cache_dir() if cache_dir is None else cache_dir
    target = cache_dir / f"pillow-{version}-{PI_HEIF.replace('==', '-')}-{runtime}-{architecture}"
    if (target / "python" / "PIL").is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + "-", dir=cache_dir))
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--implementation", "cp",
               "--python-version", runtime.removeprefix("python"),
               *[arg for platform in PLATFORMS[architecture] for arg in ("--platform", platform)],
               "--target", str(staging / "python"), f"pillow=={version}", PI_HEIF]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise LayerBuildError(f"building the Pillow {version} layer for {runtime}/{architecture} "
                              f"failed:\n{result.stderr.strip()}")
    for cache in (staging / "python").rglob("__pycache__"):
        shutil.rmtree(cache)
    try:
        staging.rename(target)  # atomic: a concurrent build never sees half a layer
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another process won the race
    return target
