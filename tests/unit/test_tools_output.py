"""What the tools print: within 100 columns however long the values, aligned, and summarised
(metrics as one row per series with data, and a sparkline)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tools import layout, metrics, status
from tools.aws import DUMMY_CREDENTIALS, Clients
from tools.replay import ReplayResult

USER = "user-" + "0123456789" * 3 + "-abcd"  # 40 characters
ARN = "arn:aws:states:eu-west-1:123456789012:execution:image-pipeline-workflow-3f9a2c1:" + "5f0c2a9e-6d1b-" * 5
REASON = "the JPEG stops after its first marker; " * 26  # about 1,000 characters
ITEM = {"imageId": "img-" + "x" * 36, "userId": USER, "status": "failed", "reason": REASON, "error": "InvalidImage",
        "executionArn": ARN, "failedAt": "2026-11-28T10:00:00.000Z", "uploadKey": f"uploads/{USER}/img.jpg",
        "originalMessage": json.dumps({"bucket": "images-input", "key": f"uploads/{USER}/img.jpg", "userId": USER}),
        "variants": json.dumps([{"key": f"variants/{USER}/img/1280.webp", "width": 1280, "height": 960,
                                 "bytes": 1234567, "size": 1280}])}
END = datetime(2026, 11, 28, 11, 2, tzinfo=UTC)


def assert_fits(text: str) -> None:
    assert max(map(len, text.splitlines())) <= 100, text


def field(lines: list[str], label: str) -> list[str]:
    """The value of `label` in `status.describe`, a piece per line: its own line and the indented ones after."""
    at = next(i for i, line in enumerate(lines) if line.startswith(f"{label} "))
    pieces = [lines[at][16:]]
    for line in lines[at + 1:]:
        if not line.startswith(" " * 16):
            break
        pieces.append(line[16:])
    return pieces


def test_shorten_cuts_the_end_or_the_middle_with_an_ellipsis():
    assert layout.shorten("abcdefghij", 5) == "abcd…"
    assert layout.shorten("abcdefghij", 5, middle=True) == "ab…ij"
    assert layout.shorten("line one\n  line two", 40) == "line one line two"
    assert layout.shorten("short", 10, middle=True) == "short"


def test_sparklines_scale_from_zero_to_the_peak_and_mark_missing_buckets():
    assert layout.sparkline([0, 5, 10, None]) == "▁▅█·"
    assert layout.sparkline([None, 0, 0]) == "·▁▁"
    assert [layout.number(v) for v in (40.0, 2.5, 12_345.6, 1_500_000.0, None)] == ["40", "2.5", "12.3k", "1.5M", "-"]


def test_an_image_s_long_fields_wrap_under_themselves_within_100_columns():
    text = status.describe(ITEM)
    assert_fits(text)
    lines = text.splitlines()
    assert len(field(lines, "executionArn")) == 2 and "".join(field(lines, "executionArn")) == ARN  # broken, not cut
    assert " ".join(field(lines, "reason")) == REASON.strip()  # all 1,000 characters, wrapped at spaces
    assert any(line.startswith("variant ") for line in lines)


def test_an_image_shows_its_placeholder_hashes_duplicates_and_moderation_labels():
    completed = {"imageId": "copy", "userId": "u", "status": "completed", "sha256": "ab" * 32,
                 "phash": "c3a1f00f0ff01e2d", "thumbhash": "3OcRJYB4d3h/iIeHeEh3eIhw+j3A", "averageColor": "#8a6f4c",
                 "duplicateOf": "original", "nearDuplicateOf": "resized", "nearDuplicateDistance": "2",
                 "variants": json.dumps([{"key": "variants/u/copy/t/160.jpg", "width": 160, "height": 120,
                                          "bytes": 4000, "size": 160, "reusedFrom": "original"}])}
    lines = status.describe(completed).splitlines()
    assert_fits("\n".join(lines))
    assert "".join(field(lines, "sha256")) == "ab" * 32
    assert field(lines, "averageColor") == ["#8a6f4c"] and field(lines, "duplicateOf") == ["original"]
    assert field(lines, "nearDuplicateOf") == ["resized (2 bits apart)"]
    assert field(lines, "variant") == ["variants/u/copy/t/160.jpg (160x120, 4000 B, copied from original)"]
    rejected = {"imageId": "bad", "userId": "u", "status": "rejected", "rejectedAt": "2026-11-28T10:00:00.000Z",
                "reason": 'moderation labels: ["Violence"]', "duplicateOf": None,
                "moderationLabels": json.dumps([{"Name": "Violence", "ParentName": "", "Confidence": 99.1}])}
    lines = status.describe(rejected).splitlines()
    assert field(lines, "moderation") == ["Violence (99.1 %)"] and "duplicateOf" not in "\n".join(lines)
    stored = {"moderationLabels": {"S": rejected["moderationLabels"]}, "width": {"N": "800"},
              "nearDuplicateDistance": {"N": "2.5"}, "duplicateOf": {"NULL": True}}
    assert status.as_json(stored) == {"moderationLabels": [{"Name": "Violence", "ParentName": "", "Confidence": 99.1}],
                                      "width": 800, "nearDuplicateDistance": 2.5, "duplicateOf": None}


def test_the_failures_table_fits_aligned_ids_shortened_in_the_middle_and_reasons_at_the_end():
    items = [ITEM, {**ITEM, "userId": "alice", "imageId": "a", "reason": "short"}]
    header, *rows = status.failures_table(items).splitlines()
    assert all(len(line) <= 100 for line in (header, *rows))
    for name in ("userId", "imageId", "reason"):
        column = header.index(name)
        assert all(row[column - 1] == " " and row[column] != " " for row in rows), name
    assert rows[0].endswith("…") and "…" in rows[0].split()[1]  # the 40-character user id lost its middle
    assert rows[0].split()[1].startswith("user-01") and rows[0].split()[1].endswith("-abcd")
    assert rows[1].split()[1:] == ["alice", "a", "short"]


def test_metrics_are_a_row_per_series_with_data_and_one_line_for_the_rest():
    window = metrics.Window.until(END)
    queue, dlq = "image-pipeline-uploads-queue-" + "q" * 60, "image-pipeline-uploads-dlq-3f9a2c1"
    series = {(name, metric): {} for name in (queue, dlq) for metric in metrics.METRICS}
    series[queue, "NumberOfMessagesSent"] = {window.buckets[0]: 3.0, window.buckets[10]: 1_234_567.0}
    series[queue, "ApproximateNumberOfMessagesVisible"] = {b: float(i) for i, b in enumerate(window.buckets)}
    depth = {queue: {"visible": 3, "in_flight": 1, "delayed": 0}, dlq: {"visible": 0, "in_flight": 0, "delayed": 0}}
    text = metrics.report(depth, series, window)
    assert_fits(text)
    assert len(text.splitlines()) < 20
    sent = next(line for line in text.splitlines() if "NumberOfMessagesSent" in line)
    assert sent.split() == ["NumberOfMessagesSent", "sum", "1.2M", "3", "1.2M", "1.2M", "▁·········█·"]
    visible = next(line for line in text.splitlines() if "MessagesVisible" in line)
    assert visible.split()[1:] == ["max", "11", "0", "11", "-", "▁▂▂▃▄▄▅▅▆▇▇█"]  # no sum of peaks
    assert "no datapoints in the last hour for: NumberOfMessagesReceived," in text
    assert f"{dlq}\n  no datapoints in the last hour for any of its 9 metrics" in text
    empty = metrics.report(depth, {key: {} for key in series}, window)
    assert " ".join(empty.split()).endswith(f"no datapoints in the last hour for: every metric of {queue}, {dlq}")
    assert empty.splitlines()[0].split() == ["queue", "depth", "now", "visible", "in", "flight", "delayed"]


def test_metrics_over_several_hours_still_fit_a_twelve_character_sparkline():
    window = metrics.Window.until(END, hours=3)
    series = {("q", "NumberOfMessagesSent"): {b: 1.0 for b in window.buckets}}
    row = next(line for line in metrics.report({}, series, window).splitlines() if "Sent" in line)
    assert row.split()[-2:] == ["36", "████████████"]  # three 5-minute buckets per character, added up


def test_metric_queries_go_in_requests_of_at_most_500():
    requests = []

    class CloudWatch:
        def get_paginator(self, name):
            return self

        def paginate(self, MetricDataQueries, **window):  # noqa: N803 (boto3's parameter name)
            requests.append(len(MetricDataQueries))
            return [{"MetricDataResults": [{"Id": q["Id"], "Timestamps": [], "Values": []}
                                           for q in MetricDataQueries]}]

    queues = [f"queue-{i}" for i in range(60)]
    series = metrics.queue_metrics(CloudWatch(), queues, metrics.Window.until(END))
    assert requests == [500, 60 * len(metrics.METRICS) - 500]
    assert len(series) == 60 * len(metrics.METRICS)


def test_a_replay_summary_wraps_long_names():
    result = ReplayResult(replayed=[f"{USER}/img-{'x' * 80}"], skipped=[f"{USER}/b: no stored message " * 3])
    text = result.summary()
    assert_fits(text)
    assert text.splitlines()[0] == "replayed 1, skipped 1"


class Session:
    """Records the clients asked for; `credentials` is what boto3 found (None: nothing configured)."""

    def __init__(self, credentials: object = None) -> None:
        self.credentials, self.asked = credentials, []

    def get_credentials(self) -> object:
        return self.credentials

    def client(self, service: str, **options: object) -> str:
        self.asked.append(options)
        return service


def test_clients_use_the_stack_s_endpoint_and_region_with_dummy_credentials_when_none_are_configured():
    session = Session()
    Clients(session, endpoint_url="http://127.0.0.1:4566", region="eu-west-1").client("sqs")
    [options] = session.asked
    assert (options["endpoint_url"], options["region_name"]) == ("http://127.0.0.1:4566", "eu-west-1")
    assert {k: options[k] for k in DUMMY_CREDENTIALS} == {"aws_access_key_id": "local",
                                                          "aws_secret_access_key": "local"}
    configured = Session(credentials="a profile's")
    Clients(configured, endpoint_url="http://127.0.0.1:4566").client("sqs")
    assert "aws_access_key_id" not in configured.asked[0]


def test_clients_leave_boto3_its_defaults_without_an_endpoint(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    session = Session()
    Clients(session).client("dynamodb")
    assert session.asked == [{}]  # boto3 finds AWS (or AWS_ENDPOINT_URL) and the credentials itself
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    session = Session()
    Clients(session).client("dynamodb")
    assert session.asked == [DUMMY_CREDENTIALS]  # boto3 reads the endpoint; no credentials are needed there
