"""Each CrossGuard policy fires on a hand-built violating resource and stays quiet on a compliant one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from policy import rules

POLICY = {p.name: p for p in rules.POLICIES}
TLS_DENY = {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[])


def resource_violations(policy: str, typ: str, props: dict[str, Any]) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(typ, props, f"urn:pulumi:s::p::{typ}::r", "r", options(), None)
    POLICY[policy].validate(args, lambda message, urn=None: found.append(message))
    return found


def resource(typ: str, name: str, props: dict[str, Any],
             **property_dependencies: list[PolicyResource]) -> PolicyResource:
    dependencies = [d for deps in property_dependencies.values() for d in deps]
    return PolicyResource(typ, props, f"urn:pulumi:s::p::{typ}::{name}", name, options(), None, None, dependencies,
                          dict(property_dependencies))


def stack_violations(policy: str, resources: list[PolicyResource]) -> list[str]:
    found: list[str] = []
    POLICY[policy].validate(StackValidationArgs(resources), lambda message, urn=None: found.append(message))
    return found


@pytest.mark.parametrize(("typ", "bad", "good"), [
    (rules.QUEUE, {}, {"sqsManagedSseEnabled": True}),
    (rules.QUEUE, {"sqsManagedSseEnabled": False}, {"kmsMasterKeyId": "arn:aws:kms:eu-west-1:1:key/k"}),
    (rules.TOPIC, {}, {"kmsMasterKeyId": "arn:aws:kms:eu-west-1:1:key/k"}),
    (rules.TABLE, {"serverSideEncryption": {"enabled": True}}, {"serverSideEncryption": {"enabled": False}}),
    (rules.TABLE, {"serverSideEncryption": {"enabled": True}},
     {"serverSideEncryption": {"enabled": True, "kmsKeyArn": "arn:aws:kms:eu-west-1:1:key/k"}}),
])
def test_encryption_at_rest(typ, bad, good):
    assert len(resource_violations("encryption-at-rest", typ, bad)) == 1
    assert resource_violations("encryption-at-rest", typ, good) == []


def test_sqs_mappings_must_report_batch_item_failures():
    props = {"eventSourceArn": "arn:aws:sqs:eu-west-1:1:q"}
    assert resource_violations("report-batch-item-failures", rules.MAPPING, props)
    assert resource_violations("report-batch-item-failures", rules.MAPPING,
                               props | {"functionResponseTypes": ["ReportBatchItemFailures"]}) == []


@pytest.mark.parametrize("action", ["*", "sqs:*", ["s3:GetObject", "s3:*"]])
def test_wildcard_actions_are_refused_in_allows(action):
    document = {"Version": "2012-10-17", "Statement": [{"Sid": "Bad", "Effect": "Allow", "Action": action,
                                                       "Resource": "arn:aws:s3:::b/*"}]}
    assert resource_violations("no-wildcard-actions", "aws:iam/rolePolicy:RolePolicy",
                               {"policy": json.dumps(document)})


def test_a_deny_may_use_a_service_wildcard():
    document = {"Version": "2012-10-17", "Statement": [TLS_DENY]}
    assert resource_violations("no-wildcard-actions", "aws:iam/rolePolicy:RolePolicy",
                               {"policy": json.dumps(document)}) == []


def test_log_groups_need_retention():
    assert resource_violations("log-retention", rules.LOG_GROUP, {"name": "g"})
    assert resource_violations("log-retention", rules.LOG_GROUP, {"retentionInDays": 30}) == []


def test_advisories_for_x86_functions_and_low_receive_counts():
    assert resource_violations("arm64-functions", rules.FUNCTION, {"architectures": ["x86_64"]})
    assert resource_violations("arm64-functions", rules.FUNCTION, {"architectures": ["arm64"]}) == []
    for count, expected in ((3, 1), (5, 0)):
        props = {"redrivePolicy": json.dumps({"maxReceiveCount": count})}
        assert len(resource_violations("max-receive-count", rules.QUEUE, props)) == expected
    assert POLICY["arm64-functions"].enforcement_level == EnforcementLevel.ADVISORY


def mapping_graph(*, redrive: bool, visibility: int, timeout: int, window: int = 0) -> list[PolicyResource]:
    dlq = resource(rules.QUEUE, "dlq", {"visibilityTimeoutSeconds": 300})
    queue = resource(rules.QUEUE, "queue", {"visibilityTimeoutSeconds": visibility,
                                            **({"redrivePolicy": "{}"} if redrive else {})},
                     **({"redrivePolicy": [dlq]} if redrive else {}))
    function = resource(rules.FUNCTION, "orchestrator", {"timeout": timeout})
    mapping = resource(rules.MAPPING, "trigger", {"maximumBatchingWindowInSeconds": window},
                       eventSourceArn=[queue], functionName=[function])
    return [dlq, queue, function, mapping]


def test_queues_feeding_a_lambda_need_a_dlq_but_dlqs_themselves_do_not():
    assert stack_violations("dlq-for-lambda-queues", mapping_graph(redrive=False, visibility=300, timeout=30)) == [
        "Queue queue feeds a Lambda but has no dead-letter queue (redrivePolicy): failing messages retry until "
        "they expire."]
    graph = mapping_graph(redrive=True, visibility=300, timeout=30)
    dlq_consumer = resource(rules.MAPPING, "dlq-trigger", {}, eventSourceArn=[graph[0]], functionName=[graph[2]])
    assert stack_violations("dlq-for-lambda-queues", [*graph, dlq_consumer]) == []


def test_visibility_must_cover_six_consumer_timeouts_plus_the_window():
    assert stack_violations("visibility-covers-consumer", mapping_graph(redrive=True, visibility=185, timeout=30,
                                                                        window=10)) == [
        "Queue queue visibility 185 s is below 6 x orchestrator timeout (30 s) + batching window (10 s) = 190 s."]
    assert stack_violations("visibility-covers-consumer",
                            mapping_graph(redrive=True, visibility=190, timeout=30, window=10)) == []


def test_queues_and_buckets_need_a_tls_only_policy():
    queue = resource(rules.QUEUE, "queue", {})
    bucket = resource(rules.BUCKET, "bucket", {})
    allow_only = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}]}
    weak = resource(rules.QUEUE_POLICY, "qp", {"policy": json.dumps(allow_only)}, queueUrl=[queue])
    assert len(stack_violations("tls-only-resource-policies", [queue, bucket, weak])) == 2
    good_queue = resource(rules.QUEUE_POLICY, "qp", {"policy": json.dumps({"Statement": [TLS_DENY]})}, queueUrl=[queue])
    good_bucket = resource(rules.BUCKET_POLICY, "bp", {"policy": json.dumps({"Statement": [TLS_DENY]})},
                           bucket=[bucket])
    assert stack_violations("tls-only-resource-policies", [queue, bucket, good_queue, good_bucket]) == []


def test_buckets_need_an_encryption_configuration():
    bucket = resource(rules.BUCKET, "bucket", {})
    assert stack_violations("bucket-encryption", [bucket])
    sse = resource(rules.BUCKET_SSE, "sse", {}, bucket=[bucket])
    assert stack_violations("bucket-encryption", [bucket, sse]) == []


def vpc_function(name: str, subnets: int = 2, groups: int = 1) -> PolicyResource:
    config = {"subnetIds": [f"subnet-{i}" for i in range(subnets)],
              "securityGroupIds": [f"sg-{i}" for i in range(groups)]}
    return resource(rules.FUNCTION, name, {"vpcConfig": config} if subnets or groups else {})


def test_in_a_vpc_stack_every_function_is_in_two_subnets_with_a_security_group():
    endpoint = resource(rules.ENDPOINT, "sqs", {"vpcEndpointType": "Interface"})
    assert stack_violations("vpc-placement", [vpc_function("a"), vpc_function("b")]) == []
    assert stack_violations("vpc-placement", [endpoint, vpc_function("a"), vpc_function("b")]) == []
    assert stack_violations("vpc-placement", [vpc_function("a"), vpc_function("b", subnets=1)]) == [
        "Function b is not in the VPC with the rest: it needs vpcConfig with at least two subnets (one per AZ) and a "
        "security group (has 1 subnets, 1 groups)."]
    assert len(stack_violations("vpc-placement", [endpoint, vpc_function("a", groups=0)])) == 1
    assert len(stack_violations("vpc-placement", [endpoint, vpc_function("a", subnets=0, groups=0)])) == 1
    # No endpoint and no vpcConfig: a stack on Lambda's own network is not judged.
    assert stack_violations("vpc-placement", [vpc_function("a", subnets=0, groups=0)]) == []


def endpoint_policy(**statement: Any) -> dict[str, Any]:
    allowed = {"Effect": "Allow", "Principal": "*", "Action": ["sqs:SendMessage"], "Resource": "arn:aws:sqs:::q",
               "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::1:role/r"}}}
    return {"vpcEndpointType": "Interface", "privateDnsEnabled": True,
            "policy": json.dumps({"Statement": [allowed | statement]})}


@pytest.mark.parametrize(("props", "message"), [
    (endpoint_policy(Action="sqs:*"), "Endpoint policy statement '(no Sid)' allows wildcard actions ['sqs:*']; "
                                      "name the actions."),
    (endpoint_policy(Action="*"), "Endpoint policy statement '(no Sid)' allows wildcard actions ['*']; name the "
                                  "actions."),
    (endpoint_policy(Condition=None), "Endpoint policy statement '(no Sid)' allows any principal without a "
                                      "condition; limit it (e.g. aws:PrincipalArn)."),
    (endpoint_policy(Principal={"AWS": "*"}, Condition={}),
     "Endpoint policy statement '(no Sid)' allows any principal without a condition; limit it (e.g. "
     "aws:PrincipalArn)."),
    ({"vpcEndpointType": "Gateway"}, "VPC endpoint without a policy: AWS applies full access (any principal, any "
                                     "action, any resource)."),
    (endpoint_policy() | {"privateDnsEnabled": False},
     "Interface endpoint without private DNS: the SDKs' default service names would still resolve to the public "
     "endpoints, which a VPC without NAT cannot reach."),
])
def test_endpoints_need_private_dns_and_a_policy_naming_actions_and_principals(props, message):
    assert resource_violations("endpoint-policies", rules.ENDPOINT, props) == [message]


def test_a_compliant_endpoint_and_a_deny_with_a_wildcard_pass():
    assert resource_violations("endpoint-policies", rules.ENDPOINT, endpoint_policy()) == []
    deny = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}
    assert resource_violations("endpoint-policies", rules.ENDPOINT, {
        "vpcEndpointType": "Gateway", "policy": json.dumps(deny)}) == []


@pytest.mark.parametrize(("typ", "props", "opened"), [
    (rules.SECURITY_GROUP, {"ingress": [{"fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]}, "0.0.0.0/0"),
    (rules.SECURITY_GROUP, {"ingress": [{"fromPort": 443, "toPort": 443, "ipv6CidrBlocks": ["::/0"]}]}, "::/0"),
    (rules.INGRESS_RULES[0], {"cidrIpv4": "0.0.0.0/0", "fromPort": 443, "toPort": 443}, "0.0.0.0/0"),
    (rules.INGRESS_RULES[0], {"cidrIpv6": "::/0", "fromPort": 443, "toPort": 443}, "::/0"),
    (rules.INGRESS_RULES[1], {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"]}, "0.0.0.0/0"),
])
def test_no_security_group_admits_the_whole_internet(typ, props, opened):
    assert resource_violations("no-open-ingress", typ, props) == [
        f"Security group ingress from {opened}: the pipeline's functions and endpoints take connections from the "
        "pipeline only."]


@pytest.mark.parametrize(("typ", "props"), [
    (rules.SECURITY_GROUP, {"ingress": [{"cidrBlocks": ["10.20.0.0/16"]}], "egress": [{"cidrBlocks": ["0.0.0.0/0"]}]}),
    (rules.INGRESS_RULES[0], {"referencedSecurityGroupId": "sg-0a1b2c3d4e5f60001"}),
    (rules.INGRESS_RULES[1], {"type": "egress", "cidrBlocks": ["0.0.0.0/0"]}),
])
def test_ingress_from_the_vpc_or_a_security_group_and_egress_rules_pass(typ, props):
    assert resource_violations("no-open-ingress", typ, props) == []


def test_the_pack_can_be_imported_without_starting_a_policy_server():
    assert {p.name for p in rules.MANDATORY} >= {"encryption-at-rest", "dlq-for-lambda-queues",
                                                  "report-batch-item-failures", "visibility-covers-consumer",
                                                  "tls-only-resource-policies", "no-wildcard-actions", "log-retention",
                                                  "vpc-placement", "endpoint-policies", "no-open-ingress"}
