"""The typed settings of one `ImagePipeline`: every input, its default and its AWS range.

A stack sets them as one structured object, `image-pipeline:pipeline`, in
`Pulumi.<stack>.yaml`; any key left out keeps the default below, which is the original
design's value. Keys are the field names (snake_case).

Example:
    >>> settings = Settings(queue=QueueSettings(visibility_timeout_seconds=360))
    >>> settings.queue.visibility_timeout_seconds, settings.dead_letter_queue.max_receive_count
    (360, 3)

This module holds the settings as data only. `components.settings.validation.parse_settings` builds them
from a plain mapping, raising `ConfigError` listing every problem at once (each with its key path);
`components.settings.pitfalls.settings_warnings` lists the pitfalls AWS accepts but that hurt in production.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from contract.functions import (
    DEFAULT_REPAIR_ATTEMPTS,
    DUPLICATE_MODES,
    FUNCTION_NAMES,
    VariantsSettings,
    created_functions,
    workflow_steps,
)
from contract.recipe import ANIMATIONS, IMAGE_FORMATS, SQUARE_CROPS, Budget, Limits, Recipe
from contract.workflow_types import STANDARD, WORKFLOW_TYPES, WorkflowType, workflow_type

# CloudWatch Logs accepts only these retention values (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)


# Which settings may be another resource's output (a VPC's subnets, a key's ARN, a secret address): "whole" (the
# value, or any item of a list) or "each" (every item, but the list itself is known: one resource per item).
WHOLE, EACH = "whole", "each"

RECIPE, LIMITS, BUDGET, VARIANTS = Recipe(), Limits(), Budget(), VariantsSettings(output_bucket="", table="")


def setting(default: Any, doc: str, *, minimum: int | None = None, maximum: int | None = None,
            choices: tuple[Any, ...] | None = None, outputs: str | None = None) -> Any:
    """A documented field; the range and choices are checked by `components.settings.parsing`."""
    metadata = {"doc": doc, "min": minimum, "max": maximum, "choices": choices, "outputs": outputs}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def is_pending(value: Any) -> bool:
    """A value known only once deployed (a `pulumi.Output`), which the settings marked `outputs=` hold until then:
    validated for shape at preview and for content once known (`components.settings.loading`). Recognised
    without importing Pulumi: the local runner and the tools use this library without it."""
    return callable(getattr(value, "apply", None)) and callable(getattr(value, "future", None))


@dataclass(frozen=True)
class QueueSettings:
    """The upload queue (S3 event handler -> orchestrator)."""

    message_retention_seconds: int = setting(1_209_600, "How long SQS keeps a message (s).",
                                             minimum=60, maximum=1_209_600)
    visibility_timeout_seconds: int = setting(300, "How long a received message stays hidden (s).",
                                              minimum=0, maximum=43_200)
    receive_wait_time_seconds: int = setting(20, "Long-polling wait (s).", minimum=0, maximum=20)
    max_message_size: int = setting(262_144, "Largest message body (bytes); set explicitly.",
                                    minimum=1_024, maximum=1_048_576)
    delay_seconds: int = setting(0, "Delivery delay for new messages (s).", minimum=0, maximum=900)


@dataclass(frozen=True)
class DeadLetterQueueSettings:
    """The dead-letter queue; every key left unset takes the upload queue's value."""

    max_receive_count: int = setting(3, "Receives before SQS moves a message to the DLQ.",
                                     minimum=1, maximum=1_000)
    message_retention_seconds: int | None = setting(None, "Retention (s); default: the queue's.",
                                                    minimum=60, maximum=1_209_600)
    visibility_timeout_seconds: int | None = setting(None, "Visibility (s); default: the queue's.",
                                                     minimum=0, maximum=43_200)
    receive_wait_time_seconds: int | None = setting(None, "Long polling (s); default: the queue's.",
                                                    minimum=0, maximum=20)
    max_message_size: int | None = setting(None, "Largest body (bytes); default: the queue's.",
                                           minimum=1_024, maximum=1_048_576)

    def resolved(self, queue: QueueSettings) -> QueueSettings:
        """The DLQ's effective queue settings, falling back to `queue`'s."""
        overrides = {name: value for name, value in dataclasses.asdict(self).items()
                     if name != "max_receive_count" and value is not None}
        return dataclasses.replace(queue, delay_seconds=0, **overrides)


