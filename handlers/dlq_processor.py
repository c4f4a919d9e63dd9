"""Dead-letter queue -> an SNS alert per message, and the image marked `failed`.

Three kinds of message reach the DLQ:
- an upload message the orchestrator failed on `maxReceiveCount` times;
- a Lambda on-failure record: the S3 event handler could not enqueue some uploads;
- a Step Functions status-change event: an execution timed out or was aborted.
Each is turned into (image, reason) pairs; a body nobody can parse still raises an alert.
`failed` is written conditionally: it never overwrites `completed`. The original body is
kept on the item so the image can be replayed after a fix.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from handlers.clients import clients
from handlers.errors import InvalidMessage, InvalidUploadKey
from handlers.status import mark_failed
from handlers.uploads import parse_message, upload_message

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
clients.warm("sns", "dynamodb")

SUBJECT_LIMIT = 99  # SNS subjects: ASCII, no line breaks, under 100 characters
MAX_ALERT_BODY = 200_000  # SNS messages are limited to 256 KB


def failed_uploads(body: str, receive_count: int) -> list[tuple[dict[str, Any], str, str]]:
    """(upload message, error, reason) for every image this DLQ message stands for."""
    try:
        return [(parse_message(body), "DeadLettered",
                 "processing could not be started; the message was moved to the dead-letter queue "
                 f"(received {receive_count} times in all)")]
    except InvalidMessage:
        pass
    document = json.loads(body)  # raises ValueError for non-JSON: the caller alerts on that
    if "requestPayload" in document and "responsePayload" in document:  # Lambda on-failure record
        error = document.get("responsePayload") or {}
        detail = error.get("errorMessage", "unknown error") if isinstance(error, dict) else str(error)
        uploads = []
        for record in (document.get("requestPayload") or {}).get("Records", []):
            try:
                uploads.append((upload_message(record), "EnqueueFailed", f"the upload could not be queued: {detail}"))
            except (InvalidUploadKey, KeyError):
                continue
        if uploads:
            return uploads
    if document.get("detail-type") == "Step Functions Execution Status Change":
        detail = document.get("detail") or {}
        upload = parse_message(detail.get("input") or "")
        status = detail.get("status", "UNKNOWN")
        return [(upload, f"Execution{status.title().replace('_', '')}",
                 f"workflow execution {detail.get('name', '?')} ended {status}")]
    raise InvalidMessage("the DLQ message is neither an upload, a Lambda failure record nor an execution event")


def subject(text: str) -> str:
    ascii_text = re.sub(r"[^\x20-\x7e]", "?", text)
    return ascii_text if len(ascii_text) <= SUBJECT_LIMIT else ascii_text[: SUBJECT_LIMIT - 3] + "..."


def alert(topic_arn: str, sns: Any, *, title: str, details: dict[str, Any]) -> None:
    message = json.dumps(details, indent=2, default=str)
    if len(message) > MAX_ALERT_BODY:
        details = details | {"originalBody": details.get("originalBody", "")[:10_000] + "... (truncated)"}
        message = json.dumps(details, indent=2, default=str)
    sns.publish(TopicArn=topic_arn, Subject=subject(title), Message=message)


def record_handler(record: SQSRecord) -> None:
    topic, table = os.environ["SNS_TOPIC_ARN"], os.environ["DYNAMODB_TABLE"]
    sns, dynamodb = clients.get("sns"), clients.get("dynamodb")
    receive_count = int(record.attributes.approximate_receive_count or 0)
    try:
        uploads = failed_uploads(record.body, receive_count)
    except (ValueError, InvalidMessage) as error:
        logger.error("Unreadable message in the dead-letter queue", extra={"reason": str(error)})
        metrics.add_metric(name="UnreadableDeadLetters", unit=MetricUnit.Count, value=1)
        alert(topic, sns, title="image-pipeline: unreadable message in the dead-letter queue",
              details={"reason": str(error), "messageId": record.message_id, "receiveCount": receive_count,
                       "originalBody": record.body})
        return
    for upload, error, reason in uploads:
        image_id, user_id = upload["imageId"], upload["userId"]
        logger.set_correlation_id(image_id)
        marked = mark_failed(dynamodb, table, image_id, user_id, reason=reason, error=error, original_body=upload)
        metrics.add_metric(name="ImagesFailed" if marked else "DeadLettersForFinishedImages",
                           unit=MetricUnit.Count, value=1)
        logger.warning("Image failed", extra={"reason": reason, "statusWritten": marked})
        title = (f"image-pipeline: image {image_id} failed" if marked
                 else f"image-pipeline: dead letter for image {image_id}, which had already finished")
        alert(topic, sns, title=title,
              details={"imageId": image_id, "userId": user_id, "reason": reason, "error": error,
                       "receiveCount": receive_count, "statusWritten": marked,
                       "originalBody": record.body})


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
