"""Encryption at rest: one customer-managed KMS key, created with a policy CloudWatch can use.

The alerts topic always uses a customer key: SNS has no SSE without KMS, and the AWS-managed
`aws/sns` key does not let CloudWatch alarms publish (design pitfall 10). With
`encryption.mode: kms` the queues, buckets and table use the same key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.settings.config import EncryptionSettings


@dataclass(frozen=True)
class Keys:
    alerts_key_arn: pulumi.Output[str]
    """Encrypts the alerts topic."""
    data_key_arn: pulumi.Output[str] | None
    """Encrypts queues, buckets and table with mode `kms`; None with AWS-managed keys."""
    key: aws.kms.Key | None
    """The key the component created, if it created one."""


def pipeline_keys(name: str, settings: EncryptionSettings, account_id: str,
                  tags: dict[str, str], parent: pulumi.Resource) -> Keys:
    if settings.kms_key_arn is not None:
        arn = pulumi.Output.from_input(settings.kms_key_arn)
        return Keys(alerts_key_arn=arn, data_key_arn=arn, key=None)
    key = aws.kms.Key(
        f"{name}-key",
        description=f"{name}: image pipeline encryption at rest",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=json.dumps(policies.kms_key_policy(account_id)),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.kms.Alias(f"{name}-key-alias", name_prefix=f"alias/{name}-",
                  target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=key))
    return Keys(alerts_key_arn=key.arn,
                data_key_arn=key.arn if settings.mode == "kms" else None, key=key)
