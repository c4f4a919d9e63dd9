"""VPC placement: the functions in private subnets, every AWS call through a VPC endpoint.

`network.subnet_ids` places the functions in your VPC; `network.create_vpc` creates a minimal private
one (one subnet per AZ, no internet gateway, no NAT). Without a NAT, an AWS service with no endpoint
is unreachable, so every service the functions call has one:

    >>> interface_services(customer_key=False, tracing=False)
    ['sqs', 'states', 'sns', 'logs', 'monitoring']

This module is plain (no pulumi import), as `components.policies` is: the settings' warnings, the
cost tool and the local runner use it without Pulumi installed. It takes plain values (and the network
settings section), never imports the settings: the settings' warnings import it. The resources are built by
`components.network.vpc` (subnets, security groups) and `components.network.endpoints` (the endpoints) from the
documents below.

Endpoints with private DNS answer for the service's public name in the WHOLE VPC, and a gateway
endpoint carries all S3/DynamoDB traffic of the route tables it is on: their policies here allow only
this pipeline's functions and resources. In a VPC shared with other workloads, set `endpoints: false`
and let your own endpoints' policies allow the pipeline (the actions and ARNs of `endpoint_policies`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol

from components.policies import Document, allow, document

# Gateway endpoints are free; interface endpoints are billed per AZ per hour and per GB.
GATEWAY_SERVICES = ("s3", "dynamodb")
HOURS_PER_MONTH = 730  # AWS's pricing month
HTTPS = 443
# Each endpoint's service -> the IAM prefix of its actions.
ACTION_PREFIX = {"sqs": "sqs", "states": "states", "sns": "sns", "logs": "logs", "monitoring": "cloudwatch",
                 "kms": "kms", "xray": "xray", "s3": "s3", "dynamodb": "dynamodb"}
METRICS_NAMESPACE = "ImagePipeline"  # POWERTOOLS_METRICS_NAMESPACE of every function
# Lambda's own SQS pollers (event source mappings) and async-invoke destinations act with these functions'
# roles from Lambda's network, never through a VPC endpoint: `require_vpc_endpoints` cannot hold them to one.
SERVICE_SIDE_ROLES = {"upload_queue": ("orchestrator",), "dead_letter_queue": ("dlq_processor", "s3_event_handler")}


class Placement(Protocol):
    """What the endpoint helpers read of the network settings (`components.settings.config.NetworkSettings`)."""

    create_vpc: bool
    availability_zones: int
    subnet_ids: list[str]
    endpoints: bool

    @property
    def enabled(self) -> bool: ...


def interface_services(*, customer_key: bool, tracing: bool) -> list[str]:
    """The interface endpoints a stack needs: always SQS, Step Functions, SNS, CloudWatch Logs and
    Monitoring; KMS with a customer key (`encryption.mode: kms`); X-Ray with tracing."""
    services = ["sqs", "states", "sns", "logs", "monitoring"]
    if customer_key:
        services.append("kms")
    if tracing:
        services.append("xray")
    return services


def endpoint_zones(network: Placement) -> int:
    """AZs the interface endpoints span: the created VPC's, or at most one per subnet of yours (AWS allows one
    endpoint subnet per AZ; which AZs your subnets are in is known only at deployment)."""
    return network.availability_zones if network.create_vpc else len(network.subnet_ids)


def endpoint_hours_cost(network: Placement, services: int, hourly_price: float) -> float:
    """Dollars a month for `services` interface endpoints: endpoints x AZs x 730 hours x the hourly price."""
    if not (network.enabled and network.endpoints):
        return 0.0
    return services * endpoint_zones(network) * HOURS_PER_MONTH * hourly_price


def service_name(region: str, service: str) -> str:
    return f"com.amazonaws.{region}.{service}"


def eni_policy(*, region: str, account_id: str, subnet_ids: list[str], security_group_ids: list[str],
               partition: str = "aws") -> Document:
    """What Lambda needs to manage a function's network interfaces in its subnets: the EC2 actions of
    AWSLambdaVPCAccessExecutionRole, scoped where EC2 has resource-level permissions.

    Lambda checks these at CreateFunction (and on a VPC change), so the policy must exist first.
    """
    ec2 = f"arn:{partition}:ec2:{region}:{account_id}"
    interfaces = f"{ec2}:network-interface/*"  # IDs exist only once Lambda has created them
    return document(
        # No resource-level permissions for Describe* (service authorization reference): AWS requires "*".
        allow("DescribeNetwork", ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], ["*"]),
        # Authorized on the new interface, its subnet and its security groups.
        allow("CreateInterfacesInPipelineSubnets", ["ec2:CreateNetworkInterface"],
              [interfaces, *(f"{ec2}:subnet/{s}" for s in subnet_ids),
               *(f"{ec2}:security-group/{g}" for g in security_group_ids)]),
        allow("ManageInterfaces", ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                                   "ec2:UnassignPrivateIpAddresses"], [interfaces]),
    )


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principals(role_arns: Iterable[str]) -> dict[str, Any]:
    return {"ArnEquals": {"aws:PrincipalArn": sorted(set(role_arns))}}


def endpoint_policy(service: str, function_documents: dict[str, Document], role_arns: dict[str, str]) -> Document:
    """One endpoint's policy: for each function, exactly the `service` statements of its own role policy
    (actions, resources, conditions), allowed to that function's role alone (aws:PrincipalArn).

    Statements the roles share are merged, so the policy stays far below AWS's 20,480 characters.
    """
    prefix, grants = ACTION_PREFIX[service], {}
    for function, doc in sorted(function_documents.items()):
        for statement in doc["Statement"]:
            actions = sorted(a for a in _listed(statement["Action"]) if a.split(":")[0] == prefix)
            if statement["Effect"] != "Allow" or not actions:
                continue
            key = (statement.get("Sid", "Allow"), tuple(actions), tuple(sorted(_listed(statement["Resource"]))),
                   json.dumps(statement.get("Condition", {}), sort_keys=True))
            grants.setdefault(key, set()).add(role_arns[function])
    statements, sids = [], set()
    for (sid, actions, resources, condition), roles in grants.items():
        unique = next(f"{sid}{n or ''}" for n in range(len(grants) + 1) if f"{sid}{n or ''}" not in sids)
        sids.add(unique)
        statements.append({"Sid": unique, "Effect": "Allow", "Principal": "*", "Action": list(actions),
                           "Resource": list(resources), "Condition": json.loads(condition) | _principals(roles)})
    if service == "monitoring":
        # The functions publish metrics as embedded-metric log lines, which Lambda delivers outside the VPC;
        # this bounds a direct PutMetricData. CloudWatch has no resource-level permissions for it: AWS requires
        # "*", and the namespace is the only condition key it offers.
        statements.append({"Sid": "PutPipelineMetrics", "Effect": "Allow", "Principal": "*",
                           "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
                           "Condition": {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}}
                           | _principals(role_arns.values())})
    # xray:PutTraceSegments/PutTelemetryRecords come from the roles' "*" statements unchanged: X-Ray has no
    # resource types and no condition keys for them, so the principal condition is the narrowest possible.
    if not statements:
        raise ValueError(f"no function uses {service}: its endpoint would deny everything")
    return document(*statements)


def endpoint_policies(services: Iterable[str], function_documents: dict[str, Document],
                      role_arns: dict[str, str]) -> dict[str, Document]:
    return {service: endpoint_policy(service, function_documents, role_arns) for service in services}


def deny_outside_endpoint(service: str, resources: list[str], role_arns: Iterable[str],
                          endpoint_id: str) -> Document:
    """`require_vpc_endpoints`: the functions' roles may use these resources only through this endpoint.

    Names the roles only: service principals (S3 notifications, EventBridge, CloudWatch), the workflow's
    role and people (uploads) are untouched. A Deny may use the service wildcard: it restricts, never grants.
    """
    return {"Sid": "DenyFunctionsOutsideVpcEndpoint", "Effect": "Deny", "Principal": "*",
            "Action": f"{service}:*", "Resource": resources,
            "Condition": _principals(role_arns) | {"StringNotEquals": {"aws:SourceVpce": endpoint_id}}}
