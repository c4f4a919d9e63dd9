"""Nothing stays unfinished: lost events, failing status writes and lost messages, repaired on the runner."""

from __future__ import annotations

import json

import boto3
import pytest

from handlers.lifecycle import status as status_writes
from local.faults import Faults
from local.runner import LocalRunner, Upload
from local.samples import encode, photo
from tests.e2e.workflow_types import WORKFLOW_TYPES, stack_settings
from tools import replay
from tools.status import plain_item

BIG, SMALL = encode(photo(640, 480), "JPEG", quality=80), encode(photo(320, 240), "JPEG", quality=80)


@pytest.fixture(params=WORKFLOW_TYPES)
def runner(request):
    runner = LocalRunner(stack_settings("dev", request.param), faults=Faults())
    with runner.running():
        yield runner


def express(runner) -> bool:
    """EXPRESS: no execution events at all (none to lose); the workflow reports unrecorded ends itself."""
    return runner.settings.workflow.type == "EXPRESS"


MARK_PROCESSING = "SET #status = :status, #pending"  # the workflow's first write (`faults.dynamodb_write_faults`)


def item(runner, image_id: str, user_id: str = "u") -> dict:
    raw = boto3.client("dynamodb").get_item(TableName=runner.pipeline.table,
                                            Key={"imageId": {"S": image_id}, "userId": {"S": user_id}})["Item"]
    return plain_item(raw)


def test_a_status_write_that_keeps_failing_is_re_run_and_completes(runner):
    runner.faults.target("dynamodb", MARK_PROCESSING, times=7)  # its 6 attempts and one more
    runner.run([Upload("a.jpg", "uploads/u/a.jpg", BIG)])
    done = item(runner, "a")
    assert (done["status"], done["width"]) == ("completed", "640")
    # The FAILED (StatusWriteFailed) execution went to the DLQ: by EventBridge, or EXPRESS's own report.
    assert runner.execution_events.sent == (0 if express(runner) else 1)
    assert any("re-run 1 of 2 queued" in a.get("outcome", "") for a in runner.read_alerts())


def test_a_completed_write_that_fails_and_a_lost_event_are_repaired_by_the_reconciler(runner):
    runner.faults.target("dynamodb", "#completedAt", times=7)  # RecordCompleted's 6 attempts and one more
    runner.faults.target("lost_event", "b-", times=1)
    runner.run([Upload("b.jpg", "uploads/u/b.jpg", BIG)])
    done = item(runner, "b")
    assert done["status"] == "completed"
    assert runner.faults.injected["lost_event"] == 1  # the execution event, or EXPRESS's own report
    assert runner.reconciler_runs and runner.reconciler_runs[0]["requeued"] == 1


def test_an_overwrite_whose_event_is_lost_still_ends_with_the_newest_content(runner):
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    runner.upload(Upload("c.jpg", "uploads/u/c.jpg", BIG))
    runner.delivery.pump_s3_events()  # the first upload is queued, not yet processed
    runner.upload(Upload("c.jpg", "uploads/u/c.jpg", SMALL))  # overwritten; its S3 event is lost:
    events = runner.emulator.events_url
    for message in sqs.receive_message(QueueUrl=events, MaxNumberOfMessages=10).get("Messages", []):
        sqs.delete_message(QueueUrl=events, ReceiptHandle=message["ReceiptHandle"])
    runner.settle()
    done = item(runner, "c")
    assert (done["status"], done["width"], done["height"]) == ("completed", "320", "240")
    current = s3.head_object(Bucket=runner.pipeline.input_bucket, Key="uploads/u/c.jpg")["ETag"].strip('"')
    assert done["uploadVersion"] == current


def test_a_replay_interrupted_before_its_send_is_resent_by_the_reconciler(runner):
    runner.faults.throttle = 1.0  # Step Functions is down: the upload is dead-lettered and failed
    runner.run([Upload("d.jpg", "uploads/u/d.jpg", BIG)])
    assert item(runner, "d")["status"] == "failed"
    runner.faults.throttle = 0.0

    class Interrupted:
        def send_message(self, **kwargs):
            raise KeyboardInterrupt

    dynamodb = boto3.client("dynamodb")
    with pytest.raises(KeyboardInterrupt):
        replay.replay_failed(dynamodb, Interrupted(), table=runner.pipeline.table, queue_url=runner.pipeline.queue_url)
    reverted = item(runner, "d")
    assert (reverted["status"], reverted["reason"]) == ("failed", "replay could not enqueue: KeyboardInterrupt: ")

    # A harder interruption: the status was reset and nothing was sent, nor reverted.
    status_writes.queue_again(dynamodb, runner.pipeline.table, "d", "u", condition="#status = :failed",
                              values={":failed": {"S": "failed"}}, attempt="7")
    runner.settle()
    done = item(runner, "d")
    assert done["status"] == "completed"
    assert sum(run["requeued"] for run in runner.reconciler_runs) == 1


