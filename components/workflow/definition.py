"""The image workflow's Amazon States Language definition, built by a plain function.

    MarkProcessing (DynamoDB, conditional) -> Validate (Lambda)
      -> Process: Parallel [ Variants (Lambda) | Metadata (Lambda) ]
      -> RecordCompleted (DynamoDB, only by the execution that owns the image) -> Done
    a step's error -> DescribeFailure -> RecordFailed (DynamoDB, only if still owned) -> Failed
    the object changed under the steps (S3 412) or a newer upload took the image -> Superseded
    a status write that keeps failing -> StatusNotRecorded (the DLQ processor and the
      reconciler re-run or fail the image)
    with moderation, Process -> ShouldModerate ... -> Publish -> RecordCompleted, or -> RecordRejected
      (`components.workflow.moderation`: variants are staged until the verdict, fail-closed)

The input is the queue message body plus the `upload` identity the orchestrator adds (see
`handlers.lifecycle.uploads.execution_input`): an S3 pointer, never image bytes (Step Functions input
is limited to 256 KiB).

Which upload wins: MarkProcessing takes the image only for a newer upload (same key: a
larger sequencer; another key of the same image: a later event time; the rule, with items an
earlier release finished, is `contract.ownership.NEWER_UPLOAD`'s), for this upload when
a replay queued it or a dead letter failed it before any execution ran, or for this very
execution retrying. Every later write is conditional on this execution still owning the
image, so an older or duplicate execution never overwrites what a newer one recorded.

Example:
    >>> definition = build_definition(table_name="status", function_arns={
    ...     "validate": "arn:v", "variants": "arn:r", "metadata": "arn:m"})
    >>> definition["StartAt"]
    'MarkProcessing'
"""

from __future__ import annotations

import re
from typing import Any

from components.settings.config import Settings
from components.workflow.express import report_unfinished
from components.workflow.moderation import Moderation, completed_catches, moderation_states
from components.workflow.states import State, catch_step_errors, lambda_task, retry
from contract.ownership import (
    COMPLETED,
    FAILED,
    FAILED_BY_DEAD_LETTER,
    OWNED,
    PREVIOUS_UPLOAD_ATTRIBUTES,
    PROCESSING,
    QUEUED,
    RECORD_ATTRIBUTES,
    REJECTED,
    SETTLED_ERRORS,
    STATUS_NOT_RECORDED,
    TAKES_IMAGE,
)
from contract.workflow_types import STANDARD, WorkflowType

__all__ = ["Moderation", "build_definition", "stack_definition", "unfinished_executions_pattern"]

TRANSIENT_DYNAMODB_ERRORS = ["DynamoDB.ProvisionedThroughputExceededException",
                             "DynamoDB.ThrottlingException", "DynamoDB.RequestLimitExceeded",
                             "DynamoDB.InternalServerErrorException"]
CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException"
DEFAULT_TIMEOUTS = {"validate": 30, "variants": 120, "metadata": 30, "quarantine": 30}
NOW = {"S.$": "$$.State.EnteredTime"}
EXECUTION = {"S.$": "$$.Execution.Id"}
UPLOAD_VALUES: dict[str, State] = {
    "uploadId": {"S.$": "$.upload.id"}, "uploadKey": {"S.$": "$.upload.key"},
    "uploadVersion": {"S.$": "$.upload.version"},
    "uploadSequencer": {"S.$": "$.upload.sequencer"}, "uploadOrder": {"S.$": "$.upload.order"},
    "s3Key": {"S.$": "$.s3Key"}, "bucketName": {"S.$": "$.bucketName"},
}
CONSTANTS: dict[str, State] = {
    ":processing": {"S": PROCESSING}, ":queued": {"S": QUEUED}, ":failed": {"S": FAILED},
    ":deadLetter": {"S": FAILED_BY_DEAD_LETTER}, ":executionArn": EXECUTION,
    ":uploadId": {"S.$": "$.upload.id"}, ":uploadKey": {"S.$": "$.upload.key"},
    ":uploadSequencer": {"S.$": "$.upload.sequencer"}, ":uploadOrder": {"S.$": "$.upload.order"},
    ":uploadTime": {"S.$": "$.upload.time"},
}


def _catch_status_write(on_condition_failed: str) -> list[State]:
    return [{"ErrorEquals": [CONDITION_FAILED], "ResultPath": None, "Next": on_condition_failed},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": STATUS_NOT_RECORDED}]


def _update_item(table_name: str, values: dict[str, State | str], condition: str,
                 remove: tuple[str, ...] = ()) -> State:
    """A DynamoDB UpdateItem task that SETs `values` and REMOVEs `remove` on the image's item.

    A value is a typed attribute value (`{"S.$": "$.x"}`), or a path to one the state already holds
    (`"$.results.images.record.sha256"`, e.g. `{"NULL": true}`). DynamoDB rejects unused names and
    values, so only those the expressions mention are passed.
    """
    expression = "SET " + ", ".join(f"#{attr} = :{attr}" for attr in values)
    if remove:
        expression += " REMOVE " + ", ".join(f"#{attr}" for attr in remove)
    both = f"{expression} {condition}"
    available: dict[str, tuple[str, Any]] = {
        f":{attr}": ((f":{attr}.$", value) if isinstance(value, str) else (f":{attr}", value))
        for attr, value in values.items()} | {name: (name, value) for name, value in CONSTANTS.items()}
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {
            "TableName": table_name,
            "Key": {"imageId": {"S.$": "$.imageId"}, "userId": {"S.$": "$.userId"}},
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {f"#{n}": n for n in sorted(set(re.findall(r"#(\w+)", both)))},
            "ExpressionAttributeValues": dict(available[v] for v in sorted(set(re.findall(r":\w+", both)))),
        },
        "ResultPath": None,
        "Retry": retry(TRANSIENT_DYNAMODB_ERRORS, attempts=6),
    }


