"""The operations tools against the local runner and a local stack: look up, replay after a fix,
redrive, metrics; text within 100 columns, JSON for scripts, one-line errors."""

from __future__ import annotations

import argparse
import json
import re
from datetime import timedelta
from urllib.request import Request, urlopen

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from components import parse_settings, read_stack_settings
from local.faults import Faults
from local.runner import LocalRunner, Upload
from local.samples import encode, jpeg_with_exif, photo, text_named_jpg
from tests.conftest import ROOT
from tools import __main__ as cli
from tools import metrics, replay, status
from tools.resources import LOCAL_OUTPUTS

SETTINGS = parse_settings(read_stack_settings("dev", ROOT))
GOOD = encode(photo(320, 240), "JPEG", quality=80)
LONG_USER = "user-" + "0123456789" * 3 + "-abcd"  # 40 characters
LONG_ARN = ("arn:aws:states:eu-west-1:123456789012:execution:image-pipeline-workflow-3f9a2c1:"
            + "5f0c2a9e-6d1b-4c3a-9e8f-1a2b3c4d5e6f-" * 2)  # about 150 characters
LONG_REASON = "the JPEG stops after its first marker; " * 26  # about 1,000 characters


@pytest.fixture
def runner():
    runner = LocalRunner(SETTINGS, faults=Faults(throttle=1.0))  # StartExecution is down: all dead-lettered
    with runner.running():
        yield runner


def args(runner, *argv: str) -> argparse.Namespace:
    p = runner.pipeline
    return cli.parse_args([*argv, "--table", p.table, "--queue-url", p.queue_url, "--dlq-url", p.dlq_url])


def assert_fits(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > 100]
    assert not too_wide, f"{len(too_wide)} line(s) wider than 100 columns: {too_wide[:2]}"


def test_status_and_failures_since_after_an_outage(runner):
    runner.run([Upload("a.jpg", "uploads/alice/a.jpg", GOOD)])
    item = status.image_status(boto3.client("dynamodb"), runner.pipeline.table, key="uploads/alice/a.jpg")
    assert item["status"] == "failed" and item["error"] == "DeadLettered"
    text = cli.run(args(runner, "status", "--key", "uploads/alice/a.jpg"))
    assert re.search(r"^status +failed$", text, re.MULTILINE) and "processing could not be started" in text
    listing = cli.run(args(runner, "status", "--failed-since", "2000-01-01T00:00:00Z"))
    assert "alice" in listing and listing.count("\n") == 1
    assert cli.run(args(runner, "status", "--failed-since", "2999-01-01T00:00:00Z")) == "no failures"


def test_status_json_is_the_item_and_the_list_of_failures(runner):
    runner.run([Upload("a.jpg", "uploads/alice/a.jpg", GOOD)])
    item = json.loads(cli.run(args(runner, "status", "--key", "uploads/alice/a.jpg", "--json")))
    assert (item["imageId"], item["userId"], item["status"], item["error"]) == ("a", "alice", "failed", "DeadLettered")
    failures = json.loads(cli.run(args(runner, "status", "--failed-since", "1d", "--json")))
    assert [(f["userId"], f["imageId"]) for f in failures] == [("alice", "a")]


def test_status_of_an_upload_that_does_not_exist_says_so_and_exits_non_zero(runner, capsys):
    p = runner.pipeline
    with_bucket = ["--table", p.table, "--input-bucket", p.input_bucket]
    assert cli.main(["status", "--key", "uploads/nobody/x.jpg", *with_bucket]) == 1
    assert capsys.readouterr() == ("", f"error: uploads/nobody/x.jpg does not exist in {p.input_bucket}: no such "
                                       "upload (check the key)\n")
    assert cli.main(["status", "--key", "uploads/nobody/x.jpg", *with_bucket, "--json"]) == 1
    assert capsys.readouterr().out == ""
    boto3.client("s3").put_object(Bucket=p.input_bucket, Key="uploads/nobody/x.jpg", Body=GOOD)  # no event yet
    assert cli.main(["status", "--key", "uploads/nobody/x.jpg", *with_bucket]) == 1
    assert capsys.readouterr().err == ("error: uploads/nobody/x.jpg exists but has no status yet: its processing "
                                       "has not started (queued, or its event was lost and the reconciler will "
                                       "start it)\n")
    assert cli.main(["status", "--key", "uploads/nobody/y.jpg", "--table", p.table]) == 1
    assert capsys.readouterr().err == ("error: no status for uploads/nobody/y.jpg: no such upload, or its "
                                       "processing has not started (--input-bucket, or --stack or --local, tells "
                                       "which)\n")
    assert cli.main(["status", "--image-id", "y", "--user-id", "nobody", "--table", p.table]) == 1
    assert capsys.readouterr().err == ("error: no status for image y of user nobody: no such image, or its "
                                       "processing has not started\n")


