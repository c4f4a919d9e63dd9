"""The workflow definition every stack deploys, pinned byte for byte: a refactor of how it is built must
leave what it builds unchanged (a deliberate change of the definition updates these digests)."""

from __future__ import annotations

import hashlib
import json

import pytest

from components import Settings, parse_settings, read_stack_settings
from components.workflow.definition import stack_definition
from tests.conftest import ROOT

RESOURCES = {"table_name": "images-status", "output_bucket": "images-output",
             "topic_arn": "arn:aws:sns:eu-west-1:123456789012:images-alerts",
             "dead_letter_queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/images-dlq"}
PINNED = {  # json.dumps(definition, sort_keys=True), sha256
    "dev-STANDARD-plain": "6c15c39cd0aefbc6f77a66236ffee362ffb817dc30be7606609e030baa4c7fe8",
    "dev-STANDARD-moderated": "043c70bae62f8d5be5f865e8e006c32a16d788b5608bda9f1d93c0669db9a366",
    "dev-EXPRESS-plain": "34e16f468989160009ed8d9c6ed598264b06a43c8b1db97f994f981e7d3801d7",
    "dev-EXPRESS-moderated": "8fcd810382d11108d46202617d1ceb98b5f940593bfae4b1ac440b39c81a336b",
    "staging-STANDARD-plain": "6c15c39cd0aefbc6f77a66236ffee362ffb817dc30be7606609e030baa4c7fe8",
    "staging-STANDARD-moderated": "fe8710e7291d5f94628a2bc1cd1ca054ef99a9bbd7eb244842ee566a8ce7c3b7",
    "staging-EXPRESS-plain": "34e16f468989160009ed8d9c6ed598264b06a43c8b1db97f994f981e7d3801d7",
    "staging-EXPRESS-moderated": "e065a4703f0cf5d38af984b2694e2741bd0ce8660296cacaf51c53c36c2f4c57",
    "prod-STANDARD-plain": "5beeb5fa8bc2412ebc58a39982f06d801e8be82111cf6b99107aa541cce27037",
    "prod-STANDARD-moderated": "160af81a33db32687130a716e30d8a9ade91033e52c7e367e63f040cdac4c3cc",
    "prod-EXPRESS-plain": "54763c7156ca232f10151e1676ec2aad28013cf5b67e7ef7d76660e59def9641",
    "prod-EXPRESS-moderated": "a218805528676a11124a5c484bc57d94e904991fd41988b666a1157b47254f44",
}


def stack_settings(stack: str, workflow_type: str, moderation: bool) -> Settings:
    raw = read_stack_settings(stack, ROOT)
    raw["workflow"] = raw.get("workflow", {}) | {"type": workflow_type} | (
        {"execution_timeout_seconds": 300} if workflow_type == "EXPRESS" else {})
    raw["moderation"] = raw.get("moderation", {}) | {"enabled": moderation}
    return parse_settings(raw)


def deployed_definition(settings: Settings) -> str:
    arns = {step: f"arn:aws:lambda:eu-west-1:123456789012:function:images-{step}"
            for step in settings.workflow_functions()}
    return json.dumps(stack_definition(settings, step_arns=arns, **RESOURCES), sort_keys=True)


CASES = [(stack, kind, moderation) for stack in ("dev", "staging", "prod") for kind in ("STANDARD", "EXPRESS")
         for moderation in (False, True)]


@pytest.mark.parametrize(("stack", "kind", "moderation"), CASES)
def test_every_stack_deploys_the_pinned_definition(stack, kind, moderation):
    definition = deployed_definition(stack_settings(stack, kind, moderation))
    digest = hashlib.sha256(definition.encode()).hexdigest()
    assert digest == PINNED[f"{stack}-{kind}-{'moderated' if moderation else 'plain'}"]
