"""VPC placement (`network` settings) on the dev and prod stacks, in both modes: a created private VPC, and
subnets of your own; and the default, which must build exactly what it built before."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components import ImagePipeline, parse_settings, read_stack_settings
from components.network.services import SERVICE_SIDE_ROLES, eni_policy, interface_services
from tests.conftest import ROOT
from tests.infra.conftest import (
    ACCOUNT,
    MAIN_ROUTE_TABLE,
    NETWORK_MODES,
    PREFIX_LISTS,
    REGION,
    SECURITY_GROUPS,
    STACKS,
    SUBNETS,
    ExistingEndpoint,
    Graph,
    PipelineMocks,
    network_graph,
    run_under_mocks,
    stack_settings,
)

A, B, A2, OTHER_VPC, OTHER_VPC_A = SUBNETS  # A2 shares A's AZ; the others are in a VPC without DNS hostnames
VPC_OF_A = SUBNETS[A][1]
FUNCTION, ROLE_POLICY = "aws:lambda/function:Function", "aws:iam/rolePolicy:RolePolicy"
ENDPOINT, GROUP = "aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
NETWORK_TYPES = {"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable",
                 "aws:ec2/routeTableAssociation:RouteTableAssociation", GROUP, INGRESS, EGRESS, ENDPOINT}
# What EC2 accepts in security group and rule descriptions (CreateSecurityGroup, AuthorizeSecurityGroupIngress).
EC2_DESCRIPTION = re.compile(r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]{0,255}$")
# The default graph, counted before VPC placement existed (commit 4a74548): it must not change.
# staging and prod moderate: their output bucket has a lifecycle rule expiring staged variants.
DEFAULT_RESOURCES = {"dev": 99, "staging": 107, "prod": 103}



def build_raw(stack: str, raw: dict[str, Any], mocks: PipelineMocks | None = None) -> Graph:
    return run_under_mocks(stack, lambda: ImagePipeline(f"images-{stack}", parse_settings(raw)).queue_url, mocks)


def roles(graph: Graph) -> dict[str, str]:
    """Each function's role ARN, by function resource name."""
    return {fn.name: fn.inputs["role"] for fn in graph.of_type(FUNCTION)}


def role_name(graph: Graph, arn: str) -> str:
    return next(r.inputs["name"] for r in graph.of_type("aws:iam/role:Role") if r.inputs["arn"] == arn)


def expected_placement(graph: Graph, mode: str) -> tuple[list[str], list[str]]:
    if mode == "own":
        return [A, B, A2], SECURITY_GROUPS
    [functions] = [g for g in graph.of_type(GROUP) if "functions" in g.name]
    return [s.id for s in subnets_by_zone(graph)], [functions.id]


def subnets_by_zone(graph: Graph) -> list[Any]:
    """The created subnets in AZ order (registration order varies from run to run)."""
    return sorted(graph.of_type("aws:ec2/subnet:Subnet"), key=lambda s: s.inputs["availabilityZone"])


# -- the default ---------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_without_network_settings_the_graph_is_exactly_what_it_was(stack):
    graph = network_graph(stack, None)
    assert len(graph.resources) == DEFAULT_RESOURCES[stack]
    assert not [r.name for r in graph.resources if r.type in NETWORK_TYPES]
    assert not [fn.name for fn in graph.of_type(FUNCTION) if fn.inputs.get("vpcConfig")]
    policies = [p.policy() for p in graph.of_type(ROLE_POLICY)]
    assert not [s for p in policies for s in p["Statement"] if any(a.startswith("ec2:") for a in s["Action"])]


# -- both modes ------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("mode", NETWORK_MODES)
def test_every_function_runs_in_the_subnets_with_the_security_groups(stack, mode):
    graph = network_graph(stack, mode)
    subnets, groups = expected_placement(graph, mode)
    functions = graph.of_type(FUNCTION)
    assert len(functions) == 7 + parse_settings(read_stack_settings(stack, ROOT)).moderation.enabled
    for fn in functions:
        assert fn.inputs["vpcConfig"] == {"subnetIds": subnets, "securityGroupIds": groups}, fn.urn


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("mode", NETWORK_MODES)
def test_each_role_has_the_network_interface_permissions_before_its_function_exists(stack, mode):
    graph = network_graph(stack, mode)
    subnets, groups = expected_placement(graph, mode)
    document = eni_policy(region=REGION, account_id=ACCOUNT, subnet_ids=subnets, security_group_ids=groups)
    for fn in graph.of_type(FUNCTION):
        [policy] = [p for p in graph.of_type(ROLE_POLICY) if p.name == f"{fn.name}-network-policy"]
        assert policy.inputs["role"] == role_name(graph, fn.inputs["role"])
        assert policy.policy() == document, fn.name
        # Lambda checks these at CreateFunction: the function must wait for the policy.
        assert graph.depends_on(fn, policy), f"{fn.urn} does not wait for {policy.urn}"
        # The functions' other permissions keep their own policy, free of EC2.
        [own] = [p for p in graph.of_type(ROLE_POLICY) if p.name == f"{fn.name}-policy"]
        assert not [a for s in own.policy()["Statement"] for a in s["Action"] if a.startswith("ec2:")]