def test_a_workflow_failure_can_be_replayed_from_its_stored_message(runner):
    from local.samples import truncated_jpeg

    runner.run([Upload("e.jpg", "uploads/u/e.jpg", truncated_jpeg())])
    failed = item(runner, "e")
    assert failed["status"] == "failed" and json.loads(failed["originalMessage"])["s3Key"] == "uploads/u/e.jpg"
    boto3.client("s3").put_object(Bucket=runner.pipeline.input_bucket, Key="uploads/u/e.jpg", Body=BIG)
    runner.settle()  # the fixed upload is a newer upload and completes on its own ...
    assert item(runner, "e")["status"] == "completed"


def test_replay_re_runs_a_workflow_failure(runner):
    runner.faults.target("dynamodb", "#completedAt", times=100)  # completion can never be recorded
    runner.run([Upload("f.jpg", "uploads/u/f.jpg", BIG)])
    failed = item(runner, "f")
    assert failed["status"] == "failed" and "after 2 re-run(s)" in failed["reason"]
    runner.faults.targeted["dynamodb"].clear()  # the fix
    result = replay.replay_failed(boto3.client("dynamodb"), boto3.client("sqs"), table=runner.pipeline.table,
                                  queue_url=runner.pipeline.queue_url, rate=1000)
    assert result.replayed == ["u/f"], result.skipped
    runner.settle()
    assert item(runner, "f")["status"] == "completed"


def test_a_first_status_write_that_keeps_failing_and_a_lost_event_still_end_completed(runner):
    """No status item, no event: the reconciler finds the FAILED execution itself and re-runs it (STANDARD),
    or finds the item the orchestrator marked `queued` (EXPRESS executions cannot be listed)."""
    runner.faults.target("dynamodb", MARK_PROCESSING, times=7)
    runner.faults.target("lost_event", "g-", times=1)
    runner.run([Upload("g.jpg", "uploads/u/g.jpg", BIG)])
    assert item(runner, "g")["status"] == "completed"
    assert runner.faults.injected["lost_event"] == 1
    assert sum(run["requeued"] for run in runner.reconciler_runs) == 1


def test_an_aws_error_on_one_image_does_not_stop_the_reconciler_for_the_others(runner):
    runner.faults.target("dynamodb", "#completedAt", times=14)  # both images: RecordCompleted kept failing
    runner.faults.target("lost_event", "h1-", times=1)
    runner.faults.target("lost_event", "h2-", times=1)
    for name in ("h1", "h2"):
        runner.upload(Upload(f"{name}.jpg", f"uploads/u/{name}.jpg", BIG))
    while runner.step():
        pass
    runner.wait_for_executions(below=1)
    runner.execution_events.forward()  # both events are lost: the images stay `processing`
    assert item(runner, "h1")["status"] == item(runner, "h2")["status"] == "processing"
    runner.faults.target("dynamodb", "'h1'", times=4)  # the reconciler's write for h1 fails, retries included
    runner.settle()
    assert (item(runner, "h1")["status"], item(runner, "h2")["status"]) == ("completed", "completed")
    assert any(run["errors"] for run in runner.reconciler_runs)


def test_an_express_report_after_the_reconcilers_re_send_is_re_run_at_once():
    """Found by the breaker: once the reconciler had re-sent the upload (queuedAttempt ""), the next report
    said the execution no longer owned the image, and the re-run waited for another reconciler period."""
    runner = LocalRunner(stack_settings("dev", "EXPRESS"), faults=Faults())
    with runner.running():
        runner.faults.target("dynamodb", MARK_PROCESSING, times=14)  # two executions' MarkProcessing fail
        runner.faults.target("lost_event", "a-", times=1)  # the first one's report is lost
        runner.run([Upload("a.jpg", "uploads/u/a.jpg", BIG)])
        assert item(runner, "a")["status"] == "completed"
        outcomes = [a.get("outcome", "") for a in runner.read_alerts()]
        assert any("re-run 1 of 2 queued" in o for o in outcomes), outcomes
        assert not any("no longer owns" in o for o in outcomes), outcomes


@pytest.mark.parametrize("workflow_type", WORKFLOW_TYPES)
def test_repair_attempts_zero_means_no_re_run_on_either_workflow_type(workflow_type):
    raw = stack_settings("dev", workflow_type)
    import dataclasses

    settings = dataclasses.replace(raw, workflow=dataclasses.replace(raw.workflow, repair_attempts=0))
    runner = LocalRunner(settings, faults=Faults())
    with runner.running():
        runner.faults.target("dynamodb", MARK_PROCESSING, times=7)
        runner.run([Upload("z.jpg", "uploads/u/z.jpg", BIG)])
        assert item(runner, "z")["status"] == "failed"
