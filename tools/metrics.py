"""The last hour of the queue metrics the original design watches, per 5 minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

METRICS = ("NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted",
           "ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
           "ApproximateNumberOfMessagesDelayed", "SentMessageSize", "NumberOfEmptyReceives",
           "NumberOfMessagesMoved")
STATS = ("Sum", "Average", "Maximum")
PERIOD = 300


def queue_metrics(cloudwatch: Any, queue_names: list[str], *, end: datetime | None = None,
                  hours: int = 1) -> dict[tuple[str, str, str], dict[datetime, float]]:
    """{(queue, metric, stat): {period start: value}} from one GetMetricData request per 500 queries."""
    end = _bucket(end or datetime.now(UTC))
    start = end - timedelta(hours=hours)
    queries, keys = [], {}
    for q_index, queue in enumerate(queue_names):
        for m_index, metric in enumerate(METRICS):
            for s_index, stat in enumerate(STATS):
                query_id = f"q{q_index}m{m_index}s{s_index}"
                keys[query_id] = (queue, metric, stat)
                queries.append({"Id": query_id, "ReturnData": True, "MetricStat": {
                    "Metric": {"Namespace": "AWS/SQS", "MetricName": metric,
                               "Dimensions": [{"Name": "QueueName", "Value": queue}]},
                    "Period": PERIOD, "Stat": stat}})
    series: dict[tuple[str, str, str], dict[datetime, float]] = {key: {} for key in keys.values()}
    for offset in range(0, len(queries), 500):
        for page in cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries[offset:offset + 500], StartTime=start, EndTime=end):
            for result in page["MetricDataResults"]:
                series[keys[result["Id"]]].update(zip(result["Timestamps"], result["Values"], strict=True))
    return series


def table(series: dict[tuple[str, str, str], dict[datetime, float]], *, end: datetime | None = None,
          hours: int = 1) -> str:
    end = _bucket(end or datetime.now(UTC))
    buckets = [end - timedelta(seconds=PERIOD * i) for i in range(hours * 3600 // PERIOD, 0, -1)]
    header = f"{'queue':<28} {'metric':<38} {'stat':<8} " + " ".join(f"{b:%H:%M}".rjust(7) for b in buckets)
    lines = [header, "-" * len(header)]
    for (queue, metric, stat), points in series.items():
        by_bucket = {_bucket(t): v for t, v in points.items()}
        cells = " ".join((f"{by_bucket[b]:7.1f}" if b in by_bucket else "      -") for b in buckets)
        lines.append(f"{queue[-28:]:<28} {metric:<38} {stat:<8} {cells}")
    return "\n".join(lines)


def _bucket(timestamp: datetime) -> datetime:
    timestamp = timestamp.astimezone(UTC).replace(second=0, microsecond=0)
    return timestamp - timedelta(minutes=timestamp.minute % 5)
