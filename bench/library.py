"""The benchmarks' photo library: one user's bursts of near-identical shots among unrelated photos.

Generated once (`local.samples.library`, seeded; about 8 ms an image) and kept in `build/` so that
no run times it; a smaller library is the start of a larger one (the same seed draws the same scenes
in the same order).
"""

from __future__ import annotations

import hashlib
import inspect
import zipfile
from pathlib import Path

from bench.measure import ROOT
from local import samples
from local.runner import Upload
from local.samples import library

USER = "photographer"
SEED = 24
CACHED = 10_000


def photos(count: int, *, cache_dir: Path = ROOT / "build") -> list[tuple[str, bytes]]:
    """The first `count` photos of the library, from the cache in `cache_dir` (written on first use)."""
    if count > CACHED:
        return library(count, seed=SEED)
    generator = hashlib.sha256(inspect.getsource(samples).encode()).hexdigest()[:8]  # a changed generator: anew
    path = cache_dir / f"bench-library-{SEED}-{CACHED}-{generator}.zip"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:
            for name, data in library(CACHED, seed=SEED):
                archive.writestr(name, data)
        partial.replace(path)
    with zipfile.ZipFile(path) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()[:count]]


def uploads(count: int) -> list[Upload]:
    return [Upload(name, f"uploads/{USER}/{name}", data) for name, data in photos(count)]
