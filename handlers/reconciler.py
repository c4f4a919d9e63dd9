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
  object is gone);
- no item at all, because the execution's first status write kept failing and its event was
  lost: found among the executions that FAILED in the last two schedule periods before the stale
  bound, and re-run (where executions can be listed; an Express workflow reports those to the DLQ itself);
- Express executions cannot be described: one still `processing` past the stale bound has ended
  (they run 5 minutes at most) without recording, and is re-run or `failed` like a timeout.
Each repair raises one alert.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from contract.environment import at_cold_start, current
from contract.errors import ReconcileIncomplete
from contract.functions import ReconcilerSettings, RepairSettings
from contract.ownership import QUEUED, SETTLED_ERRORS
from contract.workflow_types import type_of_execution
from handlers.lifecycle import repair, status
from handlers.lifecycle.alerts import alert
from handlers.lifecycle.clients import clients
from handlers.lifecycle.repair import execution_arn, execution_status
from handlers.lifecycle.uploads import execution_name, rerun_message, upload_identity, utc_iso

logger = Logger()
metrics = Metrics(namespace="ImagePipeline")
at_cold_start(ReconcilerSettings)
clients.warm("dynamodb", "stepfunctions", "sqs", "sns", "s3")


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
             "uploadTimestamp": utc_iso(head["LastModified"])}
    if head.get("VersionId") and head["VersionId"] != "null":
        body["versionId"] = head["VersionId"]
    return body


def settle_processing(item: dict[str, Any], upload: dict[str, Any], settings: RepairSettings) -> repair.Outcome:
    arn = item["executionArn"]
    if not type_of_execution(arn).can_describe_executions:
        # Stale beyond the longest an execution of its type runs, so ended; how, only its log says.
        described: dict[str, Any] = {"status": repair.UNRECORDED}
    else:
        described = repair.describe_execution(clients.get("stepfunctions"), arn) or {}
    state = described.get("status", "MISSING")
    if state == "RUNNING":
        return repair.Outcome("nothing", "its execution is still running")
    if described.get("error") == "StaleExecution" or state == repair.UNRECORDED:
        head = current_object(upload)
        now_version = head and ((head.get("VersionId") or "").replace("null", "") or head["ETag"].strip('"'))
        if head is not None and now_version != item.get("uploadVersion"):
            body = newer_object_message(upload, head, item.get("uploadSequencer", ""))
            clients.get("sqs").send_message(QueueUrl=settings.queue_url, MessageBody=json.dumps(body))
            return repair.Outcome("requeued", "the upload was overwritten and the newer upload's event was lost; "
                                              "the object now in S3 was queued")
    return repair.settle_ended_execution(
        clients.get("dynamodb"), clients.get("sqs"), settings, upload=upload, execution_arn=arn, status_name=state,
        error=described.get("error", ""), cause=described.get("cause", ""), dead_letter_id=f"reconciled:{arn}",
        settled_by="reconciler")


def settle_queued(item: dict[str, Any], upload: dict[str, Any], settings: RepairSettings) -> repair.Outcome:
    dynamodb = clients.get("dynamodb")
    since, attempt = item.get("pendingSince", ""), item.get("queuedAttempt") or str(item.get("replayCount", ""))
    if int(item.get("repairCount", 0)) > settings.repair_attempts:
        reason = ("queued, but no execution recorded taking the image after every re-send (none started, or "
                  "each one's first status write kept failing)")
        written = status.fail_queued(dynamodb, settings.table, upload["imageId"], upload["userId"], since,
                                     reason=reason)
        if written:
            repair.withdraw_published(dynamodb, settings, upload)
        return repair.Outcome("failed" if written else "nothing", reason)
    values = {":since": {"S": since}}
    if status.queue_again(dynamodb, settings.table, upload["imageId"], upload["userId"],
                          condition="#status = :queued AND pendingSince = :since", values=values, attempt=attempt):
        clients.get("sqs").send_message(QueueUrl=settings.queue_url,
                                        MessageBody=json.dumps(rerun_message(upload, attempt)))
        return repair.Outcome("requeued", f"queued re-run {attempt or '(original)'} never started; sent again")
    return repair.Outcome("nothing", "changed meanwhile")


def unrecorded_failures(state_machine_arn: str, since: datetime, until: datetime,
                        longest_run: timedelta) -> list[dict[str, Any]]:
    """Executions that FAILED between `since` and `until` without recording their image's status.

    ListExecutions returns the newest first: paging stops at executions that started so long
    before `since` that they must have stopped before it, so a run reads only recent pages.
    """
    sfn, found = clients.get("stepfunctions"), []
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "statusFilter": "FAILED", "maxResults": 100}
    while True:
        page = sfn.list_executions(**kwargs)
        for execution in page["executions"]:
            if execution["startDate"] < since - longest_run:
                return found
            stopped = execution.get("stopDate")
            if stopped is not None and since <= stopped < until:
                described = sfn.describe_execution(executionArn=execution["executionArn"])
                if described.get("error") not in SETTLED_ERRORS:
                    found.append(described)
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]


