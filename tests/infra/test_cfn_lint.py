"""AWS's own schemas: every stack's resource graph, as CloudFormation, linted by cfn-lint with no errors.

Each mapping has a negative control: one value AWS would reject, which the lint must report on that
very resource, so the check cannot pass because a mapping dropped what it should carry.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from components import ImagePipeline, Settings, read_stack_settings
from tests.infra.cloudformation import MAPPINGS, template
from tests.infra.conftest import STACKS, run_under_mocks

LINT = ManualArgs(regions=["eu-west-1"])


@cache
def stack_template(stack: str) -> str:
    def program() -> Any:
        return ImagePipeline(f"images-{stack}", Settings.from_dict(read_stack_settings(stack))).queue_url

    return json.dumps(template(run_under_mocks(stack, program)))


def errors(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(m.rule.id, str(m.path[1]) if len(m.path) > 1 else "", m.message)
            for m in lint(json.dumps(document), config=LINT) if m.rule.id.startswith("E")]


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_lints_clean_against_cloudformations_schemas(stack):
    document = json.loads(stack_template(stack))
    assert len(document["Resources"]) > 80
    assert errors(document) == []


def _first(document: dict[str, Any], cfn_type: str) -> tuple[str, dict[str, Any]]:
    name = next(n for n, r in document["Resources"].items() if r["Type"] == cfn_type)
    return name, document["Resources"][name]["Properties"]


Break = Callable[[dict[str, Any]], None]
NEGATIVE_CONTROLS: dict[str, Break] = {
    "AWS::SQS::Queue": lambda p: p.update(VisibilityTimeout=50_000),
    "AWS::SQS::QueuePolicy": lambda p: p["PolicyDocument"]["Statement"][0].update(Effect="Maybe"),
    "AWS::S3::Bucket": lambda p: p["VersioningConfiguration"].update(Status="Sometimes"),
    "AWS::S3::BucketPolicy": lambda p: p["PolicyDocument"]["Statement"][0].update(Effect="Maybe"),
    "AWS::DynamoDB::Table": lambda p: p.update(BillingMode="FREE"),
    "AWS::SNS::Topic": lambda p: p.update(FifoTopic="maybe"),
    "AWS::SNS::TopicPolicy": lambda p: p["PolicyDocument"]["Statement"][0].update(Effect="Maybe"),
    "AWS::SNS::Subscription": lambda p: p.pop("TopicArn"),
    "AWS::KMS::Key": lambda p: p.update(PendingWindowInDays=3),
    "AWS::KMS::Alias": lambda p: p.update(AliasName="no-alias-prefix"),
    "AWS::IAM::Role": lambda p: p["AssumeRolePolicyDocument"].update(Version="2099-01-01"),
    "AWS::IAM::RolePolicy": lambda p: p["PolicyDocument"]["Statement"][0].update(Effect="Maybe"),
    "AWS::Logs::LogGroup": lambda p: p.update(RetentionInDays=2),
    "AWS::Lambda::Function": lambda p: p.update(MemorySize=100),
    "AWS::Lambda::LayerVersion": lambda p: p.update(CompatibleArchitectures=["sparc"]),
    "AWS::Lambda::Permission": lambda p: p.update(Action="invoke everything"),
    "AWS::Lambda::EventSourceMapping": lambda p: p.update(BatchSize=0),
    "AWS::Lambda::EventInvokeConfig": lambda p: p.update(MaximumRetryAttempts=5),
    "AWS::StepFunctions::StateMachine": lambda p: p["Definition"]["States"]["Done"].update(Type="Bogus"),
    "AWS::Events::Rule": lambda p: p.update(State="MAYBE"),
    "AWS::CloudWatch::Alarm": lambda p: p.update(ComparisonOperator="Bigger"),
    "AWS::CloudWatch::Dashboard": lambda p: p.update(DashboardBody={"widgets": "not a string"}),
}


def test_every_mapped_type_has_a_negative_control():
    assert {cfn_type for cfn_type, _ in MAPPINGS.values()} == set(NEGATIVE_CONTROLS)


@pytest.mark.parametrize("cfn_type", sorted(NEGATIVE_CONTROLS))
def test_a_value_aws_would_reject_fails_the_lint_on_that_resource(cfn_type):
    document = copy.deepcopy(json.loads(stack_template("prod")))
    name, properties = _first(document, cfn_type)
    NEGATIVE_CONTROLS[cfn_type](properties)
    found = errors(document)
    assert found, f"{cfn_type}: the broken value was not reported"
    assert {resource for _, resource, _ in found} == {name}, found
