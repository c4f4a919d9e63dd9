"""The plugin builds what the Python program builds: same settings, same resources, same problems.

Other languages send camelCase keys and every number as a float; the provider maps the keys back
and the component turns whole floats into ints before the usual validation.
"""

from __future__ import annotations

import runpy
from typing import Any

import pulumi
import pytest
from pulumi.provider.experimental.component import ComponentInitError
from pulumi.provider.experimental.util import camel_case
from pulumi.runtime import rpc

from components import read_stack_settings
from components.image_pipeline import ImagePipeline
from provider import PACKAGE, ROOT, VERSION
from provider.inputs import ImagePipelineProvider
from tests.infra.conftest import STACKS, Graph, run_under_mocks

TOKEN = f"{PACKAGE}:index:ImagePipeline"


def as_sent_by_another_language(value: Any, key: str = "") -> Any:
    """camelCase keys (but a tag's own keys), numbers as floats: what the engine hands the provider."""
    if isinstance(value, dict):
        return {(name if key == "tags" else camel_case(name)): as_sent_by_another_language(item, name)
                for name, item in value.items()}
    if isinstance(value, list):
        return [as_sent_by_another_language(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def through_the_provider(stack: str, inputs: dict[str, Any]) -> Graph:
    provider = ImagePipelineProvider([ImagePipeline], PACKAGE, version=VERSION)

    def program() -> Any:
        result = provider.construct(f"images-{stack}", TOKEN, inputs, None)
        return pulumi.Output.all(result.state["queueUrl"], result.state["functionNames"])

    return run_under_mocks(stack, program)


def through_python(stack: str, args: dict[str, Any]) -> Graph:
    def program() -> Any:
        pipeline = ImagePipeline(f"images-{stack}", args)
        return pulumi.Output.all(pipeline.queue_url, pipeline.function_names)

    return run_under_mocks(stack, program)


def comparable(value: Any) -> Any:
    """Archives and assets by what they hold (their repr is an address)."""
    if isinstance(value, pulumi.AssetArchive):
        return {"assets": comparable(value.assets)}
    if isinstance(value, (pulumi.FileArchive, pulumi.FileAsset)):
        return {"path": value.path}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, dict):
        return {key: comparable(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [comparable(item) for item in value]
    return value


def registered(graph: Graph) -> list[tuple[str, str, str]]:
    return sorted((r.type, r.name, repr(comparable(r.inputs))) for r in graph.resources)


@pytest.mark.parametrize("stack", STACKS)
def test_the_provider_and_the_python_program_build_the_same_resources(stack):
    settings = read_stack_settings(stack, ROOT)
    from_python = registered(through_python(stack, settings))
    from_provider = registered(through_the_provider(stack, as_sent_by_another_language(settings)))
    assert len(from_python) > 80
    assert from_provider == from_python


@pytest.mark.parametrize("network", [{"create_vpc": True, "require_vpc_endpoints": True},
                                     {"subnet_ids": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
                                      "security_group_ids": ["sg-0123456789abcdef0"]}], ids=["create_vpc", "own_vpc"])
def test_both_network_modes_build_the_same_through_the_provider(network):
    settings = read_stack_settings("prod", ROOT) | {"network": network}
    from_python = registered(through_python("prod", settings))
    from_provider = registered(through_the_provider("prod", as_sent_by_another_language(settings)))
    assert any(kind == "aws:ec2/vpcEndpoint:VpcEndpoint" for kind, _, _ in from_python)
    assert from_provider == from_python


def test_tags_keep_their_own_keys_through_the_provider():
    inputs = as_sent_by_another_language({"tags": {"cost_center": "images", "team-name": "media"}})
    assert inputs == {"tags": {"cost_center": "images", "team-name": "media"}}
    queue = next(r for r in through_the_provider("dev", inputs).resources if r.type == "aws:sqs/queue:Queue")
    assert queue.inputs["tags"]["cost_center"] == "images"


def test_problems_name_the_keys_as_other_languages_spell_them():
    runpy.run_path(str(ROOT / "provider" / "__main__.py"), run_name="loaded_by_a_test")  # the plugin sets no global
    assert not hasattr(ImagePipeline, "camel_case_keys")
    bad = {"functions": {"orchestrator": {"batchSize": 20.0, "memorySize": 64.0}},
           "workflow": {"animation": "every_frame", "variantSizes": [1280.0, 8.0]}}
    with pytest.raises(ComponentInitError) as raised:
        through_the_provider("dev", bad)
    message = str(raised.value)
    assert "4 problem(s)" in message
    for problem in ("functions.orchestrator.batchSize: 20 needs batchingWindowSeconds >= 1",
                    "functions.orchestrator.memorySize: 64 is below the minimum 128",
                    "workflow.animation: 'every_frame' is not one of first_frame, animated_webp",
                    "workflow.variantSizes: 8 is outside 16 to 10,000 px"):
        assert problem in message


def test_the_python_program_names_keys_in_snake_case():
    with pytest.raises(pulumi.RunError, match=r"functions\.orchestrator\.batch_size: 20 needs batching_window_seconds"):
        ImagePipeline("images-dev", {"functions": {"orchestrator": {"batch_size": 20}}})


def test_outputs_and_secrets_where_the_settings_decide_what_is_created_are_named_with_every_other_problem():
    inputs = {"alarms": {"emailSubscriptions": pulumi.Output.secret(["oncall@example.com"])},
              "workflow": {"variantSizes": [pulumi.Output.from_input(1280.0), 640.0]},
              "queue": {"delaySeconds": 901.0}}
    with pytest.raises(ComponentInitError) as raised:
        through_the_provider("dev", inputs)
    message = str(raised.value)
    assert "3 problem(s) in the inputs of ImagePipeline 'images-dev'" in message
    assert ("alarms.emailSubscriptions: must be a list known at preview (one resource per item); each item may be "
            "an output or a secret") in message
    assert "workflow.variantSizes[0]: must be known at preview" in message
    assert "queue.delaySeconds: 901 is above the maximum 900" in message


SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
GROUP = "sg-0123456789abcdef0"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
WIRED = {"network": {"subnet_ids": SUBNETS, "security_group_ids": [GROUP]},
         "encryption": {"mode": "kms", "kms_key_arn": KEY}, "alarms": {"email_subscriptions": ["oncall@example.com"]}}


def wired_from_other_resources(subnets: Any, group: Any, key: Any, address: Any) -> dict[str, Any]:
    """What a TypeScript or YAML program sends when it wires a VPC's subnets, a group's id, a key's ARN and a
    secret address into the component: outputs where those values are."""
    return {"network": {"subnetIds": pulumi.Output.from_input(subnets),
                        "securityGroupIds": [pulumi.Output.from_input(group)]},
            "encryption": {"mode": "kms", "kmsKeyArn": pulumi.Output.from_input(key)},
            "alarms": {"emailSubscriptions": [pulumi.Output.secret(address)]}}


def test_outputs_for_subnets_groups_key_and_addresses_build_the_same_resources_as_plain_values():
    plain = registered(through_the_provider("prod", as_sent_by_another_language(WIRED)))
    wired = registered(through_the_provider("prod", wired_from_other_resources(SUBNETS, GROUP, KEY,
                                                                                "oncall@example.com")))
    assert any(kind == "aws:ec2/vpcEndpoint:VpcEndpoint" for kind, _, _ in plain)
    assert any(kind == "aws:sns/topicSubscription:TopicSubscription" for kind, _, _ in plain)
    subscription = next(i for i, (kind, _, _) in enumerate(wired) if kind.startswith("aws:sns/topicSubscription"))
    secret = {rpc._special_sig_key: rpc._special_secret_sig, "value": "oncall@example.com"}
    assert repr(secret) in wired[subscription][2]  # the secret address stays a secret
    wired[subscription] = (*wired[subscription][:2], wired[subscription][2].replace(repr(secret),
                                                                                    "'oncall@example.com'"))
    assert wired == plain


def test_outputs_that_resolve_to_bad_values_fail_once_known_naming_every_problem():
    inputs = wired_from_other_resources(["subnet-1"], "sg-1", "alias/images", "oncall")
    with pytest.raises(pulumi.RunError) as raised:
        through_the_provider("prod", inputs)
    message = str(raised.value)
    assert "5 problem(s) in the inputs of ImagePipeline 'images-prod'" in message
    for problem in ("alarms.emailSubscriptions: 'oncall' is not an email address",
                    "encryption.kmsKeyArn: 'alias/images' is not a KMS key ARN",
                    "network.subnetIds: 'subnet-1' is not a subnet ID",
                    "network.securityGroupIds: 'sg-1' is not a security group ID",
                    "network.subnetIds: one subnet is one AZ"):
        assert problem in message


def test_subnets_that_are_an_output_are_looked_up_once_known():
    inputs = {"network": {"subnetIds": pulumi.Output.from_input(["subnet-0a1b2c3d4e5f60001",
                                                                  "subnet-0a1b2c3d4e5f60003"]),
                          "securityGroupIds": [GROUP]}}
    with pytest.raises(pulumi.RunError, match=r"network.subnetIds: every subnet is in eu-west-1a"):
        through_the_provider("dev", inputs)


def test_typos_wrong_shapes_and_secret_sections_are_named_not_dropped():
    """Pulumi's own mapping would drop each of these silently (a secret `network`: no VPC at all)."""
    inputs = {"network": pulumi.Output.secret({"createVpc": True}),
              "queue": {"bogusKey": 1.0, "visibility_timeout_seconds": 360.0, "delaySeconds": float("inf")},
              "alarms": "yes", "moderation": [1.0]}
    with pytest.raises(ComponentInitError) as raised:
        through_the_provider("dev", inputs)
    message = str(raised.value)
    for problem in ("network: must be known at preview", "queue.bogusKey: unknown key",
                    "queue.delaySeconds: expected an integer, got float inf",
                    "alarms: expected a mapping, got str 'yes'", "moderation: expected a mapping, got list"):
        assert problem in message
    assert "5 problem(s)" in message  # a key in Python's spelling (visibility_timeout_seconds) is understood


def test_problems_found_by_looking_up_your_subnets_are_named_in_camel_case():
    inputs = {"network": {"subnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60003"],
                          "securityGroupIds": ["sg-0123456789abcdef0"]}}
    with pytest.raises(ComponentInitError, match=r"in the inputs of ImagePipeline 'images-dev'") as raised:
        through_the_provider("dev", inputs)
    assert "network.subnetIds: every subnet is in eu-west-1a" in str(raised.value)
