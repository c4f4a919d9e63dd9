"""Buckets, the upload notification, and the status table."""

from __future__ import annotations

import pytest

from tests.infra.conftest import STACKS

BUCKET = "aws:s3/bucket:Bucket"


def bucket_children(graph, bucket, typ):
    return [r for r in graph.of_type(typ) if r.inputs.get("bucket") == bucket.inputs["bucket"]]


@pytest.mark.parametrize("stack", STACKS)
def test_both_buckets_are_encrypted_private_owner_enforced_and_tls_only(deploy, stack):
    graph = deploy(stack)
    buckets = graph.of_type(BUCKET)
    assert sorted(b.name for b in buckets) == [f"images-{stack}-input", f"images-{stack}-output"]
    for bucket in buckets:
        [sse] = bucket_children(graph, bucket, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                                "BucketServerSideEncryptionConfiguration")
        algorithm = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
        assert algorithm == ("aws:kms" if stack == "prod" else "AES256"), bucket.urn
        [block] = bucket_children(graph, bucket, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        assert all(block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                             "restrictPublicBuckets")), bucket.urn
        [ownership] = bucket_children(graph, bucket, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
        assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        [policy] = bucket_children(graph, bucket, "aws:s3/bucketPolicy:BucketPolicy")
        arn = bucket.inputs["arn"]
        # Staged variants (moderation on: staging and prod) await their verdict: private like quarantine.
        private = [{"Sid": f"Deny{name}OutsideAccount", "Effect": "Deny", "Principal": "*",
                    "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": f"{arn}/{name.lower()}/*",
                    "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalAccount": "123456789012"}}}
                   for name in ("Quarantine", "Staging")[:1 if stack == "dev" else 2]]
        assert policy.policy()["Statement"] == [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            *(private if bucket.name.endswith("-output") else [])]
        assert graph.depends_on(policy, block), "policy must wait for the public access block"


@pytest.mark.parametrize("stack", STACKS)
def test_with_moderation_staged_variants_of_runs_that_never_finished_expire(deploy, stack):
    graph = deploy(stack)
    lifecycles = graph.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    if stack == "dev":  # no moderation: nothing is staged, nothing changes
        assert lifecycles == []
        return
    [lifecycle] = lifecycles
    assert lifecycle.inputs["bucket"] == graph.named(f"images-{stack}-output").inputs["bucket"]
    assert lifecycle.inputs["rules"] == [{
        "id": "expire-staged-variants", "status": "Enabled", "filter": {"prefix": "staging/"},
        "expiration": {"days": 1}, "noncurrentVersionExpiration": {"noncurrentDays": 1}}]


def test_versioning_follows_the_stack(deploy):
    for stack, status in (("dev", "Suspended"), ("prod", "Enabled")):
        graph = deploy(stack)
        for bucket in graph.of_type(BUCKET):
            [versioning] = bucket_children(graph, bucket, "aws:s3/bucketVersioning:BucketVersioning")
            assert versioning.inputs["versioningConfiguration"] == {"status": status}, (stack, bucket.urn)


def test_exactly_one_notification_sends_image_uploads_to_the_s3_event_handler(deploy):
    graph = deploy("dev")
    notification = graph.one("aws:s3/bucketNotification:BucketNotification")
    handler = graph.named("images-dev-s3-event-handler")
    assert notification.inputs["bucket"] == graph.named("images-dev-input").inputs["bucket"]
    # One prefix filter, no suffix filter: S3 suffix filters are case-sensitive, so `.Jpg` or
    # `.jPeg` would raise no event; the handler accepts or rejects every extension itself.
    assert notification.inputs["lambdaFunctions"] == [{"lambdaFunctionArn": handler.inputs["arn"],
                                                        "events": ["s3:ObjectCreated:*"], "filterPrefix": "uploads/"}]
    assert "queues" not in notification.inputs and "topics" not in notification.inputs


def test_notification_depends_on_the_invoke_permission_scoped_to_bucket_and_account(deploy):
    graph = deploy("dev")
    permission = graph.named("images-dev-s3-invoke")
    assert permission.inputs["principal"] == "s3.amazonaws.com"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["sourceArn"] == graph.named("images-dev-input").inputs["arn"]
    assert permission.inputs["sourceAccount"] == "123456789012"
    assert permission.inputs["function"] == graph.named("images-dev-s3-event-handler").inputs["name"]
    assert graph.depends_on(graph.one("aws:s3/bucketNotification:BucketNotification"), permission)


def test_status_table_is_keyed_by_image_and_user_on_demand_and_encrypted(deploy):
    table = deploy("dev").one("aws:dynamodb/table:Table")
    assert (table.inputs["hashKey"], table.inputs["rangeKey"]) == ("imageId", "userId")
    assert table.inputs["attributes"] == [{"name": n, "type": "S"} for n in ("imageId", "userId", "pending",
                                                                                 "pendingSince")]
    # Sparse: only images still queued or processing carry `pending`; the reconciler's work list.
    assert table.inputs["globalSecondaryIndexes"] == [{"name": "pending", "hashKey": "pending",
                                                       "rangeKey": "pendingSince", "projectionType": "ALL"}]
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["serverSideEncryption"] == {"enabled": False}  # the AWS-owned key: no KMS charges
    assert table.inputs["pointInTimeRecovery"] == {"enabled": False}


def test_prod_recovers_protects_and_retains_its_data_stores(deploy):
    graph = deploy("prod")
    table = graph.one("aws:dynamodb/table:Table")
    key = graph.one("aws:kms/key:Key")
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key.inputs["arn"]}
    assert table.inputs["deletionProtectionEnabled"] is True
    for store in [table, *graph.of_type(BUCKET)]:
        assert store.options == store.options | {"protect": True, "retain_on_delete": True}, store.urn
        assert store.inputs.get("forceDestroy") in (None, False), store.urn


def test_dev_data_stores_can_be_destroyed(deploy):
    graph = deploy("dev")
    for store in [graph.one("aws:dynamodb/table:Table"), *graph.of_type(BUCKET)]:
        assert store.options["protect"] is False, store.urn
