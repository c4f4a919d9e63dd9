"""Shared test set-up: the project root on sys.path, and no real AWS credentials ever used."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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

# Hypothesis: `HYPOTHESIS_PROFILE=soak` runs many more examples (the imaging property tests scale up to it).
settings.register_profile("soak", max_examples=2_000, deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