def pipeline_arns(graph: Graph, stack: str) -> list[str]:
    """Every ARN the pipeline owns that an endpoint policy may name (with its sub-resources)."""
    owned = [r.inputs["arn"] for r in graph.resources if r.type in (
        "aws:sqs/queue:Queue", "aws:sns/topic:Topic", "aws:s3/bucket:Bucket", "aws:dynamodb/table:Table",
        "aws:kms/key:Key", "aws:cloudwatch/logGroup:LogGroup", "aws:sfn/stateMachine:StateMachine")]
    machine = graph.one("aws:sfn/stateMachine:StateMachine").inputs["arn"]
    return owned + [machine.replace(":stateMachine:", f":{kind}:") for kind in ("execution", "express", "mapRun")]


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("mode", NETWORK_MODES)
def test_endpoints_serve_only_the_pipelines_functions_and_resources(stack, mode):
    graph = network_graph(stack, mode)
    settings = parse_settings(stack_settings(stack, mode))
    endpoints = {e.inputs["serviceName"].rsplit(".", 1)[-1]: e for e in graph.of_type(ENDPOINT)}
    services = interface_services(customer_key=settings.encryption.customer_key, tracing=settings.workflow.tracing)
    assert set(endpoints) == {*services, "s3", "dynamodb"}
    owned, function_roles = pipeline_arns(graph, stack), set(roles(graph).values())
    for service, endpoint in endpoints.items():
        assert endpoint.inputs["serviceName"] == f"com.amazonaws.{REGION}.{service}"
        gateway = service in ("s3", "dynamodb")
        assert endpoint.inputs["vpcEndpointType"] == ("Gateway" if gateway else "Interface")
        if not gateway:
            assert endpoint.inputs["privateDnsEnabled"] is True, service
        for statement in json.loads(endpoint.inputs["policy"])["Statement"]:
            assert statement["Effect"] == "Allow" and statement["Principal"] == "*", (service, statement)
            assert set(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]) <= function_roles
            assert not [a for a in statement["Action"] if a == "*" or a.endswith(":*")]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources:
                if resource == "*":  # X-Ray and PutMetricData have no resource-level permissions
                    assert set(statement["Action"]) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords",
                                                        "cloudwatch:PutMetricData"}, statement
                else:
                    assert any(resource.startswith(arn) for arn in owned), (service, resource)


@pytest.mark.parametrize("mode", NETWORK_MODES)
def test_no_security_group_admits_the_internet_and_the_endpoints_admit_only_the_functions(mode):
    graph = network_graph("prod", mode)
    [endpoints_group] = [g for g in graph.of_type(GROUP) if "endpoints" in g.name]
    for group in graph.of_type(GROUP):
        assert not group.inputs.get("ingress") and not group.inputs.get("egress"), group.urn  # rules are resources
    ingress = graph.of_type(INGRESS)
    assert all(r.inputs["securityGroupId"] == endpoints_group.id for r in ingress)
    assert all((r.inputs["ipProtocol"], r.inputs["fromPort"], r.inputs["toPort"]) == ("tcp", 443, 443)
               for r in ingress + graph.of_type(EGRESS))
    assert all("cidrIpv4" not in r.inputs and "cidrIpv6" not in r.inputs for r in ingress)
    sources = sorted(r.inputs["referencedSecurityGroupId"] for r in ingress)
    assert sources == (SECURITY_GROUPS if mode == "own" else expected_placement(graph, mode)[1])
    for endpoint in graph.of_type(ENDPOINT):
        if endpoint.inputs["vpcEndpointType"] == "Interface":
            assert endpoint.inputs["securityGroupIds"] == [endpoints_group.id]
    for described in graph.of_type(GROUP) + ingress + graph.of_type(EGRESS):
        assert EC2_DESCRIPTION.match(described.inputs["description"]), described.inputs["description"]


# -- a created VPC -----------------------------------------------------------------------------