def settle_unrecorded(described: dict[str, Any], settings: RepairSettings) -> repair.Outcome:
    """An execution that failed before its image reflected it (its first status write kept failing)
    and whose EventBridge event was lost: re-run it once, as the DLQ processor would have."""
    dynamodb = clients.get("dynamodb")
    upload = json.loads(described["input"])
    item = status.get_item(dynamodb, settings.table, upload["imageId"], upload["userId"])
    if not status.is_newer(upload_identity(upload), item):
        return repair.Outcome("nothing", "the image reflects this or a newer upload")
    attempt = repair.attempt_number(upload) + 1
    rerun = rerun_message(upload, f"repair{attempt}")
    if execution_status(clients.get("stepfunctions"), execution_arn(settings.state_machine_arn,
                                                                     execution_name(rerun))) is not None:
        return repair.Outcome("nothing", "already re-run")
    if attempt <= settings.repair_attempts:
        clients.get("sqs").send_message(QueueUrl=settings.queue_url, MessageBody=json.dumps(rerun))
        return repair.Outcome("requeued", f"execution {described['name']} failed "
                                                  f"({described.get('error')}) before recording; re-run queued")
    reason = f"workflow execution {described['name']} failed ({described.get('error')}) before recording the image"
    written = status.fail_dead_letter(dynamodb, settings.table, upload, reason=reason, error="ExecutionFailed",
                                      dead_letter_id=described["executionArn"], idempotent=False)
    if written:
        repair.withdraw_published(dynamodb, settings, upload)
    return repair.Outcome("failed" if written else "nothing", reason)


def reconcile(now: datetime, settings: ReconcilerSettings) -> dict[str, int]:
    repairs = settings.repair
    stale_after = timedelta(seconds=settings.stale_after_seconds)
    cutoff = now - stale_after
    stale = status.stale_items(clients.get("dynamodb"), repairs.table, utc_iso(cutoff))
    counts = {"stale": len(stale), "requeued": 0, "failed": 0, "nothing": 0, "errors": 0}

    def report(upload: dict[str, Any], state: str, settle: Callable[[], repair.Outcome]) -> None:
        """Settle one image; an AWS error on it is counted and the run goes on with the others."""
        try:
            outcome = settle()
        except ClientError as error:
            counts["errors"] += 1
            logger.exception("Could not reconcile an image", extra={"image": upload.get("imageId"),
                                                                    "code": error.response["Error"]["Code"]})
            return
        counts[outcome.action] += 1
        if outcome.action != "nothing":
            image = f"{upload['userId']}/{upload['imageId']}"
            logger.warning("Reconciled an image", extra={"image": image, "outcome": outcome.detail})
            alert(clients.get("sns"), repairs.topic_arn, title=f"image-pipeline: {image} {outcome.action} by the "
                  "reconciler", details={"image": image, "status": state, "outcome": outcome.detail})

    for raw in stale:
        item = status.plain_item(raw)
        upload = stored_upload(item)
        settle = settle_queued if item.get("status") == QUEUED else settle_processing
        report(upload, item.get("status", ""),
               lambda item=item, upload=upload, settle=settle: settle(item, upload, repairs))
    # Executions that never wrote a status item leave nothing pending: ask Step Functions for those
    # that became stale since about the previous run (two periods: a late or skipped run misses none).
    # Executions that cannot be listed (Express) report such failures to the DLQ themselves.
    period = timedelta(minutes=settings.reconcile_every_minutes)
    recent = (unrecorded_failures(repairs.state_machine_arn, cutoff - 2 * period, cutoff, longest_run=stale_after)
              if repairs.workflow_type.can_describe_executions else [])
    for described in recent:
        upload = json.loads(described["input"])
        report(upload, "no status", lambda described=described: settle_unrecorded(described, repairs))
    for name in ("requeued", "failed", "errors"):
        metrics.add_metric(name=f"Reconciled{name.title()}", unit=MetricUnit.Count, value=counts[name])
    if counts["errors"]:  # the others are settled; fail the run so its errors alarm fires, the next retries
        raise ReconcileIncomplete(f"{counts['errors']} image(s) could not be reconciled; see the log", counts)
    return counts


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    # A scheduled event carries its time; the local runner's virtual clock sets it too.
    scheduled = event.get("time")
    now = datetime.fromisoformat(scheduled.replace("Z", "+00:00")) if scheduled else datetime.now(UTC)
    return reconcile(now, current(ReconcilerSettings))
