"""What a workflow step sees of a stack's settings: its environment, read back as the step reads it."""

from __future__ import annotations

from components import Settings
from components.environment import function_environment
from contract.environment import from_env
from contract.functions import VariantsSettings


def variants_step_settings(settings: Settings) -> VariantsSettings:
    """The variants function's settings under the environment `settings` give it."""
    env = function_environment(settings, queue_url="q", dlq_url="d", table_name="t", topic_arn="a",
                               state_machine_arn="s", output_bucket="o")["variants"]
    return from_env(VariantsSettings, env)