def test_a_created_vpc_is_private_one_subnet_per_az_with_https_out_to_the_endpoints_only():
    graph = network_graph("dev", "create")
    vpc = graph.one("aws:ec2/vpc:Vpc")
    assert (vpc.inputs["cidrBlock"], vpc.inputs["enableDnsSupport"], vpc.inputs["enableDnsHostnames"]) == (
        "10.20.0.0/16", True, True)
    subnets = subnets_by_zone(graph)
    assert [(s.inputs["availabilityZone"], s.inputs["cidrBlock"]) for s in subnets] == [
        ("eu-west-1a", "10.20.0.0/19"), ("eu-west-1b", "10.20.32.0/19")]  # the first two AZs, eighths of the VPC
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    table = graph.one("aws:ec2/routeTable:RouteTable")
    assert not table.inputs.get("routes")  # no route out: no internet gateway, no NAT
    associations = graph.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    assert sorted(a.inputs["subnetId"] for a in associations) == sorted(s.id for s in subnets)
    assert {a.inputs["routeTableId"] for a in associations} == {table.id}
    assert not [r.type for r in graph.resources if "internetGateway" in r.type or "natGateway" in r.type]
    gateways = [e for e in graph.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"]
    assert all(e.inputs["routeTableIds"] == [table.id] for e in gateways)
    assert all(e.inputs["subnetIds"] == [s.id for s in subnets]
               for e in graph.of_type(ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface")
    [functions] = [g for g in graph.of_type(GROUP) if "functions" in g.name]
    egress = {r.inputs.get("cidrIpv4") or r.inputs["prefixListId"] for r in graph.of_type(EGRESS)
              if r.inputs["securityGroupId"] == functions.id}
    assert egress == {"10.20.0.0/16", *PREFIX_LISTS.values()}  # the VPC's endpoints, and S3 and DynamoDB
    [endpoints_group] = [g for g in graph.of_type(GROUP) if "endpoints" in g.name]
    assert not [r for r in graph.of_type(EGRESS) if r.inputs["securityGroupId"] == endpoints_group.id]


def test_more_azs_than_the_region_has_fail_naming_the_setting():
    assert len(build_raw("dev", {"network": {"create_vpc": True, "availability_zones": 3}}).of_type(
        "aws:ec2/subnet:Subnet")) == 3
    with pytest.raises(Exception, match=r"network\.availability_zones: 4 asked, but the region has 3 available "
                                        r"\(eu-west-1a, eu-west-1b, eu-west-1c\); lower it"):
        build_raw("dev", {"network": {"create_vpc": True, "availability_zones": 4}})


# -- subnets of your own ---------------------------------------------------------------------

def test_your_subnets_get_one_endpoint_subnet_per_az_and_the_gateways_on_their_route_tables():
    graph = network_graph("prod", "own")
    assert not graph.of_type("aws:ec2/vpc:Vpc") and not graph.of_type("aws:ec2/subnet:Subnet")
    for endpoint in graph.of_type(ENDPOINT):
        assert endpoint.inputs["vpcId"] == SUBNETS[A][1]
        if endpoint.inputs["vpcEndpointType"] == "Interface":
            assert endpoint.inputs["subnetIds"] == [A, B]  # A2 shares A's AZ: AWS allows one subnet per AZ
        else:  # A and A2's explicit table, and B's: the VPC's main table (no explicit association)
            assert endpoint.inputs["routeTableIds"] == [SUBNETS[A][2], MAIN_ROUTE_TABLE]
    assert not graph.of_type(EGRESS)  # your security groups are yours: nothing added to them


def test_subnets_in_one_az_fail_the_preview_naming_subnet_ids():
    with pytest.raises(Exception) as raised:
        build_raw("dev", {"network": {"subnet_ids": [A, A2], "security_group_ids": SECURITY_GROUPS}})
    assert ("network.subnet_ids: every subnet is in eu-west-1a; list private subnets in at least two AZs (Lambda and "
            "the endpoints survive an AZ outage only then)") in str(raised.value)


def test_subnets_in_two_vpcs_fail_the_preview_naming_subnet_ids():
    with pytest.raises(Exception) as raised:
        build_raw("dev", {"network": {"subnet_ids": [A, OTHER_VPC], "security_group_ids": SECURITY_GROUPS}})
    assert (f"network.subnet_ids: the subnets are in 2 VPCs ({A} in {SUBNETS[A][1]}, {OTHER_VPC} in "
            f"{SUBNETS[OTHER_VPC][1]}); a function's subnets must all be in one VPC") in str(raised.value)


def test_a_vpc_without_dns_hostnames_fails_the_preview_unless_its_own_endpoints_are_used():
    own = {"subnet_ids": [OTHER_VPC, OTHER_VPC_A], "security_group_ids": SECURITY_GROUPS}
    with pytest.raises(Exception) as raised:
        build_raw("dev", {"network": own})
    assert (f"network.endpoints: {SUBNETS[OTHER_VPC][1]} has DNS support on and DNS hostnames off; the endpoints' "
            "private DNS needs both on (ModifyVpcAttribute), or set endpoints: false and use the VPC's own"
            ) in str(raised.value)
    assert build_raw("dev", {"network": own | {"endpoints": False}}).of_type(FUNCTION)


def test_the_triggers_wait_for_the_endpoints_the_functions_need():
    graph = network_graph("dev", "create")
    endpoints = graph.of_type(ENDPOINT)
    triggers = [*graph.of_type("aws:lambda/eventSourceMapping:EventSourceMapping"),
                graph.one("aws:s3/bucketNotification:BucketNotification"),
                graph.named("images-dev-reconcile-target")]
    assert len(triggers) == 4 and len(endpoints) == 7
    for trigger in triggers:
        assert all(graph.depends_on(trigger, endpoint) for endpoint in endpoints), trigger.urn


def test_without_endpoints_the_functions_use_the_vpcs_own():
    graph = build_raw("dev", {"network": NETWORK_MODES["own"] | {"endpoints": False}})
    assert not [r.name for r in graph.resources if r.type in NETWORK_TYPES]
    assert all(fn.inputs["vpcConfig"]["subnetIds"] == [A, B, A2] for fn in graph.of_type(FUNCTION))


# -- require_vpc_endpoints -------------------------------------------------------------------

def source_vpce_denies(graph: Graph) -> dict[str, dict[str, Any]]:
    policies = graph.of_type("aws:s3/bucketPolicy:BucketPolicy") + graph.of_type("aws:sqs/queuePolicy:QueuePolicy")
    return {p.name: s for p in policies for s in p.policy()["Statement"] if "aws:SourceVpce" in json.dumps(s)}


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("mode", NETWORK_MODES)
def test_required_endpoints_deny_the_functions_roles_any_other_way_in(stack, mode):
    assert source_vpce_denies(network_graph(stack, mode)) == {}  # only when required
    graph = network_graph(stack, mode, require=True)
    endpoint = {e.inputs["serviceName"].rsplit(".", 1)[-1]: e.id for e in graph.of_type(ENDPOINT)}
    role = {name.removeprefix(f"images-{stack}-").replace("-", "_"): arn for name, arn in roles(graph).items()}
    denies = source_vpce_denies(graph)
    assert set(denies) == {f"images-{stack}-{name}-policy" for name in ("input", "output", "queue", "dlq")}
    for bucket in ("input", "output"):
        arn = graph.named(f"images-{stack}-{bucket}").inputs["arn"]
        deny = denies[f"images-{stack}-{bucket}-policy"]
        assert deny["Resource"] == [arn, f"{arn}/*"] and deny["Action"] == "s3:*"
        assert deny["Condition"]["StringNotEquals"] == {"aws:SourceVpce": endpoint["s3"]}
        assert deny["Condition"]["ArnEquals"]["aws:PrincipalArn"] == sorted(role.values())
    for queue, key in (("queue", "upload_queue"), ("dlq", "dead_letter_queue")):
        deny = denies[f"images-{stack}-{queue}-policy"]
        assert deny["Resource"] == [graph.named(f"images-{stack}-{queue}").inputs["arn"]]
        assert deny["Condition"]["StringNotEquals"] == {"aws:SourceVpce": endpoint["sqs"]}
        # Lambda's pollers and the S3 handler's failure destination use these roles outside any VPC.
        exempt = SERVICE_SIDE_ROLES[key]
        assert deny["Condition"]["ArnEquals"]["aws:PrincipalArn"] == sorted(
            arn for name, arn in role.items() if name not in exempt), queue
    workflow_role = graph.named(f"images-{stack}-workflow-role").inputs["arn"]
    assert all(workflow_role not in json.dumps(d) and "Service" not in json.dumps(d) for d in denies.values())


# -- endpoints already in your VPC, and the AZs each endpoint service is offered in ---------------

def test_endpoints_already_in_your_vpc_fail_the_preview_naming_endpoints_and_each_conflict():
    existing = (ExistingEndpoint("vpce-0a1b2c3d4e5f60101", VPC_OF_A, "sqs"),
                ExistingEndpoint("vpce-0a1b2c3d4e5f60102", VPC_OF_A, "s3", "Gateway", False, (SUBNETS[A][2],)),
                ExistingEndpoint("vpce-0a1b2c3d4e5f60103", VPC_OF_A, "sns", private_dns=False),  # no DNS clash
                ExistingEndpoint("vpce-0a1b2c3d4e5f60104", VPC_OF_A, "dynamodb", "Gateway", False, ("rtb-other",)))
    with pytest.raises(Exception) as raised:
        build_raw("dev", {"network": NETWORK_MODES["own"]}, PipelineMocks(endpoints=existing))
    assert (f"network.endpoints: {VPC_OF_A} already has endpoints this pipeline would create: "
            "vpce-0a1b2c3d4e5f60101 (sqs, private DNS: a second would fail with a conflicting DNS domain), "
            f"vpce-0a1b2c3d4e5f60102 (s3 gateway on {SUBNETS[A][2]}: its policy governs every workload there); set "
            "endpoints: false and let their policies allow this pipeline (docs/deploy.md, VPC placement)"
            ) in str(raised.value)
    # Private DNS off, or a gateway on other route tables: nothing clashes.
    graph = build_raw("dev", {"network": NETWORK_MODES["own"]}, PipelineMocks(endpoints=existing[2:]))
    assert len(graph.of_type(ENDPOINT)) == 7


def interface_subnets(graph: Graph) -> dict[str, list[str]]:
    return {e.inputs["serviceName"].rsplit(".", 1)[-1]: e.inputs["subnetIds"] for e in graph.of_type(ENDPOINT)
            if e.inputs["vpcEndpointType"] == "Interface"}


def test_each_interface_endpoint_sits_only_in_the_azs_its_service_is_offered_in():
    offered = PipelineMocks(service_zones={"states": ("eu-west-1b", "eu-west-1c")})
    graph = build_raw("dev", {"network": {"create_vpc": True, "availability_zones": 3}}, offered)
    subnets = {s.inputs["availabilityZone"]: s.id for s in subnets_by_zone(graph)}
    placed = interface_subnets(graph)
    assert placed["states"] == [subnets["eu-west-1b"], subnets["eu-west-1c"]]
    assert all(ids == list(subnets.values()) for service, ids in placed.items() if service != "states")


def test_a_service_offered_in_fewer_than_two_of_the_azs_fails_the_preview_naming_it():
    offered = PipelineMocks(service_zones={"states": ("eu-west-1b", "eu-west-1c")})
    with pytest.raises(Exception) as raised:
        build_raw("dev", {"network": {"create_vpc": True}}, offered)
    assert ("network.availability_zones: com.amazonaws.eu-west-1.states is offered in eu-west-1b, eu-west-1c: of "
            "the AZs here (eu-west-1a, eu-west-1b) only eu-west-1b, and its endpoint needs two (it survives an AZ "
            "outage only then); raise availability_zones") in str(raised.value)
    with pytest.raises(Exception) as raised:
        build_raw("dev", {"network": NETWORK_MODES["own"]}, offered)
    assert ("network.subnet_ids: com.amazonaws.eu-west-1.states is offered in eu-west-1b, eu-west-1c: of the AZs "
            "here (eu-west-1a, eu-west-1b) only eu-west-1b, and its endpoint needs two (it survives an AZ outage only "
            "then); add subnets in those AZs") in str(raised.value)


def test_at_destroy_the_roles_and_their_network_permissions_outlive_the_subnets_and_security_group():
    """Lambda deletes a function's network interfaces with its role, minutes after the function is gone: until
    then the subnets and the functions' security group cannot be deleted, and they must still have the role."""
    graph = network_graph("dev", "create")
    [functions_group] = [g for g in graph.of_type(GROUP) if "functions" in g.name]
    held = [*graph.of_type("aws:ec2/subnet:Subnet"), functions_group]
    functions = graph.of_type(FUNCTION)
    for fn in functions:
        role = graph.by_arn(fn.inputs["role"])
        [policy] = [p for p in graph.of_type(ROLE_POLICY) if p.name == f"{fn.name}-network-policy"]
        assert all(graph.deleted_before(resource, role) for resource in held), role.urn
        # The policy names the subnets, so it cannot outlive them by itself: it goes with its role, which
        # deletes its inline policies first.
        assert policy.options["deleted_with"] == role.urn and role.inputs["forceDetachPolicies"] is True
        assert graph.deleted_before(fn, policy) and graph.deleted_before(fn, role)
    # Your own subnets and security groups are never deleted: nothing to hold.
    assert all(not r.inputs.get("forceDetachPolicies") for r in network_graph("dev", None).of_type(
        "aws:iam/role:Role"))
