"""The Pillow layer is built from wheels for the target architecture, cached, and fails clearly."""

from __future__ import annotations

import subprocess

import pytest

from components import layers

ELF_MACHINE = {"arm64": 183, "x86_64": 62}  # e_machine: EM_AARCH64, EM_X86_64


def elf_machine(path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_pillow_layer_holds_native_code_for_the_target_architecture(architecture):
    folder = layers.build_pillow_layer("13.0.0", architecture, "python3.12")
    [extension] = (folder / "python" / "PIL").glob("_imaging.cpython-312-*.so")
    assert elf_machine(extension) == ELF_MACHINE[architecture]
    # The HEIC decoder, with libheif and its HEVC decoder bundled for the same machine.
    [heif] = (folder / "python").glob("_pi_heif.cpython-312-*.so")
    assert elf_machine(heif) == ELF_MACHINE[architecture]
    bundled = [p.name for p in (folder / "python" / "pi_heif.libs").iterdir()]
    assert any(name.startswith("libheif") for name in bundled) and any("de265" in name for name in bundled)
    assert all(elf_machine(p) == ELF_MACHINE[architecture] for p in (folder / "python" / "pi_heif.libs").iterdir())
    # AVIF output and colour management (LittleCMS) are compiled into Pillow's wheel.
    for module in ("_avif", "_imagingcms"):
        [native] = (folder / "python" / "PIL").glob(f"{module}.cpython-312-*.so")
        assert elf_machine(native) == ELF_MACHINE[architecture]
    assert not list(folder.rglob("__pycache__"))


def test_a_built_layer_is_reused_without_running_pip(monkeypatch):
    layers.build_pillow_layer("13.0.0", "arm64", "python3.12")

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran for a cached layer")

    monkeypatch.setattr(subprocess, "run", no_pip)
    assert (layers.build_pillow_layer("13.0.0", "arm64", "python3.12") / "python" / "PIL").is_dir()


def test_a_failed_build_names_the_target_and_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 1, "", "ERROR: No matching distribution found for pillow==0.0.1"))
    with pytest.raises(layers.LayerBuildError, match=r"Pillow 0.0.1 layer for python3.12/arm64 failed:\n"
                                                     r"ERROR: No matching distribution"):
        layers.build_pillow_layer("0.0.1", "arm64", "python3.12", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_cache_is_build_layers_unless_the_deploying_machine_names_another(monkeypatch, tmp_path):
    monkeypatch.delenv("IMAGE_PIPELINE_LAYER_CACHE", raising=False)
    assert layers.layer_cache_dir() == layers.DEFAULT_CACHE_DIR
    assert layers.DEFAULT_CACHE_DIR.parts[-2:] == ("build", "layers")
    monkeypatch.setenv("IMAGE_PIPELINE_LAYER_CACHE", str(tmp_path))
    assert layers.layer_cache_dir() == tmp_path


def test_powertools_layer_arn_follows_region_architecture_runtime_and_version():
    assert layers.powertools_layer_arn("us-east-2", "x86_64", "python3.13", 30) == (
        "arn:aws:lambda:us-east-2:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:30")
