"""The CrossGuard pack against every resource the component registers for each stack (under mocks)."""

from __future__ import annotations

import json

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)

from policy import rules
from tests.infra.conftest import NETWORK_MODES, STACKS, network_graph


def policy_resources(graph) -> list[PolicyResource]:
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    by_urn = {r.urn: PolicyResource(r.type, r.inputs, r.urn, r.name, options, None, None, [], {})
              for r in graph.resources}
    for urn, resource in by_urn.items():
        resource.dependencies = [by_urn[d] for d in graph.dependencies.get(urn, ()) if d in by_urn]
        resource.property_dependencies = {key: [by_urn[d] for d in urns if d in by_urn]
                                          for key, urns in graph.property_dependencies.get(urn, {}).items()}
    return list(by_urn.values())


def violations(graph) -> dict[EnforcementLevel, list[str]]:
    found: dict[EnforcementLevel, list[str]] = {EnforcementLevel.MANDATORY: [], EnforcementLevel.ADVISORY: []}
    resources = policy_resources(graph)
    for policy in rules.POLICIES:
        def report(message, urn=None, policy=policy):
            found[policy.enforcement_level].append(f"{policy.name}: {message} ({urn})")

        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                policy.validate(ResourceValidationArgs(r.resource_type, r.props, r.urn, r.name, r.opts, None), report)
        else:
            policy.validate(StackValidationArgs(resources), report)
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_no_mandatory_policy_is_violated_by_any_stack(deploy, stack):
    assert violations(deploy(stack))[EnforcementLevel.MANDATORY] == []


def test_dev_keeps_the_original_receive_count_and_the_advisory_says_so(deploy):
    advisories = violations(deploy("dev"))[EnforcementLevel.ADVISORY]
    assert [a.split(":")[0] for a in advisories] == ["max-receive-count"]
    assert violations(deploy("prod"))[EnforcementLevel.ADVISORY] == []


def test_the_stack_policies_really_see_the_component_graph(deploy):
    graph = deploy("dev")
    resources = policy_resources(graph)
    mappings = list(rules._mappings(StackValidationArgs(resources)))
    assert len(mappings) == 2
    assert all(queue is not None and function is not None for _, queue, function in mappings)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("mode", NETWORK_MODES)
def test_vpc_stacks_in_both_modes_violate_no_mandatory_policy(stack, mode):
    graph = network_graph(stack, mode, require=True)
    assert graph.of_type(rules.ENDPOINT) and all(
        f.inputs.get("vpcConfig") for f in graph.of_type(rules.FUNCTION))  # the VPC rules have something to judge
    assert violations(graph)[EnforcementLevel.MANDATORY] == []


def test_the_vpc_rules_catch_a_function_left_outside_and_an_open_endpoint():
    """On a real VPC graph: the same graph with one function out of the VPC and one endpoint policy opened up."""
    graph = network_graph("dev", "create")
    function = next(r for r in graph.of_type(rules.FUNCTION))
    endpoint = next(r for r in graph.of_type(rules.ENDPOINT))
    outside = dict(function.inputs)
    outside.pop("vpcConfig")
    opened = dict(endpoint.inputs, policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}))
    broken = type(graph)(resources=[
        type(r)(r.urn, r.type, r.name, outside if r is function else opened if r is endpoint else r.inputs, r.options,
                r.id) for r in graph.resources], dependencies=graph.dependencies,
        property_dependencies=graph.property_dependencies)
    found = violations(broken)[EnforcementLevel.MANDATORY]
    assert sorted(v.split(":")[0] for v in found) == ["endpoint-policies", "endpoint-policies", "vpc-placement"], found
