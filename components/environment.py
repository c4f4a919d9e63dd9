"""Each function's environment variables, built by a plain function (no pulumi import).

Values may be strings or Pulumi outputs: the component passes outputs, the local runner
strings, so both configure the handlers identically. Variable names keep the original
design's (`SQS_QUEUE_URL`, `STEP_FUNCTIONS_ARN`, `DYNAMODB_TABLE`, `DLQ_URL`, `SNS_TOPIC_ARN`).
"""

from __future__ import annotations

from typing import Any

from components.config import Settings

# Notifications filter by prefix only: S3 suffix filters are case-sensitive, so `.Jpg` would
# produce no event at all. The S3 event handler accepts or rejects every extension, with a
# logged reason and a metric.
UPLOAD_PREFIX = "uploads/"
FUNCTION_NAMES = ("s3_event_handler", "orchestrator", "dlq_processor", "validate", "variants", "metadata",
                  "reconciler", "quarantine")  # quarantine: only with moderation (`Settings.created_functions`)


def handler_path(function: str) -> str:
    return f"handlers.{function}.lambda_handler"


def function_environment(settings: Settings, *, queue_url: Any, dlq_url: Any, table_name: Any, topic_arn: Any,
                         state_machine_arn: Any, output_bucket: Any) -> dict[str, dict[str, Any]]:
    wf = settings.workflow
    image_limits = {"MAX_IMAGE_BYTES": str(wf.max_image_bytes), "MAX_PIXELS": str(wf.max_pixels),
                    "ALLOWED_FORMATS": ",".join(wf.allowed_formats), "KEEP_GPS": str(wf.keep_gps).lower()}
    # The repairs withdraw what a failed upload published (`handlers.repair.withdraw_published`).
    moderation = {"MODERATION": "true", "OUTPUT_BUCKET": output_bucket} if settings.moderation.enabled else {}
    return {
        "s3_event_handler": {"SQS_QUEUE_URL": queue_url},
        "orchestrator": {"STEP_FUNCTIONS_ARN": state_machine_arn, "WORKFLOW_TYPE": wf.type,
                         **({"DYNAMODB_TABLE": table_name} if wf.type == "EXPRESS" else {})},
        "dlq_processor": {"SNS_TOPIC_ARN": topic_arn, "DYNAMODB_TABLE": table_name, "DLQ_URL": dlq_url,
                          "STEP_FUNCTIONS_ARN": state_machine_arn, "SQS_QUEUE_URL": queue_url,
                          "OUTPUT_BUCKET": output_bucket, "REPAIR_ATTEMPTS": str(wf.repair_attempts),
                          "WORKFLOW_TYPE": wf.type, **moderation,
                          "MAX_RECEIVE_COUNT": str(settings.dead_letter_queue.max_receive_count)},
        "reconciler": {"SNS_TOPIC_ARN": topic_arn, "DYNAMODB_TABLE": table_name,
                       "STEP_FUNCTIONS_ARN": state_machine_arn,
                       "SQS_QUEUE_URL": queue_url, "STALE_AFTER_SECONDS": str(wf.stale_after),
                       "REPAIR_ATTEMPTS": str(wf.repair_attempts), "WORKFLOW_TYPE": wf.type,
                       "RECONCILE_EVERY_MINUTES": str(wf.reconcile_every_minutes),
                       **moderation},
        "validate": image_limits,
        "variants": image_limits | {
            "OUTPUT_BUCKET": output_bucket,
            "VARIANT_SIZES": ",".join(map(str, wf.variant_sizes)),
            "VARIANT_FORMATS": ",".join(wf.variant_formats),
            "JPEG_QUALITY": str(wf.jpeg_quality),
            "WEBP_QUALITY": str(wf.webp_quality or wf.jpeg_quality),
            "AVIF_QUALITY": str(wf.avif_quality),
            "AVIF_SPEED": str(wf.avif_speed),
            "SQUARE_SIZES": ",".join(map(str, wf.square_sizes)),
            "SQUARE_CROP": wf.square_crop,
            "ANIMATION": wf.animation,
            "MAX_ANIMATION_FRAMES": str(wf.max_animation_frames),
            "MAX_ANIMATION_PIXELS": str(wf.max_animation_pixels),
            "CACHE_CONTROL": settings.storage.variants_cache_control,
            "DYNAMODB_TABLE": table_name,
            "DUPLICATES": wf.duplicates,
            "NEAR_DUPLICATE_DISTANCE": str(wf.near_duplicate_distance),
            "MODERATION": str(settings.moderation.enabled).lower()},
        "metadata": image_limits,
        "quarantine": {"OUTPUT_BUCKET": output_bucket, "DYNAMODB_TABLE": table_name},
    }
