"""S3 `ObjectCreated` -> one SQS message per valid upload (SendMessageBatch, groups of 10).

Invalid keys are rejected with a logged reason and a metric, never enqueued. Entries SQS
fails are retried with backoff; if some still fail the invocation raises, so Lambda's
asynchronous retries and then the on-failure destination (the DLQ) take over: an upload
is never silently dropped. No HeadObject here: the workflow reads user metadata later.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from contract.environment import at_cold_start, current
from contract.errors import EnqueueError, InvalidMessage, InvalidUploadKey
from contract.functions import S3EventHandlerSettings
from handlers.lifecycle.clients import clients
from handlers.lifecycle.uploads import message_attributes, upload_message

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
at_cold_start(S3EventHandlerSettings)
clients.warm("sqs")

BATCH = 10  # SendMessageBatch's maximum
RETRY_DELAYS = (0.05, 0.2, 0.8)  # seconds, with full jitter


def parse_records(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Upload messages for the valid records, and a reason for each rejected one."""
    uploads, rejected = [], []
    for record in records:
        try:
            uploads.append(upload_message(record))
        except (InvalidUploadKey, InvalidMessage) as error:
            rejected.append(str(error))
    return uploads, rejected


def enqueue(queue_url: str, uploads: list[dict[str, Any]], sqs: Any,
            sleep: Callable[[float], None] = time.sleep) -> None:
    """Send every upload; retry only the entries SQS failed; raise `EnqueueError` if any remain."""
    for start in range(0, len(uploads), BATCH):
        pending = {str(i): body for i, body in enumerate(uploads[start:start + BATCH])}
        failures: list[dict[str, Any]] = []
        for delay in (0.0, *RETRY_DELAYS):
            if delay:
                sleep(random.uniform(0, delay))
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": entry_id, "MessageBody": json.dumps(body), "MessageAttributes": message_attributes(body)}
                for entry_id, body in pending.items()])
            failures = response.get("Failed", [])
            pending = {f["Id"]: pending[f["Id"]] for f in failures}
            if not pending or any(f.get("SenderFault") for f in failures):
                break  # done, or a sender fault that no retry can fix
        if pending:
            keys = [body["s3Key"] for body in pending.values()]
            codes = sorted({f.get("Code", "?") for f in failures})
            raise EnqueueError(f"{len(keys)} upload(s) not enqueued ({', '.join(codes)}): {keys}")


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    if event.get("Event") == "s3:TestEvent":  # sent once when the notification is configured
        logger.info("Ignoring s3:TestEvent")
        return {"enqueued": 0, "rejected": 0}
    uploads, rejected = parse_records(event.get("Records", []))
    for reason in rejected:
        logger.warning("Rejected upload key", extra={"reason": reason})
    metrics.add_metric(name="RejectedKeys", unit=MetricUnit.Count, value=len(rejected))
    enqueue(current(S3EventHandlerSettings).queue_url, uploads, clients.get("sqs"))
    metrics.add_metric(name="UploadsEnqueued", unit=MetricUnit.Count, value=len(uploads))
    return {"enqueued": len(uploads), "rejected": len(rejected)}
