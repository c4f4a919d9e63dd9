"""CrossGuard policies for image-pipeline stacks, importable without starting a policy server.

Mandatory: encryption at rest on queues, topics, buckets and tables; a DLQ on every queue that
feeds a Lambda; `ReportBatchItemFailures` on SQS mappings; queue visibility >= 6 x the
consumer's timeout + batching window; TLS-only queue and bucket policies; no `*` actions in
IAM allows; log retention set. In a VPC (any endpoint or vpcConfig in the stack): every function
in >= 2 subnets with security groups; interface endpoints with private DNS; endpoint policies
present, naming their actions, never `*` principals without a condition; no security group open
to 0.0.0.0/0 or ::/0. Advisory: arm64 functions; `maxReceiveCount` >= 5.

Resources are matched through their dependencies (a mapping depends on its queue and its
function), which `pulumi preview` knows even while ARNs are still unknown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

QUEUE, TOPIC = "aws:sqs/queue:Queue", "aws:sns/topic:Topic"
TABLE, BUCKET = "aws:dynamodb/table:Table", "aws:s3/bucket:Bucket"
MAPPING, FUNCTION = "aws:lambda/eventSourceMapping:EventSourceMapping", "aws:lambda/function:Function"
QUEUE_POLICY, BUCKET_POLICY = "aws:sqs/queuePolicy:QueuePolicy", "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
IAM_DOCUMENTS = {"aws:iam/rolePolicy:RolePolicy": "policy", "aws:iam/policy:Policy": "policy"}
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ENDPOINT, SECURITY_GROUP = "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULES = ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                 "aws:ec2/securityGroupRule:SecurityGroupRule")
ANYWHERE = ("0.0.0.0/0", "::/0")


def _document(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None  # unknown during preview


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- resource policies ----------------------------------------------------------------------

def check_encryption(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type == QUEUE and not (props.get("sqsManagedSseEnabled") or props.get("kmsMasterKeyId")):
        report("SQS queue without server-side encryption: set sqsManagedSseEnabled or kmsMasterKeyId.", None)
    elif args.resource_type == TOPIC and not props.get("kmsMasterKeyId"):
        report("SNS topic without server-side encryption: set kmsMasterKeyId (a key CloudWatch may use).", None)
    elif args.resource_type == TABLE:
        # Always encrypted at rest: by the AWS-owned key (enabled false) or a customer key. Enabled
        # without a key means the AWS-managed aws/dynamodb key: KMS charges and no key policy of ours.
        sse = props.get("serverSideEncryption") or {}
        if sse.get("enabled") and not sse.get("kmsKeyArn"):
            report("DynamoDB table on the AWS-managed aws/dynamodb key: use the AWS-owned key (enabled false) "
                   "or name a customer key (kmsKeyArn).", None)


def _wild(actions: Any) -> list[Any]:
    return [a for a in _listed(actions) if a == "*" or str(a).endswith(":*")]


def check_no_wildcard_actions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    key = IAM_DOCUMENTS.get(args.resource_type)
    document = _document(args.props.get(key)) if key else None
    for statement in _statements(document or {}):
        if statement.get("Effect") != "Allow":
            continue
        wild = _wild(statement.get("Action", []))
        if wild:
            report(f"IAM statement {statement.get('Sid', '(no Sid)')!r} allows wildcard actions {wild}; "
                   "name the actions.", None)


def check_log_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == LOG_GROUP and not args.props.get("retentionInDays"):
        report("Log group without retentionInDays: logs would be kept (and billed) forever.", None)


def check_report_batch_item_failures(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != MAPPING:
        return
    source = str(args.props.get("eventSourceArn") or "")
    reports = "ReportBatchItemFailures" in (args.props.get("functionResponseTypes") or [])
    if (source.startswith("arn:aws:sqs") or not source) and not reports:
        report("SQS event source mapping without functionResponseTypes [ReportBatchItemFailures]: a failed "
               "record makes the whole batch retry, or a swallowed error deletes it.", None)


def check_endpoint_policies(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ENDPOINT:
        return
    if args.props.get("vpcEndpointType") == "Interface" and args.props.get("privateDnsEnabled") is False:
        report("Interface endpoint without private DNS: the SDKs' default service names would still resolve to the "
               "public endpoints, which a VPC without NAT cannot reach.", None)
    if "policy" not in args.props:
        report("VPC endpoint without a policy: AWS applies full access (any principal, any action, any resource).",
               None)
    for statement in _statements(_document(args.props.get("policy")) or {}):
        sid = statement.get("Sid", "(no Sid)")
        if statement.get("Effect") != "Allow":
            continue
        if _wild(statement.get("Action", [])):
            report(f"Endpoint policy statement {sid!r} allows wildcard actions {_wild(statement['Action'])}; name "
                   "the actions.", None)
        principal = statement.get("Principal")
        anyone = principal == "*" or (isinstance(principal, dict) and "*" in _listed(principal.get("AWS", [])))
        if anyone and not statement.get("Condition"):
            report(f"Endpoint policy statement {sid!r} allows any principal without a condition; limit it "
                   "(e.g. aws:PrincipalArn).", None)


def check_no_open_ingress(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type == SECURITY_GROUP:
        opened = [c for rule in props.get("ingress") or [] for c in
                  [*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])] if c in ANYWHERE]
    elif args.resource_type in INGRESS_RULES and props.get("type", "ingress") == "ingress":
        opened = [c for c in (props.get("cidrIpv4"), props.get("cidrIpv6"), *(props.get("cidrBlocks") or []),
                              *(props.get("ipv6CidrBlocks") or [])) if c in ANYWHERE]
    else:
        return
    if opened:
        report(f"Security group ingress from {', '.join(opened)}: the pipeline's functions and endpoints take "
               "connections from the pipeline only.", None)


def check_arm64(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == FUNCTION and (args.props.get("architectures") or ["x86_64"]) != ["arm64"]:
        report("Lambda function not on arm64 (Graviton): about 20 % cheaper per GB-second.", None)


def check_max_receive_count(args: ResourceValidationArgs, report: ReportViolation) -> None:
    redrive = _document(args.props.get("redrivePolicy")) if args.resource_type == QUEUE else None
    if redrive and int(redrive.get("maxReceiveCount", 5)) < 5:
        report(f"maxReceiveCount {redrive['maxReceiveCount']} is below 5, the Lambda docs' minimum for queues "
               "that feed Lambda.", None)


# -- stack policies -------------------------------------------------------------------------

def _depends(resource: Any, typ: str, prop: str | None = None) -> Iterator[Any]:
    candidates = (resource.property_dependencies.get(prop, []) if prop else resource.dependencies) or []
    return (r for r in candidates if r.resource_type == typ)


def _mappings(args: StackValidationArgs) -> Iterator[tuple[Any, Any | None, Any | None]]:
    for mapping in (r for r in args.resources if r.resource_type == MAPPING):
        queue = next(_depends(mapping, QUEUE, "eventSourceArn"), None) or next(_depends(mapping, QUEUE), None)
        function = next(_depends(mapping, FUNCTION, "functionName"), None) or next(_depends(mapping, FUNCTION), None)
        yield mapping, queue, function


def check_dead_letter_queues(args: StackValidationArgs, report: ReportViolation) -> None:
    dead_letter_targets = {d.urn for r in args.resources if r.resource_type == QUEUE
                           for d in _depends(r, QUEUE, "redrivePolicy")}
    for _, queue, _ in _mappings(args):
        if queue is None or queue.urn in dead_letter_targets:
            continue  # not an SQS source, or it is itself a dead-letter queue
        if not queue.props.get("redrivePolicy"):
            report(f"Queue {queue.name} feeds a Lambda but has no dead-letter queue (redrivePolicy): failing "
                   "messages retry until they expire.", queue.urn)


def check_visibility_timeout(args: StackValidationArgs, report: ReportViolation) -> None:
    for mapping, queue, function in _mappings(args):
        if queue is None or function is None:
            continue
        visibility, timeout = queue.props.get("visibilityTimeoutSeconds", 30), function.props.get("timeout", 3)
        window = mapping.props.get("maximumBatchingWindowInSeconds") or 0
        if None in (visibility, timeout):
            continue
        required = 6 * timeout + window
        if visibility < required:
            report(f"Queue {queue.name} visibility {visibility} s is below 6 x {function.name} timeout ({timeout} s)"
                   f" + batching window ({window} s) = {required} s.", queue.urn)


def check_vpc_placement(args: StackValidationArgs, report: ReportViolation) -> None:
    functions = [r for r in args.resources if r.resource_type == FUNCTION]
    if not any(r.resource_type == ENDPOINT for r in args.resources) and not any(
            f.props.get("vpcConfig") for f in functions):
        return  # not a VPC stack
    for function in functions:
        config = function.props.get("vpcConfig") or {}
        subnets, groups = config.get("subnetIds") or [], config.get("securityGroupIds") or []
        if len(subnets) < 2 or not groups:
            report(f"Function {function.name} is not in the VPC with the rest: it needs vpcConfig with at least two "
                   f"subnets (one per AZ) and a security group (has {len(subnets)} subnets, {len(groups)} groups).",
                   function.urn)


def _tls_only(document: dict[str, Any] | None) -> bool | None:
    if document is None:
        return None  # unknown during preview: nothing to check yet
    return any(s.get("Effect") == "Deny" and (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
               in ("false", False) for s in _statements(document))


def check_tls_only_policies(args: StackValidationArgs, report: ReportViolation) -> None:
    for typ, policy_type, prop in ((QUEUE, QUEUE_POLICY, "queueUrl"), (BUCKET, BUCKET_POLICY, "bucket")):
        policies = [p for p in args.resources if p.resource_type == policy_type]
        for resource in (r for r in args.resources if r.resource_type == typ):
            attached = [p for p in policies if resource in list(_depends(p, typ, prop)) + list(_depends(p, typ))]
            verdicts = [_tls_only(_document(p.props.get("policy"))) for p in attached]
            if not attached or False in verdicts:
                report(f"{resource.name} has no policy denying requests without TLS (aws:SecureTransport false).",
                       resource.urn)


def check_bucket_encryption(args: StackValidationArgs, report: ReportViolation) -> None:
    configs = [r for r in args.resources if r.resource_type == BUCKET_SSE]
    for bucket in (r for r in args.resources if r.resource_type == BUCKET):
        if not any(bucket in list(_depends(c, BUCKET)) for c in configs) and not bucket.props.get(
                "serverSideEncryptionConfiguration"):
            report(f"Bucket {bucket.name} has no server-side encryption configuration.", bucket.urn)


def _resource_policy(name: str, description: str, validate: Callable[..., None],
                     level: EnforcementLevel = EnforcementLevel.MANDATORY) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(name=name, description=description, validate=validate, enforcement_level=level)


def _stack_policy(name: str, description: str, validate: Callable[..., None]) -> StackValidationPolicy:
    return StackValidationPolicy(name=name, description=description, validate=validate,
                                 enforcement_level=EnforcementLevel.MANDATORY)


MANDATORY = [
    _resource_policy("encryption-at-rest", "Queues, topics and tables are encrypted.", check_encryption),
    _stack_policy("bucket-encryption", "Every bucket has a server-side encryption configuration.",
                  check_bucket_encryption),
    _stack_policy("dlq-for-lambda-queues", "Every queue that feeds a Lambda has a dead-letter queue.",
                  check_dead_letter_queues),
    _resource_policy("report-batch-item-failures", "SQS mappings report batch item failures.",
                     check_report_batch_item_failures),
    _stack_policy("visibility-covers-consumer", "Queue visibility >= 6 x consumer timeout + batching window.",
                  check_visibility_timeout),
    _stack_policy("tls-only-resource-policies", "Queue and bucket policies deny requests without TLS.",
                  check_tls_only_policies),
    _resource_policy("no-wildcard-actions", "IAM allows name their actions.", check_no_wildcard_actions),
    _resource_policy("log-retention", "Log groups have a retention period.", check_log_retention),
    _stack_policy("vpc-placement", "In a VPC stack, every function has subnets in 2+ AZs and security groups.",
                  check_vpc_placement),
    _resource_policy("endpoint-policies", "VPC endpoints: private DNS, a policy naming actions and principals.",
                     check_endpoint_policies),
    _resource_policy("no-open-ingress", "No security group admits 0.0.0.0/0 or ::/0.", check_no_open_ingress),
]
ADVISORY = [
    _resource_policy("arm64-functions", "Functions run on arm64.", check_arm64, EnforcementLevel.ADVISORY),
    _resource_policy("max-receive-count", "maxReceiveCount is at least 5.", check_max_receive_count,
                     EnforcementLevel.ADVISORY),
]
POLICIES = MANDATORY + ADVISORY
