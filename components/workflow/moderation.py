"""The optional moderation states of the workflow (`moderation.enabled`), built by a plain function.

    Process -> ShouldModerate -> Moderate (Rekognition DetectModerationLabels, SDK integration)
      -> Verdict -> Flagged? -> Quarantine (Lambda) -> RecordRejected -> AlertRejected (SNS) -> Rejected
      -> otherwise (or too small to moderate) Publish (Lambda) -> RecordCompleted
    any step error (Publish's too) -> DescribeFailure -> WithdrawFailed -> RecordFailed
    RecordCompleted not written -> WithdrawSuperseded -> Superseded | WithdrawUnrecorded -> StatusNotRecorded

Fail-closed by construction: the variants step writes under `staging/` and only `Publish` moves them to
`variants/`, before the `completed` write names them (`handlers.lifecycle.publication`). Any other end leaves them
staged (expired by the bucket's lifecycle rule), quarantined, or withdrawn: a withdrawal deletes
everything published under the upload's prefix, so it also removes what an earlier run of the same upload
published before it timed out. `failed` is recorded only after that withdrawal (`failed_withdrawal`); an
execution that ends with no state left to run is settled by the DLQ processor or the reconciler, which
withdraw too (`handlers.lifecycle.repair`). `RecordRejected` is a status write, built with the others in
`components.workflow.definition`; so is `RecordCompleted`, whose catches `completed_catches` sends through
a withdrawal.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.settings.config import ModerationSettings
from components.workflow.states import State, catch_step_errors, lambda_task, retry
from contract.ownership import STATUS_NOT_RECORDED

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


def _settle_variants(function_arn: str, timeout: int, action: str, extra: dict[str, str] | None = None) -> State:
    """The moderation function (`handlers.quarantine`) applying `action` to the image's variants."""
    task = lambda_task(function_arn, timeout, {"variants.$": "$.Payload.variants"}, "$.quarantined")
    task["Parameters"] = {"FunctionName": function_arn, "Payload": {
        "action": action, "imageId.$": "$.imageId", "variants.$": "$.results.images.variants", **(extra or {})}}
    return task


def _withdraw(function_arn: str, timeout: int, next_state: str, on_error: str | None = None) -> State:
    """Delete what this upload has published (any run of it); then `next_state` (the end it was headed for),
    and on an error `on_error` (by default `next_state` too)."""
    task = lambda_task(function_arn, timeout, {"withdrawn.$": "$.Payload.withdrawn"}, "$.withdrawn")
    task["Parameters"] = {"FunctionName": function_arn, "Payload": {
        "action": "withdraw", "imageId.$": "$.imageId", "userId.$": "$.userId", "upload.$": "$.upload",
        "executionArn.$": "$$.Execution.Id"}}
    return task | {"ResultPath": None, "Next": next_state,
                   "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": on_error or next_state}]}


def failed_withdrawal(function_arn: str, timeout: int) -> State:
    """Before RecordFailed: nothing of the upload stays readable beside `failed`. If the withdrawal fails
    the status is not written either, so the DLQ processor or the reconciler settles (and withdraws) it."""
    return _withdraw(function_arn, timeout, "RecordFailed", on_error=STATUS_NOT_RECORDED)


def completed_catches(condition_failed: list[str]) -> list[State]:
    """RecordCompleted's catches with moderation: published variants are withdrawn before either end."""
    return [{"ErrorEquals": condition_failed, "ResultPath": None, "Next": "WithdrawSuperseded"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "WithdrawUnrecorded"}]


def moderation_states(moderation: Moderation, function_arns: dict[str, str], timeouts: dict[str, int]
                      ) -> dict[str, State]:
    """Moderate -> (flagged) Quarantine -> RecordRejected -> AlertRejected -> Rejected; else Publish.

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
    arn, timeout = function_arns["quarantine"], timeouts["quarantine"]
    quarantine = _settle_variants(arn, timeout, "quarantine", {"labels.$": "$.moderation.names"})
    publish = _settle_variants(arn, timeout, "publish") | {
        "ResultPath": None, "Next": "RecordCompleted",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "DescribeFailure"}]}
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
        "ShouldModerate": {"Type": "Choice", "Default": "Publish", "Choices": [
            {"Variable": "$.results.images.moderationKey", "IsPresent": True, "Next": "Moderate"}]},
        "Moderate": moderate,
        "ModerationUnavailable": {"Type": "Fail", "Error": "TransientError",
                                  "Cause": "Rekognition kept throttling; the DLQ processor re-runs the upload."},
        **({"Verdict": verdict} if moderation.labels else {}),
        "Flagged": {"Type": "Choice", "Choices": [rule | {"Next": "Quarantine"}], "Default": "Publish"},
        "Quarantine": quarantine | {"Catch": catch_step_errors(), "Next": "RecordRejected"},
        "Publish": publish,
        "WithdrawFailed": failed_withdrawal(arn, timeout),
        "WithdrawSuperseded": _withdraw(arn, timeout, "Superseded"),
        "WithdrawUnrecorded": _withdraw(arn, timeout, STATUS_NOT_RECORDED),
        "AlertRejected": alert,
        "Rejected": {"Type": "Succeed", "Comment": "Flagged by moderation: recorded `rejected`, variants quarantined."},
    }
