"""The optional moderation states of the workflow (`moderation.enabled`), built by a plain function.

    Process -> ShouldModerate -> Moderate (Rekognition DetectModerationLabels, SDK integration)
      -> Verdict -> Flagged? -> Quarantine (Lambda) -> RecordRejected -> AlertRejected (SNS) -> Rejected
      -> otherwise RecordCompleted

`RecordRejected` is a status write, built with the others in `components.workflow_definition`.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import ModerationSettings
from components.states import State, catch_step_errors, lambda_task, retry

# Rekognition's errors worth retrying, as the SDK integration names them.
TRANSIENT_REKOGNITION_ERRORS = ["Rekognition.ThrottlingException", "Rekognition.ProvisionedThroughputExceededException",
                                "Rekognition.InternalServerErrorException", "Rekognition.LimitExceededException"]


@dataclass(frozen=True)
class Moderation:
    """What the moderation states need: where the variants are, where alerts go, what counts."""

    output_bucket: str
    topic_arn: str
    min_confidence: int = 80
    labels: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: ModerationSettings, *, output_bucket: str, topic_arn: str) -> Moderation | None:
        """What a stack's `moderation` settings ask of the definition; None when moderation is off."""
        if not settings.enabled:
            return None
        return cls(output_bucket=output_bucket, topic_arn=topic_arn, min_confidence=settings.min_confidence,
                   labels=tuple(settings.labels))


def moderation_states(moderation: Moderation, function_arns: dict[str, str],
                       timeouts: dict[str, int]) -> dict[str, State]:
    """Moderate -> (flagged) Quarantine -> RecordRejected -> AlertRejected -> Rejected; else RecordCompleted.

    A label flags the image when its name or its parent's is one of `labels` (any label when empty). An
    image with no variant Rekognition accepts (under 80 px a side) is recorded `moderationSkipped`. When
    Rekognition keeps throttling, the execution fails unrecorded (`TransientError`): the DLQ processor
    re-runs the upload, as it does any transient failure.
    """
    moderate = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:rekognition:detectModerationLabels",
        "Parameters": {"Image": {"S3Object": {"Bucket": moderation.output_bucket,
                                              "Name.$": "$.results.images.moderationKey"}},
                       "MinConfidence": moderation.min_confidence},
        "ResultSelector": {"labels.$": "$.ModerationLabels", "names.$": "$.ModerationLabels[*].Name",
                           "parents.$": "$.ModerationLabels[*].ParentName"},
        "ResultPath": "$.moderation",
        "Retry": retry(TRANSIENT_REKOGNITION_ERRORS, attempts=6),
        "Catch": [{"ErrorEquals": TRANSIENT_REKOGNITION_ERRORS, "ResultPath": "$.error",
                   "Next": "ModerationUnavailable"}, *catch_step_errors()],
        "Next": "Verdict" if moderation.labels else "Flagged",
    }
    if moderation.labels:
        matches = {f"{kind}{index}.$": f"States.ArrayContains($.moderation.{kind}s, '{label}')"
                   for index, label in enumerate(moderation.labels) for kind in ("name", "parent")}
        verdict: State = {"Type": "Pass", "Parameters": matches, "ResultPath": "$.verdict", "Next": "Flagged"}
        rule: State = {"Or": [{"Variable": f"$.verdict.{key.removesuffix('.$')}", "BooleanEquals": True}
                              for key in matches]}
    else:
        rule = {"Variable": "$.moderation.labels[0]", "IsPresent": True}
    quarantine = lambda_task(function_arns["quarantine"], timeouts["quarantine"],
                              {"variants.$": "$.Payload.variants"}, "$.quarantined")
    alert = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": moderation.topic_arn, "Subject": "Image rejected by moderation",
                       "Message": {"imageId.$": "$.imageId", "userId.$": "$.userId", "s3Key.$": "$.s3Key",
                                   "labels.$": "$.moderation.names", "variants.$": "$.quarantined.variants"}},
        "ResultPath": None,
        "Retry": retry(["SNS.ThrottledException", "SNS.InternalErrorException", "SNS.KMSThrottlingException"]),
        # The status is recorded: an alert that cannot be sent must not undo that.
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.alertError", "Next": "Rejected"}],
        "Next": "Rejected",
    }
    return {
        "ShouldModerate": {"Type": "Choice", "Default": "RecordCompleted", "Choices": [
            {"Variable": "$.results.images.moderationKey", "IsPresent": True, "Next": "Moderate"}]},
        "Moderate": moderate,
        "ModerationUnavailable": {"Type": "Fail", "Error": "TransientError",
                                  "Cause": "Rekognition kept throttling; the DLQ processor re-runs the upload."},
        **({"Verdict": verdict} if moderation.labels else {}),
        "Flagged": {"Type": "Choice", "Choices": [rule | {"Next": "Quarantine"}], "Default": "RecordCompleted"},
        "Quarantine": quarantine | {"Catch": catch_step_errors(), "Next": "RecordRejected"},
        "AlertRejected": alert,
        "Rejected": {"Type": "Succeed", "Comment": "Flagged by moderation: recorded `rejected`, variants quarantined."},
    }
