"""Data stores: the input and output buckets and the status table, secure by default.

`secure_bucket` cannot be built without encryption, a public access block, owner-enforced
object ownership and a TLS-only bucket policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.config import StorageSettings


@dataclass(frozen=True)
class SecureBucket:
    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy


@dataclass(frozen=True)
class Storage:
    input_bucket: SecureBucket
    output_bucket: SecureBucket
    table: aws.dynamodb.Table


def secure_bucket(name: str, settings: StorageSettings, kms_key_arn: pulumi.Input[str] | None,
                  tags: dict[str, str], parent: pulumi.Resource, *, account_id: str | None = None,
                  private_prefix: str | None = None) -> SecureBucket:
    """With `private_prefix` (and `account_id`), only this account reads objects under the prefix."""
    data_opts = pulumi.ResourceOptions(parent=parent, protect=settings.protect,
                                       retain_on_delete=settings.protect)
    bucket = aws.s3.Bucket(name, force_destroy=not settings.protect, tags=tags, opts=data_opts)
    child = pulumi.ResourceOptions(parent=bucket)
    by_default = (
        {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn} if kms_key_arn is not None
        else {"sse_algorithm": "AES256"})
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption", bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": by_default,
                "bucket_key_enabled": kms_key_arn is not None}],
        opts=child)
    access_block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block", bucket=bucket.id, block_public_acls=True,
        block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True, opts=child)
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"},
        opts=child)
    aws.s3.BucketVersioning(
        f"{name}-versioning", bucket=bucket.id,
        versioning_configuration={"status": "Enabled" if settings.versioning else "Suspended"},
        opts=child)
    policy = aws.s3.BucketPolicy(
        f"{name}-policy", bucket=bucket.id,
        policy=bucket.arn.apply(lambda arn: json.dumps(policies.bucket_policy(arn, account_id, private_prefix))),
        # S3 rejects a policy while the public access block is being changed.
        opts=pulumi.ResourceOptions(parent=bucket, depends_on=[access_block]))
    return SecureBucket(bucket=bucket, policy=policy)


def status_table(name: str, settings: StorageSettings, kms_key_arn: pulumi.Input[str] | None,
                 tags: dict[str, str], parent: pulumi.Resource) -> aws.dynamodb.Table:
    """One item per image: `imageId` (hash) + `userId` (range), on demand.

    The sparse `pending` index holds only images still `queued` or `processing` (the attribute
    is removed at a terminal status), ordered by `pendingSince`: the reconciler's work list.
    """
    # DynamoDB always encrypts at rest. `enabled: False` is the AWS-owned key (no charge), what the
    # `managed` mode promises; `enabled: True` without a key would be the AWS-managed `aws/dynamodb`
    # key, billed per KMS request. With a customer key, that key.
    sse = {"enabled": True, "kms_key_arn": kms_key_arn} if kms_key_arn is not None else {"enabled": False}
    return aws.dynamodb.Table(
        name,
        billing_mode="PAY_PER_REQUEST",
        hash_key="imageId",
        range_key="userId",
        attributes=[{"name": "imageId", "type": "S"}, {"name": "userId", "type": "S"},
                    {"name": "pending", "type": "S"}, {"name": "pendingSince", "type": "S"}],
        global_secondary_indexes=[{"name": "pending", "hash_key": "pending", "range_key": "pendingSince",
                                   "projection_type": "ALL"}],
        server_side_encryption=sse,
        point_in_time_recovery={"enabled": settings.point_in_time_recovery},
        deletion_protection_enabled=settings.protect,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=settings.protect,
                                    retain_on_delete=settings.protect),
    )
