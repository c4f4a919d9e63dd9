"""The CI roles program (`ci_roles/`): what GitHub may assume, and for which workflow subjects."""

from __future__ import annotations

import json

import parliament

from ci_roles import roles
from tests.infra.conftest import ACCOUNT, run_under_mocks


def build():
    def program():
        created = roles.ci_roles("acme/image-pipeline", ["dev", "staging", "production"], account_id=ACCOUNT)
        return created.preview.arn

    return run_under_mocks("ci", program)


def test_the_preview_role_is_read_only_plus_definition_validation_for_pull_requests_only():
    graph = build()
    preview = graph.named("ci-preview")
    trust = json.loads(preview.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"] == {
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
        "StringLike": {"token.actions.githubusercontent.com:sub": ["repo:acme/image-pipeline:pull_request"]}}
    assert trust["Principal"] == {"Federated": graph.named("github").inputs["arn"]}
    assert graph.named("ci-preview-managed").inputs["policyArn"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    # pulumi-aws validates the state machine definition during preview.
    assert graph.named("ci-preview-policy").policy()["Statement"][0]["Action"] == [
        "states:ValidateStateMachineDefinition"]


def test_the_deploy_role_serves_only_the_deploy_environments_and_manages_only_the_components_roles():
    graph = build()
    trust = json.loads(graph.named("ci-deploy").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"] == [
        f"repo:acme/image-pipeline:environment:{name}" for name in ("dev", "staging", "production")]
    manage, pass_role, deny = graph.named("ci-deploy-policy").policy()["Statement"]
    assert manage["Resource"] == pass_role["Resource"] == deny["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/images-*"]
    assert all(not a.endswith("*") for a in manage["Action"]) and "iam:PassRole" not in manage["Action"]
    # Passed only to the services the component's roles serve, and never assumed by the deployer.
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com",
                                                                               "states.amazonaws.com"]}}
    assert (deny["Effect"], deny["Action"]) == ("Deny", ["sts:AssumeRole"])


def test_the_ci_role_documents_lint_clean():
    documents = [roles.preview_policy(), roles.deploy_policy(ACCOUNT, "images-"),
                 roles.github_trust_policy(f"arn:aws:iam::{ACCOUNT}:oidc-provider/x", "acme/r", ["pull_request"])]
    for document in documents[:2]:
        assert [f.issue for f in parliament.analyze_policy_string(json.dumps(document)).findings] == []
    assert documents[2]["Statement"][0]["Action"] == "sts:AssumeRoleWithWebIdentity"


def test_the_program_builds_both_roles_from_its_config(monkeypatch):
    import runpy
    import sys

    import pulumi

    from tests.conftest import ROOT

    monkeypatch.syspath_prepend(str(ROOT / "ci_roles"))  # as `pulumi up` runs it, from its own folder
    exported: dict = {}

    def program():
        pulumi.runtime.set_all_config({"image-pipeline:repository": "acme/image-pipeline"})
        monkeypatch.setattr(pulumi, "export", lambda key, value: exported.__setitem__(key, value))
        runpy.run_path(str(ROOT / "ci_roles" / "__main__.py"), run_name="__main__")
        return pulumi.Output.all(**exported)

    graph = run_under_mocks("ci", program)
    assert set(exported) == {"preview_role_arn", "deploy_role_arn"}
    trust = json.loads(graph.named("ci-deploy").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"][-1].endswith(
        "environment:production")
    sys.modules.pop("roles", None)
