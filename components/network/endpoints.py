"""The VPC endpoints the functions call through (`network.endpoints: true`), each with a policy that allows
only this pipeline's functions, only what their own role policies allow (`components.network.services`).

Interface endpoints (private DNS on: the SDKs' default service names resolve to them) sit in one subnet per
AZ behind a security group that admits HTTPS from the functions' security groups only; the S3 and DynamoDB
gateway endpoints (free) are routes on the functions' subnets' route tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.network import services as documents
from components.network.services import GATEWAY_SERVICES, HTTPS, service_name
from components.network.vpc import Network
from components.policies import Document


@dataclass(frozen=True)
class Endpoints:
    security_group: aws.ec2.SecurityGroup
    interface: dict[str, aws.ec2.VpcEndpoint]
    gateway: dict[str, aws.ec2.VpcEndpoint]

    def id_of(self, service: str) -> pulumi.Output[str]:
        return (self.interface | self.gateway)[service].id


def vpc_endpoints(name: str, network: Network, services: list[str], *, region: str,
                  function_policies: pulumi.Output[dict[str, Document]], roles: dict[str, pulumi.Output[str]],
                  tags: dict[str, str], parent: pulumi.Resource) -> Endpoints:
    """`services`' interface endpoints and the gateway endpoints; `function_policies` and `roles`: each
    function's role policy document and role ARN, by function name."""
    opts = pulumi.ResourceOptions(parent=parent)
    policies = pulumi.Output.all(function_policies, pulumi.Output.all(**roles)).apply(
        lambda a: documents.endpoint_policies([*services, *GATEWAY_SERVICES], a[0], a[1]))
    # No egress rule: the endpoints only answer (security groups are stateful). EC2 descriptions allow only
    # letters, digits, spaces and ._-:/()#,@[]+=&;{}!$* (no apostrophe).
    group = aws.ec2.SecurityGroup(
        f"{name}-endpoints-sg", vpc_id=network.vpc_id, tags=tags | {"Name": f"{name}-endpoints"},
        description="image-pipeline VPC endpoints: HTTPS from the pipeline functions only", opts=opts)
    # Your groups by position (an id may be an output, known only once deployed); the alias keeps the rules of
    # stacks that named them by a literal id, so they are not replaced.
    sources = ({"functions": (network.functions_security_group.id, [])} if network.functions_security_group
               else {f"group-{i}": (g, [pulumi.Alias(name=f"{name}-endpoints-https-from-{g}")] if isinstance(g, str)
                                    else []) for i, g in enumerate(network.security_group_ids)})
    for label, (source, aliases) in sources.items():
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-https-from-{label}", security_group_id=group.id, ip_protocol="tcp", from_port=HTTPS,
            to_port=HTTPS, referenced_security_group_id=source, description="HTTPS from the pipeline functions",
            opts=pulumi.ResourceOptions(parent=group, aliases=aliases))

    def policy(service: str) -> pulumi.Output[str]:
        return policies.apply(lambda by_service: json.dumps(by_service[service]))

    interface = {service: aws.ec2.VpcEndpoint(
        f"{name}-{service}-endpoint", vpc_id=network.vpc_id, service_name=service_name(region, service),
        vpc_endpoint_type="Interface", private_dns_enabled=True, subnet_ids=network.endpoint_subnet_ids[service],
        security_group_ids=[group.id], policy=policy(service), tags=tags | {"Name": f"{name}-{service}"}, opts=opts)
        for service in services}
    gateway = {service: aws.ec2.VpcEndpoint(
        f"{name}-{service}-endpoint", vpc_id=network.vpc_id, service_name=service_name(region, service),
        vpc_endpoint_type="Gateway", route_table_ids=network.route_table_ids, policy=policy(service),
        tags=tags | {"Name": f"{name}-{service}"}, opts=opts)
        for service in GATEWAY_SERVICES}
    if network.functions_security_group is not None:
        functions = network.functions_security_group
        for service, endpoint in gateway.items():
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-functions-https-to-{service}", security_group_id=functions.id, ip_protocol="tcp",
                from_port=HTTPS, to_port=HTTPS, prefix_list_id=endpoint.prefix_list_id,
                description=f"HTTPS to {service} through its gateway endpoint",
                opts=pulumi.ResourceOptions(parent=functions))
    return Endpoints(security_group=group, interface=interface, gateway=gateway)


def deny_outside_endpoint(endpoints: Endpoints, service: str, resources: list[pulumi.Input[str]],
                          roles: list[pulumi.Input[str]]) -> pulumi.Output[dict]:
    """`require_vpc_endpoints`: these roles may reach `resources` only through `service`'s endpoint. Leave out
    the roles Lambda itself uses from outside the VPC (`network.SERVICE_SIDE_ROLES`)."""
    return pulumi.Output.all(endpoints.id_of(service), resources, roles).apply(
        lambda a: documents.deny_outside_endpoint(service, a[1], a[2], a[0]))
