"""Scheduled repair of what the event path missed: no image stays `queued` or `processing`.

EventBridge runs this every few minutes. Items still pending since before the stale bound
(the execution timeout plus a margin) are read from the status table's sparse `pending`
index, and each is settled:
- `queued` (a replay or re-run whose message was lost): sent again under the same name,
  a bounded number of times, then `failed`;
- `processing` whose execution still runs: left alone (Step Functions ends it at its timeout);
- `processing` whose execution ended without recording (a lost EventBridge event, a status
  write that kept failing): re-run or `failed` by the same rules as the DLQ processor;
- `processing` whose execution ended superseded by an overwrite whose own event was lost:
  the object now in S3 is queued as the newer upload it is (or the image `failed` if the
  object is gone).
Each repair raises one alert.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from handlers import repair, status
from handlers.alerts import alert
from handlers.clients import clients
from handlers.dlq_processor import execution_status
from handlers.uploads import event_time

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
clients.warm("dynamodb", "stepfunctions", "sqs", "sns", "s3")
DEFAULT_STALE_AFTER = 1_200  # seconds: the default execution timeout (900) plus a 5-minute margin


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: next(iter(value.values())) for name, value in item.items()}


def stored_upload(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("originalMessage"):
        return json.loads(item["originalMessage"])
    return {name: item[name] for name in ("imageId", "userId", "s3Key", "bucketName") if name in item}


def current_object(upload: dict[str, Any]) -> dict[str, Any] | None:
    """HeadObject of the key as it is now; None if it no longer exists."""
    try:
        return clients.get("s3").head_object(Bucket=upload["bucketName"], Key=upload["s3Key"])
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def newer_object_message(upload: dict[str, Any], head: dict[str, Any], sequencer: str) -> dict[str, Any]:
    """A message for the object now under the key, ordered just after the upload it replaced.

    Its event was lost, so its sequencer is unknown: the item's sequencer plus one digit sorts
    after the replaced upload and before any real later sequencer of the key.
    """
    body = {k: v for k, v in upload.items() if k not in ("upload", "replayAttempt", "versionId")}
    body |= {"eTag": head["ETag"].strip('"'), "sequencer": sequencer + "1", "fileSize": head["ContentLength"],
             "uploadTimestamp": event_time(head["LastModified"].isoformat())}
    if head.get("VersionId") and head["VersionId"] != "null":
        body["versionId"] = head["VersionId"]
    return body


def settle_processing(item: dict[str, Any], upload: dict[str, Any]) -> repair.Outcome:
    env, arn = os.environ, item["executionArn"]
    described: dict[str, Any] = {}
    if execution_status(clients.get("stepfunctions"), arn) is not None:
        described = clients.get("stepfunctions").describe_execution(executionArn=arn)
    state = described.get("status", "MISSING")
    if state == "RUNNING":
        return repair.Outcome("nothing", "its execution is still running")
    if described.get("error") == "StaleExecution":
        head = current_object(upload)
        now_version = head and ((head.get("VersionId") or "").replace("null", "") or head["ETag"].strip('"'))
        if head is not None and now_version != item.get("uploadVersion"):
            body = newer_object_message(upload, head, item.get("uploadSequencer", ""))
            clients.get("sqs").send_message(QueueUrl=env["SQS_QUEUE_URL"], MessageBody=json.dumps(body))
            return repair.Outcome("requeued", "the upload was overwritten and the newer upload's event was lost; "
                                              "the object now in S3 was queued")
    return repair.settle_ended_execution(
        clients.get("dynamodb"), clients.get("sqs"), table=env["DYNAMODB_TABLE"], queue_url=env["SQS_QUEUE_URL"],
        upload=upload, execution_arn=arn, status_name=state, error=described.get("error", ""),
        cause=described.get("cause", ""), dead_letter_id=f"reconciled:{arn}", settled_by="reconciler")


def settle_queued(item: dict[str, Any], upload: dict[str, Any]) -> repair.Outcome:
    env, dynamodb = os.environ, clients.get("dynamodb")
    since, attempt = item.get("pendingSince", ""), item.get("queuedAttempt") or str(item.get("replayCount", ""))
    if int(item.get("repairCount", 0)) > repair.repair_attempts():
        reason = "queued for a re-run that never started"
        written = status.fail_queued(dynamodb, env["DYNAMODB_TABLE"], upload["imageId"], upload["userId"], since,
                                     reason=reason)
        return repair.Outcome("failed" if written else "nothing", reason)
    values = {":since": {"S": since}}
    if status.queue_again(dynamodb, env["DYNAMODB_TABLE"], upload["imageId"], upload["userId"],
                          condition="#status = :queued AND pendingSince = :since", values=values, attempt=attempt):
        body = {k: v for k, v in upload.items() if k != "upload"} | {"replayAttempt": attempt}
        clients.get("sqs").send_message(QueueUrl=env["SQS_QUEUE_URL"], MessageBody=json.dumps(body))
        return repair.Outcome("requeued", f"queued re-run {attempt or '(original)'} never started; sent again")
    return repair.Outcome("nothing", "changed meanwhile")


def reconcile(now: datetime) -> dict[str, int]:
    env = os.environ
    cutoff = now - timedelta(seconds=int(env.get("STALE_AFTER_SECONDS", DEFAULT_STALE_AFTER)))
    stale = status.stale_items(clients.get("dynamodb"), env["DYNAMODB_TABLE"],
                               cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    counts = {"stale": len(stale), "requeued": 0, "failed": 0, "nothing": 0}
    for raw in stale:
        item = plain(raw)
        upload = stored_upload(item)
        settle = settle_queued if item.get("status") == "queued" else settle_processing
        outcome = settle(item, upload)
        counts[outcome.action] += 1
        if outcome.action != "nothing":
            image = f"{item['userId']}/{item['imageId']}"
            logger.warning("Reconciled a stale image", extra={"image": image, "outcome": outcome.detail})
            alert(clients.get("sns"), env["SNS_TOPIC_ARN"], title=f"image-pipeline: {image} {outcome.action} by the "
                  "reconciler", details={"image": image, "status": item.get("status"), "outcome": outcome.detail,
                                         "pendingSince": item.get("pendingSince")})
    for name in ("requeued", "failed"):
        metrics.add_metric(name=f"Reconciled{name.title()}", unit=MetricUnit.Count, value=counts[name])
    return counts


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    # A scheduled event carries its time; the local runner's virtual clock sets it too.
    scheduled = event.get("time")
    now = datetime.fromisoformat(scheduled.replace("Z", "+00:00")) if scheduled else datetime.now(UTC)
    return reconcile(now)