def test_status_json_is_typed_and_the_text_shows_format_dimensions_and_camera(runner):
    runner.faults.throttle = 0.0
    runner.run([Upload("p.jpg", "uploads/alice/p.jpg", jpeg_with_exif(6, width=800, height=600))])
    item = json.loads(cli.run(args(runner, "status", "--key", "uploads/alice/p.jpg", "--json")))
    assert item["status"] == "completed"
    assert (item["format"], item["width"], item["height"]) == ("JPEG", 800, 600)
    assert {k: item["metadata"][k] for k in ("format", "width", "height", "uprightWidth", "orientation",
                                              "cameraMake", "cameraModel", "capturedAt")} == {
        "format": "JPEG", "width": 800, "height": 600, "uprightWidth": 600, "orientation": 6, "cameraMake": "Canon",
        "cameraModel": "EOS R5", "capturedAt": "2026:11:01 10:20:30"}
    assert item["originalMessage"]["s3Key"] == "uploads/alice/p.jpg" and isinstance(item["variants"][0]["width"],
                                                                                      int)
    text = cli.run(args(runner, "status", "--key", "uploads/alice/p.jpg"))
    assert re.search(r"^file +JPEG, 800x600 \(upright 600x800\), [\d,]+ B$", text, re.MULTILINE), text
    assert re.search(r"^camera +Canon EOS R5, captured 2026:11:01 10:20:30$", text, re.MULTILINE), text
    assert "originalMessage" not in text  # in --json; the text says what it means instead


def test_long_ids_arns_and_reasons_stay_within_100_columns(runner):
    dynamodb, table = boto3.client("dynamodb"), runner.pipeline.table
    message = json.dumps({"bucket": "images-input", "key": f"uploads/{LONG_USER}/img-1.jpg", "imageId": "img-1",
                          "userId": LONG_USER, "sequencer": "00" * 20})
    for image_id in ("img-1", "img-2-" + "x" * 40):
        dynamodb.put_item(TableName=table, Item={
            "imageId": {"S": image_id}, "userId": {"S": LONG_USER}, "status": {"S": "failed"},
            "failedAt": {"S": "2026-11-28T10:00:00.000Z"}, "reason": {"S": LONG_REASON}, "error": {"S": "InvalidImage"},
            "executionArn": {"S": LONG_ARN}, "uploadKey": {"S": f"uploads/{LONG_USER}/{image_id}.jpg"},
            "originalMessage": {"S": message}})
    described = cli.run(args(runner, "status", "--key", f"uploads/{LONG_USER}/img-1.jpg"))
    assert_fits(described)
    assert "".join(line[16:] for line in described.splitlines() if line[:16].strip() in ("executionArn", "")
                   ).count(LONG_ARN) == 1  # wrapped, not cut: the hanging lines put it back together
    listing = cli.run(args(runner, "status", "--failed-since", "2026-01-01"))
    assert_fits(listing)
    assert len(listing.splitlines()) == 3 and "…" in listing
    assert_fits(cli.run(args(runner, "replay", "--all", "--dry-run")))
    assert_fits(cli.run(args(runner, "replay", "--dlq", "--native", "--dry-run", "--dlq-arn", LONG_ARN,
                             "--queue-arn", LONG_ARN)))


def test_replay_after_the_fix_completes_the_images_and_never_touches_completed_ones(runner):
    runner.run([Upload("a.jpg", "uploads/alice/a.jpg", GOOD), Upload("b.jpg", "uploads/bob/b.jpg", GOOD)])
    dry = cli.run(args(runner, "replay", "--failed-since", "1h", "--dry-run"))
    assert dry.startswith("would replay 2, skipped 0")
    assert json.loads(cli.run(args(runner, "replay", "--all", "--dry-run", "--json"))) == {
        "dry_run": True, "replayed": ["alice/a", "bob/b"], "skipped": []}
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


def test_a_permanent_rejection_stays_failed_when_replayed_anyway(runner):
    runner.faults.throttle = 0.0
    runner.run([Upload("notes.jpg", "uploads/carol/notes.jpg", text_named_jpg())])
    result = replay.replay_failed(boto3.client("dynamodb"), boto3.client("sqs"), table=runner.pipeline.table,
                                  queue_url=runner.pipeline.queue_url, rate=1000, include_invalid=True)
    assert result.replayed == ["carol/notes"]
    runner.run([])
    item = status.image_status(boto3.client("dynamodb"), runner.pipeline.table, key="uploads/carol/notes.jpg")
    assert item["status"] == "failed" and item["reason"].startswith("the file is not a JPEG")


