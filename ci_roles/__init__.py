"""The AWS roles GitHub Actions assumes by OIDC: a read-only preview role and a deploy role."""
