"""The upload queue and its dead-letter queue, with redrive and TLS-only queue policies.

Mirrors terraform-aws-modules/sqs: the DLQ is a first-class queue whose settings fall back
to the upload queue's; the redrive-allow policy lets only the upload queue use it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.settings.config import QueueSettings, Settings


@dataclass(frozen=True)
class QueuePair:
    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue


def _encryption(kms_key_arn: pulumi.Input[str] | None) -> dict[str, object]:
    if kms_key_arn is None:
        return {"sqs_managed_sse_enabled": True}
    return {"kms_master_key_id": kms_key_arn, "kms_data_key_reuse_period_seconds": 300}


def _queue(name: str, settings: QueueSettings, kms_key_arn: pulumi.Input[str] | None,
           tags: dict[str, str], opts: pulumi.ResourceOptions,
           redrive_policy: pulumi.Input[str] | None = None) -> aws.sqs.Queue:
    return aws.sqs.Queue(
        name,
        message_retention_seconds=settings.message_retention_seconds,
        visibility_timeout_seconds=settings.visibility_timeout_seconds,
        receive_wait_time_seconds=settings.receive_wait_time_seconds,
        # Set explicitly: SQS raised its default to 1 MiB in 2025, while Step Functions input
        # stays at 256 KiB (design pitfall 8).
        max_message_size=settings.max_message_size,
        delay_seconds=settings.delay_seconds,
        redrive_policy=redrive_policy,
        tags=tags,
        opts=opts,
        **_encryption(kms_key_arn),
    )


def queue_pair(name: str, settings: Settings, kms_key_arn: pulumi.Input[str] | None,
               tags: dict[str, str], parent: pulumi.Resource) -> QueuePair:
    dlq = _queue(f"{name}-dlq", settings.dlq, kms_key_arn, tags, pulumi.ResourceOptions(parent=parent))
    redrive = dlq.arn.apply(lambda arn: json.dumps(
        {"deadLetterTargetArn": arn, "maxReceiveCount": settings.dead_letter_queue.max_receive_count}))
    queue = _queue(f"{name}-queue", settings.queue, kms_key_arn, tags,
                   pulumi.ResourceOptions(parent=parent), redrive_policy=redrive)
    aws.sqs.RedriveAllowPolicy(
        f"{name}-dlq-redrive-allow",
        queue_url=dlq.url,
        redrive_allow_policy=queue.arn.apply(lambda arn: json.dumps(
            {"redrivePermission": "byQueue", "sourceQueueArns": [arn]})),
        opts=pulumi.ResourceOptions(parent=dlq),
    )
    return QueuePair(queue=queue, dead_letter_queue=dlq)


def queue_policy(name: str, queue: aws.sqs.Queue, producers: list[pulumi.Input[str]],
                 consumers: list[pulumi.Input[str]],
                 extra_statements: list[pulumi.Input[dict]] | None = None) -> aws.sqs.QueuePolicy:
    """Named producer roles send, named consumer roles consume, no request without TLS."""
    def build(args: list) -> str:
        arn, n_producers, n_consumers = args[0], len(producers), len(consumers)
        document = policies.queue_policy(arn, args[1:1 + n_producers],
                                         args[1 + n_producers:1 + n_producers + n_consumers])
        document["Statement"].extend(args[1 + n_producers + n_consumers:])
        return json.dumps(document)

    return aws.sqs.QueuePolicy(
        name, queue_url=queue.url,
        policy=pulumi.Output.all(queue.arn, *producers, *consumers, *(extra_statements or [])).apply(build),
        opts=pulumi.ResourceOptions(parent=queue))
