"""Data stores: the input and output buckets and the status table, secure by default.

`secure_bucket` cannot be built without encryption, a public access block and owner-enforced
object ownership; its TLS-only policy (`SecureBucket.attach_policy`) is attached by the component
once every role the policy may name exists, as the queue policies are (`network.require_vpc_endpoints`
denies the functions' roles any access outside the VPC endpoint). The policy pack refuses a bucket
without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.settings.config import StorageSettings
from contract.table import STATUS_TABLE, STRING

# Days a staged variant may outlive its run: every run ends (or is settled) within minutes.
STAGING_EXPIRY_DAYS = 1


@dataclass(frozen=True)
class SecureBucket:
    name: str
    bucket: aws.s3.Bucket
    access_block: aws.s3.BucketPublicAccessBlock
    account_id: str | None = None
    private_prefixes: tuple[str, ...] = ()

    def attach_policy(self, extra_statements: list[pulumi.Input[dict]] | None = None) -> aws.s3.BucketPolicy:
        """TLS only (and the private prefix's account-only reads), plus `extra_statements`."""
        def build(args: list) -> str:
            document = policies.bucket_policy(args[0], self.account_id, self.private_prefixes)
            document["Statement"].extend(args[1:])
            return json.dumps(document)

        return aws.s3.BucketPolicy(
            f"{self.name}-policy", bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, *(extra_statements or [])).apply(build),
            # S3 rejects a policy while the public access block is being changed.
            opts=pulumi.ResourceOptions(parent=self.bucket, depends_on=[self.access_block]))


@dataclass(frozen=True)
class Storage:
    input_bucket: SecureBucket
    output_bucket: SecureBucket
    table: aws.dynamodb.Table


def secure_bucket(name: str, settings: StorageSettings, kms_key_arn: pulumi.Input[str] | None,
                  tags: dict[str, str], parent: pulumi.Resource, *, account_id: str | None = None,
                  private_prefixes: tuple[str, ...] = (), expiring_prefix: str | None = None) -> SecureBucket:
    """With `private_prefixes` (and `account_id`), only this account reads objects under them; objects under
    `expiring_prefix` are deleted `STAGING_EXPIRY_DAYS` after they were written."""
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
    if expiring_prefix:
        # What a moderated run that never reached its verdict left staged (`handlers.lifecycle.publication`).
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=bucket.id,
            rules=[{"id": "expire-staged-variants", "status": "Enabled", "filter": {"prefix": expiring_prefix},
                    "expiration": {"days": STAGING_EXPIRY_DAYS},
                    "noncurrent_version_expiration": {"noncurrent_days": STAGING_EXPIRY_DAYS}}],
            opts=child)
    return SecureBucket(name=name, bucket=bucket, access_block=access_block, account_id=account_id,
                        private_prefixes=private_prefixes)


def status_table(name: str, settings: StorageSettings, kms_key_arn: pulumi.Input[str] | None,
                 tags: dict[str, str], parent: pulumi.Resource) -> aws.dynamodb.Table:
    """One item per image, on demand, with the keys and the `pending` index of `contract.table`."""
    # DynamoDB always encrypts at rest. `enabled: False` is the AWS-owned key (no charge), what the
    # `managed` mode promises; `enabled: True` without a key would be the AWS-managed `aws/dynamodb`
    # key, billed per KMS request. With a customer key, that key.
    sse = {"enabled": True, "kms_key_arn": kms_key_arn} if kms_key_arn is not None else {"enabled": False}
    return aws.dynamodb.Table(
        name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=STATUS_TABLE.hash_key,
        range_key=STATUS_TABLE.range_key,
        attributes=[{"name": name, "type": STRING} for name in STATUS_TABLE.key_attributes()],
        global_secondary_indexes=[{"name": index.name, "hash_key": index.hash_key, "range_key": index.range_key,
                                   "projection_type": index.projection} for index in STATUS_TABLE.indexes],
        server_side_encryption=sse,
        point_in_time_recovery={"enabled": settings.point_in_time_recovery},
        deletion_protection_enabled=settings.protect,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=settings.protect,
                                    retain_on_delete=settings.protect),
    )
