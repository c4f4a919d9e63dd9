"""The pipeline's functions and the settings each one runs with: the component writes them (`to_env`),
the function reads them at cold start (`from_env`). Variable names keep the original design's
(`SQS_QUEUE_URL`, `STEP_FUNCTIONS_ARN`, `DYNAMODB_TABLE`, `DLQ_URL`, `SNS_TOPIC_ARN`).

Example:
    >>> from contract.environment import to_env
    >>> to_env(S3EventHandlerSettings(queue_url="https://sqs/q"))
    {'SQS_QUEUE_URL': 'https://sqs/q'}
    >>> handler_path("orchestrator")
    'handlers.orchestrator.lambda_handler'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from contract.environment import variable
from contract.recipe import Limits, Recipe
from contract.workflow_types import WorkflowType

# Notifications filter by prefix only: S3 suffix filters are case-sensitive, so `.Jpg` would
# produce no event at all. The S3 event handler accepts or rejects every extension.
UPLOAD_PREFIX = "uploads/"
DUPLICATE_MODES = ("off", "flag", "reuse")
DEFAULT_REPAIR_ATTEMPTS = 2


@dataclass(frozen=True)
class S3EventHandlerSettings:
    queue_url: str = variable("SQS_QUEUE_URL")


@dataclass(frozen=True)
class OrchestratorSettings:
    state_machine_arn: str = variable("STEP_FUNCTIONS_ARN")
    workflow_type: WorkflowType = variable("WORKFLOW_TYPE")
    table: str = variable("DYNAMODB_TABLE")  # marks `queued` where the type asks for it


@dataclass(frozen=True)
class RepairSettings:
    """What the two repairers (DLQ processor, reconciler) need to re-run, fail or withdraw an upload."""

    table: str = variable("DYNAMODB_TABLE")
    queue_url: str = variable("SQS_QUEUE_URL")
    state_machine_arn: str = variable("STEP_FUNCTIONS_ARN")
    topic_arn: str = variable("SNS_TOPIC_ARN")
    output_bucket: str = variable("OUTPUT_BUCKET")
    workflow_type: WorkflowType = variable("WORKFLOW_TYPE")
    repair_attempts: int = variable("REPAIR_ATTEMPTS", DEFAULT_REPAIR_ATTEMPTS)
    moderation: bool = variable("MODERATION", False)  # withdraw what a failed upload published


@dataclass(frozen=True)
class DlqProcessorSettings:
    repair: RepairSettings
    dlq_url: str = variable("DLQ_URL")
    max_receive_count: int = variable("MAX_RECEIVE_COUNT")


@dataclass(frozen=True)
class ReconcilerSettings:
    repair: RepairSettings
    stale_after_seconds: int = variable("STALE_AFTER_SECONDS")
    reconcile_every_minutes: int = variable("RECONCILE_EVERY_MINUTES")


@dataclass(frozen=True)
class ValidateSettings:
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class MetadataSettings:
    limits: Limits = field(default_factory=Limits)
    keep_gps: bool = variable("KEEP_GPS", Recipe().keep_gps)  # the variants' own rule, read for the metadata


@dataclass(frozen=True)
class VariantsSettings:
    output_bucket: str = variable("OUTPUT_BUCKET")
    table: str = variable("DYNAMODB_TABLE")
    recipe: Recipe = field(default_factory=Recipe)
    cache_control: str = variable("CACHE_CONTROL", "public, max-age=31536000, immutable")
    duplicates: str = variable("DUPLICATES", "flag")  # one of DUPLICATE_MODES
    near_duplicate_distance: int = variable("NEAR_DUPLICATE_DISTANCE", 4)
    near_duplicate_candidates: int = variable("NEAR_DUPLICATE_CANDIDATES", 16)  # newest uploads kept per hash band
    moderation: bool = variable("MODERATION", False)  # variants are staged until the verdict

    @property
    def recipe_digest(self) -> str:
        """A short digest of everything that shapes the stored variants: two uploads of the same bytes made with
        the same digest have the same variants (what `duplicates: reuse` relies on). Stored on every completed
        image as `variantRecipe`: its form never changes, or reuse stops matching images made before."""
        r = self.recipe
        shaping = (list(r.variant_sizes), list(r.variant_formats), r.qualities, r.avif_speed, list(r.square_sizes),
                   r.square_crop, r.animation, r.budget, r.keep_gps, self.cache_control)
        return hashlib.sha256(repr(shaping).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class QuarantineSettings:
    output_bucket: str = variable("OUTPUT_BUCKET")
    table: str = variable("DYNAMODB_TABLE")


# Every function, in the order the component creates them; `quarantine` only with moderation.
FUNCTIONS: dict[str, type] = {
    "s3_event_handler": S3EventHandlerSettings, "orchestrator": OrchestratorSettings,
    "dlq_processor": DlqProcessorSettings, "validate": ValidateSettings, "variants": VariantsSettings,
    "metadata": MetadataSettings, "reconciler": ReconcilerSettings, "quarantine": QuarantineSettings,
}
FUNCTION_NAMES = tuple(FUNCTIONS)
WORKFLOW_STEPS = ("validate", "variants", "metadata", "quarantine")  # invoked by the state machine
MODERATION_ONLY = ("quarantine",)
# The functions the workflow does not invoke: created after the state machine, which most of them name.
AFTER_WORKFLOW = tuple(name for name in FUNCTIONS if name not in WORKFLOW_STEPS)


def created_functions(moderation: bool) -> tuple[str, ...]:
    """The functions a stack creates, in order: every one, `quarantine` only with moderation."""
    return tuple(name for name in FUNCTIONS if moderation or name not in MODERATION_ONLY)


def workflow_steps(moderation: bool) -> tuple[str, ...]:
    """The functions the workflow invokes: validate, variants, metadata, and quarantine with moderation."""
    return tuple(name for name in WORKFLOW_STEPS if moderation or name not in MODERATION_ONLY)


def handler_path(function: str) -> str:
    """The Lambda handler of `function`: `handlers/<function>.py:lambda_handler`."""
    return f"handlers.{function}.lambda_handler"
