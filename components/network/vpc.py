"""Where the functions run with `network` settings: a created private VPC, or your subnets.

`create_vpc`: a VPC (DNS support and hostnames on: interface endpoints' private DNS needs both), one
private subnet per AZ (an eighth of the CIDR each), one route table with no route out of the VPC (no
internet gateway, no NAT), and the functions' security group: HTTPS out to the VPC (the interface
endpoints) and to the gateway endpoints' prefix lists (added with them, `components.network.endpoints`).

`subnet_ids` + `security_group_ids`: your subnets are looked up to find their VPC, AZs and route tables;
subnets in one AZ or in several VPCs fail the preview naming `network.subnet_ids`. Subnets that are another
resource's output are looked up and checked once known (in an apply: a problem then fails the deployment).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.network.lookups import existing_endpoints, service_zones
from components.network.services import GATEWAY_SERVICES, HTTPS, eni_policy
from components.settings.config import NetworkSettings
from components.settings.loading import CONFIG_SOURCE, config_failure, outputs_in


@dataclass(frozen=True)
class Network:
    """The functions' placement, and what the endpoints need to join it."""

    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    """Every function's subnets."""
    security_group_ids: list[pulumi.Input[str]]
    """Every function's security groups."""
    endpoint_subnet_ids: dict[str, list[pulumi.Input[str]]]
    """Each interface endpoint's subnets, by service: one per AZ (an endpoint takes at most one in each) of the
    AZs its service is offered in."""
    route_table_ids: list[pulumi.Input[str]]
    """The functions' subnets' route tables, for the gateway endpoints."""
    zones: pulumi.Input[list[str]]
    eni_policy: pulumi.Output[str]
    """The document each function's role needs before Lambda can place the function (`network.eni_policy`)."""
    cidr: str | None = None
    """The created VPC's block; None in your VPC."""
    vpc: aws.ec2.Vpc | None = None
    functions_security_group: aws.ec2.SecurityGroup | None = None
    subnets: list[aws.ec2.Subnet] = field(default_factory=list)


def vpc_network(name: str, settings: NetworkSettings, *, services: list[str], account_id: str, region: str,
                tags: dict[str, str], parent: pulumi.Resource, roles: list[aws.iam.Role]) -> Network | None:
    """None without network settings: the functions stay on Lambda's own network. `services`: the interface
    endpoints to place (with `endpoints: true`); `roles`: the functions' roles, which a created VPC's subnets
    and security group depend on (so a destroy deletes them first: `components.functions.function_role`)."""
    if not settings.enabled:
        return None
    services = services if settings.endpoints else []
    placed = (_created(name, settings, services, region, tags, parent, roles) if settings.create_vpc
              else _existing(settings, services, region, parent))
    document = pulumi.Output.all(placed["subnet_ids"], placed["security_group_ids"]).apply(
        lambda ids: json.dumps(eni_policy(region=region, account_id=account_id, subnet_ids=ids[0],
                                          security_group_ids=ids[1])))
    return Network(eni_policy=document, **placed)


def _failed(problems: list[str], parent: pulumi.Resource) -> Exception:
    """Named as the component's caller spells the keys (camelCase from other languages), as its settings'."""
    return config_failure(problems, camel_case=getattr(parent, "camel_case_keys", False),
                          source=getattr(parent, "problem_source", CONFIG_SOURCE))


def _created(name: str, settings: NetworkSettings, services: list[str], region: str, tags: dict[str, str],
             parent: pulumi.Resource, roles: list[aws.iam.Role]) -> dict[str, Any]:
    """`Network`'s fields for a created VPC."""
    wanted, invoke = settings.availability_zones, pulumi.InvokeOptions(parent=parent)
    available = aws.get_availability_zones(state="available", opts=invoke).names
    if len(available) < wanted:
        raise _failed([f"network.availability_zones: {wanted} asked, but the region has {len(available)} "
                       f"available ({', '.join(available)}); lower it"], parent)
    zones = list(available)[:wanted]
    offered, problems = service_zones(services, zones, region, invoke, "network.availability_zones",
                                      "raise availability_zones")
    if problems:
        raise _failed(problems, parent)
    opts = pulumi.ResourceOptions(parent=parent)
    vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=settings.vpc_cidr, enable_dns_support=True,
                      enable_dns_hostnames=True, tags=tags | {"Name": f"{name}-vpc"}, opts=opts)
    child = pulumi.ResourceOptions(parent=vpc)
    # What Lambda's network interfaces use: deleted before the roles Lambda deletes those interfaces with.
    held = pulumi.ResourceOptions(parent=vpc, depends_on=roles)
    # No routes: only the VPC's own local route, and the gateway endpoints' prefix-list routes they add.
    routes = aws.ec2.RouteTable(f"{name}-private-routes", vpc_id=vpc.id,
                                tags=tags | {"Name": f"{name}-private"}, opts=child)
    blocks = ipaddress.IPv4Network(settings.vpc_cidr).subnets(prefixlen_diff=3)
    subnets = []
    for zone, block in zip(zones, blocks, strict=False):
        subnet = aws.ec2.Subnet(f"{name}-private-{zone}", vpc_id=vpc.id, cidr_block=str(block), availability_zone=zone,
                                map_public_ip_on_launch=False, tags=tags | {"Name": f"{name}-private-{zone}"},
                                opts=held)
        aws.ec2.RouteTableAssociation(f"{name}-private-{zone}-routes", subnet_id=subnet.id, route_table_id=routes.id,
                                      opts=pulumi.ResourceOptions(parent=subnet))
        subnets.append(subnet)
    # Created without inline rules, the group loses EC2's default allow-all egress: only the rules below.
    functions = aws.ec2.SecurityGroup(
        f"{name}-functions-sg", vpc_id=vpc.id, description="image-pipeline functions: HTTPS to the VPC endpoints only",
        tags=tags | {"Name": f"{name}-functions"}, opts=held)
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-functions-https-to-endpoints", security_group_id=functions.id, ip_protocol="tcp", from_port=HTTPS,
        to_port=HTTPS, cidr_ipv4=settings.vpc_cidr, description="HTTPS to the interface endpoints",
        opts=pulumi.ResourceOptions(parent=functions))
    ids, by_zone = [s.id for s in subnets], dict(zip(zones, (s.id for s in subnets), strict=True))
    return {"vpc_id": vpc.id, "subnet_ids": ids, "security_group_ids": [functions.id],
            "endpoint_subnet_ids": {service: [by_zone[z] for z in offered[service]] for service in services},
            "route_table_ids": [routes.id], "zones": zones, "cidr": settings.vpc_cidr, "vpc": vpc,
            "functions_security_group": functions, "subnets": subnets}