def _status_states(table_name: str) -> dict[str, State]:
    mark_processing = _update_item(
        table_name,
        {"status": {"S": PROCESSING}, "pending": {"S": PROCESSING}, "pendingSince": NOW,
         "executionArn": EXECUTION, "startedAt": NOW, "updatedAt": NOW, **UPLOAD_VALUES,
         # The execution input is the upload message: kept so a failed image can be replayed.
         "originalMessage": {"S.$": "States.JsonToString($)"}},
        TAKES_IMAGE, remove=PREVIOUS_UPLOAD_ATTRIBUTES)
    mark_processing |= {"Catch": _catch_status_write("SkipDuplicate"), "Next": "Validate"}

    outcome: dict[str, State | str] = {
        "format": {"S.$": "$.image.format"},
        "width": {"N.$": "States.Format('{}', $.image.width)"},
        "height": {"N.$": "States.Format('{}', $.image.height)"},
        "metadata": {"S.$": "States.JsonToString($.results.metadata)"},
        **{attr: f"$.results.images.record.{attr}" for attr in RECORD_ATTRIBUTES}}
    record_completed = _update_item(
        table_name,
        {"status": {"S": COMPLETED}, "completedAt": NOW, "updatedAt": NOW,
         "variants": {"S.$": "States.JsonToString($.results.images.variants)"}, **outcome},
        OWNED, remove=("pending", "pendingSince"))
    record_completed |= {"Catch": _catch_status_write("Superseded"), "Next": "Done"}

    record_rejected = _update_item(
        table_name,
        {"status": {"S": REJECTED}, "rejectedAt": NOW, "updatedAt": NOW,
         "reason": {"S.$": "States.Format('moderation labels: {}', States.JsonToString($.moderation.names))"},
         "moderationLabels": {"S.$": "States.JsonToString($.moderation.labels)"},
         "variants": {"S.$": "States.JsonToString($.quarantined.variants)"}, **outcome},
        OWNED, remove=("pending", "pendingSince"))
    record_rejected |= {"Catch": _catch_status_write("Superseded"), "Next": "AlertRejected"}

    record_failed = _update_item(
        table_name,
        {"status": {"S": FAILED}, "failedAt": NOW, "updatedAt": NOW, "failedBy": {"S": "workflow"},
         "error": {"S.$": "$.failure.error"}, "reason": {"S.$": "$.failure.reason"}},
        # Only while this execution owns the image: never over `completed` or a newer upload.
        OWNED, remove=("pending", "pendingSince"))
    record_failed |= {"Catch": _catch_status_write("Superseded"), "Next": "Failed"}
    return {"MarkProcessing": mark_processing, "RecordCompleted": record_completed, "RecordFailed": record_failed,
            "RecordRejected": record_rejected}


