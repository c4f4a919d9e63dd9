"""The resource graph a stack builds under mocks, as the equivalent CloudFormation template.

cfn-lint (AWS's own linter) then checks it against CloudFormation's resource schemas: value
ranges, enums, patterns, IAM policy grammar, alarm and metric-math structure and the States
Language. One function per resource type; S3's and EventBridge's sub-resources fold into their
bucket and rule, as CloudFormation models them. Lambda code and layer content point at a
placeholder object: their bytes are checked by the layer and handler tests instead.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from tests.infra.conftest import Graph, Resource

Properties = dict[str, Any]
PLACEHOLDER_CODE = {"S3Bucket": "artifacts-placeholder", "S3Key": "handlers.zip"}


def logical_id(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _tags(inputs: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted((inputs.get("tags") or {}).items())]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _drop_empty(properties: Properties) -> Properties:
    return {k: v for k, v in properties.items() if v is not None and v != [] and v != {}}


def _children(graph: Graph, typ: str, key: str, value: Any) -> list[Resource]:
    return [r for r in graph.of_type(typ) if r.inputs.get(key) == value]


def queue(graph: Graph, r: Resource) -> Properties:
    i = r.inputs
    allow = _children(graph, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "queueUrl", i["url"])
    return {"MessageRetentionPeriod": i.get("messageRetentionSeconds"), "VisibilityTimeout": i.get(
        "visibilityTimeoutSeconds"), "ReceiveMessageWaitTimeSeconds": i.get("receiveWaitTimeSeconds"),
            "MaximumMessageSize": i.get("maxMessageSize"), "DelaySeconds": i.get("delaySeconds"),
            "SqsManagedSseEnabled": i.get("sqsManagedSseEnabled"), "KmsMasterKeyId": i.get("kmsMasterKeyId"),
            "KmsDataKeyReusePeriodSeconds": i.get("kmsDataKeyReusePeriodSeconds"),
            "RedrivePolicy": _json(i.get("redrivePolicy")),
            "RedriveAllowPolicy": _json(allow[0].inputs["redriveAllowPolicy"]) if allow else None, "Tags": _tags(i)}


def bucket(graph: Graph, r: Resource) -> Properties:
    physical = r.inputs["bucket"]

    def child(kind: str) -> dict[str, Any]:
        found = _children(graph, f"aws:s3/{kind}", "bucket", physical)
        return found[0].inputs if found else {}

    sse = child("bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    block = child("bucketPublicAccessBlock:BucketPublicAccessBlock")
    ownership = child("bucketOwnershipControls:BucketOwnershipControls")
    versioning = child("bucketVersioning:BucketVersioning")
    notification = child("bucketNotification:BucketNotification")
    lifecycle = child("bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    properties: Properties = {"Tags": _tags(r.inputs)}
    if sse:
        properties["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [_drop_empty({
            "ServerSideEncryptionByDefault": _drop_empty({
                "SSEAlgorithm": rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"],
                "KMSMasterKeyID": rule["applyServerSideEncryptionByDefault"].get("kmsMasterKeyId")}),
            "BucketKeyEnabled": rule.get("bucketKeyEnabled")}) for rule in sse["rules"]]}
    if block:
        properties["PublicAccessBlockConfiguration"] = {
            "BlockPublicAcls": block["blockPublicAcls"], "BlockPublicPolicy": block["blockPublicPolicy"],
            "IgnorePublicAcls": block["ignorePublicAcls"], "RestrictPublicBuckets": block["restrictPublicBuckets"]}
    if ownership:
        properties["OwnershipControls"] = {"Rules": [{"ObjectOwnership": ownership["rule"]["objectOwnership"]}]}
    if versioning:
        properties["VersioningConfiguration"] = {"Status": versioning["versioningConfiguration"]["status"]}
    if lifecycle:
        properties["LifecycleConfiguration"] = {"Rules": [_drop_empty({
            "Id": rule["id"], "Status": rule["status"], "Prefix": rule["filter"]["prefix"],
            "ExpirationInDays": rule["expiration"]["days"],
            "NoncurrentVersionExpiration": {"NoncurrentDays": rule["noncurrentVersionExpiration"]["noncurrentDays"]}})
            for rule in lifecycle["rules"]]}
    if notification:
        properties["NotificationConfiguration"] = {"LambdaConfigurations": [
            _drop_empty({"Event": event, "Function": target["lambdaFunctionArn"], "Filter": _drop_empty({
                "S3Key": {"Rules": [{"Name": name, "Value": target[key]} for name, key in
                                    (("prefix", "filterPrefix"), ("suffix", "filterSuffix")) if target.get(key)]}})})
            for target in notification.get("lambdaFunctions", []) for event in target["events"]]}
    return properties


def table(graph: Graph, r: Resource) -> Properties:
    i = r.inputs
    sse = i.get("serverSideEncryption") or {}
    return {"BillingMode": i["billingMode"],
            "KeySchema": [{"AttributeName": i["hashKey"], "KeyType": "HASH"},
                          *([{"AttributeName": i["rangeKey"], "KeyType": "RANGE"}] if i.get("rangeKey") else [])],
            "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]}
                                     for a in i["attributes"]],
            "GlobalSecondaryIndexes": [{"IndexName": g["name"], "Projection": {"ProjectionType": g["projectionType"]},
                                        "KeySchema": [{"AttributeName": g["hashKey"], "KeyType": "HASH"},
                                                      {"AttributeName": g["rangeKey"], "KeyType": "RANGE"}]}
                                       for g in i.get("globalSecondaryIndexes", [])],
            "SSESpecification": _drop_empty({"SSEEnabled": sse.get("enabled", False),
                                             "SSEType": "KMS" if sse.get("kmsKeyArn") else None,
                                             "KMSMasterKeyId": sse.get("kmsKeyArn")}),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": i["pointInTimeRecovery"]["enabled"]},
            "DeletionProtectionEnabled": i.get("deletionProtectionEnabled"), "Tags": _tags(i)}


def function(graph: Graph, r: Resource) -> Properties:
    i = r.inputs
    logging = i.get("loggingConfig") or {}
    reserved, vpc = i.get("reservedConcurrentExecutions"), i.get("vpcConfig")
    return {"Runtime": i["runtime"], "Handler": i["handler"], "Role": i["role"], "Architectures": i["architectures"],
            "MemorySize": i["memorySize"], "Timeout": i["timeout"], "Layers": i.get("layers"),
            "ReservedConcurrentExecutions": reserved if reserved is not None and reserved >= 0 else None,
            "Environment": {"Variables": i["environment"]["variables"]}, "Code": PLACEHOLDER_CODE,
            "LoggingConfig": _drop_empty({"LogFormat": logging.get("logFormat"), "LogGroup": logging.get("logGroup"),
                                          "ApplicationLogLevel": logging.get("applicationLogLevel"),
                                          "SystemLogLevel": logging.get("systemLogLevel")}),
            "TracingConfig": {"Mode": i["tracingConfig"]["mode"]}, "Tags": _tags(i),
            "VpcConfig": {"SubnetIds": vpc["subnetIds"], "SecurityGroupIds": vpc["securityGroupIds"]} if vpc else None}


def security_group(graph: Graph, r: Resource) -> Properties:
    i = r.inputs

    def rules(key: str, peer: str) -> list[Properties]:
        return [_drop_empty({"IpProtocol": rule["protocol"], "FromPort": rule.get("fromPort"),
                             "ToPort": rule.get("toPort"), "CidrIp": (rule.get("cidrBlocks") or [None])[0],
                             f"{peer}SecurityGroupId": (rule.get("securityGroups") or [None])[0],
                             "Description": rule.get("description")}) for rule in i.get(key) or []]

    return {"GroupDescription": i.get("description"), "VpcId": i.get("vpcId"),
            "SecurityGroupIngress": rules("ingress", "Source"), "SecurityGroupEgress": rules("egress", "Destination"),
            "Tags": _tags(i)}


def security_group_rule(direction: str) -> Callable[[Graph, Resource], Properties]:
    peer = "Source" if direction == "ingress" else "Destination"

    def build(graph: Graph, r: Resource) -> Properties:
        i = r.inputs
        return {"GroupId": i["securityGroupId"], "IpProtocol": i["ipProtocol"], "FromPort": i.get("fromPort"),
                "ToPort": i.get("toPort"), "CidrIp": i.get("cidrIpv4"), "CidrIpv6": i.get("cidrIpv6"),
                f"{peer}SecurityGroupId": i.get("referencedSecurityGroupId"),
                f"{peer}PrefixListId": i.get("prefixListId"), "Description": i.get("description")}

    return build


def vpc_endpoint(graph: Graph, r: Resource) -> Properties:
    i = r.inputs
    return {"VpcId": i["vpcId"], "ServiceName": i["serviceName"], "VpcEndpointType": i.get("vpcEndpointType"),
            "PrivateDnsEnabled": i.get("privateDnsEnabled"), "SubnetIds": i.get("subnetIds"),
            "SecurityGroupIds": i.get("securityGroupIds"), "RouteTableIds": i.get("routeTableIds"),
            "PolicyDocument": _json(i.get("policy")), "Tags": _tags(i)}


def alarm(graph: Graph, r: Resource) -> Properties:
    i = r.inputs
    def metric_stat(metric: dict[str, Any]) -> Properties:
        return {"Metric": {"Namespace": metric["namespace"], "MetricName": metric["metricName"],
                           "Dimensions": [{"Name": k, "Value": v} for k, v in metric.get("dimensions", {}).items()]},
                "Period": metric["period"], "Stat": metric["stat"]}

    metrics = [_drop_empty({"Id": q["id"], "ReturnData": q.get("returnData"), "Expression": q.get("expression"),
                            "Label": q.get("label"),
                            "MetricStat": metric_stat(q["metric"]) if q.get("metric") else None})
               for q in i.get("metricQueries", [])]
    return {"AlarmDescription": i.get("alarmDescription"), "Namespace": i.get("namespace"),
            "MetricName": i.get("metricName"), "Statistic": i.get("statistic"), "Period": i.get("period"),
            "Dimensions": [{"Name": k, "Value": v} for k, v in (i.get("dimensions") or {}).items()],
            "EvaluationPeriods": i["evaluationPeriods"], "Threshold": i["threshold"],
            "ComparisonOperator": i["comparisonOperator"], "TreatMissingData": i.get("treatMissingData"),
            "AlarmActions": i.get("alarmActions"), "OKActions": i.get("okActions"), "Metrics": metrics,
            "Tags": _tags(i)}


def rule(graph: Graph, r: Resource) -> Properties:
    i = r.inputs
    targets = [_drop_empty({"Id": logical_id(t.name)[:64], "Arn": t.inputs["arn"], "RetryPolicy": _drop_empty({
        "MaximumEventAgeInSeconds": (t.inputs.get("retryPolicy") or {}).get("maximumEventAgeInSeconds"),
        "MaximumRetryAttempts": (t.inputs.get("retryPolicy") or {}).get("maximumRetryAttempts")}),
        "DeadLetterConfig": {"Arn": t.inputs["deadLetterConfig"]["arn"]} if t.inputs.get("deadLetterConfig") else None})
        for t in _children(graph, "aws:cloudwatch/eventTarget:EventTarget", "rule", i["name"])]
    return {"Description": i.get("description"), "EventPattern": _json(i.get("eventPattern")),
            "ScheduleExpression": i.get("scheduleExpression"), "State": "ENABLED", "Targets": targets,
            "Tags": _tags(i)}


def state_machine(graph: Graph, r: Resource) -> Properties:
    i = r.inputs
    logging = i.get("loggingConfiguration") or {}
    return {"StateMachineType": i.get("type"), "RoleArn": i["roleArn"], "Definition": _json(i["definition"]),
            "LoggingConfiguration": {"Level": logging["level"], "IncludeExecutionData": logging["includeExecutionData"],
                                     "Destinations": [{"CloudWatchLogsLogGroup": {
                                         "LogGroupArn": logging["logDestination"]}}]},
            "TracingConfiguration": {"Enabled": i["tracingConfiguration"]["enabled"]}, "Tags": _tags(i)}


MAPPINGS: dict[str, tuple[str, Callable[[Graph, Resource], Properties]]] = {
    "aws:sqs/queue:Queue": ("AWS::SQS::Queue", queue),
    "aws:sqs/queuePolicy:QueuePolicy": ("AWS::SQS::QueuePolicy", lambda g, r: {
        "Queues": [r.inputs["queueUrl"]], "PolicyDocument": _json(r.inputs["policy"])}),
    "aws:s3/bucket:Bucket": ("AWS::S3::Bucket", bucket),
    "aws:s3/bucketPolicy:BucketPolicy": ("AWS::S3::BucketPolicy", lambda g, r: {
        "Bucket": r.inputs["bucket"], "PolicyDocument": _json(r.inputs["policy"])}),
    "aws:dynamodb/table:Table": ("AWS::DynamoDB::Table", table),
    "aws:sns/topic:Topic": ("AWS::SNS::Topic", lambda g, r: {"KmsMasterKeyId": r.inputs.get("kmsMasterKeyId"),
                                                              "Tags": _tags(r.inputs)}),
    "aws:sns/topicPolicy:TopicPolicy": ("AWS::SNS::TopicPolicy", lambda g, r: {
        "Topics": [r.inputs["arn"]], "PolicyDocument": _json(r.inputs["policy"])}),
    "aws:sns/topicSubscription:TopicSubscription": ("AWS::SNS::Subscription", lambda g, r: {
        "TopicArn": r.inputs["topic"], "Protocol": r.inputs["protocol"], "Endpoint": r.inputs["endpoint"]}),
    "aws:kms/key:Key": ("AWS::KMS::Key", lambda g, r: {
        "Description": r.inputs.get("description"), "EnableKeyRotation": r.inputs.get("enableKeyRotation"),
        "PendingWindowInDays": r.inputs.get("deletionWindowInDays"), "KeyPolicy": _json(r.inputs["policy"]),
        "Tags": _tags(r.inputs)}),
    "aws:kms/alias:Alias": ("AWS::KMS::Alias", lambda g, r: {"AliasName": r.inputs["name"],
                                                              "TargetKeyId": r.inputs["targetKeyId"]}),
    "aws:iam/role:Role": ("AWS::IAM::Role", lambda g, r: {
        "AssumeRolePolicyDocument": _json(r.inputs["assumeRolePolicy"]), "Description": r.inputs.get("description"),
        "Tags": _tags(r.inputs)}),
    "aws:iam/rolePolicy:RolePolicy": ("AWS::IAM::RolePolicy", lambda g, r: {
        "RoleName": r.inputs["role"], "PolicyName": r.name, "PolicyDocument": _json(r.inputs["policy"])}),
    "aws:cloudwatch/logGroup:LogGroup": ("AWS::Logs::LogGroup", lambda g, r: {
        "LogGroupName": r.inputs["name"], "RetentionInDays": r.inputs.get("retentionInDays"), "Tags": _tags(r.inputs)}),
    "aws:lambda/function:Function": ("AWS::Lambda::Function", function),
    "aws:lambda/layerVersion:LayerVersion": ("AWS::Lambda::LayerVersion", lambda g, r: {
        "LayerName": r.inputs["layerName"], "Description": r.inputs.get("description"), "Content": PLACEHOLDER_CODE,
        "CompatibleArchitectures": r.inputs.get("compatibleArchitectures"),
        "CompatibleRuntimes": r.inputs.get("compatibleRuntimes")}),
    "aws:lambda/permission:Permission": ("AWS::Lambda::Permission", lambda g, r: {
        "Action": r.inputs["action"], "FunctionName": r.inputs["function"], "Principal": r.inputs["principal"],
        "SourceArn": r.inputs.get("sourceArn"), "SourceAccount": r.inputs.get("sourceAccount")}),
    "aws:lambda/eventSourceMapping:EventSourceMapping": ("AWS::Lambda::EventSourceMapping", lambda g, r: {
        "EventSourceArn": r.inputs["eventSourceArn"], "FunctionName": r.inputs["functionName"],
        "BatchSize": r.inputs.get("batchSize"),
        "MaximumBatchingWindowInSeconds": r.inputs.get("maximumBatchingWindowInSeconds"),
        "FunctionResponseTypes": r.inputs.get("functionResponseTypes"),
        "ScalingConfig": {"MaximumConcurrency": r.inputs["scalingConfig"]["maximumConcurrency"]}
        if r.inputs.get("scalingConfig") else None, "Tags": _tags(r.inputs)}),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": (
        "AWS::Lambda::EventInvokeConfig", lambda g, r: {
        "FunctionName": r.inputs["functionName"], "Qualifier": "$LATEST",
        "MaximumRetryAttempts": r.inputs.get("maximumRetryAttempts"),
        "MaximumEventAgeInSeconds": r.inputs.get("maximumEventAgeInSeconds"),
        "DestinationConfig": {"OnFailure": {
            "Destination": r.inputs["destinationConfig"]["onFailure"]["destination"]}}}),
    "aws:sfn/stateMachine:StateMachine": ("AWS::StepFunctions::StateMachine", state_machine),
    "aws:cloudwatch/eventRule:EventRule": ("AWS::Events::Rule", rule),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("AWS::CloudWatch::Alarm", alarm),
    "aws:cloudwatch/dashboard:Dashboard": ("AWS::CloudWatch::Dashboard", lambda g, r: {
        "DashboardName": r.inputs["dashboardName"], "DashboardBody": r.inputs["dashboardBody"]}),
    "aws:ec2/vpc:Vpc": ("AWS::EC2::VPC", lambda g, r: {
        "CidrBlock": r.inputs["cidrBlock"], "EnableDnsSupport": r.inputs.get("enableDnsSupport"),
        "EnableDnsHostnames": r.inputs.get("enableDnsHostnames"), "Tags": _tags(r.inputs)}),
    "aws:ec2/subnet:Subnet": ("AWS::EC2::Subnet", lambda g, r: {
        "VpcId": r.inputs["vpcId"], "CidrBlock": r.inputs.get("cidrBlock"),
        "AvailabilityZone": r.inputs.get("availabilityZone"),
        "MapPublicIpOnLaunch": r.inputs.get("mapPublicIpOnLaunch"), "Tags": _tags(r.inputs)}),
    # CloudFormation models routes as AWS::EC2::Route resources: passing any as `Routes` makes the lint report
    # them (the created VPC has none: no internet gateway, no NAT).
    "aws:ec2/routeTable:RouteTable": ("AWS::EC2::RouteTable", lambda g, r: {
        "VpcId": r.inputs["vpcId"], "Tags": _tags(r.inputs), "Routes": r.inputs.get("routes")}),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("AWS::EC2::SubnetRouteTableAssociation", lambda g, r: {
        "SubnetId": r.inputs.get("subnetId"), "RouteTableId": r.inputs.get("routeTableId")}),
    "aws:ec2/securityGroup:SecurityGroup": ("AWS::EC2::SecurityGroup", security_group),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("AWS::EC2::SecurityGroupIngress",
                                                                  security_group_rule("ingress")),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("AWS::EC2::SecurityGroupEgress",
                                                                security_group_rule("egress")),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("AWS::EC2::VPCEndpoint", vpc_endpoint),
}
# Folded into their parent resource above (CloudFormation models them as properties).
FOLDED = {"aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
          "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketVersioning:BucketVersioning",
          "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketNotification:BucketNotification",
          "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
          "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "aws:cloudwatch/eventTarget:EventTarget",
          "image-pipeline:index:ImagePipeline"}


class TrackedInputs(dict):
    """A resource's inputs that remember which keys a mapping read."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


