"""Alerts: an encrypted SNS topic CloudWatch can publish to, its subscriptions, the alarms."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.config import AlarmSettings


@dataclass(frozen=True)
class Alerts:
    topic: aws.sns.Topic
    subscriptions: list[aws.sns.TopicSubscription]


@dataclass(frozen=True)
class Monitoring:
    alarms: dict[str, aws.cloudwatch.MetricAlarm]


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