@dataclass(frozen=True)
class FunctionSettings:
    """One Lambda function."""

    memory_size: int = setting(256, "Memory (MB).", minimum=128, maximum=10_240)
    timeout: int = setting(30, "Timeout (s).", minimum=1, maximum=900)
    architecture: str = setting("arm64", "Instruction set.", choices=("arm64", "x86_64"))
    reserved_concurrency: int | None = setting(None, "Reserved concurrency; None: unreserved.",
                                               minimum=0, maximum=10_000)
    log_retention_days: int = setting(30, "Log group retention (days).", choices=LOG_RETENTION_DAYS)


@dataclass(frozen=True)
class ConsumerFunctionSettings(FunctionSettings):
    """A Lambda function fed by an SQS event source mapping."""

    batch_size: int = setting(10, "Records per invocation (above 10 needs a batching window).",
                              minimum=1, maximum=10_000)
    batching_window_seconds: int = setting(0, "Maximum batching window (s).", minimum=0, maximum=300)
    maximum_concurrency: int | None = setting(None, "Concurrent invocations from the queue; None: no cap.",
                                              minimum=2, maximum=1_000)


def _function(doc: str, **overrides: Any) -> Any:
    return field(default_factory=lambda: FunctionSettings(**overrides), metadata={"doc": doc})


def _consumer(doc: str, **overrides: Any) -> Any:
    return field(default_factory=lambda: ConsumerFunctionSettings(**overrides), metadata={"doc": doc})


@dataclass(frozen=True)
class FunctionsSettings:
    """Every Lambda function of the pipeline, and what they share."""

    runtime: str = setting("python3.12", "Lambda runtime.", choices=("python3.12", "python3.13"))
    powertools_layer_version: int = setting(27, "Version of the AWS-managed Powertools layer.",
                                            minimum=1)
    pillow_version: str = setting("13.0.0", "Pillow release in the layer built from wheels.")
    account_concurrency_quota: int = setting(
        1_000, "The account's Lambda concurrency quota in the region (new accounts may have 10).", minimum=10)
    s3_event_handler: FunctionSettings = _function("Puts one message per upload on the queue.")
    orchestrator: ConsumerFunctionSettings = _consumer("Starts one workflow execution per message.",
                                                       maximum_concurrency=10)
    dlq_processor: ConsumerFunctionSettings = _consumer("Alerts on and fails dead-lettered images.",
                                                        maximum_concurrency=2)
    validate: FunctionSettings = _function("Workflow step: checks the upload is a supported image.",
                                           memory_size=512)
    variants: FunctionSettings = _function("Workflow step: resizes and encodes the variants.",
                                           memory_size=2_048, timeout=120)
    metadata: FunctionSettings = _function("Workflow step: reads dimensions, EXIF and colour.", memory_size=512)
    reconciler: FunctionSettings = _function("Repairs or fails images left queued or processing.", timeout=120)
    quarantine: FunctionSettings = _function(
        "Workflow step (moderation only): publishes or quarantines staged variants.")

    def roles(self) -> dict[str, FunctionSettings]:
        """Each function's settings, by function name (`quarantine` is created only with moderation)."""
        return {name: getattr(self, name) for name in FUNCTION_NAMES}


