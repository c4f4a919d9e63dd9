"""`__main__.py` is what `pulumi up` runs: it must build every stack from that stack's YAML."""

from __future__ import annotations

import json
import logging
import runpy

import pulumi
import pytest

from components import parse_settings, read_stack_settings
from tests.conftest import ROOT
from tests.infra.conftest import STACKS, run_under_mocks

EXPORTS = {"input_bucket_name", "output_bucket_name", "queue_url", "queue_arn", "dead_letter_queue_url",
           "dead_letter_queue_arn", "state_machine_arn", "table_name", "topic_arn", "function_names"}


def run_main(stack: str, raw: dict) -> tuple[dict, object]:
    exported: dict = {}

    def program() -> None:
        pulumi.runtime.set_all_config({"image-pipeline:pipeline": json.dumps(raw), "aws:region": "eu-west-1"})
        real_export = pulumi.export
        pulumi.export = lambda key, value: exported.__setitem__(key, value)
        try:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        finally:
            pulumi.export = real_export
        return pulumi.Output.all(**exported)

    return exported, run_under_mocks(stack, program)


@pytest.mark.parametrize("stack", STACKS)
def test_main_builds_each_stack_from_its_yaml(stack):
    exported, graph = run_main(stack, read_stack_settings(stack, ROOT))

    assert set(exported) == EXPORTS
    assert len(graph.of_type("image-pipeline:index:ImagePipeline")) == 1
    moderated = parse_settings(read_stack_settings(stack, ROOT)).moderation.enabled
    assert len(graph.of_type("aws:lambda/function:Function")) == 7 + moderated  # + quarantine
    assert len(graph.of_type("aws:sfn/stateMachine:StateMachine")) == 1


def test_every_resource_is_a_child_of_the_component():
    _, graph = run_main("dev", {})
    component = graph.one("image-pipeline:index:ImagePipeline")
    parents = {r.urn: r.options["parent"] for r in graph.resources}

    def reaches_component(urn: str) -> bool:
        while urn and urn != component.urn:
            urn = parents.get(urn, "")
        return urn == component.urn

    outside = [r.urn for r in graph.resources if not reaches_component(r.urn)]
    assert not outside, f"not under the ImagePipeline component: {outside}"


def test_invalid_config_fails_the_program_listing_every_problem():
    raw = {"queue": {"delay_seconds": 901, "visibilty_timeout_seconds": 300},
           "functions": {"orchestrator": {"memory_size": 64}}}
    with pytest.raises(Exception) as raised:
        run_main("dev", raw)
    message = str(raised.value)
    assert "3 problem(s)" in message
    assert "queue.delay_seconds: 901 is above the maximum 900" in message
    assert "queue.visibilty_timeout_seconds: unknown key (did you mean 'visibility_timeout_seconds'?)" in message
    assert "functions.orchestrator.memory_size: 64 is below the minimum 128" in message


def test_dev_stack_warns_about_the_original_designs_pitfalls(caplog):
    with caplog.at_level(logging.WARNING, logger="pulumi"):
        run_main("dev", read_stack_settings("dev", ROOT))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith("dead_letter_queue.max_receive_count: 3 is below 5") for w in warnings)
    assert any(w.startswith("dead_letter_queue.message_retention_seconds: 1209600") for w in warnings)


def test_prod_stack_has_no_pitfall_warnings(caplog):
    with caplog.at_level(logging.WARNING, logger="pulumi"):
        run_main("prod", read_stack_settings("prod", ROOT))
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_an_explicit_provider_sets_the_account_and_region_the_component_builds_for():
    """`get_caller_identity`/`get_region` run with the component's providers, not the default one."""
    import json

    import pulumi
    import pulumi_aws as aws

    from components import ImagePipeline
    from tests.infra.conftest import OTHER_ACCOUNT, OTHER_REGION, run_under_mocks

    def program():
        other = aws.Provider("other", region=OTHER_REGION)
        pipeline = ImagePipeline("images-dev", parse_settings({}), opts=pulumi.ResourceOptions(
            providers={"aws": other}))
        return pipeline.queue_url

    graph = run_under_mocks("dev", program)
    role = graph.named("images-dev-orchestrator-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": OTHER_ACCOUNT}}
    layers = graph.named("images-dev-orchestrator").inputs["layers"]
    assert any(f":{OTHER_REGION}:" in layer for layer in layers), layers


def test_a_stack_name_too_long_for_aws_names_fails_the_preview_with_the_other_problems():
    stack = "production-eu-west-1-customers"  # the component: images-production-eu-west-1-customers, 37 characters
    with pytest.raises(Exception) as raised:
        run_main(stack, {"queue": {"delay_seconds": 901}})
    message = str(raised.value)
    assert "3 problem(s)" in message
    assert "queue.delay_seconds: 901 is above the maximum 900" in message
    assert ("component name: 'images-production-eu-west-1-customers' is 37 characters, so "
            "'images-production-eu-west-1-customers-s3-event-handler-role' + the 8 characters Pulumi adds is 67, "
            "over the 64 AWS allows for IAM role names; use a name of at most 34 characters") in message
    assert ("component name: 'images-production-eu-west-1-customers' is 37 characters, so "
            "'images-production-eu-west-1-customers-unfinished-executions' + the 8 characters Pulumi adds is 67, "
            "over the 64 AWS allows for EventBridge rule names; use a name of at most 34 characters") in message
