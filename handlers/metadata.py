"""Workflow step 2b: EXIF camera, capture time, orientation, dimensions, and user metadata.

Reads the object's head (user metadata) and first 64 KiB (EXIF usually lives there; the whole
object when it does not, e.g. a PNG whose eXIf chunk follows the pixels). GPS only when
the stack allows it. Bounded: strings are cut at 256 characters, user metadata at 2 KB.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from contract.environment import at_cold_start, current
from contract.errors import InvalidImage
from contract.functions import MetadataSettings
from handlers.image import imaging
from handlers.lifecycle import objects
from handlers.lifecycle.clients import clients

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
at_cold_start(MetadataSettings)
clients.warm("s3")
MAX_USER_METADATA = 2048  # S3 limits user metadata to 2 KB as well


def extract(upload: dict[str, Any], settings: MetadataSettings, s3: Any) -> dict[str, Any]:
    head = objects.head(s3, upload["bucketName"], upload["s3Key"], upload)
    size = head["ContentLength"]
    metadata = objects.read_and_inspect(upload, size, s3, lambda data, complete: imaging.extract_metadata(
        data, keep_gps=settings.keep_gps, limits=settings.limits, complete=complete))
    user_metadata: dict[str, str] = {}
    budget = MAX_USER_METADATA
    for name, value in sorted((head.get("Metadata") or {}).items()):
        budget -= len(name) + len(value)
        if budget < 0:
            break
        user_metadata[name] = value
    return metadata | {"bytes": size, "contentType": head.get("ContentType"), "userMetadata": user_metadata}


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.set_correlation_id(event.get("imageId"))
    try:
        return {"metadata": extract(event, current(MetadataSettings), clients.get("s3"))}
    except InvalidImage as error:  # the user's file, not our error: counted apart so it does not page
        metrics.add_metric(name="ImagesRejected", unit=MetricUnit.Count, value=1)
        logger.warning("Image rejected", extra={"reason": str(error)})
        raise
