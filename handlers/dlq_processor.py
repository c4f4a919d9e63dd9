"""Dead-letter queue -> the image settled (failed, re-run, or left to its live execution) and one alert.

Each dead letter ends in exactly one SNS alert and is never handed back for its content:
- undelivered uploads (the queue's dead letters, enqueue failures): `failed`, unless an
  execution of that upload exists (it records the outcome) or a newer upload owns the image;
- execution events (FAILED, TIMED_OUT, ABORTED from EventBridge): a transient failure is
  re-run a bounded number of times, anything else is `failed`, only while the execution
  still owns the image (`handlers.lifecycle.repair`);
- anything else is archived under `dead-letters/unreadable/` in the output bucket.
Status writes are idempotent per dead letter, so a record retried after a failed publish
writes nothing twice and its alert still says what happened.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from contract.environment import at_cold_start, current
from contract.functions import DlqProcessorSettings, RepairSettings
from contract.ownership import SETTLED_ERRORS
from handlers.lifecycle import repair, status
from handlers.lifecycle.alerts import alert
from handlers.lifecycle.batch import partial_batch_response
from handlers.lifecycle.clients import clients
from handlers.lifecycle.dead_letters import ExecutionEnded, UndeliveredUploads, Unreadable, classify
from handlers.lifecycle.uploads import execution_name

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
at_cold_start(DlqProcessorSettings)
# Step Functions (where executions can be described) and S3 (archiving an unreadable body) are created
# when first needed.
clients.warm("sns", "dynamodb", "sqs")


def settle_undelivered(upload: dict[str, Any], error: str, reason: str, dead_letter_id: str,
                       settings: RepairSettings) -> str:
    # Where executions cannot be looked up (Express): should one have started after all, it may still
    # take the image from this `failed` (failedBy dead-letter) and record its outcome.
    if settings.workflow_type.can_describe_executions:
        arn = repair.execution_arn(settings.state_machine_arn, execution_name(upload))
        running = repair.execution_status(clients.get("stepfunctions"), arn)
        if running is not None:
            return f"its execution exists ({running}) and records the outcome; status unchanged"
    if status.fail_dead_letter(clients.get("dynamodb"), settings.table, upload, reason=reason, error=error,
                               dead_letter_id=dead_letter_id):
        repair.withdraw_published(clients.get("dynamodb"), settings, upload)
        metrics.add_metric(name="ImagesFailed", unit=MetricUnit.Count, value=1)
        return f"failed: {reason}"
    return "a newer upload, or a finished run of this one, owns the image; status unchanged"


def settle_execution(letter: ExecutionEnded, dead_letter_id: str, settings: RepairSettings) -> str:
    if letter.status == "FAILED" and letter.error in SETTLED_ERRORS:
        return f"execution ended {letter.error}; its status is already recorded"
    outcome = repair.settle_ended_execution(
        clients.get("dynamodb"), clients.get("sqs"), settings, upload=letter.upload, execution_arn=letter.execution_arn,
        status_name=letter.status, error=letter.error, cause=letter.cause, dead_letter_id=dead_letter_id,
        settled_by="dead-letter-event")
    metrics.add_metric(name=f"Executions{outcome.action.title()}", unit=MetricUnit.Count, value=1)
    return f"{outcome.action}: {outcome.detail}"


def archive(message_id: str, body: str, bucket: str) -> str:
    key = f"dead-letters/unreadable/{message_id}.json"
    clients.get("s3").put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    return f"s3://{bucket}/{key}"


def record_handler(record: dict[str, Any], settings: DlqProcessorSettings) -> None:
    receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount") or 0)
    message_id, body = record["messageId"], record["body"]
    try:
        letter = classify(body, settings.max_receive_count)
    except Exception as error:  # no body may make a dead letter loop; AWS calls come later
        letter = Unreadable(f"the dead letter could not be interpreted ({type(error).__name__})")
    details: dict[str, Any] = {"messageId": message_id, "receiveCount": receive_count}
    if isinstance(letter, Unreadable):
        metrics.add_metric(name="UnreadableDeadLetters", unit=MetricUnit.Count, value=1)
        title = "image-pipeline: unreadable message in the dead-letter queue"
        details |= {"reason": letter.reason, "archivedAt": archive(message_id, body, settings.repair.output_bucket)}
    elif isinstance(letter, UndeliveredUploads):
        outcomes = {f"{u['userId']}/{u['imageId']}": settle_undelivered(u, letter.error, letter.reason,
                                                                          message_id, settings.repair)
                    for u in letter.uploads}
        title = f"image-pipeline: {', '.join(outcomes)} could not be processed"
        details |= {"error": letter.error, "reason": letter.reason, "images": outcomes}
    else:
        outcome = settle_execution(letter, message_id, settings.repair)
        image = f"{letter.upload['userId']}/{letter.upload['imageId']}"
        title = f"image-pipeline: execution for {image} ended {letter.status}"
        details |= {"image": image, "execution": letter.execution_arn, "status": letter.status,
                    "error": letter.error, "outcome": outcome}
    logger.warning(title, extra=details)
    alert(clients.get("sns"), settings.repair.topic_arn, title=title, details=details | {"originalBody": body})


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = current(DlqProcessorSettings)
    return partial_batch_response(event.get("Records", []), lambda record: record_handler(record, settings), logger)