LOOKED_UP = ("vpc_id", "subnet_ids", "route_table_ids", "zones")


def _existing(settings: NetworkSettings, services: list[str], region: str, parent: pulumi.Resource) -> dict[str, Any]:
    """`Network`'s fields for your subnets, after checking them (once known, when the subnets are an output)."""
    groups = {"security_group_ids": list(settings.security_group_ids)}
    ids = settings.subnet_ids
    if not outputs_in(ids):
        return _looked_up(list(ids), settings, services, region, parent) | groups
    placed = pulumi.Output.from_input(ids).apply(
        lambda known: _looked_up(known, settings, services, region, parent))
    endpoint_subnets = {service: placed.apply(lambda found, service=service: found["endpoint_subnet_ids"][service])
                        for service in services}
    return ({key: placed.apply(lambda found, key=key: found[key]) for key in LOOKED_UP}
            | {"endpoint_subnet_ids": endpoint_subnets} | groups)


def _looked_up(subnet_ids: list[str], settings: NetworkSettings, services: list[str], region: str,
               parent: pulumi.Resource) -> dict[str, Any]:
    """Where `subnet_ids` are; subnets in one AZ or several VPCs fail naming `network.subnet_ids`, endpoints that
    would clash with your VPC's own fail naming `network.endpoints`."""
    invoke = pulumi.InvokeOptions(parent=parent)
    found = [aws.ec2.get_subnet(id=subnet_id, opts=invoke) for subnet_id in subnet_ids]
    vpcs = sorted({s.vpc_id for s in found})
    by_zone: dict[str, str] = {}
    for subnet in found:
        by_zone.setdefault(subnet.availability_zone, subnet.id)  # the first listed subnet of each AZ
    problems = []
    if len(vpcs) > 1:
        where = ", ".join(f"{s.id} in {s.vpc_id}" for s in found)
        problems.append(f"network.subnet_ids: the subnets are in {len(vpcs)} VPCs ({where}); a function's "
                        "subnets must all be in one VPC")
    if len(by_zone) < 2:
        problems.append(f"network.subnet_ids: every subnet is in {', '.join(by_zone)}; list private subnets in at "
                        "least two AZs (Lambda and the endpoints survive an AZ outage only then)")
    if not problems and settings.endpoints:
        vpc = aws.ec2.get_vpc(id=vpcs[0], opts=invoke)
        if not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
            problems.append(f"network.endpoints: {vpcs[0]} has DNS support {'on' if vpc.enable_dns_support else 'off'} "
                            f"and DNS hostnames {'on' if vpc.enable_dns_hostnames else 'off'}; the endpoints' private "
                            "DNS needs both on (ModifyVpcAttribute), or set endpoints: false and use the VPC's own")
    if problems:
        raise _failed(problems, parent)
    tables = _route_tables(vpcs[0], subnet_ids, invoke) if settings.endpoints else []
    offered, problems = service_zones(services, list(by_zone), region, invoke, "network.subnet_ids",
                                      "add subnets in those AZs")
    if settings.endpoints:
        problems += existing_endpoints(vpcs[0], [*services, *GATEWAY_SERVICES], tables, region, invoke)
    if problems:
        raise _failed(problems, parent)
    return {"vpc_id": vpcs[0], "subnet_ids": subnet_ids,
            "endpoint_subnet_ids": {service: [by_zone[z] for z in offered[service]] for service in services},
            "route_table_ids": tables, "zones": list(by_zone)}


def _route_tables(vpc_id: str, subnet_ids: list[str], invoke: pulumi.InvokeOptions) -> list[str]:
    """Each subnet's route table. A subnet with no explicit association uses the VPC's main table, which
    `get_route_table(subnet_id=...)` cannot find (it fails: terraform-provider-aws#12099), so look up explicit
    associations first and fall back to the main table."""
    tables: list[str] = []
    main: str | None = None
    for subnet_id in subnet_ids:
        explicit = aws.ec2.get_route_tables(
            vpc_id=vpc_id, filters=[{"name": "association.subnet-id", "values": [subnet_id]}], opts=invoke).ids
        if not explicit and main is None:
            main = aws.ec2.get_route_table(
                vpc_id=vpc_id, filters=[{"name": "association.main", "values": ["true"]}], opts=invoke).id
        tables += explicit or [main]
    return list(dict.fromkeys(tables))
