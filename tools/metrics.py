"""`python -m tools metrics`: the queues now (SQS's own counts) and over the last hour (CloudWatch, per 5 minutes).

The current depth comes from GetQueueAttributes, which answers wherever SQS does (the local
stack's emulator too); the history from CloudWatch, which has nothing for a local stack.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.lifecycle.uploads import utc_iso
from tools import resources
from tools.arguments import whole
from tools.aws import Clients
from tools.command import deployed_command
from tools.layout import WIDTH, columns, fitted_widths, number, paragraph, shorten, sparkline

# The metrics the original design watches, each with the statistic that makes sense of it per 5 minutes:
# counts add up, gauges (the Approximate* depths) are read at their peak, sizes on average.
METRICS = {"NumberOfMessagesSent": "Sum", "NumberOfMessagesReceived": "Sum", "NumberOfMessagesDeleted": "Sum",
           "ApproximateNumberOfMessagesVisible": "Maximum", "ApproximateNumberOfMessagesNotVisible": "Maximum",
           "ApproximateNumberOfMessagesDelayed": "Maximum", "SentMessageSize": "Average",
           "NumberOfEmptyReceives": "Sum", "NumberOfMessagesMoved": "Sum"}
STAT_LABELS = {"Sum": "sum", "Maximum": "max", "Average": "avg"}
DEPTH = {"ApproximateNumberOfMessages": "visible", "ApproximateNumberOfMessagesNotVisible": "in_flight",
         "ApproximateNumberOfMessagesDelayed": "delayed"}
PERIOD = 300
SPARK_WIDTH = 12
MAX_QUERIES = 500  # per GetMetricData request


@dataclass(frozen=True)
class Window:
    """The `hours` of 5-minute buckets that end at the last whole 5 minutes before `end`."""

    end: datetime
    hours: int = 1

    @classmethod
    def until(cls, end: datetime | None = None, hours: int = 1) -> Window:
        return cls(_bucket(end or datetime.now(UTC)), hours)

    @property
    def start(self) -> datetime:
        return self.end - timedelta(hours=self.hours)

    @property
    def buckets(self) -> list[datetime]:
        return [self.start + timedelta(seconds=PERIOD * i) for i in range(self.hours * 3600 // PERIOD)]

    @property
    def name(self) -> str:
        return "the last hour" if self.hours == 1 else f"the last {self.hours} hours"


Series = dict[tuple[str, str], dict[datetime, float]]  # (queue, metric) -> {bucket start: value}


def queue_depth(sqs: Any, queue_urls: list[str]) -> dict[str, dict[str, int]]:
    """{queue name: {"visible": n, "in_flight": n, "delayed": n}} as SQS counts them now."""
    depth = {}
    for url in queue_urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(DEPTH))["Attributes"]
        depth[queue_name(url)] = {label: int(attributes.get(name, 0)) for name, label in DEPTH.items()}
    return depth


def queue_metrics(cloudwatch: Any, queue_names: list[str], window: Window) -> Series:
    """Every (queue, metric) series of `METRICS` in `window`, from one GetMetricData request per 500
    queries (a query per queue and metric)."""
    queries, keys = [], {}
    for q_index, queue in enumerate(queue_names):
        for m_index, (metric, stat) in enumerate(METRICS.items()):
            query_id = f"q{q_index}m{m_index}"
            keys[query_id] = (queue, metric)
            queries.append({"Id": query_id, "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": "AWS/SQS", "MetricName": metric,
                           "Dimensions": [{"Name": "QueueName", "Value": queue}]},
                "Period": PERIOD, "Stat": stat}})
    series: Series = {key: {} for key in keys.values()}
    for offset in range(0, len(queries), MAX_QUERIES):
        for page in cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries[offset:offset + MAX_QUERIES], StartTime=window.start, EndTime=window.end):
            for result in page["MetricDataResults"]:
                series[keys[result["Id"]]].update(
                    (_bucket(t), v) for t, v in zip(result["Timestamps"], result["Values"], strict=True))
    return series


def report(depth: dict[str, dict[str, int]], series: Series, window: Window) -> str:
    """The depth now, then a row per (queue, metric) with data: latest, min, max, sum and a sparkline
    of the buckets; the metrics without any datapoint named on one line per queue."""
    lines = depth_table(depth)
    if not any(series.values()):
        queues = ", ".join(dict.fromkeys(queue for queue, _ in series))
        return "\n".join([*lines, "", *paragraph(f"no datapoints in {window.name} for: every metric of {queues}")])
    first, last = window.buckets[0], window.buckets[-1]
    lines.append("")
    lines.append(shorten(f"{window.name} in 5-minute buckets, {first:%H:%M} to {last:%H:%M} UTC "
                         f"({sparkline([None])} no datapoint)", WIDTH))
    header = ("metric", "stat", "latest", "min", "max", "sum", f"{first:%H:%M}-{last:%H:%M}")
    widths = (max(map(len, METRICS)), 4, 7, 7, 7, 8, SPARK_WIDTH)
    for queue in dict.fromkeys(queue for queue, _ in series):
        rows, empty = [], []
        for metric, stat in METRICS.items():
            points = series.get((queue, metric), {})
            if points:
                rows.append(_row(metric, stat, points, window))
            else:
                empty.append(metric)
        lines.append(shorten(queue, WIDTH, middle=True))
        if not rows:
            lines.append(f"  no datapoints in {window.name} for any of its {len(empty)} metrics")
            continue
        lines += columns(header, rows, widths, right=range(2, 6), indent="  ")
        if empty:
            lines += paragraph(f"no datapoints in {window.name} for: {', '.join(empty)}", indent=2)
    return "\n".join(lines)


def depth_table(depth: dict[str, dict[str, int]]) -> list[str]:
    header = ("queue depth now", *(label.replace("_", " ") for label in DEPTH.values()))
    rows = [(name, *(str(counts[label]) for label in DEPTH.values())) for name, counts in depth.items()]
    widths = [*fitted_widths(header[:1], [row[:1] for row in rows], caps=(WIDTH - 33,)), 10, 10, 10]
    rows = [(shorten(row[0], widths[0], middle=True), *row[1:]) for row in rows]
    return columns(header, rows, widths, right=(1, 2, 3))


def as_json(depth: dict[str, dict[str, int]], series: Series, window: Window) -> dict[str, Any]:
    """The same data for `--json`: ISO 8601 times, every series (empty ones too)."""
    return {"start": utc_iso(window.start), "end": utc_iso(window.end), "period_seconds": PERIOD, "depth": depth,
            "series": [{"queue": queue, "metric": metric, "stat": METRICS[metric],
                        "points": [{"timestamp": utc_iso(t), "value": v} for t, v in sorted(points.items())]}
                       for (queue, metric), points in series.items()]}


def queue_name(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def _row(metric: str, stat: str, points: dict[datetime, float], window: Window) -> tuple[str, ...]:
    values = [points[t] for t in sorted(points)]
    total = number(sum(values)) if stat == "Sum" else "-"  # a sum of peaks or averages means nothing
    return (metric, STAT_LABELS[stat], number(values[-1]), number(min(values)), number(max(values)), total,
            sparkline(_spark_values(stat, points, window)))


def _spark_values(stat: str, points: dict[datetime, float], window: Window) -> list[float | None]:
    """`SPARK_WIDTH` values over the window: each bucket, or (over more hours) each run of buckets
    combined by the metric's statistic."""
    buckets = window.buckets
    size = max(1, len(buckets) // SPARK_WIDTH)
    values = []
    for start in range(0, len(buckets), size):
        group = [points[b] for b in buckets[start:start + size] if b in points]
        if not group:
            values.append(None)
        elif stat == "Sum":
            values.append(sum(group))
        else:
            values.append(max(group) if stat == "Maximum" else sum(group) / len(group))
    return values


def _bucket(timestamp: datetime) -> datetime:
    timestamp = timestamp.astimezone(UTC).replace(second=0, microsecond=0)
    return timestamp - timedelta(minutes=timestamp.minute % 5)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=whole, default=1, help="how many hours back (default 1)")


def answer(args: argparse.Namespace, found: resources.Resources, clients: Clients) -> tuple[str, Any]:
    """The queue and the DLQ: their depth now, and their metrics over the last `--hours`."""
    found.need("queue_url", "dlq_url")
    urls = [found.queue_url, found.dlq_url]
    window = Window.until(hours=args.hours)
    depth = queue_depth(clients.client("sqs"), urls)
    series = queue_metrics(clients.client("cloudwatch"), [queue_name(u) for u in urls], window)
    text = report(depth, series, window)
    if args.outputs == resources.LOCAL_OUTPUTS and not any(series.values()):
        text += "\n" + "\n".join(paragraph("(the local stack publishes no CloudWatch metrics: the depths above "
                                           "are what it can show)"))
    return text, as_json(depth, series, window)


COMMAND = deployed_command("metrics", "the queues' depth now, and the last hour of their metrics", add_arguments,
                           answer)
