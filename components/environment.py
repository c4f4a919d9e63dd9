"""Each function's settings (`contract.functions`), built from the stack's `Settings` by a plain function.

Values may be strings or Pulumi outputs: the component passes outputs, the local runner strings,
so both configure the functions identically; `contract.environment.to_env` writes them.
"""

from __future__ import annotations

from typing import Any

from components.settings.config import Settings
from contract.environment import to_env
from contract.functions import (
    DlqProcessorSettings,
    MetadataSettings,
    OrchestratorSettings,
    QuarantineSettings,
    ReconcilerSettings,
    RepairSettings,
    S3EventHandlerSettings,
    ValidateSettings,
    VariantsSettings,
)


def function_settings(settings: Settings, *, queue_url: Any, dlq_url: Any, table_name: Any, topic_arn: Any,
                      state_machine_arn: Any, output_bucket: Any) -> dict[str, Any]:
    """Every function's settings object, by function name."""
    wf, recipe = settings.workflow, settings.workflow.recipe
    repair = RepairSettings(table=table_name, queue_url=queue_url, state_machine_arn=state_machine_arn,
                            topic_arn=topic_arn, output_bucket=output_bucket, workflow_type=wf.kind,
                            repair_attempts=wf.repair_attempts, moderation=settings.moderation.enabled)
    return {
        "s3_event_handler": S3EventHandlerSettings(queue_url=queue_url),
        "orchestrator": OrchestratorSettings(state_machine_arn=state_machine_arn, workflow_type=wf.kind,
                                             table=table_name),
        "dlq_processor": DlqProcessorSettings(repair=repair, dlq_url=dlq_url,
                                              max_receive_count=settings.dead_letter_queue.max_receive_count),
        "validate": ValidateSettings(limits=recipe.limits),
        "variants": VariantsSettings(output_bucket=output_bucket, table=table_name, recipe=recipe,
                                     cache_control=settings.storage.variants_cache_control,
                                     duplicates=wf.duplicates, near_duplicate_distance=wf.near_duplicate_distance,
                                     near_duplicate_candidates=wf.near_duplicate_candidates,
                                     moderation=settings.moderation.enabled),
        "metadata": MetadataSettings(limits=recipe.limits, keep_gps=wf.keep_gps),
        "reconciler": ReconcilerSettings(repair=repair, stale_after_seconds=wf.stale_after,
                                         reconcile_every_minutes=wf.reconcile_every_minutes),
        "quarantine": QuarantineSettings(output_bucket=output_bucket, table=table_name),
    }


def function_environment(settings: Settings, **resources: Any) -> dict[str, dict[str, Any]]:
    """Every function's environment variables, by function name (`function_settings`, written)."""
    return {name: to_env(each) for name, each in function_settings(settings, **resources).items()}
