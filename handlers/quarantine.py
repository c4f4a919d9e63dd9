"""Workflow step (moderation only): move a flagged image's variants to `quarantine/` in the output bucket.

`variants/{userId}/{imageId}/{token}/160.jpg` becomes `quarantine/variants/{userId}/{imageId}/{token}/160.jpg`.
The bucket policy lets nobody outside the account read `quarantine/*`, whatever else it grants
(a CDN, a public prefix), so a rejected image is kept for review and served to no one.
Idempotent: a retried step finds the variants already moved and reports the same keys.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from handlers import objects
from handlers.clients import clients

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
clients.warm("s3")
PREFIX = "quarantine/"


def quarantine_key(key: str) -> str:
    return PREFIX + key


def move(variants: list[dict[str, Any]], bucket: str, s3: Any) -> list[dict[str, Any]]:
    """Each variant copied under `quarantine/` and then deleted; the records with their new keys."""
    moved = []
    for variant in variants:
        target = quarantine_key(variant["key"])
        # A retry after the copy and delete finds the source gone: the copy is already in place.
        if objects.copy(s3, bucket, variant["key"], target):
            objects.delete(s3, bucket, variant["key"])
        moved.append(variant | {"key": target})
    return moved


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.set_correlation_id(event.get("imageId"))
    moved = move(event["results"]["images"]["variants"], os.environ["OUTPUT_BUCKET"], clients.get("s3"))
    metrics.add_metric(name="ImagesQuarantined", unit=MetricUnit.Count, value=1)
    logger.warning("Image quarantined", extra={"labels": event.get("moderation", {}).get("names"),
                                               "variants": len(moved)})
    return {"variants": moved}
