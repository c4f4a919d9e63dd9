"""Pulumi mocks for the infrastructure tests: one place, each distinct graph built once.

`deploy(stack)` builds the stack's `ImagePipeline` under `@pulumi.runtime.test` with
`preview=False` (so every `apply` runs) and returns the registered resources with their
resolved inputs. Computed outputs (`arn`, `url`, `name`, ...) are mocked the way AWS forms
them, so policies built from them are realistic. A build takes about a second and the same
settings always give the same graph, so each (stack, settings) is built once per test process
and every call hands out its own deep copy: a test may change what it gets.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from components import ImagePipeline, parse_settings, read_stack_settings
from tests.conftest import ROOT

ACCOUNT = "123456789012"
REGION = "eu-west-1"
OTHER_ACCOUNT, OTHER_REGION = "210987654321", "us-east-1"
STACKS = ("dev", "staging", "prod")
ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")  # eu-west-1 has three AZs
VPC = "vpc-0a1b2c3d4e5f60789"
# Existing subnets the bring-your-own tests name: (AZ, VPC, explicitly associated route table or None for
# the VPC's main table, which DescribeRouteTables cannot find by subnet).
SUBNETS = {
    "subnet-0a1b2c3d4e5f60001": ("eu-west-1a", VPC, "rtb-0a1b2c3d4e5f60001"),
    "subnet-0a1b2c3d4e5f60002": ("eu-west-1b", VPC, None),
    "subnet-0a1b2c3d4e5f60003": ("eu-west-1a", VPC, "rtb-0a1b2c3d4e5f60001"),  # a second subnet in eu-west-1a
    "subnet-0a1b2c3d4e5f60004": ("eu-west-1c", "vpc-0f9e8d7c6b5a40321", None),  # another VPC
    "subnet-0a1b2c3d4e5f60005": ("eu-west-1a", "vpc-0f9e8d7c6b5a40321", None),
}
MAIN_ROUTE_TABLE = "rtb-0a1b2c3d4e5f6000f"
NO_DNS_VPC = "vpc-0f9e8d7c6b5a40321"  # the other VPC has DNS hostnames off (EC2's default for a VPC you create)
SECURITY_GROUPS = ["sg-0a1b2c3d4e5f60001", "sg-0a1b2c3d4e5f60002"]
PREFIX_LISTS = {"s3": "pl-6da54004", "dynamodb": "pl-6fa54006"}  # eu-west-1's AWS-managed prefix lists
EC2_IDS = {"aws:ec2/vpc:Vpc": "vpc", "aws:ec2/subnet:Subnet": "subnet", "aws:ec2/routeTable:RouteTable": "rtb",
           "aws:ec2/securityGroup:SecurityGroup": "sg", "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
           "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
           "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
           "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr"}


def ec2_id(prefix: str, name: str) -> str:
    """An ID as EC2 forms them (17 hex digits), stable per resource name."""
    return f"{prefix}-{hashlib.sha256(name.encode()).hexdigest()[:17]}"


def mocked_outputs(typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The id and computed outputs AWS would return for a resource."""
    physical = inputs.get("name") or (inputs.get("namePrefix", "") + "abc123") if (
        "name" in inputs or "namePrefix" in inputs) else f"{name}-abc123"
    arn_prefix = f"arn:aws:{{}}:{REGION}:{ACCOUNT}"
    computed: dict[str, Any] = {"name": physical}
    match typ:
        case "aws:sqs/queue:Queue":
            computed |= {"arn": f"{arn_prefix.format('sqs')}:{physical}",
                         "url": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"}
            return computed["url"], inputs | computed
        case "aws:s3/bucket:Bucket":
            computed |= {"bucket": physical, "arn": f"arn:aws:s3:::{physical}"}
            return physical, inputs | computed
        case "aws:dynamodb/table:Table":
            computed["arn"] = f"{arn_prefix.format('dynamodb')}:table/{physical}"
        case "aws:lambda/function:Function":
            computed |= {"arn": f"{arn_prefix.format('lambda')}:function:{physical}",
                         "invokeArn": f"arn:aws:apigateway:{REGION}:lambda:path/{physical}"}
        case "aws:lambda/layerVersion:LayerVersion":
            computed["arn"] = f"{arn_prefix.format('lambda')}:layer:{inputs['layerName']}:1"
        case "aws:iam/role:Role":
            computed["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{physical}"
            return physical, inputs | computed
        case "aws:cloudwatch/logGroup:LogGroup":
            computed["arn"] = f"{arn_prefix.format('logs')}:log-group:{physical}"
        case "aws:sfn/stateMachine:StateMachine":
            computed["arn"] = f"{arn_prefix.format('states')}:stateMachine:{physical}"
        case "aws:sns/topic:Topic":
            computed["arn"] = f"{arn_prefix.format('sns')}:{physical}"
        case "aws:kms/key:Key":
            computed |= {"arn": f"{arn_prefix.format('kms')}:key/1234abcd", "keyId": "1234abcd"}
        case "aws:cloudwatch/eventRule:EventRule":
            computed["arn"] = f"{arn_prefix.format('events')}:rule/{physical}"
        case typ if typ in EC2_IDS:
            resource_id = ec2_id(EC2_IDS[typ], name)
            kind = {"vpc": "vpc", "subnet": "subnet", "sg": "security-group", "vpce": "vpc-endpoint",
                    "rtb": "route-table", "sgr": "security-group-rule"}.get(EC2_IDS[typ], "mock")
            computed = {"arn": f"{arn_prefix.format('ec2')}:{kind}/{resource_id}"}
            if typ == "aws:ec2/vpcEndpoint:VpcEndpoint" and inputs.get("vpcEndpointType") == "Gateway":
                computed["prefixListId"] = PREFIX_LISTS[inputs["serviceName"].rsplit(".", 1)[-1]]
            return resource_id, inputs | computed
        case _:
            computed["arn"] = inputs.get("arn", f"{arn_prefix.format('mock')}:{physical}")
    return f"{physical}-id", inputs | computed


@dataclass(frozen=True)
class ExistingEndpoint:
    """An endpoint already in a VPC (DescribeVpcEndpoints' view)."""

    id: str
    vpc_id: str
    service: str
    type: str = "Interface"
    private_dns: bool = True
    route_table_ids: tuple[str, ...] = ()


class PipelineMocks(pulumi.runtime.Mocks):
    def __init__(self, endpoints: tuple[ExistingEndpoint, ...] = (),
                 service_zones: dict[str, tuple[str, ...]] | None = None) -> None:
        """`endpoints`: already in the VPCs (none by default); `service_zones`: the AZs an endpoint service is
        offered in, by service (default: every AZ of the region)."""
        self.endpoints, self.service_zones = endpoints, service_zones or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return mocked_outputs(args.typ, args.name, dict(args.inputs))

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        # An explicit provider named `other` stands for another account and region.
        other = "::other::" in (args.provider or "")
        account, region = (OTHER_ACCOUNT, OTHER_REGION) if other else (ACCOUNT, REGION)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": account, "arn": f"arn:aws:iam::{account}:user/test", "userId": "AIDTEST",
                    "id": account}
        if args.token == "aws:index/getRegion:getRegion":
            return {"region": region, "name": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com",
                    "description": region}
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            assert args.args.get("state") == "available", args.args
            return {"id": region, "names": list(ZONES), "zoneIds": [f"euw1-az{i}" for i in (3, 1, 2)],
                    "groupNames": [region] * 3}
        if args.token == "aws:ec2/getSubnet:getSubnet":
            return self.subnet(args.args["id"])
        if args.token == "aws:ec2/getVpc:getVpc":
            vpc = args.args["id"]
            return {"id": vpc, "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{vpc}", "cidrBlock": "10.0.0.0/16",
                    "enableDnsSupport": True, "enableDnsHostnames": vpc != NO_DNS_VPC, "state": "available",
                    "ownerId": ACCOUNT, "default": False}
        if args.token == "aws:ec2/getRouteTables:getRouteTables":
            [association] = args.args["filters"]
            assert association["name"] == "association.subnet-id", association
            tables = sorted({SUBNETS[s][2] for s in association["values"] if SUBNETS[s][2]})
            return {"id": args.args["vpcId"], "ids": tables, "vpcId": args.args["vpcId"]}
        if args.token == "aws:ec2/getRouteTable:getRouteTable":
            assert args.args["filters"] == [{"name": "association.main", "values": ["true"]}], args.args
            return {"id": MAIN_ROUTE_TABLE, "routeTableId": MAIN_ROUTE_TABLE, "vpcId": args.args["vpcId"],
                    "associations": [{"main": True, "routeTableId": MAIN_ROUTE_TABLE}]}
        if args.token == "aws:ec2/getVpcEndpointService:getVpcEndpointService":
            name = args.args["serviceName"]
            zones = self.service_zones.get(name.rsplit(".", 1)[-1], ZONES)
            return {"id": name, "serviceName": name, "serviceType": args.args.get("serviceType"),
                    "availabilityZones": list(zones), "owner": "amazon", "acceptanceRequired": False}
        if args.token == "aws:ec2/getVpcEndpoint:getVpcEndpoint":
            return self.vpc_endpoint(args.args)
        raise AssertionError(f"unexpected invoke {args.token}")

    def vpc_endpoint(self, query: dict[str, Any]) -> dict[str, Any] | tuple[dict[str, Any], list[tuple[str, str]]]:
        """As the provider's data source: exactly one match, or an error naming none or several (returned as the
        engine returns a data source's error: the program can catch it, as it can a real one)."""
        states = {f["name"]: f["values"] for f in query.get("filters") or []}.get("vpc-endpoint-state")
        assert states and "available" in states, query
        matches = [e for e in self.endpoints if e.vpc_id == query["vpcId"]
                   and f"com.amazonaws.{REGION}.{e.service}" == query["serviceName"]]
        if not matches:
            return {}, [("", "no matching EC2 VPC Endpoint found")]
        if len(matches) > 1:
            return {}, [("", "multiple EC2 VPC Endpoints matched; use additional constraints to reduce matches to a "
                             "single EC2 VPC Endpoint")]
        [e] = matches
        return {"id": e.id, "vpcId": e.vpc_id, "serviceName": query["serviceName"], "vpcEndpointType": e.type,
                "privateDnsEnabled": e.private_dns, "routeTableIds": list(e.route_table_ids), "state": "available"}

    @staticmethod
    def subnet(subnet_id: str) -> dict[str, Any]:
        if subnet_id not in SUBNETS:
            raise Exception(f"reading EC2 Subnet ({subnet_id}): couldn't find resource")  # as the provider says
        zone, vpc, _ = SUBNETS[subnet_id]
        return {"id": subnet_id, "availabilityZone": zone, "availabilityZoneId": f"euw1-az{ZONES.index(zone) + 1}",
                "vpcId": vpc, "cidrBlock": f"10.0.{list(SUBNETS).index(subnet_id)}.0/24", "state": "available",
                "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{subnet_id}", "mapPublicIpOnLaunch": False,
                "ownerId": ACCOUNT}


class RecordingMonitor(MockMonitor):
    """Also records each resource's dependencies (URNs) and options the state does not show."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.dependencies: dict[str, set[str]] = {}
        self.property_dependencies: dict[str, dict[str, list[str]]] = {}
        self.options: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        self.dependencies[response.urn] = set(request.dependencies)
        self.property_dependencies[response.urn] = {
            key: list(value.urns) for key, value in request.propertyDependencies.items()}
        self.options[response.urn] = {"protect": request.protect,
                                      "retain_on_delete": request.retainOnDelete,
                                      "deleted_with": request.deletedWith,
                                      "parent": request.parent}
        return response


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    options: dict[str, Any]
    id: str = ""

    def policy(self, key: str = "policy") -> dict[str, Any]:
        return json.loads(self.inputs[key])


@dataclass(frozen=True)
class Graph:
    """The resources one program registered, for assertions that read like policies."""

    resources: list[Resource]
    dependencies: dict[str, set[str]]
    property_dependencies: dict[str, dict[str, list[str]]]

    def of_type(self, typ: str) -> list[Resource]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str) -> Resource:
        matches = self.of_type(typ)
        assert len(matches) == 1, f"expected one {typ}, found {[r.name for r in matches]}"
        return matches[0]

    def by_arn(self, arn: str) -> Resource:
        return next(r for r in self.resources if r.inputs.get("arn") == arn)

    def named(self, name: str) -> Resource:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, found {len(matches)}"
        return matches[0]

    def depends_on(self, resource: Resource, other: Resource) -> bool:
        return other.urn in self.dependencies.get(resource.urn, set())

    def deleted_before(self, resource: Resource, other: Resource) -> bool:
        """Pulumi deletes a resource before everything it depends on, directly or not."""
        seen, todo = set(), [resource.urn]
        while todo:
            for urn in self.dependencies.get(todo.pop(), set()) - seen:
                seen.add(urn)
                todo.append(urn)
        return other.urn in seen


def run_under_mocks(stack: str, program: Callable[[], Any], mocks: PipelineMocks | None = None) -> Graph:
    mocks = mocks or PipelineMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="image-pipeline", stack=stack, preview=False,
                             monitor=monitor, logger=logging.getLogger("pulumi"))
    pulumi.runtime.test(program)()
    resources = [Resource(urn=urn, type=urn.split("::")[2].split("$")[-1], name=urn.split("::")[3],
                          inputs=dict(reg.state), options=monitor.options.get(urn, {}), id=reg.id)
                 for urn, reg in monitor.get_registered_resources().items()]
    return Graph(resources=resources, dependencies=monitor.dependencies,
                 property_dependencies=monitor.property_dependencies)


# VPC placement's two modes: a created VPC, and subnets of your own (the third shares the first's AZ).
NETWORK_MODES: dict[str, dict[str, Any]] = {
    "create": {"create_vpc": True},
    "own": {"subnet_ids": list(SUBNETS)[:3], "security_group_ids": SECURITY_GROUPS}}


def stack_settings(stack: str, mode: str | None = None, **network: Any) -> dict[str, Any]:
    """`Pulumi.<stack>.yaml`'s settings, placed in a VPC in `mode` (with `network` overrides)."""
    raw = read_stack_settings(stack, ROOT)
    return raw if mode is None else raw | {"network": NETWORK_MODES[mode] | network}


@cache
def network_graph(stack: str, mode: str | None, require: bool = False) -> Graph:
    """A stack's graph in a VPC mode (None: the default), built once per test session: read it, never change it."""
    settings = parse_settings(stack_settings(stack, mode, **({"require_vpc_endpoints": True} if require else {})))
    return run_under_mocks(stack, lambda: ImagePipeline(f"images-{stack}", settings).queue_url)


# (stack, settings as JSON) -> the graph `deploy` built from them; `deploy` hands out copies only.
_DEPLOYED: dict[tuple[str, str], Graph] = {}


@pytest.fixture
def deploy() -> Callable[..., Graph]:
    """Build a stack's pipeline (its YAML, or `raw` settings) and return what it registered (a copy of its own)."""
    def build(stack: str = "dev", raw: dict[str, Any] | None = None) -> Graph:
        key = (stack, json.dumps(raw, sort_keys=True, default=repr))
        if key not in _DEPLOYED:
            settings = parse_settings(read_stack_settings(stack, ROOT) if raw is None else raw)

            def program() -> pulumi.Output[Any]:
                pipeline = ImagePipeline(f"images-{stack}", settings)
                return pulumi.Output.all(pipeline.queue_url, pipeline.state_machine_arn, pipeline.topic_arn)

            _DEPLOYED[key] = run_under_mocks(stack, program)
        return copy.deepcopy(_DEPLOYED[key])

    return build
