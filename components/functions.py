"""One Lambda function of the pipeline: its own role, its own log group, the shared code.

Every function runs code from `handlers/` (`handlers.<name>.lambda_handler`), packaged as
files: the component never imports handler code. Permissions are attached later by the
component, once every ARN they name exists (see `components.policies`); in a VPC, the
network-interface permissions Lambda checks at creation come first, with the role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import policies
from components.network.services import METRICS_NAMESPACE
from components.network.vpc import Network
from components.settings.config import FunctionSettings
from contract.functions import handler_path

ROOT = Path(__file__).resolve().parent.parent
# What the functions run: the entry points and the layers below them (`handlers/`), and the contract.
LAMBDA_PACKAGES = ("handlers", "contract")


@dataclass(frozen=True)
class PipelineFunction:
    name: str
    resource_name: str
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    function: aws.lambda_.Function
    network_policy: aws.iam.RolePolicy | None = None
    """In a VPC: the role's network-interface permissions, created before the function."""


def handler_code() -> pulumi.AssetArchive:
    """The `handlers` and `contract` packages as explicit files (no caches, stable hash)."""
    files = sorted(path for package in LAMBDA_PACKAGES for path in (ROOT / package).rglob("*.py"))
    return pulumi.AssetArchive({path.relative_to(ROOT).as_posix(): pulumi.FileAsset(str(path)) for path in files})


def resource_name_of(name: str, component_name: str) -> str:
    return f"{component_name}-{name.replace('_', '-')}"


def function_role(name: str, component_name: str, *, account_id: str, tags: dict[str, str],
                  parent: pulumi.Resource, in_vpc: bool) -> aws.iam.Role:
    """A function's execution role. In a VPC it is created before the subnets, which depend on it: Lambda
    deletes a function's network interfaces with this role minutes after the function is gone, so a destroy
    must delete the subnets and security group (waiting for those interfaces) before the role. Deleting it
    then removes its inline policies first (`force_detach_policies`), the network one included."""
    resource_name = resource_name_of(name, component_name)
    return aws.iam.Role(
        f"{resource_name}-role",
        assume_role_policy=json.dumps(policies.assume_role_policy("lambda", account_id)),
        description=f"Execution role of {resource_name}",
        force_detach_policies=True if in_vpc else None,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def pipeline_function(name: str, component_name: str, settings: FunctionSettings, *, role: aws.iam.Role,
                      runtime: str, code: pulumi.Archive,
                      layers: list[pulumi.Input[str]], environment: dict[str, pulumi.Input[str]],
                      tracing: bool, tags: dict[str, str], parent: pulumi.Resource,
                      network: Network | None = None) -> PipelineFunction:
    resource_name = resource_name_of(name, component_name)
    log_group = aws.cloudwatch.LogGroup(
        f"{resource_name}-logs",
        name_prefix=f"/aws/lambda/{resource_name}-",
        retention_in_days=settings.log_retention_days,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    network_policy = None if network is None else aws.iam.RolePolicy(
        f"{resource_name}-network-policy", role=role.id, policy=network.eni_policy,
        # AWS checks these at CreateFunction: "The provided execution role does not have permissions to
        # call CreateNetworkInterface on EC2" unless the policy exists first (the function depends on it).
        # It names the subnets, so it would be deleted before them: it goes with its role instead, after them.
        opts=pulumi.ResourceOptions(parent=role, deleted_with=role))
    function = aws.lambda_.Function(
        resource_name,
        runtime=runtime,
        handler=handler_path(name),
        code=code,
        role=role.arn,
        architectures=[settings.architecture],
        memory_size=settings.memory_size,
        timeout=settings.timeout,
        reserved_concurrent_executions=(
            settings.reserved_concurrency if settings.reserved_concurrency is not None else -1),
        layers=layers,
        environment={"variables": {
            "POWERTOOLS_SERVICE_NAME": name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            **environment,
        }},
        logging_config={"log_format": "JSON", "log_group": log_group.name,
                        "application_log_level": "INFO", "system_log_level": "WARN"},
        tracing_config={"mode": "Active" if tracing else "PassThrough"},
        vpc_config=None if network is None else {"subnet_ids": network.subnet_ids,
                                                 "security_group_ids": network.security_group_ids},
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[network_policy] if network_policy else None),
    )
    return PipelineFunction(name=name, resource_name=resource_name, role=role, log_group=log_group, function=function,
                            network_policy=network_policy)


def attach_policy(fn: PipelineFunction, document: pulumi.Output[dict]) -> aws.iam.RolePolicy:
    return aws.iam.RolePolicy(
        f"{fn.resource_name}-policy",
        role=fn.role.id,
        policy=document.apply(json.dumps),
        opts=pulumi.ResourceOptions(parent=fn.role),
    )
