"""Settling an upload whose execution ended without recording its outcome.

Shared by the DLQ processor (execution events from EventBridge) and the reconciler (what
those events or a status write missed). An ended execution that still owns its image is
re-run when the failure was transient (a status write that kept failing, a timeout, a
throttled service) and it has re-run fewer than `RepairSettings.repair_attempts` times; otherwise
the image is marked `failed` with a reason. An execution that no longer owns its image changes nothing.

With moderation on, settling an ended execution (and any `failed` the repairs write) first withdraws
what its upload published, unless the image still needs it (`withdraw_published`): an execution that
timed out or was stopped between publishing and its `completed` write ran no state to do so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from contract.functions import RepairSettings
from contract.ownership import OWNED, PROCESSING
from contract.workflow_types import execution_name, type_of_execution
from handlers.lifecycle import publication, status
from handlers.lifecycle.clients import clients
from handlers.lifecycle.uploads import rerun_message, upload_identity

TRANSIENT_PREFIXES = ("DynamoDB.", "Lambda.", "States.Timeout", "States.TaskFailed", "TransientError",
                      "StatusWriteFailed", "ServiceUnavailable", "ThrottlingException")
# An execution that ended without recording its image, of a workflow type whose executions cannot be
# described (Express): how it ended is unknown; it is treated like a timeout (re-run a bounded number
# of times).
UNRECORDED = "UNRECORDED"


@dataclass(frozen=True)
class Outcome:
    action: str  # "requeued", "failed", "nothing"
    detail: str


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def describe_execution(sfn: Any, arn: str) -> dict[str, Any] | None:
    """DescribeExecution, or None if the execution was never started."""
    try:
        return sfn.describe_execution(executionArn=arn)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return None
        raise


def execution_status(sfn: Any, arn: str) -> str | None:
    """The execution's status, or None if it was never started."""
    described = describe_execution(sfn, arn)
    return described["status"] if described else None


def attempt_number(upload: dict[str, Any]) -> int:
    """How many repairs led to this run (`replayAttempt` is `repair<N>` for those)."""
    attempt = str(upload.get("replayAttempt") or "")
    return int(attempt[6:]) if attempt.startswith("repair") and attempt[6:].isdigit() else 0


def _ended(status_name: str, error: str, execution_arn: str) -> str:
    if status_name == UNRECORDED:
        kind = type_of_execution(execution_arn)
        return f"ended without recording its image ({kind}: its end is in the workflow's log group)"
    return f"ended {status_name} ({error or 'no error'})"


def transient(status_name: str, error: str) -> bool:
    return (status_name in ("TIMED_OUT", UNRECORDED)
            or (status_name == "FAILED" and error.startswith(TRANSIENT_PREFIXES)))


def withdraw_published(dynamodb: Any, settings: RepairSettings, upload: dict[str, Any],
                       execution_arn: str = "") -> int:
    """With moderation on: `upload`'s published variants deleted unless its image still needs them
    (`handlers.lifecycle.publication.keeps_published`); how many. Nothing to do without moderation."""
    if not settings.moderation:
        return 0
    item = status.get_item(dynamodb, settings.table, upload["imageId"], upload["userId"])
    return publication.withdraw_unless_kept(item, upload_id=upload_identity(upload)["id"],
                                            prefix=publication.prefix_of(upload), execution_arn=execution_arn,
                                            bucket=settings.output_bucket, s3=clients.get("s3"))


def requeue(dynamodb: Any, sqs: Any, settings: RepairSettings, *, upload: dict[str, Any], execution_arn: str,
            attempt: str) -> bool:
    """Queue a re-run of `upload` named `attempt`, if the ended `execution_arn` still owns its image
    or never took it while the upload is still the image's newest. False if another run owns it.

    Status first (`queued`, so the new execution may take the image), then the message; a
    crash between the two leaves a stale `queued` item, which the reconciler resends.
    """
    table = settings.table
    values = {":processing": {"S": PROCESSING}, ":executionArn": {"S": execution_arn},
              ":uploadId": {"S": upload_identity(upload)["id"]}, ":original": {"S": ""}}
    # Or this very re-run was queued already (a retried dead letter): send it again, same name. Or (a
    # workflow type that marks uploads queued) this upload is queued to run as first sent (by the
    # orchestrator, or the reconciler's re-send of it) and no execution ever took the image.
    condition = (f"({OWNED}) OR (#status = :queued AND queuedAttempt = :attempt) "
                 "OR (#status = :queued AND #uploadId = :uploadId "
                 "AND (attribute_not_exists(queuedAttempt) OR queuedAttempt = :original))")
    owned = status.queue_again(dynamodb, table, upload["imageId"], upload["userId"], condition=condition,
                               values=values, attempt=attempt)
    if not owned and not status.is_newer(upload_identity(upload),
                                         status.get_item(dynamodb, table, upload["imageId"], upload["userId"])):
        return False
    sqs.send_message(QueueUrl=settings.queue_url,
                     MessageBody=json.dumps(rerun_message(upload, attempt), sort_keys=True))
    return True


def settle_ended_execution(dynamodb: Any, sqs: Any, settings: RepairSettings, *, upload: dict[str, Any],
                           execution_arn: str, status_name: str, error: str, cause: str, dead_letter_id: str,
                           settled_by: str) -> Outcome:
    """Re-run or fail the image `execution_arn` still owns after it ended with `status_name`."""
    image_id, user_id = upload["imageId"], upload["userId"]
    name = execution_name(execution_arn)
    attempt = attempt_number(upload)
    # Before any write: while the ended execution still owns the image, no other run publishes under it.
    withdraw_published(dynamodb, settings, upload, execution_arn)
    if transient(status_name, error) and attempt < settings.repair_attempts:
        if requeue(dynamodb, sqs, settings, upload=upload, execution_arn=execution_arn,
                   attempt=f"repair{attempt + 1}"):
            return Outcome("requeued", f"workflow execution {name} {_ended(status_name, error, execution_arn)}; "
                                       f"re-run {attempt + 1} of {settings.repair_attempts} queued")
        return Outcome("nothing", f"workflow execution {name} ended {status_name}, but no longer owns the image")
    reason = (f"workflow execution {name} " + _ended(status_name, "", execution_arn) if status_name == UNRECORDED else
              f"workflow execution {name} ended {status_name}" + (f" ({error}: {cause[:300]})" if error else ""))
    if attempt:
        reason += f" after {attempt} re-run(s)"
    if status.fail_owned(dynamodb, settings.table, image_id, user_id, execution_arn, reason=reason,
                         error=f"Execution{status_name.title().replace('_', '')}", dead_letter_id=dead_letter_id,
                         failed_by=settled_by):
        return Outcome("failed", reason)
    return Outcome("nothing", f"workflow execution {name} ended {status_name}, but no longer owns the image")
