"""The CI/CD workflows: previews per stack with the policy pack, deploys chained, prod behind approval."""

from __future__ import annotations

import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_pull_requests_run_the_tests_then_preview_every_stack_with_the_policy_pack():
    workflow = load("pull-request.yml")
    preview = workflow["jobs"]["preview"]
    assert preview["needs"] == "test"
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "staging", "prod"]
    pulumi = next(s for s in preview["steps"] if str(s.get("uses", "")).startswith("pulumi/actions"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["comment-on-pr"] is True
    assert preview["permissions"]["id-token"] == "write"  # OIDC, no stored AWS keys
    assert "make test" in str(workflow["jobs"]["test"]["steps"])


def test_main_deploys_dev_then_staging_then_prod_behind_an_approval():
    jobs = load("deploy.yml")["jobs"]
    assert (jobs["dev"]["needs"], jobs["staging"]["needs"], jobs["prod"]["needs"]) == ("test", "dev", "staging")
    assert jobs["prod"]["with"] == {"stack": "prod", "environment": "production"}
    up = load("pulumi-up.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.environment }}"
    step = next(s for s in up["steps"] if str(s.get("uses", "")).startswith("pulumi/actions"))
    assert (step["with"]["command"], step["with"]["policyPacks"]) == ("up", "policy")
    smoke = up["steps"][-1]  # after every `pulumi up`, the stack proves itself
    assert "python -m tools smoke --stack" in smoke["run"]


def test_no_workflow_stores_aws_keys():
    for path in WORKFLOWS.glob("*.yml"):
        assert "AWS_SECRET_ACCESS_KEY" not in path.read_text(), path.name
