"""What a workflow step sees of a stack's settings: its environment, read back as the step reads it."""

from __future__ import annotations

import pytest

from components import Settings
from components.environment import function_environment
from handlers.lifecycle.objects import StepSettings


def variants_step_settings(settings: Settings) -> StepSettings:
    """The variants function's `StepSettings` under the environment `settings` give it."""
    env = function_environment(settings, queue_url="q", dlq_url="d", table_name="t", topic_arn="a",
                               state_machine_arn="s", output_bucket="o")["variants"]
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return StepSettings.from_env()