def test_replay_leaves_images_whose_file_is_bad_alone_unless_asked(runner):
    runner.run([Upload("a.jpg", "uploads/alice/a.jpg", GOOD)])  # dead-lettered: StartExecution is down
    runner.faults.throttle = 0.0
    runner.run([Upload("empty.jpg", "uploads/carol/empty.jpg", b""), Upload("notes.jpg", "uploads/carol/notes.jpg",
                                                                             text_named_jpg())])
    dry = cli.run(args(runner, "replay", "--all", "--dry-run"))
    assert_fits(dry)
    lines = re.sub(r"\n {6}", " ", dry).splitlines()  # hanging lines joined back
    assert lines[:2] == ["would replay 1, skipped 2", "  would replay: alice/a"]
    assert sorted(lines[2:]) == [
        "  skipped: carol/empty: its file was refused (InvalidImage: the file is empty (0 bytes)): it would fail "
        "again; --include-invalid replays it anyway",
        "  skipped: carol/notes: its file was refused (InvalidImage: the file is not a JPEG, PNG, GIF, WebP or "
        "HEIC image (it starts with b'hello, t')): it would fail again; --include-invalid replays it anyway"]
    assert sorted(json.loads(cli.run(args(runner, "replay", "--all", "--include-invalid", "--dry-run", "--json")))[
        "replayed"]) == ["alice/a", "carol/empty", "carol/notes"]
    cli.run(args(runner, "replay", "--all", "--rate", "1000"))
    runner.run([])
    dynamodb = boto3.client("dynamodb")
    assert status.image_status(dynamodb, runner.pipeline.table, key="uploads/alice/a.jpg")["status"] == "completed"
    notes = status.image_status(dynamodb, runner.pipeline.table, key="uploads/carol/notes.jpg")
    assert (notes["status"], notes.get("replayCount")) == ("failed", None)  # untouched


def test_redrive_moves_dlq_messages_back_and_resets_their_status(runner):
    runner.faults.throttle = 0.0
    sqs, dynamodb, p = boto3.client("sqs"), boto3.client("dynamodb"), runner.pipeline
    boto3.client("s3").put_object(Bucket=p.input_bucket, Key="uploads/dave/d.jpg", Body=GOOD)
    runner.delivery.pump_s3_events()  # enqueued; now pretend it was dead-lettered while the processor was off
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


def test_metrics_show_the_depth_now_and_a_row_per_metric_with_data(runner):
    cloudwatch, sqs, p = boto3.client("cloudwatch"), boto3.client("sqs"), runner.pipeline
    queue = metrics.queue_name(p.queue_url)
    window = metrics.Window.until()
    for minutes_ago, value in ((12, 40.0), (7, 10.0)):  # the buckets of 15 and 10 minutes ago
        cloudwatch.put_metric_data(Namespace="AWS/SQS", MetricData=[{
            "MetricName": "NumberOfMessagesSent", "Dimensions": [{"Name": "QueueName", "Value": queue}],
            "Timestamp": window.end - timedelta(minutes=minutes_ago), "Value": value}])
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=p.dlq_url, MessageBody=body)
    series = metrics.queue_metrics(cloudwatch, [queue], window)
    assert len(series) == len(metrics.METRICS)
    assert sorted(series[queue, "NumberOfMessagesSent"].values()) == [10.0, 40.0]
    text = cli.run(args(runner, "metrics"))
    assert_fits(text)
    depth = next(line for line in text.splitlines() if line.startswith(metrics.queue_name(p.dlq_url)))
    assert depth.split()[1:] == ["2", "0", "0"]  # visible, in flight, delayed
    sent = next(line for line in text.splitlines() if "NumberOfMessagesSent" in line)
    assert sent.split() == ["NumberOfMessagesSent", "sum", "10", "10", "40", "50", "·········█▃·"]
    assert len([line for line in text.splitlines() if line.startswith("  no datapoints")]) == 2  # one per queue
    data = json.loads(cli.run(args(runner, "metrics", "--json")))
    assert data["depth"][metrics.queue_name(p.dlq_url)] == {"visible": 2, "in_flight": 0, "delayed": 0}
    [sent_series] = [s for s in data["series"] if (s["queue"], s["metric"]) == (queue, "NumberOfMessagesSent")]
    assert [point["value"] for point in sent_series["points"]] == [40.0, 10.0]
    assert sent_series["points"][0]["timestamp"] == (window.end - timedelta(minutes=15)).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


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
    assert cli.run(parsed, session=boto3.session.Session()) == "no failures"  # a session of the caller's


