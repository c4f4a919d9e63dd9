"""Workflow step (moderation only): move a moderated image's staged variants where its verdict sends them.

- `publish` (accepted, or too small to moderate): `staging/variants/...` -> `variants/...`, before the
  `completed` status write names them;
- `quarantine` (flagged): `staging/variants/...` -> `quarantine/variants/...`, kept for review, served to no one;
- `withdraw` (the image is not completing with this upload: its `completed` write did not happen, or it is
  about to be recorded `failed`): everything published under the upload's prefix deleted, unless the
  status item still needs it (`handlers.lifecycle.publication.keeps_published`).

The layout and why it fails closed: `handlers.lifecycle.publication`. Every action is idempotent.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from contract.environment import at_cold_start, current
from contract.functions import QuarantineSettings
from handlers.lifecycle import publication
from handlers.lifecycle.clients import clients
from handlers.lifecycle.status import get_item

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
at_cold_start(QuarantineSettings)
clients.warm("s3", "dynamodb")


def settle(event: dict[str, Any], bucket: str, s3: Any, dynamodb: Any, table: str) -> dict[str, Any]:
    """The event's `action` applied to its `variants` (`{"variants": [...]}` with their keys now), or for
    `withdraw` to its `upload`'s prefix (`{"withdrawn": count}`)."""
    action = event["action"]
    if action == "publish":
        return {"variants": publication.publish(event["variants"], bucket, s3)}
    if action == "quarantine":
        moved = publication.quarantine(event["variants"], bucket, s3)
        metrics.add_metric(name="ImagesQuarantined", unit=MetricUnit.Count, value=1)
        logger.warning("Image quarantined", extra={"labels": event.get("labels"), "variants": len(moved)})
        return {"variants": moved}
    if action == "withdraw":
        upload = event["upload"]
        withdrawn = publication.withdraw_unless_kept(
            get_item(dynamodb, table, event["imageId"], event["userId"]), upload_id=upload["id"],
            prefix=publication.upload_prefix(event["userId"], event["imageId"], upload["token"]),
            execution_arn=event["executionArn"], bucket=bucket, s3=s3)
        if withdrawn:
            logger.warning("Published variants withdrawn: the image did not complete with them",
                           extra={"variants": withdrawn})
        return {"withdrawn": withdrawn}
    raise ValueError(f"unknown action {action!r}: publish, quarantine or withdraw")


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.set_correlation_id(event.get("imageId"))
    settings = current(QuarantineSettings)
    return settle(event, settings.output_bucket, clients.get("s3"), clients.get("dynamodb"), settings.table)
