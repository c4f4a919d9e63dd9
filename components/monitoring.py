"""Alerts: an encrypted SNS topic CloudWatch can publish to, its subscriptions, the alarms."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import policies
from components.dashboard import dashboard_body
from components.settings.config import AlarmSettings


@dataclass(frozen=True)
class Alerts:
    topic: aws.sns.Topic
    subscriptions: list[aws.sns.TopicSubscription]


@dataclass(frozen=True)
class Monitoring:
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    dashboard: aws.cloudwatch.Dashboard | None = None


def alerts_topic(name: str, settings: AlarmSettings, *, account_id: str,
                 kms_key_arn: pulumi.Input[str], tags: dict[str, str],
                 parent: pulumi.Resource) -> Alerts:
    topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=kms_key_arn, tags=tags,
                          opts=pulumi.ResourceOptions(parent=parent))
    aws.sns.TopicPolicy(
        f"{name}-alerts-policy", arn=topic.arn,
        policy=topic.arn.apply(lambda arn: json.dumps(policies.topic_policy(arn, account_id))),
        opts=pulumi.ResourceOptions(parent=topic))
    subscriptions = [
        aws.sns.TopicSubscription(f"{name}-alerts-email-{index}", topic=topic.arn, protocol="email",
                                  endpoint=address, opts=pulumi.ResourceOptions(parent=topic))
        for index, address in enumerate(settings.email_subscriptions)
    ]
    return Alerts(topic=topic, subscriptions=subscriptions)


def queue_alarms(name: str, settings: AlarmSettings, *, queue: aws.sqs.Queue,
                 dead_letter_queue: aws.sqs.Queue, topic: aws.sns.Topic, tags: dict[str, str],
                 parent: pulumi.Resource) -> Monitoring:
    """The original design's three alarms; alarm and OK both notify the topic."""
    def alarm(suffix: str, description: str, queue_: aws.sqs.Queue, metric: str, statistic: str,
              comparison: str, threshold: int, evaluation_periods: int) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{suffix}",
            alarm_description=description,
            namespace="AWS/SQS", metric_name=metric, dimensions={"QueueName": queue_.name},
            statistic=statistic, period=settings.period_seconds,
            evaluation_periods=evaluation_periods, threshold=threshold,
            comparison_operator=comparison,
            # SQS stops sending metrics for queues idle for six hours: idle is healthy.
            treat_missing_data="notBreaching",
            alarm_actions=[topic.arn], ok_actions=[topic.arn],
            tags=tags, opts=pulumi.ResourceOptions(parent=parent))

    return Monitoring(alarms={
        "queue_depth": alarm(
            "queue-depth", f"More than {settings.queue_depth_threshold} uploads waiting: the "
            "orchestrator is not keeping up or is failing.", queue, "ApproximateNumberOfMessagesVisible",
            "Average", "GreaterThanThreshold", settings.queue_depth_threshold, settings.evaluation_periods),
        "dlq_depth": alarm(
            "dlq-depth", "Uploads in the dead-letter queue: they could not be processed.",
            dead_letter_queue, "ApproximateNumberOfMessagesVisible", "Maximum",
            "GreaterThanOrEqualToThreshold", settings.dlq_depth_threshold, 1),
        "oldest_message_age": alarm(
            "oldest-message-age", f"An upload has waited over {settings.oldest_message_age_seconds} s: "
            "processing is stalled.", queue, "ApproximateAgeOfOldestMessage", "Maximum",
            "GreaterThanThreshold", settings.oldest_message_age_seconds, settings.evaluation_periods),
    })


def _alarm(name: str, description: str, topic: aws.sns.Topic, tags: dict[str, str], parent: pulumi.Resource,
           **metric: object) -> aws.cloudwatch.MetricAlarm:
    # Lambda and Step Functions publish nothing while idle: no data is healthy, not unknown.
    return aws.cloudwatch.MetricAlarm(
        name, alarm_description=description, treat_missing_data="notBreaching",
        alarm_actions=[topic.arn], ok_actions=[topic.arn], tags=tags,
        opts=pulumi.ResourceOptions(parent=parent), **metric)


REJECTING_STEPS = ("validate", "variants", "metadata")  # they raise InvalidImage for a user's bad file


def _step_errors_alarm(name: str, role: str, function: Any, settings: AlarmSettings, topic: aws.sns.Topic,
                       tags: dict[str, str], parent: pulumi.Resource) -> aws.cloudwatch.MetricAlarm:
    """Errors other than rejected uploads: a bad file is the user's, not ours, and must not page.

    The step counts each rejection in its `ImagesRejected` EMF metric (dimension `service`).
    """
    period = settings.period_seconds
    return _alarm(
        f"{name}-{role.replace('_', '-')}-errors", f"{role} failed invocations other than rejected uploads: see its "
        "log group for the error.", topic, tags, parent, evaluation_periods=1,
        threshold=settings.lambda_errors_threshold, comparison_operator="GreaterThanOrEqualToThreshold",
        metric_queries=[
            {"id": "errors", "return_data": False, "metric": {
                "namespace": "AWS/Lambda", "metric_name": "Errors", "stat": "Sum", "period": period,
                "dimensions": {"FunctionName": function.name}}},
            {"id": "rejected", "return_data": False, "metric": {
                "namespace": "ImagePipeline", "metric_name": "ImagesRejected", "stat": "Sum", "period": period,
                "dimensions": {"service": role}}},
            {"id": "unexpected", "return_data": True, "label": "errors other than rejected uploads",
             "expression": "errors - FILL(rejected, 0)"}])


