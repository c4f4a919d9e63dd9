"""The CI roles' documents (plain functions) and the resources that carry them.

- **preview** (pull requests): AWS's `ReadOnlyAccess`, plus `states:ValidateStateMachineDefinition`,
  which pulumi-aws calls during `pulumi preview` to check the workflow definition and which no
  read-only managed policy grants.
- **deploy** (main, per GitHub environment): AWS's `PowerUserAccess`, plus managing and passing only
  the roles the component creates (`{prefix}*`): PowerUserAccess grants almost nothing in IAM.

Both trust only GitHub's OIDC provider, for this repository, with `aud` sts.amazonaws.com, and
for exactly the workflow subjects that need them.

Example:
    >>> github_trust_policy("arn:aws:iam::1:oidc-provider/x", "org/repo", ["pull_request"])["Statement"][0][
    ...     "Condition"]["StringLike"]
    {'token.actions.githubusercontent.com:sub': ['repo:org/repo:pull_request']}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

GITHUB_OIDC = "token.actions.githubusercontent.com"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POWER_USER = "arn:aws:iam::aws:policy/PowerUserAccess"
COMPONENT_ROLE_ACTIONS = ["iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:TagRole",
                          "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:GetRolePolicy",
                          "iam:DeleteRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
                          "iam:ListInstanceProfilesForRole"]
PASSED_TO = ["lambda.amazonaws.com", "states.amazonaws.com"]


def github_trust_policy(provider_arn: str, repository: str, subjects: list[str]) -> dict[str, Any]:
    """Trust GitHub's OIDC tokens for `repository` and these subjects (`pull_request`, `environment:prod`)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{GITHUB_OIDC}:aud": "sts.amazonaws.com"},
                      "StringLike": {f"{GITHUB_OIDC}:sub": [f"repo:{repository}:{s}" for s in subjects]}}}]}


def preview_policy() -> dict[str, Any]:
    # ValidateStateMachineDefinition has no resource type: AWS requires resource "*".
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "ValidateWorkflowDefinitions", "Effect": "Allow", "Action": ["states:ValidateStateMachineDefinition"],
        "Resource": ["*"]}]}


def deploy_policy(account_id: str, role_prefix: str) -> dict[str, Any]:
    """Manage the component's roles, pass them only to Lambda and Step Functions, never assume them.

    A role that can write IAM roles can always reach their permissions somehow (here: through a
    Lambda function it deploys); the Deny closes the direct path. Add a permissions boundary in
    accounts that need a hard limit.
    """
    roles = [f"arn:aws:iam::{account_id}:role/{role_prefix}*"]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ManageTheComponentsRoles", "Effect": "Allow", "Action": COMPONENT_ROLE_ACTIONS, "Resource": roles},
        {"Sid": "PassThemOnlyToTheirServices", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": roles,
         "Condition": {"StringEquals": {"iam:PassedToService": PASSED_TO}}},
        {"Sid": "NeverAssumeThem", "Effect": "Deny", "Action": ["sts:AssumeRole"], "Resource": roles}]}


@dataclass(frozen=True)
class CiRoles:
    preview: Any
    deploy: Any


def ci_roles(repository: str, environments: list[str], *, account_id: str, role_prefix: str = "images-",
             provider_arn: Any = None) -> CiRoles:
    """Create the roles (and GitHub's OIDC provider unless `provider_arn` names an existing one)."""
    import pulumi
    import pulumi_aws as aws

    if provider_arn is None:
        provider_arn = aws.iam.OpenIdConnectProvider(
            "github", url=f"https://{GITHUB_OIDC}", client_id_lists=["sts.amazonaws.com"]).arn
    provider = pulumi.Output.from_input(provider_arn)

    def role(name: str, subjects: list[str], managed: str, inline: dict[str, Any]) -> aws.iam.Role:
        created = aws.iam.Role(f"ci-{name}", description=f"GitHub Actions {name} for {repository}",
                               assume_role_policy=provider.apply(
                                   lambda arn: json.dumps(github_trust_policy(arn, repository, subjects))),
                               max_session_duration=3600)
        aws.iam.RolePolicyAttachment(f"ci-{name}-managed", role=created.name, policy_arn=managed,
                                     opts=pulumi.ResourceOptions(parent=created))
        aws.iam.RolePolicy(f"ci-{name}-policy", role=created.id, policy=json.dumps(inline),
                           opts=pulumi.ResourceOptions(parent=created))
        return created

    return CiRoles(
        preview=role("preview", ["pull_request"], READ_ONLY, preview_policy()),
        deploy=role("deploy", [f"environment:{name}" for name in environments], POWER_USER,
                    deploy_policy(account_id, role_prefix)))
