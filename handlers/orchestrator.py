"""SQS upload messages -> one Step Functions execution each (one AWS call per message).

The execution name is derived from the upload, so a redelivered message finds its
execution already started (`ExecutionAlreadyExists` counts as success). The workflow's
first state records `processing` and its execution ARN, so no status write happens here,
except for a workflow type that marks uploads queued (Express: its executions cannot be listed or
described): a newer upload is first marked `queued` (one conditional write) for the reconciler to find.
Each record succeeds or fails alone (partial batch response); records left when the
invocation nears its deadline are handed back untouched.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from contract.environment import at_cold_start, current, in_lambda
from contract.errors import DeadlineReached
from contract.functions import OrchestratorSettings
from handlers.lifecycle import status
from handlers.lifecycle.batch import partial_batch_response
from handlers.lifecycle.clients import clients
from handlers.lifecycle.uploads import execution_input, execution_name, parse_message

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
at_cold_start(OrchestratorSettings)
clients.warm("stepfunctions")
if in_lambda() and current(OrchestratorSettings).workflow_type.marks_queued:
    clients.warm("dynamodb")

# Time one StartExecution may take (with its retries) plus returning the response.
SAFETY_MARGIN_MS = 5_000


def start_workflow(body: dict[str, Any], state_machine_arn: str, sfn: Any) -> bool:
    """Start the upload's execution; False if it had already been started (a duplicate)."""
    name = execution_name(body)
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=name,
                            input=json.dumps(execution_input(body), sort_keys=True, separators=(",", ":")))
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
            return False
        raise
    return True


def record_handler(record: dict[str, Any], settings: OrchestratorSettings, lambda_context: Any = None) -> None:
    if lambda_context is not None and lambda_context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS:
        raise DeadlineReached("handed back before the invocation deadline")
    body = parse_message(record["body"])
    logger.set_correlation_id(body["imageId"])
    # Executions that cannot be listed later: leave a pending item the reconciler can find.
    if settings.workflow_type.marks_queued:
        status.mark_queued(clients.get("dynamodb"), settings.table, body)
    started = start_workflow(body, settings.state_machine_arn, clients.get("stepfunctions"))
    metrics.add_metric(name="ExecutionsStarted" if started else "DuplicateDeliveries",
                       unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = current(OrchestratorSettings)
    response = partial_batch_response(event.get("Records", []),
                                      lambda record: record_handler(record, settings, context), logger)
    failures = response["batchItemFailures"]
    if failures:
        metrics.add_metric(name="StartFailures", unit=MetricUnit.Count, value=len(failures))
    return response
