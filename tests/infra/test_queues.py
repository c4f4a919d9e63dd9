"""The upload queue and its DLQ: settings, redrive, encryption and queue policies."""

from __future__ import annotations

import json

import pytest

from components import parse_settings, read_stack_settings
from tests.conftest import ROOT
from tests.infra.conftest import STACKS

QUEUE = "aws:sqs/queue:Queue"


def queues(graph, stack="dev"):
    return graph.named(f"images-{stack}-queue"), graph.named(f"images-{stack}-dlq")


@pytest.mark.parametrize("stack", STACKS)
def test_queue_settings_match_the_stack_config(deploy, stack):
    settings = parse_settings(read_stack_settings(stack, ROOT))
    queue, dlq = queues(deploy(stack), stack)
    for resource, expected in ((queue, settings.queue), (dlq, settings.dlq)):
        assert resource.inputs["messageRetentionSeconds"] == expected.message_retention_seconds, resource.urn
        assert resource.inputs["visibilityTimeoutSeconds"] == expected.visibility_timeout_seconds, resource.urn
        assert resource.inputs["receiveWaitTimeSeconds"] == expected.receive_wait_time_seconds, resource.urn
        assert resource.inputs["delaySeconds"] == expected.delay_seconds, resource.urn


def test_max_message_size_is_set_explicitly_to_the_original_256_kib(deploy):
    queue, dlq = queues(deploy("dev"))
    assert queue.inputs["maxMessageSize"] == 262_144
    assert dlq.inputs["maxMessageSize"] == 262_144


def test_dev_keeps_the_original_designs_values(deploy):
    queue, _ = queues(deploy("dev"))
    assert (queue.inputs["messageRetentionSeconds"], queue.inputs["visibilityTimeoutSeconds"],
            queue.inputs["receiveWaitTimeSeconds"], queue.inputs["delaySeconds"]) == (1_209_600, 300, 20, 0)
    assert json.loads(queue.inputs["redrivePolicy"])["maxReceiveCount"] == 3


@pytest.mark.parametrize("stack", STACKS)
def test_redrive_targets_the_dlq_with_the_configured_receive_count(deploy, stack):
    settings = parse_settings(read_stack_settings(stack, ROOT))
    queue, dlq = queues(deploy(stack), stack)
    redrive = json.loads(queue.inputs["redrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dlq.inputs["arn"],
                       "maxReceiveCount": settings.dead_letter_queue.max_receive_count}
    assert "redrivePolicy" not in dlq.inputs


def test_dlq_accepts_redrive_only_from_the_upload_queue(deploy):
    graph = deploy("dev")
    queue, dlq = queues(graph)
    allow = graph.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy")
    assert allow.inputs["queueUrl"] == dlq.inputs["url"]
    assert json.loads(allow.inputs["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue", "sourceQueueArns": [queue.inputs["arn"]]}


def test_dlq_outlives_the_upload_queue_in_staging_and_prod(deploy):
    for stack in ("staging", "prod"):
        queue, dlq = queues(deploy(stack), stack)
        assert dlq.inputs["messageRetentionSeconds"] > queue.inputs["messageRetentionSeconds"], stack


def test_queues_use_sqs_managed_sse_by_default(deploy):
    for resource in deploy("dev").of_type(QUEUE):
        assert resource.inputs.get("sqsManagedSseEnabled") is True, resource.urn
        assert "kmsMasterKeyId" not in resource.inputs, resource.urn


def test_queues_use_the_customer_key_in_prod(deploy):
    graph = deploy("prod")
    key = graph.one("aws:kms/key:Key")
    for name in ("images-prod-queue", "images-prod-dlq"):
        assert graph.named(name).inputs["kmsMasterKeyId"] == key.inputs["arn"], name
    # prod's workflow is EXPRESS: no EventBridge target, so no events DLQ (staging's is SQS-managed, above).
    assert not [q for q in graph.of_type(QUEUE) if q.name.endswith("events-dlq")]


def test_queue_policies_deny_requests_without_tls(deploy):
    graph = deploy("dev")
    for policy in graph.of_type("aws:sqs/queuePolicy:QueuePolicy"):
        queue = next(q for q in graph.of_type(QUEUE) if q.inputs["url"] == policy.inputs["queueUrl"])
        deny = [s for s in policy.policy()["Statement"] if s["Effect"] == "Deny"]
        assert deny == [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
                         "Resource": [queue.inputs["arn"]],
                         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}], policy.urn


def test_queue_policies_grant_only_the_pipeline_roles_never_the_lambda_service(deploy):
    graph = deploy("dev")
    role = {r.name.removeprefix("images-dev-").removesuffix("-role"): r.inputs["arn"]
            for r in graph.of_type("aws:iam/role:Role")}
    by_queue = {p.name: p.policy()["Statement"] for p in graph.of_type("aws:sqs/queuePolicy:QueuePolicy")}
    grants = {name: {s["Sid"]: s["Principal"] for s in statements if s["Effect"] == "Allow"}
              for name, statements in by_queue.items()}
    assert grants["images-dev-queue-policy"] == {
        "AllowProducers": {"AWS": [role["s3-event-handler"]]},
        "AllowConsumers": {"AWS": [role["orchestrator"]]}}
    assert grants["images-dev-dlq-policy"] == {
        "AllowProducers": {"AWS": [role["s3-event-handler"]]},
        "AllowConsumers": {"AWS": [role["dlq-processor"]]},
        "AllowUnfinishedExecutionEvents": {"Service": "events.amazonaws.com"}}
    events = next(s for s in by_queue["images-dev-dlq-policy"] if s["Sid"] == "AllowUnfinishedExecutionEvents")
    rule = graph.named("images-dev-unfinished-executions")
    assert events["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.inputs["arn"]}}
    assert events["Action"] == "sqs:SendMessage"


@pytest.mark.parametrize("stack", STACKS)
def test_visibility_timeout_covers_six_consumer_timeouts_plus_the_batching_window(deploy, stack):
    graph = deploy(stack)
    for mapping in graph.of_type("aws:lambda/eventSourceMapping:EventSourceMapping"):
        queue = graph.by_arn(mapping.inputs["eventSourceArn"])
        function = graph.by_arn(mapping.inputs["functionName"])
        required = 6 * function.inputs["timeout"] + mapping.inputs["maximumBatchingWindowInSeconds"]
        assert queue.inputs["visibilityTimeoutSeconds"] >= required, (mapping.urn, required)