def test_native_redrive_asks_sqs_to_move_the_dlq_at_the_given_rate():
    calls = []

    class Sqs:
        def start_message_move_task(self, **kwargs):
            calls.append(kwargs)
            return {"TaskHandle": "handle-1"}

    assert replay.native_redrive(Sqs(), dlq_arn="arn:dlq", queue_arn="arn:q", rate=10) == "handle-1"
    assert calls == [{"SourceArn": "arn:dlq", "DestinationArn": "arn:q", "MaxNumberOfMessagesPerSecond": 10}]


def test_an_aws_error_the_user_caused_is_one_line_naming_the_fix(capsys):
    with mock_aws():
        assert cli.main(["status", "--table", "no-such-table", "--key", "uploads/a/b.jpg"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: GetItem failed: ResourceNotFoundException") and "--stack, --local" in err
        assert err.count("\n") == 1 and "Traceback" not in err
        url = boto3.client("sqs").create_queue(QueueName="q")["QueueUrl"]
        assert cli.main(["metrics", "--queue-url", url, "--dlq-url", url + "-gone"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: GetQueueAttributes failed: AWS.SimpleQueueService.NonExistentQueue")
        assert err.count("\n") == 1


# The local stack: `python -m local serve` answers at an endpoint and writes LOCAL_OUTPUTS; here a moto
# server plays its part. No AWS credentials are configured: the tools must not need any.

@pytest.fixture
def local_stack(tmp_path, monkeypatch):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    urlopen(Request(f"{endpoint}/moto-api/reset", method="POST")).close()  # moto's state outlives a server
    aws = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="eu-west-1")
    dynamodb, sqs = (aws.client(name, endpoint_url=endpoint) for name in ("dynamodb", "sqs"))
    dynamodb.create_table(TableName="images-status", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "imageId", "KeyType": "HASH"},
                                     {"AttributeName": "userId", "KeyType": "RANGE"}],
                          AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"}
                                                for name in ("imageId", "userId")])
    dynamodb.put_item(TableName="images-status", Item={
        "imageId": {"S": "a"}, "userId": {"S": "alice"}, "status": {"S": "failed"}, "reason": {"S": "corrupt"},
        "failedAt": {"S": "2026-11-28T10:00:00.000Z"}, "originalMessage": {"S": json.dumps({
            "bucket": "images-input", "key": "uploads/alice/a.jpg", "imageId": "a", "userId": "alice"})}})
    queue, dlq = (sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("images-uploads", "images-uploads-dlq"))
    sqs.send_message(QueueUrl=dlq, MessageBody="dead")
    outputs = {"table_name": "images-status", "queue_url": queue, "dead_letter_queue_url": dlq,
               "endpoint_url": endpoint, "region": "eu-west-1"}
    monkeypatch.chdir(tmp_path)
    LOCAL_OUTPUTS.parent.mkdir(parents=True)
    LOCAL_OUTPUTS.write_text(json.dumps(outputs))
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                     "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(variable, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield outputs
    server.stop()


def test_local_reaches_the_local_stack_without_aws_credentials(local_stack, capsys):
    assert cli.main(["status", "--local", "--key", "uploads/alice/a.jpg"]) == 0
    assert re.search(r"^reason +corrupt$", capsys.readouterr().out, re.MULTILINE)
    assert cli.main(["metrics", "--local"]) == 0
    out = capsys.readouterr().out
    assert_fits(out)
    assert re.search(r"^images-uploads-dlq +1 +0 +0$", out, re.MULTILINE)
    assert "no datapoints in the last hour for: every metric of images-uploads, images-uploads-dlq" in out
    assert cli.main(["replay", "--local", "--all", "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["replayed"] == ["alice/a"]


def test_an_explicit_endpoint_url_wins_over_the_outputs_and_aws_endpoint_url_still_works(local_stack, monkeypatch,
                                                                                         capsys):
    endpoint = local_stack["endpoint_url"]
    LOCAL_OUTPUTS.write_text(json.dumps({**local_stack, "endpoint_url": "http://127.0.0.1:9"}))  # nothing there
    assert cli.main(["status", "--local", "--endpoint-url", endpoint, "--failed-since", "2000-01-01", "--json"]) == 0
    assert [item["imageId"] for item in json.loads(capsys.readouterr().out)] == ["a"]
    LOCAL_OUTPUTS.write_text(json.dumps({k: v for k, v in local_stack.items() if k != "endpoint_url"}))
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert cli.main(["status", "--local", "--key", "uploads/alice/a.jpg", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reason"] == "corrupt"


def test_a_local_stack_that_is_not_running_is_one_line(local_stack, capsys):
    LOCAL_OUTPUTS.write_text(json.dumps({**local_stack, "endpoint_url": "http://127.0.0.1:9"}))
    assert cli.main(["status", "--local", "--key", "uploads/alice/a.jpg"]) == 2
    err = capsys.readouterr().err
    assert err == "error: nothing answers at http://127.0.0.1:9: is `python -m local serve` running?\n"


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