@dataclass(frozen=True)
class WorkflowSettings:
    """The Step Functions workflow and the image limits its steps enforce."""

    type: str = setting(STANDARD.name, "STANDARD (exactly-once) or EXPRESS (at-least-once).",
                        choices=tuple(WORKFLOW_TYPES))
    execution_timeout_seconds: int = setting(STANDARD.default_execution_timeout,
                                             "Whole-execution timeout (s); EXPRESS allows at most 300 and "
                                             "defaults to it (the default shown is STANDARD's).",
                                             minimum=1, maximum=STANDARD.longest_run_seconds)
    variant_sizes: list[int] = setting(list(RECIPE.variant_sizes), "Long edges of the variants (px).")
    variant_formats: list[str] = setting(list(RECIPE.variant_formats), "Variant formats: jpeg, webp and/or avif.")
    square_sizes: list[int] = setting(list(RECIPE.square_sizes),
                                      "Square variants (px), e.g. [256] for avatars; none by default.")
    animation: str = setting(RECIPE.animation, "Animated GIF/WebP: first_frame, or animated_webp (WebP variants keep "
                             "the frames and timing).", choices=ANIMATIONS)
    max_animation_frames: int = setting(BUDGET.max_frames, "Animations with more frames get their first frame only.",
                                        minimum=2, maximum=10_000)
    max_animation_pixels: int = setting(BUDGET.max_pixels, "Frames x pixels of the largest animated variant allowed "
                                        "(bounds memory and time); above, the first frame.",
                                        minimum=1_000, maximum=500_000_000)
    square_crop: str = setting(RECIPE.square_crop, "Which square: center, entropy (most detail) or attention "
                               "(edges, colour, skin, as libvips' smartcrop).",
                               choices=SQUARE_CROPS)
    jpeg_quality: int = setting(RECIPE.jpeg_quality, "JPEG quality of variants.", minimum=1, maximum=95)
    webp_quality: int | None = setting(None, "WebP quality of variants; default: jpeg_quality.",
                                       minimum=1, maximum=100)
    avif_quality: int = setting(RECIPE.avif_quality,
                                "AVIF quality of variants (60 looks like JPEG 85 at about half the bytes).",
                                minimum=1, maximum=100)
    avif_speed: int = setting(RECIPE.avif_speed, "AVIF encoder speed, 0 (smallest, slowest) to 10 (fastest).",
                              minimum=0, maximum=10)
    max_image_bytes: int = setting(LIMITS.max_bytes, "Largest accepted upload (bytes).",
                                   minimum=1, maximum=5_368_709_120)
    max_pixels: int = setting(LIMITS.max_pixels, "Largest accepted width x height (decompression bombs).",
                              minimum=1, maximum=1_000_000_000)
    allowed_formats: list[str] = setting(list(IMAGE_FORMATS), "Formats accepted by validation.")
    keep_gps: bool = setting(RECIPE.keep_gps, "Keep GPS position in variants and metadata.")
    log_level: str = setting("ERROR", "Execution history logged.", choices=("ALL", "ERROR", "FATAL", "OFF"))
    include_execution_data: bool = setting(False, "Log state input/output (may contain user data).")
    tracing: bool = setting(False, "X-Ray tracing for the workflow and functions.")
    log_retention_days: int = setting(30, "Workflow log retention (days).", choices=LOG_RETENTION_DAYS)
    reconcile_every_minutes: int = setting(5, "How often the reconciler looks for stale images (min).",
                                           minimum=1, maximum=1_440)
    stale_after_seconds: int | None = setting(
        None, "Pending this long, an image is repaired or failed (s); default: execution timeout + 300.",
        minimum=60, maximum=31_536_000)
    repair_attempts: int = setting(DEFAULT_REPAIR_ATTEMPTS, "Re-runs of an upload whose execution failed transiently.",
                                   minimum=0, maximum=10)
    duplicates: str = setting(VARIANTS.duplicates,
                              "Same user, same content: off; flag (record duplicateOf and nearDuplicateOf); "
                              "reuse (flag, and copy an exact duplicate's variants instead of resizing).",
                              choices=DUPLICATE_MODES)
    near_duplicate_distance: int = setting(
        VARIANTS.near_duplicate_distance,
        "Largest Hamming distance of two 64-bit perceptual hashes counted as near duplicates (re-encoded or "
        "resized copies measure 0 to 2, unrelated photos 16 or more). Each image reads and writes distance + 1 "
        "hash band buckets; a changed distance starts new, empty ones.", minimum=0, maximum=7)
    near_duplicate_candidates: int = setting(
        VARIANTS.near_duplicate_candidates,
        "Newest uploads per hash band a near-duplicate lookup considers (a band's list is one item of at most "
        "4 KB, rewritten by each upload: 16 entries of typical names are 1.7 KB, 2 write units; 8 fit in 1 KB; 32 "
        "of UUID names 3 KB; names of over 80 characters fill 4 KB with fewer).", minimum=1, maximum=32)

    def with_type_defaults(self, given: Iterable[str]) -> WorkflowSettings:
        """These settings with the chosen type's default timeout where `given` (the keys set) has none."""
        if "execution_timeout_seconds" in given or self.type not in WORKFLOW_TYPES:
            return self
        return dataclasses.replace(self, execution_timeout_seconds=self.kind.default_execution_timeout)

    @property
    def kind(self) -> WorkflowType:
        """The workflow type as an object (`contract.workflow_types`): what differs between the two."""
        return workflow_type(self.type)

    @property
    def recipe(self) -> Recipe:
        """What shapes the variants, as the variants function receives it."""
        return Recipe(variant_sizes=tuple(self.variant_sizes), variant_formats=tuple(self.variant_formats),
                      jpeg_quality=self.jpeg_quality, webp_quality=self.webp_quality or self.jpeg_quality,
                      avif_quality=self.avif_quality, avif_speed=self.avif_speed,
                      square_sizes=tuple(self.square_sizes), square_crop=self.square_crop, animation=self.animation,
                      budget=Budget(max_frames=self.max_animation_frames, max_pixels=self.max_animation_pixels),
                      keep_gps=self.keep_gps,
                      limits=Limits(max_bytes=self.max_image_bytes, max_pixels=self.max_pixels,
                                    allowed_formats=tuple(self.allowed_formats)))

    @property
    def stale_after(self) -> int:
        """The reconciler's bound: an execution can run this long, plus a margin for its last writes."""
        return self.stale_after_seconds or self.execution_timeout_seconds + 300


