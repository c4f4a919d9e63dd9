"""VPC placement without any Pulumi runtime: the settings' rules, the cost warning, and the policy documents
(network interfaces, endpoint policies, the SourceVpce deny) as plain data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from components import ConfigError, parse_settings, settings_warnings
from components.network.services import (
    ACTION_PREFIX,
    GATEWAY_SERVICES,
    deny_outside_endpoint,
    endpoint_hours_cost,
    endpoint_policies,
    endpoint_policy,
    eni_policy,
    interface_services,
)
from components.policies import PipelineArns, function_policies
from components.settings import prices
from contract.workflow_types import EXPRESS
from tests.conftest import ROOT

A, B = "subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"
GROUP = "sg-0a1b2c3d4e5f60001"
BRING_YOUR_OWN = {"subnet_ids": [A, B], "security_group_ids": [GROUP]}
ACCOUNT, REGION = "123456789012", "eu-west-1"


def network_warnings(raw: dict) -> list[str]:
    return [w for w in settings_warnings(parse_settings(raw)) if w.startswith("network")]


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_settings(raw)
    return raised.value.problems


# -- settings ---------------------------------------------------------------------------------

def test_the_default_places_nothing_in_a_vpc():
    n = parse_settings({}).network
    assert not n.enabled and n.endpoints and not n.require_vpc_endpoints
    assert parse_settings({"network": {"create_vpc": True}}).network.enabled
    assert parse_settings({"network": BRING_YOUR_OWN}).network.enabled


@pytest.mark.parametrize(("network", "message"), [
    ({"create_vpc": True, "endpoints": False},
     "network.endpoints: false leaves the functions in the created VPC no way to reach AWS (it has no NAT); keep "
     "endpoints: true, or place them in your own subnets (subnet_ids)"),
    ({"subnet_ids": [A], "security_group_ids": [GROUP]},
     "network.subnet_ids: one subnet is one AZ; list private subnets in at least two AZs (Lambda and the endpoints "
     "survive an AZ outage only then)"),
    ({"subnet_ids": [A, B]}, "network.security_group_ids: list the functions' security groups (1 to 5) with "
                             "subnet_ids"),
    ({"create_vpc": True, **BRING_YOUR_OWN},
     "network.create_vpc: true creates its own subnets and security groups; remove network.subnet_ids and "
     "network.security_group_ids, or set create_vpc: false"),
    ({"subnet_ids": [A, "subnet-1"], "security_group_ids": [GROUP]},
     "network.subnet_ids: 'subnet-1' is not a subnet ID (subnet-0123456789abcdef0)"),
    ({"create_vpc": True, "vpc_cidr": "10.20.0.0/26"},
     "network.vpc_cidr: 10.20.0.0/26 is /26; use /16 to /24 (a VPC may be /16 to /28, and each AZ's subnet is an "
     "eighth of it)"),
    ({"require_vpc_endpoints": True},
     "network.require_vpc_endpoints: needs the pipeline's own endpoints (create_vpc or subnet_ids, with endpoints: "
     "true) to name in the policies"),
    ({**BRING_YOUR_OWN, "endpoints": False, "require_vpc_endpoints": True},
     "network.require_vpc_endpoints: needs the pipeline's own endpoints (create_vpc or subnet_ids, with endpoints: "
     "true) to name in the policies"),
])
def test_network_rules_name_their_key_and_the_fix(network, message):
    assert problems({"network": network}) == [message]


def test_the_endpoints_cost_warning_prices_them_from_the_cost_tools_data():
    privatelink = json.loads(prices.PRICES.read_text())["privatelink"]
    assert privatelink == {"interface_endpoint_az_hour": 0.01, "data_processed_gb": 0.01}
    [warning] = network_warnings({"network": {"create_vpc": True, "availability_zones": 3}})
    # 5 endpoints x 3 AZs x 730 h x $0.01
    assert warning == ("network: 5 interface endpoints (sqs, states, sns, logs, monitoring) in 3 AZs are 15 "
                       "endpoint-AZs at $0.01 an hour each (~$110 a month in eu-west-1, plus $0.01 per GB); "
                       "`python -m tools cost` prices the stack")
    [mine] = network_warnings({"network": BRING_YOUR_OWN})
    assert "in the AZs of network.subnet_ids (one subnet per AZ; 2 subnets) are at most 10 endpoint-AZs" in mine
    assert "(~$73 a month at most in eu-west-1" in mine
    assert network_warnings({"network": BRING_YOUR_OWN | {"endpoints": False}}) == []


def test_without_the_price_file_the_warning_still_counts_the_endpoints(monkeypatch, tmp_path):
    monkeypatch.setattr(prices, "PRICES", tmp_path / "missing.json")
    [warning] = network_warnings({"network": {"create_vpc": True}})
    assert warning == ("network: 5 interface endpoints (sqs, states, sns, logs, monitoring) in 2 AZs are 10 "
                       "endpoint-AZs, each billed by the hour, plus per GB; `python -m tools cost` prices the stack")


def test_kms_and_xray_endpoints_come_with_a_customer_key_and_tracing():
    s = parse_settings({"encryption": {"mode": "kms"}, "workflow": {"tracing": True},
                        "network": {"create_vpc": True, "availability_zones": 2}})
    services = interface_services(customer_key=s.encryption.customer_key, tracing=s.workflow.tracing)
    assert services == ["sqs", "states", "sns", "logs", "monitoring", "kms", "xray"]
    assert endpoint_hours_cost(s.network, len(services), 0.01) == pytest.approx(7 * 2 * 730 * 0.01)
    assert endpoint_hours_cost(parse_settings({}).network, len(services), 0.01) == 0


def test_settings_validation_and_the_network_module_import_without_pulumi():
    """`python -m local` and `python -m tools` run without Pulumi installed (requirements-local.txt)."""
    code = ("import sys; sys.modules['pulumi'] = None; sys.modules['pulumi_aws'] = None\n"
            "from components import parse_settings, settings_warnings\n"
            "from tools import cost\n"
            "s = parse_settings({'network': {'create_vpc': True, 'require_vpc_endpoints': True}})\n"
            "assert settings_warnings(s) and cost.estimate(s).fixed_per_month() > 73\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


# -- documents ---------------------------------------------------------------------------------

def permitted(document: dict, action: str, resource: str) -> bool:
    return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource) == PermissionResult.PERMITTED


def test_the_network_interface_policy_is_lambdas_vpc_actions_scoped_to_the_pipelines_subnets_and_groups():
    document = eni_policy(region=REGION, account_id=ACCOUNT, subnet_ids=[A, B], security_group_ids=[GROUP])
    ec2 = f"arn:aws:ec2:{REGION}:{ACCOUNT}"
    actions = {a for s in document["Statement"] for a in s["Action"]}
    # AWSLambdaVPCAccessExecutionRole's EC2 actions, no more
    assert actions == {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                       "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"}
    star = [s for s in document["Statement"] if "*" in s["Resource"]]
    assert [s["Action"] for s in star] == [["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]]
    assert permitted(document, "ec2:CreateNetworkInterface", f"{ec2}:subnet/{B}")
    assert permitted(document, "ec2:CreateNetworkInterface", f"{ec2}:security-group/{GROUP}")
    assert not permitted(document, "ec2:CreateNetworkInterface", f"{ec2}:subnet/subnet-0ffffffffffffffff")
    assert not permitted(document, "ec2:CreateNetworkInterface", f"{ec2}:security-group/sg-0ffffffffffffffff")
    assert permitted(document, "ec2:DeleteNetworkInterface", f"{ec2}:network-interface/eni-0123456789abcdef0")
    assert not permitted(document, "ec2:DeleteNetworkInterface",
                         f"arn:aws:ec2:us-east-1:{ACCOUNT}:network-interface/eni-0123456789abcdef0")
    assert not permitted(document, "ec2:DeleteSubnet", f"{ec2}:subnet/{A}")


def pipeline_arns(**overrides) -> PipelineArns:
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}"
    functions = ("s3_event_handler", "orchestrator", "dlq_processor", "validate", "variants", "metadata",
                 "reconciler")
    return PipelineArns(
        account_id=ACCOUNT, upload_queue=arn.format("sqs") + ":q", dead_letter_queue=arn.format("sqs") + ":dlq",
        table=arn.format("dynamodb") + ":table/status", topic=arn.format("sns") + ":alerts",
        input_bucket="arn:aws:s3:::input", output_bucket="arn:aws:s3:::output",
        state_machine=arn.format("states") + ":stateMachine:workflow",
        step_functions={n: arn.format("lambda") + f":function:{n}" for n in ("validate", "variants", "metadata")},
        log_groups={n: arn.format("logs") + f":log-group:/aws/lambda/{n}" for n in functions},
        alerts_key=arn.format("kms") + ":key/alerts", **overrides)


def grants(document: dict, prefix: str, principal: str | None = None) -> set[tuple[str, str, str]]:
    """(action, resource, condition) a document allows, for `principal` in an endpoint policy."""
    found = set()
    for s in document["Statement"]:
        roles = (s.get("Condition") or {}).get("ArnEquals", {}).get("aws:PrincipalArn")
        if s["Effect"] != "Allow" or (principal and principal not in roles):
            continue
        others = {k: v for k, v in (s.get("Condition") or {}).items() if k != "ArnEquals"}
        found |= {(a, r, json.dumps(others, sort_keys=True)) for a in s["Action"] if a.split(":")[0] == prefix
                  for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}
    return found


@pytest.mark.parametrize("arns", [pipeline_arns(), pipeline_arns(kms_key=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/data",
                                                                 tracing=True, workflow_type=EXPRESS, moderation=True)],
                         ids=["managed", "kms-tracing-express"])
def test_each_endpoint_allows_each_role_exactly_what_its_own_policy_allows_for_that_service(arns):
    documents = function_policies(arns)
    roles = {name: f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in documents}
    services = ["sqs", "states", "sns", "logs", "kms", *(["xray"] if arns.tracing else []), *GATEWAY_SERVICES]
    for service, policy in endpoint_policies(services, documents, roles).items():
        prefix = ACTION_PREFIX[service]
        for name, role in roles.items():
            assert grants(policy, prefix, role) == grants(documents[name], prefix), (service, name)
        for statement in policy["Statement"]:
            assert statement["Principal"] == "*"
            assert set(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]) <= set(roles.values())
            assert all(not a.endswith("*") for a in statement["Action"]), statement
        assert len({s["Sid"] for s in policy["Statement"]}) == len(policy["Statement"]), service
        assert len(json.dumps(policy)) < 20_480  # AWS's limit for an endpoint policy


def test_the_monitoring_endpoint_allows_only_the_pipelines_metric_namespace():
    documents = function_policies(pipeline_arns())
    roles = {name: f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in documents}
    [statement] = endpoint_policy("monitoring", documents, roles)["Statement"]
    assert statement["Action"] == ["cloudwatch:PutMetricData"] and statement["Resource"] == "*"
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "ImagePipeline"},
                                      "ArnEquals": {"aws:PrincipalArn": sorted(roles.values())}}


def test_an_endpoint_no_function_uses_is_an_error_not_an_empty_policy():
    documents = function_policies(pipeline_arns())  # no tracing: no role uses X-Ray
    with pytest.raises(ValueError, match="no function uses xray"):
        endpoint_policy("xray", documents, {name: f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in documents})


def test_the_source_vpce_deny_names_the_roles_and_the_endpoint_only():
    statement = deny_outside_endpoint("s3", ["arn:aws:s3:::input", "arn:aws:s3:::input/*"],
                                      ["arn:aws:iam::1:role/b", "arn:aws:iam::1:role/a"], "vpce-0123456789abcdef0")
    assert statement == {
        "Sid": "DenyFunctionsOutsideVpcEndpoint", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::input", "arn:aws:s3:::input/*"],
        "Condition": {"ArnEquals": {"aws:PrincipalArn": ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]},
                      "StringNotEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}}}


@pytest.mark.parametrize("cidr", ["127.0.0.0/16", "169.254.0.0/16", "224.0.0.0/16"])
def test_a_loopback_link_local_or_reserved_vpc_cidr_is_refused(cidr):
    with pytest.raises(ConfigError, match=r"network\.vpc_cidr: .* loopback, link-local or reserved"):
        parse_settings({"network": {"create_vpc": True, "vpc_cidr": cidr}})


def test_created_vpc_settings_without_create_vpc_are_named_as_ignored():
    settings = parse_settings({"network": {"vpc_cidr": "10.0.0.0/24", "availability_zones": 3}})
    ignored = "only used with create_vpc: true; it is ignored here"
    assert settings_warnings(settings)[-2:] == [f"network.vpc_cidr: {ignored}",
                                                f"network.availability_zones: {ignored}"]
