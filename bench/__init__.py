"""Benchmarks; each prints ratios against a baseline measured in the same run. Never touches AWS."""

import os

import local  # noqa: F401 - points every AWS client at a test region with dummy credentials

# Handlers log and emit EMF metrics as in Lambda (their output is captured); only the log level drops.
os.environ.update({"POWERTOOLS_SERVICE_NAME": "bench", "POWERTOOLS_LOG_LEVEL": "WARNING"})