@dataclass(frozen=True)
class StorageSettings:
    """Buckets and the status table."""

    versioning: bool = setting(False, "S3 versioning on the input and output buckets.")
    point_in_time_recovery: bool = setting(False, "DynamoDB point-in-time recovery.")
    protect: bool = setting(False, "Protect and retain buckets and table on `pulumi destroy`.")
    variants_cache_control: str = setting(VARIANTS.cache_control,
                                          "Cache-Control of variant objects.")


@dataclass(frozen=True)
class AlarmSettings:
    """CloudWatch alarms; all notify the alerts topic."""

    period_seconds: int = setting(300, "Period of the queue alarms (s).", minimum=10, maximum=86_400)
    evaluation_periods: int = setting(2, "Periods over threshold before alarming.", minimum=1, maximum=100)
    queue_depth_threshold: int = setting(100, "Visible messages (average) above which to alarm.", minimum=0)
    dlq_depth_threshold: int = setting(1, "DLQ visible messages at or above which to alarm.", minimum=1)
    oldest_message_age_seconds: int = setting(300, "Oldest message age (maximum) above which to alarm.",
                                              minimum=0)
    email_subscriptions: list[str] = setting([], "Email addresses subscribed to the alerts topic (each may be an "
                                             "output or a secret).", outputs=EACH)
    lambda_errors_threshold: int = setting(1, "Errors of one function in a period at which to alarm.", minimum=1)
    lambda_throttles_threshold: int = setting(1, "Throttles of one function in a period at which to alarm.",
                                              minimum=1)
    duration_percent_of_timeout: int = setting(80, "Maximum duration, in % of the timeout, above which to alarm.",
                                               minimum=1, maximum=100)
    execution_failures_threshold: int = setting(
        5, "Failed executions in a period at which to alarm (rejected uploads fail too).", minimum=1)
    execution_problems_threshold: int = setting(1, "Timed-out, throttled or aborted executions at which to alarm.",
                                                minimum=1)
    stalled_queue_age_seconds: int = setting(600, "Oldest message age above which a queue with no deletes is stalled.",
                                             minimum=60)
    dashboard: bool = setting(True, "Create the CloudWatch dashboard.")


@dataclass(frozen=True)
class EncryptionSettings:
    """Encryption at rest; always on, by AWS-managed keys or a customer KMS key."""

    mode: str = setting("managed", "managed: SSE-SQS, SSE-S3, AWS-owned DynamoDB key (all free); kms: a customer key "
                        "(about $1/month + $0.03 per 10,000 requests).",
                        choices=("managed", "kms"))
    kms_key_arn: str | None = setting(None, "With mode kms: an existing key's ARN (may be an output); None: create "
                                      "one.", outputs=WHOLE)

    @property
    def customer_key(self) -> bool:
        """Data is encrypted with a customer KMS key (mode kms), not AWS-managed keys."""
        return self.mode == "kms"


