"""Shared test set-up: the project root on sys.path, no real AWS credentials ever used, and botocore's
service models parsed once per test process."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import botocore.loaders
import botocore.session
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Any boto3 client a test creates talks to moto or fails: never to a real account.
for variable, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
                        "AWS_DEFAULT_REGION": "eu-west-1", "POWERTOOLS_SERVICE_NAME": "image-pipeline-tests",
                        "POWERTOOLS_METRICS_NAMESPACE": "ImagePipeline"}.items():
    os.environ[variable] = value
os.environ.pop("AWS_PROFILE", None)


class _EachPathOnce(list):
    """boto3 adds its own data folder to the loader of every session it makes: once is enough here."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


_LOADERS: dict[str | None, botocore.loaders.Loader] = {}


def _shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    """One botocore data loader per data path for the whole process, instead of one per session.

    moto gives every mock a new boto3 session, and each new session parsed botocore's JSON service models
    again: about a third of a second for each pipeline set up on moto (40% of the functional tests' CPU).
    The loader holds only those models, which botocore already shares, unchanged, between every client
    of a session; credentials, configuration and event handlers stay each session's own.
    """
    if search_path_string not in _LOADERS:
        loader = botocore.loaders.create_loader(search_path_string)
        loader._search_paths = _EachPathOnce(loader.search_paths)
        _LOADERS[search_path_string] = loader
    return _LOADERS[search_path_string]


botocore.session.create_loader = _shared_loader

# Hypothesis: `HYPOTHESIS_PROFILE=soak` runs many more examples (the imaging property tests scale up to it).
settings.register_profile("soak", max_examples=2_000, deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
