"""States Language building blocks the workflow's definitions share: retries, catches, Lambda tasks."""

from __future__ import annotations

from typing import Any

State = dict[str, Any]

# Errors that are worth retrying: Lambda's service-side failures and throttling, and the
# handlers' own TransientError (S3 throttling or 5xx while reading/writing objects).
TRANSIENT_LAMBDA_ERRORS = ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                           "Lambda.SdkClientException", "Lambda.TooManyRequestsException",
                           "TransientError"]
SUPERSEDED_ERRORS = ["UploadSuperseded"]  # the step read a newer object than the execution's upload


def retry(errors: list[str], attempts: int = 3) -> list[State]:
    return [{"ErrorEquals": errors, "IntervalSeconds": 1, "MaxAttempts": attempts,
             "BackoffRate": 2.0, "MaxDelaySeconds": 20, "JitterStrategy": "FULL"}]


def catch_step_errors() -> list[State]:
    return [{"ErrorEquals": SUPERSEDED_ERRORS, "ResultPath": "$.error", "Next": "Superseded"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "DescribeFailure"}]


def lambda_task(function_arn: str, timeout: int, result_selector: State, result_path: str) -> State:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
        # A little above the function's own timeout, so Lambda's error wins the race.
        "TimeoutSeconds": timeout + 10,
        "ResultSelector": result_selector,
        "ResultPath": result_path,
        "Retry": retry(TRANSIENT_LAMBDA_ERRORS),
    }
