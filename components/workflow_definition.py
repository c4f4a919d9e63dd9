"""The image workflow's Amazon States Language definition, built by a plain function.

    MarkProcessing (DynamoDB, conditional) -> Validate (Lambda)
      -> Process: Parallel [ Variants (Lambda) | Metadata (Lambda) ]
      -> RecordCompleted (DynamoDB, only by the execution that owns the image) -> Done
    any task error -> DescribeFailure -> RecordFailed (DynamoDB) -> Failed

The input is the queue message body (an S3 pointer, never image bytes: Step Functions
input is limited to 256 KiB). Status moves forward only: a stale or duplicate execution
finds its conditional write refused and ends without touching the item.

Example:
    >>> definition = build_definition(table_name="status", function_arns={
    ...     "validate": "arn:v", "variants": "arn:r", "metadata": "arn:m"})
    >>> definition["StartAt"]
    'MarkProcessing'
"""

from __future__ import annotations

from typing import Any

State = dict[str, Any]

# Errors that are worth retrying: Lambda's service-side failures and throttling, and the
# handlers' own TransientError (S3 throttling or 5xx while reading/writing objects).
TRANSIENT_LAMBDA_ERRORS = ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                           "Lambda.SdkClientException", "Lambda.TooManyRequestsException",
                           "TransientError"]
TRANSIENT_DYNAMODB_ERRORS = ["DynamoDB.ProvisionedThroughputExceededException",
                             "DynamoDB.ThrottlingException", "DynamoDB.RequestLimitExceeded",
                             "DynamoDB.InternalServerErrorException"]
CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException"
DEFAULT_TIMEOUTS = {"validate": 30, "variants": 120, "metadata": 30}


def _retry(errors: list[str], attempts: int = 3) -> list[State]:
    return [{"ErrorEquals": errors, "IntervalSeconds": 1, "MaxAttempts": attempts,
             "BackoffRate": 2.0, "MaxDelaySeconds": 20, "JitterStrategy": "FULL"}]


def _catch_all() -> list[State]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "DescribeFailure"}]


def _on_condition_failed(next_state: str) -> State:
    return {"ErrorEquals": [CONDITION_FAILED], "ResultPath": None, "Next": next_state}


def _update_item(table_name: str, values: dict[str, State], condition: str,
                 extra_values: dict[str, State] | None = None) -> State:
    """A DynamoDB UpdateItem task that SETs `values` (attribute -> typed value) on the image."""
    names = {f"#{attr}": attr for attr in values} | {"#status": "status", "#executionArn": "executionArn"}
    assignments = ", ".join(f"#{attr} = :{attr}" for attr in values)
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {
            "TableName": table_name,
            "Key": {"imageId": {"S.$": "$.imageId"}, "userId": {"S.$": "$.userId"}},
            "UpdateExpression": f"SET {assignments}",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":{attr}": value for attr, value in values.items()}
            | (extra_values or {}),
        },
        "ResultPath": None,
        "Retry": _retry(TRANSIENT_DYNAMODB_ERRORS),
    }


def _lambda_task(function_arn: str, timeout: int, result_selector: State, result_path: str) -> State:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
        # A little above the function's own timeout, so Lambda's error wins the race.
        "TimeoutSeconds": timeout + 10,
        "ResultSelector": result_selector,
        "ResultPath": result_path,
        "Retry": _retry(TRANSIENT_LAMBDA_ERRORS),
    }


