"""The operations tools against the local runner: look up, replay after a fix, redrive, metrics."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from components import Settings, read_stack_settings
from local.faults import Faults
from local.runner import LocalRunner, Upload
from local.samples import encode, photo, text_named_jpg
from tools import __main__ as cli
from tools import metrics, replay, status

SETTINGS = Settings.from_dict(read_stack_settings("dev"))
GOOD = encode(photo(320, 240), "JPEG", quality=80)


@pytest.fixture
def runner():
    runner = LocalRunner(SETTINGS, faults=Faults(throttle=1.0))  # StartExecution is down: all dead-lettered
    with runner.running():
        yield runner


def args(runner, *argv: str) -> argparse.Namespace:
    p = runner.pipeline
    parsed = cli.parse_args([*argv, "--table", p.table, "--queue-url", p.queue_url, "--dlq-url", p.dlq_url])
    return parsed


def test_status_and_failures_since_after_an_outage(runner):
    runner.run([Upload("a.jpg", "uploads/alice/a.jpg", GOOD)])
    item = status.image_status(boto3.client("dynamodb"), runner.pipeline.table, key="uploads/alice/a.jpg")
    assert item["status"] == "failed" and item["error"] == "DeadLettered"
    text = cli.run(args(runner, "status", "--key", "uploads/alice/a.jpg"))
    assert "status     failed" in text and "processing could not be started" in text
    listing = cli.run(args(runner, "status", "--failed-since", "2000-01-01T00:00:00Z"))
    assert "alice" in listing and listing.count("\n") == 1
    assert cli.run(args(runner, "status", "--failed-since", "2999-01-01T00:00:00Z")) == "no failures"


def test_replay_after_the_fix_completes_the_images_and_never_touches_completed_ones(runner):
    runner.run([Upload("a.jpg", "uploads/alice/a.jpg", GOOD), Upload("b.jpg", "uploads/bob/b.jpg", GOOD)])
    dry = cli.run(args(runner, "replay", "--dry-run"))
    assert dry.startswith("would replay 2, skipped 0")
    runner.faults.throttle = 0.0  # the fix
    result = replay.replay_failed(boto3.client("dynamodb"), boto3.client("sqs"), table=runner.pipeline.table,
                                  queue_url=runner.pipeline.queue_url, rate=1000)
    assert sorted(result.replayed) == ["alice/a", "bob/b"]
    runner.run([])
    dynamodb = boto3.client("dynamodb")
    for key in ("uploads/alice/a.jpg", "uploads/bob/b.jpg"):
        item = status.image_status(dynamodb, runner.pipeline.table, key=key)
        assert (item["status"], item["replayCount"]) == ("completed", "1"), item
    again = replay.replay_failed(dynamodb, boto3.client("sqs"), table=runner.pipeline.table,
                                 queue_url=runner.pipeline.queue_url)
    assert again.replayed == []


def test_a_permanent_rejection_stays_failed_when_replayed(runner):
    runner.faults.throttle = 0.0
    runner.run([Upload("notes.jpg", "uploads/carol/notes.jpg", text_named_jpg())])
    replay.replay_failed(boto3.client("dynamodb"), boto3.client("sqs"), table=runner.pipeline.table,
                         queue_url=runner.pipeline.queue_url, rate=1000)
    runner.run([])
    item = status.image_status(boto3.client("dynamodb"), runner.pipeline.table, key="uploads/carol/notes.jpg")
    assert item["status"] == "failed" and item["reason"].startswith("the file is not a JPEG")


def test_redrive_moves_dlq_messages_back_and_resets_their_status(runner):
    runner.faults.throttle = 0.0
    sqs, dynamodb, p = boto3.client("sqs"), boto3.client("dynamodb"), runner.pipeline
    boto3.client("s3").put_object(Bucket=p.input_bucket, Key="uploads/dave/d.jpg", Body=GOOD)
    runner.pump_s3_events()  # enqueued; now pretend it was dead-lettered while the processor was off
    [message] = sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    sqs.delete_message(QueueUrl=p.queue_url, ReceiptHandle=message["ReceiptHandle"])
    sqs.send_message(QueueUrl=p.dlq_url, MessageBody=message["Body"])
    sqs.send_message(QueueUrl=p.dlq_url, MessageBody="not an upload")
    dynamodb.put_item(TableName=p.table, Item={"imageId": {"S": "d"}, "userId": {"S": "dave"},
                                               "status": {"S": "failed"}, "failedAt": {"S": "2026-01-01"}})
    result = replay.redrive_dlq(dynamodb, sqs, table=p.table, queue_url=p.queue_url, dlq_url=p.dlq_url, rate=1000)
    assert len(result.replayed) == 1 and len(result.skipped) == 1
    assert status.image_status(dynamodb, p.table, key="uploads/dave/d.jpg")["status"] == "queued"
    runner.run([])
    assert status.image_status(dynamodb, p.table, key="uploads/dave/d.jpg")["status"] == "completed"


def test_metrics_prints_the_last_hour_per_five_minutes(runner):
    cloudwatch, p = boto3.client("cloudwatch"), runner.pipeline
    queue = p.queue_url.rsplit("/", 1)[-1]
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    end -= timedelta(minutes=end.minute % 5)
    for minutes_ago, value in ((12, 40.0), (7, 10.0)):
        cloudwatch.put_metric_data(Namespace="AWS/SQS", MetricData=[{
            "MetricName": "NumberOfMessagesSent", "Dimensions": [{"Name": "QueueName", "Value": queue}],
            "Timestamp": end - timedelta(minutes=minutes_ago), "Value": value}])
    series = metrics.queue_metrics(cloudwatch, [queue], end=end)
    assert len(series) == len(metrics.METRICS) * len(metrics.STATS)
    assert sorted(series[queue, "NumberOfMessagesSent", "Sum"].values()) == [10.0, 40.0]
    text = metrics.table(series, end=end)
    sent_sum = next(line for line in text.splitlines() if "NumberOfMessagesSent" in line and " Sum " in line)
    assert sent_sum.split()[-3:] == ["40.0", "10.0", "-"]  # 15 and 10 minutes ago; nothing in the last 5
    assert cli.run(args(runner, "metrics")).count("\n") == 2 * len(metrics.METRICS) * len(metrics.STATS) + 1


def test_missing_resources_are_named():
    parsed = cli.parse_args(["status", "--key", "uploads/a/b.jpg"])
    with pytest.raises(ValueError, match="missing --table"):
        cli.run(parsed)


def test_resource_names_can_come_from_saved_stack_outputs(tmp_path, runner):
    p = runner.pipeline
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"table_name": p.table, "queue_url": p.queue_url,
                                   "dead_letter_queue_url": p.dlq_url}))
    parsed = cli.parse_args(["status", "--outputs", str(outputs), "--failed-since", "2999-01-01"])
    assert cli.run(parsed) == "no failures"


def test_native_redrive_asks_sqs_to_move_the_dlq_at_the_given_rate():
    calls = []

    class Sqs:
        def start_message_move_task(self, **kwargs):
            calls.append(kwargs)
            return {"TaskHandle": "handle-1"}

    assert replay.native_redrive(Sqs(), dlq_arn="arn:dlq", queue_arn="arn:q", rate=10) == "handle-1"
    assert calls == [{"SourceArn": "arn:dlq", "DestinationArn": "arn:q", "MaxNumberOfMessagesPerSecond": 10}]


@pytest.mark.parametrize("argv", [["status", "--failed-since", "yesterday"], ["replay", "--rate", "0"],
                                  ["replay", "--failed-since", "1"]])
def test_bad_arguments_are_refused_before_anything_changes(argv, capsys):
    with pytest.raises(SystemExit) as exit_code:
        cli.parse_args(argv)
    assert exit_code.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_times_with_an_offset_are_compared_in_utc_and_durations_count_back_from_now():
    assert cli.timestamp("2026-11-28T10:00:00+14:00") == "2026-11-27T20:00:00.000Z"
    assert cli.timestamp("2026-11-28") == "2026-11-28T00:00:00.000Z"
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    assert abs(datetime.fromisoformat(cli.timestamp("2h").replace("Z", "+00:00")) - two_hours_ago).total_seconds() < 5
    assert cli.timestamp("1d") < cli.timestamp("30m")


def test_a_missing_region_is_one_line_saying_how_to_set_it(monkeypatch, capsys):
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert cli.main(["status", "--table", "t", "--key", "uploads/a/b.jpg"]) == 2
    assert capsys.readouterr().err.startswith("error: no AWS region: set AWS_REGION")


def test_a_key_that_is_not_an_upload_key_is_one_line_not_a_traceback(capsys):
    assert cli.main(["status", "--key", "photo.jpg", "--table", "t"]) == 2
    assert capsys.readouterr().err.startswith("error: key 'photo.jpg' is not uploads/{userId}/{imageId}.{ext}")


def test_smoke_passes_against_the_local_pipeline_and_cleans_up():
    from tools import smoke

    runner = LocalRunner(SETTINGS)
    with runner.running():
        p = runner.pipeline
        session = boto3.session.Session()
        result = smoke.smoke(session, input_bucket=p.input_bucket, output_bucket=p.output_bucket, table=p.table,
                             topic_arn=p.topic_arn, sizes=SETTINGS.workflow.variant_sizes, timeout=120,
                             sleep=lambda _: runner.settle())
        assert result.ok, result.table()
        assert [c.status for c in result.checks] == ["completed"] * 4 + ["failed"]
        assert result.checks[-1].detail.startswith("InvalidImage: the JPEG")  # rejected, with its own reason
        assert result.alerts == "the topic delivered a test message to a subscriber"
        assert "smoke test passed" in result.table()
        # Nothing left behind: uploads, variants, status items.
        s3 = boto3.client("s3")
        assert s3.list_objects_v2(Bucket=p.input_bucket).get("KeyCount", 0) == 0
        assert s3.list_objects_v2(Bucket=p.output_bucket, Prefix="variants/smoke-").get("KeyCount", 0) == 0
        assert boto3.client("dynamodb").scan(TableName=p.table)["Items"] == []


def test_smoke_fails_when_an_image_does_not_end_right():
    from tools import smoke

    runner = LocalRunner(SETTINGS, faults=Faults(throttle=1.0))  # nothing can start: all dead-lettered
    with runner.running():
        p = runner.pipeline
        result = smoke.smoke(boto3.session.Session(), input_bucket=p.input_bucket, output_bucket=p.output_bucket,
                             table=p.table, topic_arn=p.topic_arn, sizes=[1280, 640, 160], timeout=60,
                             sleep=lambda _: runner.settle())
        assert not result.ok and "smoke test FAILED" in result.table()


def test_smoke_fails_when_alerts_cannot_be_delivered_or_a_rejection_is_really_a_crash(monkeypatch):
    from handlers import validate
    from tools import smoke

    runner = LocalRunner(SETTINGS)
    with runner.running():
        p = runner.pipeline
        real = validate.validate

        def crash_on_the_corrupt_file(upload, settings, s3):
            if upload["s3Key"].endswith("corrupt.jpg"):
                raise KeyError("an unexpected crash")
            return real(upload, settings, s3)

        monkeypatch.setattr(validate, "validate", crash_on_the_corrupt_file)
        result = smoke.smoke(boto3.session.Session(), input_bucket=p.input_bucket, output_bucket=p.output_bucket,
                             table=p.table, topic_arn=p.topic_arn + "-gone", sizes=[1280, 640, 160], timeout=60,
                             sleep=lambda _: runner.settle())
        assert not result.alerts_ok and result.alerts.startswith("the topic did not take a test message (NotFound")
        corrupt = result.checks[-1]
        assert (corrupt.status, corrupt.ok) == ("failed", False) and corrupt.detail.startswith("KeyError")
        assert all(check.ok for check in result.checks[:-1])


def test_smoke_removes_every_version_from_a_versioned_bucket():
    from tools import smoke

    runner = LocalRunner(SETTINGS)
    with runner.running():
        p, s3 = runner.pipeline, boto3.client("s3")
        for bucket in (p.input_bucket, p.output_bucket):
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        result = smoke.smoke(boto3.session.Session(), input_bucket=p.input_bucket, output_bucket=p.output_bucket,
                             table=p.table, topic_arn=p.topic_arn, sizes=[1280, 640, 160], timeout=60,
                             sleep=lambda _: runner.settle())
        assert result.ok, result.table()
        for bucket in (p.input_bucket, p.output_bucket):
            versions = s3.list_object_versions(Bucket=bucket)
            assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == [], bucket
