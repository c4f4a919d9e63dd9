"""Workflow step 2a: resized variants, written to `variants/{userId}/{imageId}/{uploadToken}/{size}.{ext}`.

The upload token (`handlers.uploads.upload_identity`) makes the keys content-addressed: an
older execution can never overwrite the variants a newer upload's status item points to.

Decodes the upload once (see `handlers.imaging`); animated images use their first frame.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from handlers import imaging, objects
from handlers.clients import clients
from handlers.errors import InvalidImage

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
clients.warm("s3")


def variant_key(user_id: str, image_id: str, upload_token: str, size: int, extension: str,
                shape: str = "fit") -> str:
    """Variants live under their upload's token, so two uploads of one image never mix; square ones
    are `square-{size}.{ext}`."""
    name = f"square-{size}" if shape == "square" else str(size)
    return f"variants/{user_id}/{image_id}/{upload_token}/{name}.{extension}"


def make_and_store(upload: dict[str, Any], settings: objects.StepSettings, s3: Any) -> list[dict[str, Any]]:
    data = objects.read(s3, upload["bucketName"], upload["s3Key"], upload)
    imaging.check_size(len(data), settings.limits)
    variants = imaging.make_variants(data, settings.variant_sizes, settings.variant_formats,
                                     quality=settings.qualities or settings.quality, avif_speed=settings.avif_speed,
                                     square_sizes=settings.square_sizes, crop=settings.square_crop,
                                     animate=settings.animation, budget=settings.animation_budget,
                                     keep_gps=settings.keep_gps, limits=settings.limits)
    stored = []
    for variant in variants:
        key = variant_key(upload["userId"], upload["imageId"], upload["upload"]["token"], variant.size,
                          variant.extension, variant.shape)
        objects.write(s3, settings.output_bucket, key, variant.data, content_type=variant.content_type,
                      cache_control=settings.cache_control)
        stored.append({"size": variant.size, "shape": variant.shape, "format": variant.format, "key": key,
                       "width": variant.width, "height": variant.height, "bytes": len(variant.data),
                       "frames": variant.frames, **({"note": variant.note} if variant.note else {})})
    return stored


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.set_correlation_id(event.get("imageId"))
    try:
        stored = make_and_store(event, objects.StepSettings.from_env(), clients.get("s3"))
    except InvalidImage as error:  # the user's file, not our error: counted apart so it does not page
        metrics.add_metric(name="ImagesRejected", unit=MetricUnit.Count, value=1)
        logger.warning("Image rejected", extra={"reason": str(error)})
        raise
    metrics.add_metric(name="VariantsCreated", unit=MetricUnit.Count, value=len(stored))
    return {"variants": stored}
