"""Every child's AWS name, as the component builds it, against `components.settings.names` (checked at preview)."""

from __future__ import annotations

import pytest

from components import ImagePipeline, parse_settings
from components.settings.names import AUTONAME, LIMITS, NAME_PREFIX, longest, longest_name, name_problems
from tests.infra.conftest import run_under_mocks, stack_settings

# Auto-named types, and the input that holds an explicit name or prefix (with what the provider adds to it).
AUTONAMED = {"aws:iam/role:Role": "IAM role names", "aws:iam/rolePolicy:RolePolicy": "IAM role policy names",
             "aws:lambda/function:Function": "Lambda function names", "aws:sqs/queue:Queue": "SQS queue names",
             "aws:sns/topic:Topic": "SNS topic names",
             "aws:sfn/stateMachine:StateMachine": "Step Functions state machine names",
             "aws:dynamodb/table:Table": "DynamoDB table names", "aws:s3/bucket:Bucket": "S3 bucket names",
             "aws:cloudwatch/metricAlarm:MetricAlarm": "CloudWatch alarm names",
             "aws:cloudwatch/eventRule:EventRule": "EventBridge rule names",
             "aws:ec2/securityGroup:SecurityGroup": "EC2 security group names"}
EXPLICIT = {"aws:cloudwatch/logGroup:LogGroup": ("namePrefix", "CloudWatch Logs log group names", NAME_PREFIX),
            "aws:kms/alias:Alias": ("namePrefix", "KMS alias names", NAME_PREFIX),
            "aws:cloudwatch/dashboard:Dashboard": ("dashboardName", "CloudWatch dashboard names", 0),
            "aws:lambda/layerVersion:LayerVersion": ("layerName", "Lambda layer names", 0)}


@pytest.mark.parametrize("workflow_type", ["STANDARD", "EXPRESS"])
def test_the_longest_name_the_preview_allows_fits_every_childs_aws_limit_exactly(workflow_type):
    name = "n" * longest_name()
    raw = stack_settings("prod", "create") | {"workflow": {"type": workflow_type}}
    raw["functions"] = raw["functions"] | {"validate": {"architecture": "x86_64"}}  # both layers
    graph = run_under_mocks("prod", lambda: ImagePipeline(name, parse_settings(raw)).queue_url)
    built: dict[str, int] = {}
    for resource in graph.resources:
        if resource.type in AUTONAMED:
            kind, length = AUTONAMED[resource.type], len(resource.name) + AUTONAME
        elif resource.type in EXPLICIT:
            key, kind, added = EXPLICIT[resource.type]
            length = len(resource.inputs[key]) + added
        else:
            continue
        built[kind] = max(built.get(kind, 0), length)
    limits = {limit.names: limit for limit in LIMITS}
    assert set(built) == set(limits)
    for kind, length in built.items():
        limit = limits[kind]
        assert length <= limit.limit, (kind, length)
        if workflow_type == "STANDARD":  # every child exists: the table's longest is the one built
            assert length == len(longest(limit, name)) + limit.added, kind
    assert name_problems(name) == [] and name_problems(name + "n")
