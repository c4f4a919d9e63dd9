"""The functions are listed once (`contract.functions`): the settings, the component and the local stack
derive which functions exist, which the workflow invokes and which come after it from that list."""

from __future__ import annotations

import pytest

from components import Settings, parse_settings
from contract.functions import AFTER_WORKFLOW, FUNCTION_NAMES, created_functions, workflow_steps
from contract.table import PENDING_INDEX, STATUS_TABLE


@pytest.mark.parametrize("moderation", [False, True])
def test_a_stack_creates_the_workflow_steps_first_then_the_functions_that_name_the_workflow(moderation):
    settings = parse_settings({"moderation": {"enabled": moderation}})
    assert tuple(settings.created_functions()) == created_functions(moderation)
    assert settings.workflow_functions() == workflow_steps(moderation)
    assert set(workflow_steps(moderation)) | set(AFTER_WORKFLOW) == set(created_functions(moderation))
    assert not set(workflow_steps(moderation)) & set(AFTER_WORKFLOW)
    assert ("quarantine" in created_functions(moderation)) is moderation


def test_every_function_has_its_settings_in_the_contracts_order():
    assert tuple(Settings().functions.roles()) == FUNCTION_NAMES
    assert AFTER_WORKFLOW == ("s3_event_handler", "orchestrator", "dlq_processor", "reconciler")


def test_the_status_table_is_keyed_by_image_and_user_with_the_pending_index():
    assert STATUS_TABLE.key_schema() == [{"AttributeName": "imageId", "KeyType": "HASH"},
                                         {"AttributeName": "userId", "KeyType": "RANGE"}]
    assert STATUS_TABLE.attribute_definitions() == [{"AttributeName": name, "AttributeType": "S"}
                                                    for name in ("imageId", "userId", "pending", "pendingSince")]
    assert STATUS_TABLE.global_secondary_indexes() == [{
        "IndexName": PENDING_INDEX, "Projection": {"ProjectionType": "ALL"},
        "KeySchema": [{"AttributeName": "pending", "KeyType": "HASH"},
                      {"AttributeName": "pendingSince", "KeyType": "RANGE"}]}]