@dataclass(frozen=True)
class ModerationSettings:
    """Optional content moderation: Amazon Rekognition DetectModerationLabels on the smallest JPEG variant.

    A flagged image ends `rejected`: its variants move to `quarantine/` in the output bucket and an
    alert is sent. About $1 per 1,000 images (Rekognition's first price tier).
    """

    enabled: bool = setting(False, "Moderate every image (needs jpeg among workflow.variant_formats).")
    min_confidence: int = setting(80, "Lowest confidence (%) at which a label counts.", minimum=0, maximum=100)
    labels: list[str] = setting([], "Labels that reject an image, at any level of Rekognition's taxonomy "
                                "(e.g. Explicit Nudity, Violence); empty: any moderation label.")


@dataclass(frozen=True)
class NetworkSettings:
    """Where the functions run: Lambda's own network (the default), your VPC's private subnets, or a
    minimal private VPC created here. In a VPC every AWS call goes through VPC endpoints
    (`components.network.services`): no internet gateway or NAT is needed, and interface endpoints cost money
    (about $7.30 a month each per AZ in eu-west-1; `python -m tools cost` shows the stack's).
    """

    subnet_ids: list[str] = setting([], "Your VPC's private subnets for every function, in at least two AZs (may "
                                    "be an output); empty: not in your VPC.", outputs=WHOLE)
    security_group_ids: list[str] = setting([], "Security groups of the functions (1 to 5, with subnet_ids; each "
                                            "may be an output); they must allow HTTPS (443) out.", outputs=EACH)
    create_vpc: bool = setting(False, "Create a private VPC (no internet gateway, no NAT) for the functions.")
    vpc_cidr: str = setting("10.20.0.0/16", "CIDR block of the created VPC (/16 to /24).")
    availability_zones: int = setting(2, "AZs of the created VPC's subnets, and of every interface endpoint there.",
                                      minimum=2, maximum=6)
    endpoints: bool = setting(True, "Create the VPC endpoints the functions call; off when your VPC already has "
                              "them with private DNS (their policies must then allow this pipeline).")
    require_vpc_endpoints: bool = setting(False, "Bucket and queue policies deny the pipeline's functions any access "
                                          "that does not come through this VPC's endpoints (aws:SourceVpce).")

    @property
    def enabled(self) -> bool:
        """The functions run in a VPC (yours or a created one)."""
        return self.create_vpc or is_pending(self.subnet_ids) or bool(self.subnet_ids)


@dataclass(frozen=True)
class Settings:
    """Everything one `ImagePipeline` needs; the stack's `image-pipeline:pipeline` object."""

    queue: QueueSettings = field(default_factory=QueueSettings, metadata={"doc": "Upload queue."})
    dead_letter_queue: DeadLetterQueueSettings = field(default_factory=DeadLetterQueueSettings,
                                                       metadata={"doc": "Dead-letter queue."})
    functions: FunctionsSettings = field(default_factory=FunctionsSettings, metadata={"doc": "Lambdas."})
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings, metadata={"doc": "Workflow."})
    storage: StorageSettings = field(default_factory=StorageSettings, metadata={"doc": "Data stores."})
    alarms: AlarmSettings = field(default_factory=AlarmSettings, metadata={"doc": "Alarms."})
    encryption: EncryptionSettings = field(default_factory=EncryptionSettings,
                                           metadata={"doc": "Encryption at rest."})
    moderation: ModerationSettings = field(default_factory=ModerationSettings,
                                           metadata={"doc": "Content moderation (off by default)."})
    network: NetworkSettings = field(default_factory=NetworkSettings,
                                     metadata={"doc": "VPC placement (off by default)."})
    tags: dict[str, str] = setting({}, "Tags added to every taggable resource.")

    @property
    def dlq(self) -> QueueSettings:
        """The dead-letter queue's effective settings."""
        return self.dead_letter_queue.resolved(self.queue)

    def consumers(self) -> list[tuple[str, str, ConsumerFunctionSettings, QueueSettings]]:
        """(function, queue key, its settings, the queue it consumes) for each queue-fed function."""
        return [("orchestrator", "queue", self.functions.orchestrator, self.queue),
                ("dlq_processor", "dead_letter_queue", self.functions.dlq_processor, self.dlq)]

    def workflow_functions(self) -> tuple[str, ...]:
        """The functions the workflow invokes: validate, variants, metadata, and quarantine with moderation."""
        return workflow_steps(self.moderation.enabled)

    def created_functions(self) -> dict[str, FunctionSettings]:
        """The functions this stack creates: every one, `quarantine` only with moderation enabled."""
        return {name: getattr(self.functions, name) for name in created_functions(self.moderation.enabled)}