def build_definition(*, table_name: str, function_arns: dict[str, str],
                     function_timeouts: dict[str, int] | None = None,
                     execution_timeout_seconds: int = 900, moderation: Moderation | None = None,
                     workflow_type: WorkflowType = STANDARD, dead_letter_queue_url: str = "") -> State:
    """The workflow definition as a dict; serialize once with `json.dumps`.

    With `moderation`, `function_arns` also names the `quarantine` function. A workflow type that emits
    no status-change events (EXPRESS) reports its unfinished ends to `dead_letter_queue_url` itself
    (`components.workflow.express`)."""
    if not workflow_type.emits_status_events:
        if not dead_letter_queue_url:
            raise ValueError(f"an {workflow_type} workflow needs dead_letter_queue_url to report unfinished executions")
        standard = build_definition(table_name=table_name, function_arns=function_arns,
                                    function_timeouts=function_timeouts,
                                    execution_timeout_seconds=execution_timeout_seconds, moderation=moderation)
        return report_unfinished(standard, dead_letter_queue_url, settled=SETTLED_ERRORS)
    timeouts = DEFAULT_TIMEOUTS | (function_timeouts or {})
    status = _status_states(table_name)

    validate = lambda_task(
        function_arns["validate"], timeouts["validate"],
        {"format.$": "$.Payload.format", "width.$": "$.Payload.width",
         "height.$": "$.Payload.height", "mode.$": "$.Payload.mode",
         "frames.$": "$.Payload.frames", "bytes.$": "$.Payload.bytes"},
        "$.image")
    validate |= {"Catch": catch_step_errors(), "Next": "Process"}

    def branch(name: str, output: str) -> State:
        # The branch outputs the step's list/object itself, so the Parallel state picks results
        # with "$[0]" / "$[1]" (moto's JSONPath wraps "$[0].field" in a list; AWS does not).
        task = lambda_task(function_arns[name], timeouts[name], {"value.$": output}, "$")
        return {"StartAt": name.capitalize(),
                "States": {name.capitalize(): task | {"OutputPath": "$.value", "End": True}}}

    process = {
        "Type": "Parallel",
        # images: {variants, record, moderationKey} (`handlers.variants`); metadata: the EXIF summary.
        "Branches": [branch("variants", "$.Payload"), branch("metadata", "$.Payload.metadata")],
        "ResultSelector": {"images.$": "$[0]", "metadata.$": "$[1]"},
        "ResultPath": "$.results",
        "Catch": catch_step_errors(),
        "Next": "ShouldModerate" if moderation else "RecordCompleted",
    }
    moderating = moderation_states(moderation, function_arns, timeouts) if moderation else {}
    # With moderation, whatever this upload published is withdrawn before `failed` is recorded.
    before_failed = "WithdrawFailed" if moderation else "RecordFailed"
    if moderation:  # what Publish made public is withdrawn when `completed` is not written
        status["RecordCompleted"] = status["RecordCompleted"] | {"Catch": completed_catches([CONDITION_FAILED])}

    return {
        "Comment": "Validate an uploaded image, make its variants, extract its metadata, record the outcome.",
        "StartAt": "MarkProcessing",
        "TimeoutSeconds": execution_timeout_seconds,
        "States": {
            "MarkProcessing": status["MarkProcessing"],
            "Validate": validate,
            "Process": process,
            **moderating,
            "RecordCompleted": status["RecordCompleted"],
            **({"RecordRejected": status["RecordRejected"]} if moderation else {}),
            "Done": {"Type": "Succeed"},
            "SkipDuplicate": {"Type": "Succeed",
                              "Comment": "A newer upload, or another execution of this one, owns the image."},
            "Superseded": {"Type": "Fail", "Error": "StaleExecution",
                           "Cause": "A newer upload of the image replaced this one."},
            # Lambda errors carry a JSON cause with errorMessage; service errors a plain string.
            "DescribeFailure": {"Type": "Choice", "Choices": [
                {"Variable": "$.error.Cause", "StringMatches": "{*", "Next": "LambdaFailure"}],
                "Default": "ServiceFailure"},
            "LambdaFailure": {"Type": "Pass", "Parameters": {
                "error.$": "$.error.Error", "detail.$": "States.StringToJson($.error.Cause)"},
                "ResultPath": "$.failure", "Next": "LambdaFailureReason"},
            "LambdaFailureReason": {"Type": "Pass", "Parameters": {
                "error.$": "$.failure.error", "reason.$": "$.failure.detail.errorMessage"},
                "ResultPath": "$.failure", "Next": before_failed},
            "ServiceFailure": {"Type": "Pass", "Parameters": {
                "error.$": "$.error.Error", "reason.$": "$.error.Cause"},
                "ResultPath": "$.failure", "Next": before_failed},
            "RecordFailed": status["RecordFailed"],
            "Failed": {"Type": "Fail", "Error": "ImageFailed",
                       "Cause": "The image was rejected or could not be processed; see its status item."},
            STATUS_NOT_RECORDED: {"Type": "Fail", "Error": "StatusWriteFailed",
                                  "Cause": "The image's status could not be written; the DLQ processor or the "
                                           "reconciler re-runs or fails it."},
        },
    }


def stack_definition(settings: Settings, *, table_name: str, output_bucket: str, topic_arn: str,
                     dead_letter_queue_url: str, step_arns: dict[str, str]) -> State:
    """The definition a stack deploys: `build_definition` with the stack's settings and its resources' names
    and ARNs (`step_arns`: the functions of `settings.workflow_functions()`). The component (inside
    `Output.apply`) and the local stack both call this, so both run the very same definition."""
    wf = settings.workflow
    return build_definition(
        table_name=table_name, function_arns=step_arns,
        function_timeouts={step: getattr(settings.functions, step).timeout for step in settings.workflow_functions()},
        execution_timeout_seconds=wf.execution_timeout_seconds,
        moderation=Moderation.of(settings.moderation, output_bucket=output_bucket, topic_arn=topic_arn),
        workflow_type=wf.kind, dead_letter_queue_url=dead_letter_queue_url)


def unfinished_executions_pattern(state_machine_arn: str) -> dict:
    """TIMED_OUT and ABORTED executions, and FAILED ones except those that recorded the image's status."""
    return {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"stateMachineArn": [state_machine_arn], "$or": [
                {"status": ["TIMED_OUT", "ABORTED"]},
                {"status": ["FAILED"], "error": [{"anything-but": list(SETTLED_ERRORS)}]}]}}