def function_alarms(name: str, settings: AlarmSettings, *, functions: dict[str, Any], timeouts: dict[str, int],
                    topic: aws.sns.Topic, tags: dict[str, str], parent: pulumi.Resource,
                    ) -> dict[str, aws.cloudwatch.MetricAlarm]:
    """Errors, throttles and duration near the timeout, for every function (the DLQ processor's too)."""
    alarms = {}
    for role, function in functions.items():
        label = role.replace("_", "-")
        common = {"namespace": "AWS/Lambda", "dimensions": {"FunctionName": function.name},
                  "period": settings.period_seconds, "evaluation_periods": 1}
        if role in REJECTING_STEPS:
            alarms[f"{role}_errors"] = _step_errors_alarm(name, role, function, settings, topic, tags, parent)
        else:
            alarms[f"{role}_errors"] = _alarm(
                f"{name}-{label}-errors", f"{role} failed invocations: see its log group for the error.", topic,
                tags, parent, metric_name="Errors", statistic="Sum", threshold=settings.lambda_errors_threshold,
                comparison_operator="GreaterThanOrEqualToThreshold", **common)
        alarms[f"{role}_throttles"] = _alarm(
            f"{name}-{label}-throttles", f"{role} was throttled: raise its reserved concurrency or the account "
            "limit.", topic, tags, parent, metric_name="Throttles", statistic="Sum",
            threshold=settings.lambda_throttles_threshold, comparison_operator="GreaterThanOrEqualToThreshold",
            **common)
        limit_ms = timeouts[role] * 1000 * settings.duration_percent_of_timeout // 100
        alarms[f"{role}_duration"] = _alarm(
            f"{name}-{label}-duration", f"{role} ran longer than {settings.duration_percent_of_timeout} % of its "
            "timeout: it is close to being cut off.", topic, tags, parent, metric_name="Duration",
            statistic="Maximum", threshold=limit_ms, comparison_operator="GreaterThanThreshold", **common)
    return alarms


def workflow_alarms(name: str, settings: AlarmSettings, *, state_machine: aws.sfn.StateMachine,
                    queue: aws.sqs.Queue, events_dead_letter_queue: aws.sqs.Queue | None, topic: aws.sns.Topic,
                    tags: dict[str, str], parent: pulumi.Resource) -> dict[str, aws.cloudwatch.MetricAlarm]:
    common = {"namespace": "AWS/States", "dimensions": {"StateMachineArn": state_machine.arn},
              "period": settings.period_seconds, "evaluation_periods": 1, "statistic": "Sum",
              "comparison_operator": "GreaterThanOrEqualToThreshold"}
    alarms = {"executions_failed": _alarm(
        f"{name}-executions-failed", "Executions failed; rejected uploads count here too, so look at the status "
        "table's reasons first.", topic, tags, parent, metric_name="ExecutionsFailed",
        threshold=settings.execution_failures_threshold, **common)}
    for metric, label in (("ExecutionsTimedOut", "timed-out"), ("ExecutionThrottled", "throttled"),
                          ("ExecutionsAborted", "aborted")):
        alarms[f"executions_{label.replace('-', '_')}"] = _alarm(
            f"{name}-executions-{label}", f"Executions {label}: their images are marked failed by the DLQ "
            "processor; find the cause in the workflow's log group.", topic, tags, parent, metric_name=metric,
            threshold=settings.execution_problems_threshold, **common)
    # Stalled: the oldest message keeps ageing while nothing is deleted (the consumer is stuck).
    alarms["queue_stalled"] = _alarm(
        f"{name}-queue-stalled", f"Upload queue stalled: oldest message over {settings.stalled_queue_age_seconds} s "
        "and no message deleted.", topic, tags, parent, evaluation_periods=settings.evaluation_periods,
        threshold=1, comparison_operator="GreaterThanOrEqualToThreshold", metric_queries=[
            {"id": "age", "return_data": False, "metric": {
                "namespace": "AWS/SQS", "metric_name": "ApproximateAgeOfOldestMessage", "stat": "Maximum",
                "period": settings.period_seconds, "dimensions": {"QueueName": queue.name}}},
            {"id": "deleted", "return_data": False, "metric": {
                "namespace": "AWS/SQS", "metric_name": "NumberOfMessagesDeleted", "stat": "Sum",
                "period": settings.period_seconds, "dimensions": {"QueueName": queue.name}}},
            {"id": "stalled", "return_data": True, "label": "stalled",
             "expression": f"IF(age > {settings.stalled_queue_age_seconds} AND deleted == 0, 1, 0)"}])
    if events_dead_letter_queue is None:  # EXPRESS: no execution events
        return alarms
    alarms["events_undelivered"] = _alarm(
        f"{name}-events-undelivered", "EventBridge could not deliver execution events to the DLQ; they wait in "
        "the events DLQ. Check the DLQ's key and queue policy, then move them to the DLQ.", topic, tags, parent,
        namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": events_dead_letter_queue.name}, statistic="Maximum",
        period=settings.period_seconds, evaluation_periods=1, threshold=1,
        comparison_operator="GreaterThanOrEqualToThreshold")
    return alarms


def dashboard(name: str, *, region: str, queue: aws.sqs.Queue, dead_letter_queue: aws.sqs.Queue,
              state_machine: aws.sfn.StateMachine, functions: dict[str, Any],
              parent: pulumi.Resource) -> aws.cloudwatch.Dashboard:
    body = pulumi.Output.all(queue.name, dead_letter_queue.name, state_machine.arn,
                             {role: fn.name for role, fn in functions.items()}).apply(
        lambda a: json.dumps(dashboard_body(region=region, queue_name=a[0], dlq_name=a[1], state_machine_arn=a[2],
                                            function_names=a[3])))
    return aws.cloudwatch.Dashboard(f"{name}-dashboard", dashboard_name=f"{name}-image-pipeline",
                                    dashboard_body=body, opts=pulumi.ResourceOptions(parent=parent))
