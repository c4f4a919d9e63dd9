"""The CloudWatch dashboard's body, built by a plain function from resource names.

Queue depth and age, DLQ depth, executions by outcome, Lambda errors and duration, and the
images' outcomes from the handlers' EMF metrics (namespace `ImagePipeline`, dimension
`service` = the function's role, e.g. `dlq_processor`).
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "ImagePipeline"


def _widget(title: str, metrics: list[list[Any]], x: int, y: int, *, stat: str = "Sum", width: int = 12,
            region: str) -> dict[str, Any]:
    return {"type": "metric", "x": x, "y": y, "width": width, "height": 6,
            "properties": {"title": title, "metrics": metrics, "stat": stat, "period": 300, "region": region,
                           "view": "timeSeries", "stacked": False}}


def dashboard_body(*, region: str, queue_name: str, dlq_name: str, state_machine_arn: str,
                   function_names: dict[str, str]) -> dict[str, Any]:
    functions = sorted(function_names.items())
    sqs = "AWS/SQS"
    return {"widgets": [
        _widget("Upload queue", [
            [sqs, "ApproximateNumberOfMessagesVisible", "QueueName", queue_name, {"stat": "Average"}],
            [sqs, "ApproximateNumberOfMessagesNotVisible", "QueueName", queue_name, {"stat": "Average"}],
            [sqs, "ApproximateAgeOfOldestMessage", "QueueName", queue_name, {"stat": "Maximum", "yAxis": "right"}],
        ], 0, 0, region=region),
        _widget("Dead-letter queue", [
            [sqs, "ApproximateNumberOfMessagesVisible", "QueueName", dlq_name, {"stat": "Maximum"}],
            [sqs, "NumberOfMessagesReceived", "QueueName", dlq_name],
        ], 12, 0, region=region),
        _widget("Executions by outcome", [
            ["AWS/States", metric, "StateMachineArn", state_machine_arn]
            for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut",
                           "ExecutionsAborted", "ExecutionThrottled")], 0, 6, region=region),
        _widget("Images", [
            ["AWS/States", "ExecutionsSucceeded", "StateMachineArn", state_machine_arn, {"label": "completed"}],
            [NAMESPACE, "ImagesRejected", "service", "validate", {"label": "rejected (invalid image)"}],
            [NAMESPACE, "ImagesFailed", "service", "dlq_processor", {"label": "failed (dead-lettered)"}],
            [NAMESPACE, "UploadsEnqueued", "service", "s3_event_handler", {"label": "enqueued"}],
            [NAMESPACE, "RejectedKeys", "service", "s3_event_handler", {"label": "rejected keys"}],
            [NAMESPACE, "DuplicateDeliveries", "service", "orchestrator", {"label": "duplicate deliveries"}],
        ], 12, 6, region=region),
        _widget("Lambda errors", [["AWS/Lambda", "Errors", "FunctionName", name, {"label": role}]
                                  for role, name in functions], 0, 12, region=region),
        _widget("Lambda duration (p99, ms)", [["AWS/Lambda", "Duration", "FunctionName", name, {"label": role}]
                                              for role, name in functions], 12, 12, stat="p99", region=region),
    ]}