def build_definition(*, table_name: str, function_arns: dict[str, str],
                     function_timeouts: dict[str, int] | None = None,
                     execution_timeout_seconds: int = 900) -> State:
    """The workflow definition as a dict; serialize once with `json.dumps`."""
    timeouts = DEFAULT_TIMEOUTS | (function_timeouts or {})
    now = {"S.$": "$$.State.EnteredTime"}
    execution = {"S.$": "$$.Execution.Id"}
    owned = "#status = :processing AND #executionArn = :executionArn"

    mark_processing = _update_item(
        table_name,
        {"status": {"S": "processing"}, "executionArn": execution, "startedAt": now,
         "updatedAt": now, "s3Key": {"S.$": "$.s3Key"}, "bucketName": {"S.$": "$.bucketName"}},
        # New image, a replay (`queued`), or this very execution retrying its own write.
        "attribute_not_exists(#status) OR #status = :queued OR "
        "(#status = :status AND #executionArn = :executionArn)",
        {":queued": {"S": "queued"}},
    )
    mark_processing["Catch"] = [_on_condition_failed("SkipDuplicate"), *_catch_all()]
    mark_processing["Next"] = "Validate"

    validate = _lambda_task(
        function_arns["validate"], timeouts["validate"],
        {"format.$": "$.Payload.format", "width.$": "$.Payload.width",
         "height.$": "$.Payload.height", "mode.$": "$.Payload.mode",
         "frames.$": "$.Payload.frames", "bytes.$": "$.Payload.bytes"},
        "$.image")
    validate |= {"Catch": _catch_all(), "Next": "Process"}

    def branch(name: str) -> State:
        # The branch outputs the step's list/object itself, so the Parallel state picks results
        # with "$[0]" / "$[1]" (moto's JSONPath wraps "$[0].field" in a list; AWS does not).
        task = _lambda_task(function_arns[name], timeouts[name], {"value.$": f"$.Payload.{name}"}, "$")
        return {"StartAt": name.capitalize(),
                "States": {name.capitalize(): task | {"OutputPath": "$.value", "End": True}}}

    process = {
        "Type": "Parallel",
        "Branches": [branch("variants"), branch("metadata")],
        "ResultSelector": {"variants.$": "$[0]", "metadata.$": "$[1]"},
        "ResultPath": "$.results",
        "Catch": _catch_all(),
        "Next": "RecordCompleted",
    }

    record_completed = _update_item(
        table_name,
        {"status": {"S": "completed"}, "completedAt": now, "updatedAt": now,
         "format": {"S.$": "$.image.format"},
         "width": {"N.$": "States.Format('{}', $.image.width)"},
         "height": {"N.$": "States.Format('{}', $.image.height)"},
         "variants": {"S.$": "States.JsonToString($.results.variants)"},
         "metadata": {"S.$": "States.JsonToString($.results.metadata)"}},
        "#status = :processing AND #executionArn = :executionArn",
        {":processing": {"S": "processing"}, ":executionArn": execution},
    )
    record_completed["Catch"] = [_on_condition_failed("Superseded"), *_catch_all()]
    record_completed["Next"] = "Done"

    record_failed = _update_item(
        table_name,
        {"status": {"S": "failed"}, "failedAt": now, "updatedAt": now,
         "error": {"S.$": "$.failure.error"}, "reason": {"S.$": "$.failure.reason"}},
        # Never overwrite `completed`, nor an image another execution owns.
        f"attribute_not_exists(#status) OR #status = :queued OR ({owned})",
        {":queued": {"S": "queued"}, ":processing": {"S": "processing"}, ":executionArn": execution},
    )
    record_failed["Catch"] = [_on_condition_failed("Superseded")]
    record_failed["Next"] = "Failed"

    return {
        "Comment": "Validate an uploaded image, make its variants, extract its metadata, record the outcome.",
        "StartAt": "MarkProcessing",
        "TimeoutSeconds": execution_timeout_seconds,
        "States": {
            "MarkProcessing": mark_processing,
            "Validate": validate,
            "Process": process,
            "RecordCompleted": record_completed,
            "Done": {"Type": "Succeed"},
            "SkipDuplicate": {"Type": "Succeed", "Comment": "Another execution owns or finished this image."},
            "Superseded": {"Type": "Fail", "Error": "StaleExecution",
                           "Cause": "The image's status was changed by another execution."},
            # Lambda errors carry a JSON cause with errorMessage; service errors a plain string.
            "DescribeFailure": {"Type": "Choice", "Choices": [
                {"Variable": "$.error.Cause", "StringMatches": "{*", "Next": "LambdaFailure"}],
                "Default": "ServiceFailure"},
            "LambdaFailure": {"Type": "Pass", "Parameters": {
                "error.$": "$.error.Error", "detail.$": "States.StringToJson($.error.Cause)"},
                "ResultPath": "$.failure", "Next": "LambdaFailureReason"},
            "LambdaFailureReason": {"Type": "Pass", "Parameters": {
                "error.$": "$.failure.error", "reason.$": "$.failure.detail.errorMessage"},
                "ResultPath": "$.failure", "Next": "RecordFailed"},
            "ServiceFailure": {"Type": "Pass", "Parameters": {
                "error.$": "$.error.Error", "reason.$": "$.error.Cause"},
                "ResultPath": "$.failure", "Next": "RecordFailed"},
            "RecordFailed": record_failed,
            "Failed": {"Type": "Fail", "Error": "ImageFailed",
                       "Cause": "The image was rejected or could not be processed; see its status item."},
        },
    }
