"""AWS's own schemas: every stack's resource graph, as CloudFormation, linted by cfn-lint with no errors.

Each mapping has a negative control: one value AWS would reject, which the lint must report on that
very resource, so the check cannot pass because a mapping dropped what it should carry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from components import ImagePipeline, parse_settings, read_stack_settings
from tests.conftest import ROOT
from tests.infra.cloudformation import FOLDED, MAPPINGS, logical_id, template, tracked, unread_inputs
from tests.infra.conftest import NETWORK_MODES, STACKS, Graph, network_graph, run_under_mocks

LINT = ManualArgs(regions=["eu-west-1"])


@cache
def stack_graph(stack: str) -> Graph:
    def program() -> Any:
        return ImagePipeline(f"images-{stack}", parse_settings(read_stack_settings(stack, ROOT))).queue_url

    return run_under_mocks(stack, program)


def errors(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(m.rule.id, str(m.path[1]) if len(m.path) > 1 else "", m.message)
            for m in lint(json.dumps(document), config=LINT) if m.rule.id.startswith("E")]


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_lints_clean_against_cloudformations_schemas(stack):
    document = template(stack_graph(stack))
    assert len(document["Resources"]) > 80
    assert errors(document) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_input_the_component_sets_reaches_the_template(stack):
    """A mapping that dropped an input would let a bad value through unlinted."""
    graph = tracked(stack_graph(stack))
    template(graph)
    assert unread_inputs(graph) == {}


VPC_GRAPHS = [(stack, mode) for stack in ("dev", "prod") for mode in NETWORK_MODES]


@pytest.mark.parametrize(("stack", "mode"), VPC_GRAPHS)
def test_vpc_stacks_lint_clean_and_every_input_reaches_the_template(stack, mode):
    graph = tracked(network_graph(stack, mode, require=True))
    document = template(graph)
    types = {resource["Type"] for resource in document["Resources"].values()}
    assert {"AWS::EC2::VPCEndpoint", "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress"} <= types
    if mode == "create":
        assert {"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::SubnetRouteTableAssociation",
                "AWS::EC2::SecurityGroupEgress"} <= types
    assert all(r["Properties"].get("VpcConfig") for r in document["Resources"].values()
               if r["Type"] == "AWS::Lambda::Function")
    assert errors(document) == []
    assert unread_inputs(graph) == {}


def _policy(inputs: dict[str, Any], key: str = "policy") -> None:
    document = json.loads(inputs[key])
    document["Statement"][0]["Effect"] = "Maybe"
    inputs[key] = json.dumps(document)


Break = Callable[[dict[str, Any]], None]
# One value AWS would reject, set on the Pulumi inputs of the first resource of each type: the
# lint must report it, so each mapping is proven to carry what it is given.
NEGATIVE_CONTROLS: dict[str, Break] = {
    "aws:sqs/queue:Queue": lambda i: i.update(visibilityTimeoutSeconds=50_000),
    "aws:sqs/queuePolicy:QueuePolicy": _policy,
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": lambda i: i.update(redriveAllowPolicy=json.dumps([1, 2])),
    "aws:s3/bucket:Bucket": lambda i: i.update(tags={"k": "v" * 300}),
    "aws:s3/bucketPolicy:BucketPolicy": _policy,
    "aws:s3/bucketVersioning:BucketVersioning": lambda i: i["versioningConfiguration"].update(status="Sometimes"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": lambda i: i["rules"][0].update(
        status="Sometimes"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": lambda i: i[
        "rules"][0]["applyServerSideEncryptionByDefault"].update(sseAlgorithm="ROT13"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": lambda i: i.update(blockPublicAcls="maybe"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": lambda i: i["rule"].update(objectOwnership="Anyone"),
    "aws:s3/bucketNotification:BucketNotification": lambda i: i["lambdaFunctions"][0].update(
        lambdaFunctionArn=None),
    "aws:dynamodb/table:Table": lambda i: i.update(billingMode="FREE"),
    "aws:sns/topic:Topic": lambda i: i.update(tags={"k": "v" * 300}),
    "aws:sns/topicPolicy:TopicPolicy": _policy,
    "aws:sns/topicSubscription:TopicSubscription": lambda i: i.update(endpoint={"not": "a string"}),
    "aws:kms/key:Key": lambda i: i.update(deletionWindowInDays=3),
    "aws:kms/alias:Alias": lambda i: i.update(name="no-alias-prefix"),
    "aws:iam/role:Role": lambda i: _policy(i, "assumeRolePolicy"),
    "aws:iam/rolePolicy:RolePolicy": _policy,
    "aws:cloudwatch/logGroup:LogGroup": lambda i: i.update(retentionInDays=2),
    "aws:lambda/function:Function": lambda i: i.update(memorySize=100),
    "aws:lambda/layerVersion:LayerVersion": lambda i: i.update(compatibleArchitectures=["sparc"]),
    "aws:lambda/permission:Permission": lambda i: i.update(action="invoke everything"),
    "aws:lambda/eventSourceMapping:EventSourceMapping": lambda i: i.update(batchSize=0),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": lambda i: i.update(maximumRetryAttempts=5),
    "aws:sfn/stateMachine:StateMachine": lambda i: i.update(definition=i["definition"].replace(
        '"Type": "Succeed"', '"Type": "Bogus"', 1)),
    "aws:cloudwatch/eventRule:EventRule": lambda i: i.update(description="x" * 600),
    "aws:cloudwatch/eventTarget:EventTarget": lambda i: i.update(retryPolicy={"maximumRetryAttempts": 500}),
    "aws:cloudwatch/metricAlarm:MetricAlarm": lambda i: i.update(comparisonOperator="Bigger"),
    "aws:cloudwatch/dashboard:Dashboard": lambda i: i.update(dashboardBody={"widgets": "not a string"}),
    "aws:ec2/vpc:Vpc": lambda i: i.update(enableDnsHostnames="sometimes"),
    "aws:ec2/subnet:Subnet": lambda i: i.update(mapPublicIpOnLaunch="often"),
    "aws:ec2/routeTable:RouteTable": lambda i: i.update(routes=[{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"}]),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": lambda i: i.update(subnetId=None),
    "aws:ec2/securityGroup:SecurityGroup": lambda i: i.update(description=None),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": lambda i: i.update(fromPort="https"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": lambda i: i.update(securityGroupId=None),
    "aws:ec2/vpcEndpoint:VpcEndpoint": lambda i: i.update(privateDnsEnabled="yes"),
}


def used_types() -> set[str]:
    """Every resource type of the prod stack, by default and in a created VPC."""
    graphs = (stack_graph("prod"), network_graph("prod", "create", require=True))
    return {r.type for g in graphs for r in g.resources} - {"image-pipeline:index:ImagePipeline"}


def test_every_resource_type_the_stacks_use_has_a_negative_control():
    assert used_types() == set(NEGATIVE_CONTROLS)
    assert set(MAPPINGS) | FOLDED >= used_types()


@pytest.mark.parametrize("pulumi_type", sorted(NEGATIVE_CONTROLS))
def test_a_value_aws_would_reject_fails_the_lint(pulumi_type):
    graph = tracked(network_graph("prod", "create", require=True))
    target = next(r for r in graph.resources if r.type == pulumi_type)
    NEGATIVE_CONTROLS[pulumi_type](target.inputs)
    found = errors(template(graph))
    assert found, f"{pulumi_type}: the broken value was not reported"
    assert len({resource for _, resource, _ in found}) == 1, found


def test_a_function_in_more_subnets_than_lambda_allows_fails_the_lint():
    """The VPC config's own negative control (the function's is its memory size)."""
    graph = tracked(network_graph("prod", "own"))
    function = next(r for r in graph.resources if r.type == "aws:lambda/function:Function")
    function.inputs["vpcConfig"]["subnetIds"] = [f"subnet-{i:017x}" for i in range(17)]  # Lambda allows 16
    found = errors(template(graph))
    assert {resource for _, resource, _ in found} == {logical_id(function.name)}, found