def tracked(graph: Graph) -> Graph:
    """A copy of `graph` whose resources record what the mappings read (see `unread_inputs`)."""
    resources = [Resource(r.urn, r.type, r.name, TrackedInputs(copy.deepcopy(r.inputs)), r.options, r.id)
                 for r in graph.resources]
    return Graph(resources=resources, dependencies=graph.dependencies,
                 property_dependencies=graph.property_dependencies)


# Inputs with no CloudFormation counterpart: physical names and computed outputs the mocks echo,
# Pulumi-only switches, and the component's own inputs.
# Outputs, and the provider's own behaviour flags (forceDestroy, forceDetachPolicies: what a delete does first).
NOT_IN_CLOUDFORMATION = {"name", "arn", "id", "url", "urn", "namePrefix", "forceDestroy", "forceDetachPolicies",
                         "invokeArn", "keyId", "bucket", "tagsAll", "code", "prefixListId"}


def unread_inputs(graph: Graph) -> dict[str, set[str]]:
    """After `template(graph)` on a `tracked` graph: each resource's inputs that no mapping read."""
    unread = {}
    for r in graph.resources:
        if r.type == "image-pipeline:index:ImagePipeline":
            continue
        left = set(r.inputs) - r.inputs.read - NOT_IN_CLOUDFORMATION
        if left:
            unread[r.name] = left
    return unread


def template(graph: Graph) -> dict[str, Any]:
    """Every registered resource as CloudFormation; an unmapped type is an error, never skipped."""
    resources: dict[str, Any] = {}
    for resource in graph.resources:
        if resource.type in FOLDED:
            continue
        if resource.type not in MAPPINGS:
            raise KeyError(f"no CloudFormation mapping for {resource.type} ({resource.name})")
        cfn_type, build = MAPPINGS[resource.type]
        resources[logical_id(resource.name)] = {"Type": cfn_type,
                                                "Properties": _drop_empty(build(graph, resource))}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
