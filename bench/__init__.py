"""Benchmarks; each prints ratios against a baseline measured in the same run. Never touches AWS."""

import os

for _name, _value in {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "bench",
                      "AWS_SECRET_ACCESS_KEY": "bench", "POWERTOOLS_METRICS_NAMESPACE": "ImagePipeline",
                      "POWERTOOLS_SERVICE_NAME": "bench", "POWERTOOLS_LOG_LEVEL": "WARNING",
                      "POWERTOOLS_METRICS_DISABLED": "true"}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
