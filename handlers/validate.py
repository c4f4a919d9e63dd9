"""Workflow step 1: is the upload an image we accept? Reads its head and first 64 KiB when they suffice.

Returns format, width, height, mode, frames and bytes; raises `InvalidImage` (permanent,
with a reason a person can read) or `TransientError` (retried by the workflow).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from contract.environment import at_cold_start, current
from contract.errors import InvalidImage
from contract.functions import ValidateSettings
from handlers.image import imaging
from handlers.lifecycle import objects
from handlers.lifecycle.clients import clients

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
at_cold_start(ValidateSettings)
clients.warm("s3")


def validate(upload: dict[str, Any], settings: ValidateSettings, s3: Any) -> dict[str, Any]:
    size = objects.head(s3, upload["bucketName"], upload["s3Key"], upload)["ContentLength"]
    imaging.check_size(size, settings.limits)
    info = objects.read_and_inspect(upload, size, s3,
                            lambda data, complete: imaging.inspect(data, settings.limits, complete=complete))
    return {"format": info.format, "width": info.width, "height": info.height, "mode": info.mode,
            "frames": info.frames, "bytes": size}


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.set_correlation_id(event.get("imageId"))
    try:
        result = validate(event, current(ValidateSettings), clients.get("s3"))
    except InvalidImage as error:
        metrics.add_metric(name="ImagesRejected", unit=MetricUnit.Count, value=1)
        logger.warning("Image rejected", extra={"reason": str(error)})
        raise
    logger.info("Image validated", extra=result)
    return result
