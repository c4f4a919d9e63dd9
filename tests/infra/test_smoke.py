from tests.infra.conftest import STACKS


def test_each_stack_builds(deploy):
    for stack in STACKS:
        graph = deploy(stack)
        assert graph.of_type("aws:sqs/queue:Queue"), stack
