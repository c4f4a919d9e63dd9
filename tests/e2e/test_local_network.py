"""The local pipeline with `network` settings: moto has no VPC, so placement is ignored, but the run must work,
every call must pass the function's own role policy, and (what only a VPC adds) its endpoint's policy."""

from __future__ import annotations

import json
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult

from components import parse_settings, read_stack_settings
from components.network.services import ACTION_PREFIX, GATEWAY_SERVICES, endpoint_policies, interface_services
from local.__main__ import main
from local.faults import Faults
from local.runner import LocalRunner, Upload
from local.samples import encode, photo, truncated_jpeg
from tests.conftest import ROOT

NETWORK = {"create_vpc": True, "require_vpc_endpoints": True}


def test_python_m_local_runs_a_stack_placed_in_a_vpc(monkeypatch, tmp_path, capsys):
    raw = read_stack_settings("dev", ROOT) | {"network": NETWORK}
    monkeypatch.setattr("local.settings.read_stack_settings", lambda stack, project_dir: raw)
    assert main(["--out", str(tmp_path), "--warnings"]) == 0
    _, err = capsys.readouterr()
    assert "warning: network: 5 interface endpoints (sqs, states, sns, logs, monitoring) in 2 AZs" in err
    report = json.loads((tmp_path / "report.json").read_text())
    assert {o["status"] for o in report["images"]} <= {"completed", "failed"} and "missing" not in report["summary"]


def endpoint_allows(policy: dict[str, Any], role: str, action: str, resource: str) -> bool:
    """The endpoint policy's statements for `role` (its aws:PrincipalArn condition met), their other conditions
    left to the role policy (the same statement there), evaluated as IAM would."""
    mine = [{k: v for k, v in s.items() if k not in ("Principal", "Condition")} for s in policy["Statement"]
            if role in s["Condition"]["ArnEquals"]["aws:PrincipalArn"]]
    document = json.dumps({"Version": "2012-10-17", "Statement": mine})
    return IAMPolicy(document).is_action_permitted(action, resource) == PermissionResult.PERMITTED


def test_every_call_the_functions_make_is_allowed_by_their_role_and_by_their_endpoint():
    """dev in a VPC, with crashes, lost events, one image throttled and one image's status writes failing until
    the DLQ processor and the reconciler take over: no call is denied by a role policy, and each call's endpoint
    policy allows it."""
    settings = parse_settings(read_stack_settings("dev", ROOT) | {"network": NETWORK})
    good = encode(photo(320, 240), "JPEG", quality=80)
    uploads = [Upload(f"p{i}.jpg", f"uploads/u{i % 2}/p{i}.jpg", good) for i in range(10)]
    uploads.append(Upload("broken.jpg", "uploads/u0/broken.jpg", truncated_jpeg()))
    faults = Faults.parse("lost_event=0.3,crash=0.2", seed=3)
    faults.target("throttle", "p3", times=20)
    faults.target("dynamodb", "'p5'", times=12)
    runner = LocalRunner(settings, faults=faults, iam_enforce=True)
    with runner.running():
        runner.run(uploads)
        documents = {name: doc for name, doc in runner.emulator._policies().items() if name != "workflow"}
        checked, denied = list(runner.enforcer.checked), list(runner.enforcer.denied)
    assert denied == []
    calls = {(c.principal, c.action, c.resource) for c in checked if c.principal in documents}
    assert {principal for principal, _, _ in calls} >= {"s3_event_handler", "orchestrator", "dlq_processor",
                                                        "validate", "variants", "metadata", "reconciler"}
    assert {(p, a) for p, a, _ in calls} >= {("dlq_processor", "sns:Publish"), ("dlq_processor", "sqs:SendMessage"),
                                             ("reconciler", "states:DescribeExecution")}  # the repair paths ran
    # Every service the functions call has an endpoint in the stack (a VPC without NAT reaches nothing else).
    services = interface_services(customer_key=settings.encryption.customer_key, tracing=settings.workflow.tracing)
    endpoints = {ACTION_PREFIX[s]: s for s in [*services, *GATEWAY_SERVICES]}
    called = {action.split(":")[0] for _, action, _ in calls}
    assert called <= set(endpoints), called - set(endpoints)
    roles = {name: f"arn:aws:iam::123456789012:role/{name}" for name in documents}
    policies = endpoint_policies([endpoints[prefix] for prefix in called], documents, roles)
    by_prefix = {prefix: policies[endpoints[prefix]] for prefix in called}
    refused = [call for call in calls
               if not endpoint_allows(by_prefix[call[1].split(":")[0]], roles[call[0]], call[1], call[2])]
    assert refused == []
