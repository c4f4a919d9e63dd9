"""Settling an upload whose execution ended without recording its outcome.

Shared by the DLQ processor (execution events from EventBridge) and the reconciler (what
those events or a status write missed). An ended execution that still owns its image is
re-run when the failure was transient (a status write that kept failing, a timeout, a
throttled service) and it has re-run fewer than `REPAIR_ATTEMPTS` times; otherwise the image
is marked `failed` with a reason. An execution that no longer owns its image changes nothing.

With moderation on, settling an ended execution (and any `failed` the repairs write) first withdraws
what its upload published, unless the image still needs it (`withdraw_published`): an execution that
timed out or was stopped between publishing and its `completed` write ran no state to do so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from handlers.lifecycle import publication, status
from handlers.lifecycle.clients import clients
from handlers.lifecycle.uploads import rerun_message, upload_identity

TRANSIENT_PREFIXES = ("DynamoDB.", "Lambda.", "States.Timeout", "States.TaskFailed", "TransientError",
                      "StatusWriteFailed", "ServiceUnavailable", "ThrottlingException")
DEFAULT_REPAIR_ATTEMPTS = 2
SETTLED_ERRORS = ("ImageFailed", "StaleExecution")  # Fail states reached after the status was recorded
# An EXPRESS execution that ended without recording its image: EXPRESS executions cannot be described,
# so how it ended is unknown; it is treated like a timeout (re-run a bounded number of times).
UNRECORDED = "UNRECORDED"


@dataclass(frozen=True)
class Outcome:
    action: str  # "requeued", "failed", "nothing"
    detail: str


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def is_express(execution_arn: str) -> bool:
    """EXPRESS execution ARNs (`arn:aws:states:<region>:<account>:express:...`) cannot be described."""
    return ":express:" in execution_arn


def name_of(execution_arn: str) -> str:
    """The execution's name: `arn:...:execution:<machine>:<name>`, EXPRESS `arn:...:express:<machine>:<name>:<id>`."""
    return execution_arn.split(":")[-2 if is_express(execution_arn) else -1]


def express_workflow() -> bool:
    """The stack runs an EXPRESS workflow: no execution can be looked up by name or listed."""
    return os.environ.get("WORKFLOW_TYPE", "STANDARD") == "EXPRESS"


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


def repair_attempts() -> int:
    return int(os.environ.get("REPAIR_ATTEMPTS", DEFAULT_REPAIR_ATTEMPTS))


def attempt_number(upload: dict[str, Any]) -> int:
    """How many repairs led to this run (`replayAttempt` is `repair<N>` for those)."""
    attempt = str(upload.get("replayAttempt") or "")
    return int(attempt[6:]) if attempt.startswith("repair") and attempt[6:].isdigit() else 0


def _ended(status_name: str, error: str) -> str:
    if status_name == UNRECORDED:
        return "ended without recording its image (EXPRESS: its end is in the workflow's log group)"
    return f"ended {status_name} ({error or 'no error'})"


def transient(status_name: str, error: str) -> bool:
    return (status_name in ("TIMED_OUT", UNRECORDED)
            or (status_name == "FAILED" and error.startswith(TRANSIENT_PREFIXES)))


def withdraw_published(dynamodb: Any, table: str, upload: dict[str, Any], execution_arn: str = "") -> int:
    """With moderation on: `upload`'s published variants deleted unless its image still needs them
    (`handlers.lifecycle.publication.keeps_published`); how many. Nothing to do without moderation."""
    if os.environ.get("MODERATION") != "true":
        return 0
    item = status.get_item(dynamodb, table, upload["imageId"], upload["userId"])
    return publication.withdraw_unless_kept(item, upload_id=upload_identity(upload)["id"],
                                            prefix=publication.prefix_of(upload), execution_arn=execution_arn,
                                            bucket=os.environ["OUTPUT_BUCKET"], s3=clients.get("s3"))


def requeue(dynamodb: Any, sqs: Any, *, table: str, queue_url: str, upload: dict[str, Any],
            execution_arn: str, attempt: str) -> bool:
    """Queue a re-run of `upload` named `attempt`, if the ended `execution_arn` still owns its image
    or never took it while the upload is still the image's newest. False if another run owns it.

    Status first (`queued`, so the new execution may take the image), then the message; a
    crash between the two leaves a stale `queued` item, which the reconciler resends.
    """
    values = {":processing": {"S": "processing"}, ":executionArn": {"S": execution_arn},
              ":uploadId": {"S": upload_identity(upload)["id"]}, ":original": {"S": ""}}
    # Or this very re-run was queued already (a retried dead letter): send it again, same name. Or
    # (EXPRESS) this upload is queued to run as first sent (by the orchestrator, or the reconciler's
    # re-send of it) and no execution ever took the image.
    condition = (f"({status.OWNED}) OR (#status = :queued AND queuedAttempt = :attempt) "
                 "OR (#status = :queued AND #uploadId = :uploadId "
                 "AND (attribute_not_exists(queuedAttempt) OR queuedAttempt = :original))")
    owned = status.queue_again(dynamodb, table, upload["imageId"], upload["userId"], condition=condition,
                               values=values, attempt=attempt)
    if not owned and not status.is_newer(upload_identity(upload),
                                         status.get_item(dynamodb, table, upload["imageId"], upload["userId"])):
        return False
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(rerun_message(upload, attempt), sort_keys=True))
    return True


def settle_ended_execution(dynamodb: Any, sqs: Any, *, table: str, queue_url: str, upload: dict[str, Any],
                           execution_arn: str, status_name: str, error: str, cause: str, dead_letter_id: str,
                           settled_by: str) -> Outcome:
    """Re-run or fail the image `execution_arn` still owns after it ended with `status_name`."""
    image_id, user_id = upload["imageId"], upload["userId"]
    name = name_of(execution_arn)
    attempt = attempt_number(upload)
    # Before any write: while the ended execution still owns the image, no other run publishes under it.
    withdraw_published(dynamodb, table, upload, execution_arn)
    if transient(status_name, error) and attempt < repair_attempts():
        if requeue(dynamodb, sqs, table=table, queue_url=queue_url, upload=upload, execution_arn=execution_arn,
                   attempt=f"repair{attempt + 1}"):
            return Outcome("requeued", f"workflow execution {name} {_ended(status_name, error)}; "
                                       f"re-run {attempt + 1} of {repair_attempts()} queued")
        return Outcome("nothing", f"workflow execution {name} ended {status_name}, but no longer owns the image")
    reason = (f"workflow execution {name} " + _ended(status_name, "") if status_name == UNRECORDED else
              f"workflow execution {name} ended {status_name}" + (f" ({error}: {cause[:300]})" if error else ""))
    if attempt:
        reason += f" after {attempt} re-run(s)"
    if status.fail_owned(dynamodb, table, image_id, user_id, execution_arn, reason=reason,
                         error=f"Execution{status_name.title().replace('_', '')}", dead_letter_id=dead_letter_id,
                         failed_by=settled_by):
        return Outcome("failed", reason)
    return Outcome("nothing", f"workflow execution {name} ended {status_name}, but no longer owns the image")
