"""Workflow step 2a: resized variants, written to `variants/{userId}/{imageId}/{uploadToken}/{size}.{ext}`.

With moderation on they are written under `staging/` instead, where nobody outside the account reads
them, and moved by the verdict (`handlers.lifecycle.publication`); their records name the public key all the same.

The upload token (`handlers.lifecycle.uploads.upload_identity`) makes the keys content-addressed: an
older execution can never overwrite the variants a newer upload's status item points to.

Decodes the upload once (see `handlers.image.imaging`); animated images use their first frame.
Fingerprints each upload (SHA-256 of its bytes; perceptual hash, ThumbHash and average colour
from the smallest variant's pixels, `handlers.image.fingerprints`) and, unless `DUPLICATES=off`, looks
for the same user's duplicates (`handlers.lifecycle.duplicates`); with `reuse`, an exact duplicate's
variants are copied instead of made.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from contract.environment import at_cold_start, current
from contract.errors import InvalidImage
from contract.functions import VariantsSettings
from handlers.image import fingerprints, imaging
from handlers.lifecycle import duplicates, objects, publication
from handlers.lifecycle.clients import clients

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
at_cold_start(VariantsSettings)
clients.warm("s3", "dynamodb")
MODERATION_MIN_SIDE = 80  # Rekognition's smallest image: 80 px each way
MODERATION_SKIPPED = "not moderated: no variant is 80 px on each side, Rekognition's smallest image"


def variant_key(user_id: str, image_id: str, upload_token: str, size: int, extension: str,
                shape: str = "fit") -> str:
    """Variants live under their upload's token, so two uploads of one image never mix; square ones
    are `square-{size}.{ext}`."""
    name = f"square-{size}" if shape == "square" else str(size)
    return f"{publication.upload_prefix(user_id, image_id, upload_token)}{name}.{extension}"


def make_and_store(upload: dict[str, Any], settings: VariantsSettings, s3: Any,
                   index: duplicates.Index | None = None) -> dict[str, Any]:
    """The upload's variants, its fingerprint and duplicates: `{"variants", "record", "moderationKey"}`.

    `record` holds the status item's new attributes, typed for DynamoDB (`{"NULL": true}` where there
    is nothing to say), which the workflow's RecordCompleted writes as they are.
    """
    data, sha256 = objects.read_hashed(s3, upload["bucketName"], upload["s3Key"], upload)
    imaging.check_size(len(data), settings.recipe.limits)
    me = duplicates.Upload.from_event(upload)
    index = index if settings.duplicates != "off" else None
    original = index.claim(me, sha256) if index else None
    stored, fingerprint = (_reuse(original, upload, settings, s3) if original and settings.duplicates == "reuse"
                           else (None, None))
    if stored is None or fingerprint is None:
        stored, fingerprint = _make(data, sha256, upload, settings, s3)
    near = index.near(me, int(fingerprint.phash, 16), sha256, settings.near_duplicate_distance) if index else None
    record = {"sha256": _s(fingerprint.sha256), "phash": _s(fingerprint.phash),
              "thumbhash": _s(fingerprint.thumbhash), "averageColor": _s(fingerprint.average_colour),
              "variantRecipe": _s(settings.recipe_digest), "duplicateOf": _s(original.image_id if original else None),
              "nearDuplicateOf": _s(near.image_id if near else None),
              "nearDuplicateDistance": {"N": str(near.distance)} if near else {"NULL": True}}
    key = moderation_key(stored) if settings.moderation else None
    key = publication.staged_key(key) if key else None  # Rekognition reads the private copy
    record["moderationSkipped"] = _s(MODERATION_SKIPPED if settings.moderation and key is None else None)
    result: dict[str, Any] = {"variants": stored, "record": record}
    if key is not None:
        result["moderationKey"] = key  # the workflow moderates only an image that has one
    return result


def _s(value: str | None) -> dict[str, Any]:
    return {"S": value} if value is not None else {"NULL": True}


def _written(key: str, settings: VariantsSettings) -> str:
    """Where a variant is written: its public key, or with moderation its staged one until the verdict."""
    return publication.staged_key(key) if settings.moderation else key


def _make(data: bytes, sha256: str, upload: dict[str, Any], settings: VariantsSettings,
          s3: Any) -> tuple[list[dict[str, Any]], fingerprints.Fingerprint]:
    variants, smallest = imaging.make_variants_and_smallest(data, settings.recipe)
    stored = []
    for variant in variants:
        key = variant_key(upload["userId"], upload["imageId"], upload["upload"]["token"], variant.size,
                          variant.extension, variant.shape)
        objects.write(s3, settings.output_bucket, _written(key, settings), variant.data,
                      content_type=variant.content_type, cache_control=settings.cache_control)
        stored.append({"size": variant.size, "shape": variant.shape, "format": variant.format, "key": key,
                       "width": variant.width, "height": variant.height, "bytes": len(variant.data),
                       "frames": variant.frames, **({"note": variant.note} if variant.note else {})})
    return stored, fingerprints.fingerprint(data, smallest, sha256=sha256)


def _reuse(original: duplicates.Original, upload: dict[str, Any], settings: VariantsSettings,
           s3: Any) -> tuple[list[dict[str, Any]] | None, fingerprints.Fingerprint | None]:
    """Copies of an exact duplicate's variants, if it completed with this stack's recipe (else None)."""
    item = original.item
    if item.get("status") != "completed" or item.get("variantRecipe") != settings.recipe_digest:
        return None, None
    stored = []
    for variant in json.loads(item["variants"]):
        extension = variant["key"].rsplit(".", 1)[-1]
        key = variant_key(upload["userId"], upload["imageId"], upload["upload"]["token"], variant["size"],
                          extension, variant["shape"])
        if not objects.copy(s3, settings.output_bucket, variant["key"], _written(key, settings)):
            return None, None  # gone meanwhile: make them
        stored.append(variant | {"key": key, "reusedFrom": original.image_id})
    return stored, fingerprints.Fingerprint(sha256=item["sha256"], phash=item["phash"], thumbhash=item["thumbhash"],
                                            average_colour=item["averageColor"])


def moderation_key(stored: list[dict[str, Any]]) -> str | None:
    """The variant Rekognition looks at: the smallest fitted JPEG at least 80 px each way; None when no
    variant is that large (an icon, a 2000x40 banner), which Rekognition would refuse."""
    jpegs = sorted((v for v in stored if v["format"] == "jpeg" and v["shape"] == "fit"), key=lambda v: v["size"])
    large_enough = [v for v in jpegs if min(v["width"], v["height"]) >= MODERATION_MIN_SIDE]
    return large_enough[0]["key"] if large_enough else None


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.set_correlation_id(event.get("imageId"))
    settings = current(VariantsSettings)
    index = (duplicates.Index(clients.get("dynamodb"), settings.table, candidates=settings.near_duplicate_candidates)
             if settings.table else None)
    try:
        result = make_and_store(event, settings, clients.get("s3"), index)
    except InvalidImage as error:  # the user's file, not our error: counted apart so it does not page
        metrics.add_metric(name="ImagesRejected", unit=MetricUnit.Count, value=1)
        logger.warning("Image rejected", extra={"reason": str(error)})
        raise
    reused = sum(1 for variant in result["variants"] if "reusedFrom" in variant)
    metrics.add_metric(name="VariantsCreated", unit=MetricUnit.Count, value=len(result["variants"]) - reused)
    if reused:
        metrics.add_metric(name="VariantsReused", unit=MetricUnit.Count, value=reused)
    if "S" in result["record"]["duplicateOf"]:
        metrics.add_metric(name="DuplicateImages", unit=MetricUnit.Count, value=1)
    return result
