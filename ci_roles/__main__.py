"""`pulumi up` in ci_roles/: the roles the GitHub workflows assume. Once per AWS account.

Config: `repository` (owner/name), `environments` (default dev, staging, production),
`oidcProviderArn` (an existing GitHub OIDC provider; default: create one).
"""

import pulumi
import pulumi_aws as aws
from roles import ci_roles  # Pulumi runs this folder as the program: its modules import directly

config = pulumi.Config()
roles = ci_roles(config.require("repository"),
                 config.get_object("environments") or ["dev", "staging", "production"],
                 account_id=aws.get_caller_identity().account_id, provider_arn=config.get("oidcProviderArn"))
pulumi.export("preview_role_arn", roles.preview.arn)  # the repository variable AWS_PREVIEW_ROLE_ARN
pulumi.export("deploy_role_arn", roles.deploy.arn)  # AWS_DEPLOY_ROLE_ARN
