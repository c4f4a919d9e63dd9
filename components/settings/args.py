"""The typed inputs of `ImagePipeline`, one TypedDict per settings section; every key is optional.

Generated from `components.settings.config` by `python -m provider.codegen`: do not edit. Pulumi's analyzer
infers the package schema (`provider/schema.json`) from these annotations and docstrings; other
languages spell the keys in camelCase (`visibility_timeout_seconds` -> `visibilityTimeoutSeconds`).
`pulumi.Input` marks the settings that may be another resource's output (in the schema: not `plain`).
"""

from typing import TypedDict

import pulumi


class QueueArgs(TypedDict, total=False):
    """The upload queue (S3 event handler -> orchestrator)."""

    message_retention_seconds: int
    """How long SQS keeps a message (s). Default: 1209600. Range: 60 to 1,209,600."""

    visibility_timeout_seconds: int
    """How long a received message stays hidden (s). Default: 300. Range: 0 to 43,200."""

    receive_wait_time_seconds: int
    """Long-polling wait (s). Default: 20. Range: 0 to 20."""

    max_message_size: int
    """Largest message body (bytes); set explicitly. Default: 262144. Range: 1,024 to 1,048,576."""

    delay_seconds: int
    """Delivery delay for new messages (s). Default: 0. Range: 0 to 900."""


class DeadLetterQueueArgs(TypedDict, total=False):
    """The dead-letter queue; every key left unset takes the upload queue's value."""

    max_receive_count: int
    """Receives before SQS moves a message to the DLQ. Default: 3. Range: 1 to 1,000."""

    message_retention_seconds: int
    """Retention (s); default: the queue's. Range: 60 to 1,209,600."""

    visibility_timeout_seconds: int
    """Visibility (s); default: the queue's. Range: 0 to 43,200."""

    receive_wait_time_seconds: int
    """Long polling (s); default: the queue's. Range: 0 to 20."""

    max_message_size: int
    """Largest body (bytes); default: the queue's. Range: 1,024 to 1,048,576."""


class FunctionArgs(TypedDict, total=False):
    """One Lambda function."""

    memory_size: int
    """Memory (MB). Default: 256. Range: 128 to 10,240."""

    timeout: int
    """Timeout (s). Default: 30. Range: 1 to 900."""

    architecture: str
    """Instruction set. Default: "arm64". One of: arm64, x86_64."""

    reserved_concurrency: int
    """Reserved concurrency; None: unreserved. Default: unset. Range: 0 to 10,000."""

    log_retention_days: int
    """Log group retention (days). Default: 30. One of: 1 ... 3653 (CloudWatch values)."""


class ConsumerFunctionArgs(TypedDict, total=False):
    """A Lambda function fed by an SQS event source mapping."""

    memory_size: int
    """Memory (MB). Default: 256. Range: 128 to 10,240."""

    timeout: int
    """Timeout (s). Default: 30. Range: 1 to 900."""

    architecture: str
    """Instruction set. Default: "arm64". One of: arm64, x86_64."""

    reserved_concurrency: int
    """Reserved concurrency; None: unreserved. Default: unset. Range: 0 to 10,000."""

    log_retention_days: int
    """Log group retention (days). Default: 30. One of: 1 ... 3653 (CloudWatch values)."""

    batch_size: int
    """Records per invocation (above 10 needs a batching window). Default: 10. Range: 1 to 10,000."""

    batching_window_seconds: int
    """Maximum batching window (s). Default: 0. Range: 0 to 300."""

    maximum_concurrency: int
    """Concurrent invocations from the queue; None: no cap. Default: unset. Range: 2 to 1,000."""


class FunctionsArgs(TypedDict, total=False):
    """Every Lambda function of the pipeline, and what they share."""

    runtime: str
    """Lambda runtime. Default: "python3.12". One of: python3.12, python3.13."""

    powertools_layer_version: int
    """Version of the AWS-managed Powertools layer. Default: 27. Range: >= 1."""

    pillow_version: str
    """Pillow release in the layer built from wheels. Default: "13.0.0"."""

    account_concurrency_quota: int
    """The account's Lambda concurrency quota in the region (new accounts may have 10). Default: 1000. Range: >= 10."""

    s3_event_handler: FunctionArgs
    """Puts one message per upload on the queue."""

    orchestrator: ConsumerFunctionArgs
    """Starts one workflow execution per message. Defaults as ConsumerFunctionArgs but maximumConcurrency 10."""

    dlq_processor: ConsumerFunctionArgs
    """Alerts on and fails dead-lettered images. Defaults as ConsumerFunctionArgs but maximumConcurrency 2."""

    validate: FunctionArgs
    """Workflow step: checks the upload is a supported image. Defaults as FunctionArgs but memorySize 512."""

    variants: FunctionArgs
    """Workflow step: resizes and encodes the variants. Defaults as FunctionArgs but memorySize 2048, timeout 120."""

    metadata: FunctionArgs
    """Workflow step: reads dimensions, EXIF and colour. Defaults as FunctionArgs but memorySize 512."""

    reconciler: FunctionArgs
    """Repairs or fails images left queued or processing. Defaults as FunctionArgs but timeout 120."""

    quarantine: FunctionArgs
    """Workflow step (moderation only): publishes or quarantines staged variants."""


class WorkflowArgs(TypedDict, total=False):
    """The Step Functions workflow and the image limits its steps enforce."""

    type: str
    """STANDARD (exactly-once) or EXPRESS (at-least-once). Default: "STANDARD". One of: STANDARD, EXPRESS."""

    execution_timeout_seconds: int
    """Whole-execution timeout (s); EXPRESS allows at most 300 and defaults to it (the default shown is STANDARD's). Default: 900. Range: 1 to 31,536,000."""

    variant_sizes: list[int]
    """Long edges of the variants (px). Default: [1280, 640, 160]."""

    variant_formats: list[str]
    """Variant formats: jpeg, webp and/or avif. Default: ["jpeg"]."""

    square_sizes: list[int]
    """Square variants (px), e.g. [256] for avatars; none by default. Default: []."""

    animation: str
    """Animated GIF/WebP: first_frame, or animated_webp (WebP variants keep the frames and timing). Default: "first_frame". One of: first_frame, animated_webp."""

    max_animation_frames: int
    """Animations with more frames get their first frame only. Default: 300. Range: 2 to 10,000."""

    max_animation_pixels: int
    """Frames x pixels of the largest animated variant allowed (bounds memory and time); above, the first frame. Default: 30000000. Range: 1,000 to 500,000,000."""

    square_crop: str
    """Which square: center, entropy (most detail) or attention (edges, colour, skin, as libvips' smartcrop). Default: "attention". One of: center, entropy, attention."""

    jpeg_quality: int
    """JPEG quality of variants. Default: 85. Range: 1 to 95."""

    webp_quality: int
    """WebP quality of variants; default: jpegQuality. Range: 1 to 100."""

    avif_quality: int
    """AVIF quality of variants (60 looks like JPEG 85 at about half the bytes). Default: 60. Range: 1 to 100."""

    avif_speed: int
    """AVIF encoder speed, 0 (smallest, slowest) to 10 (fastest). Default: 6. Range: 0 to 10."""

    max_image_bytes: int
    """Largest accepted upload (bytes). Default: 52428800. Range: 1 to 5,368,709,120."""

    max_pixels: int
    """Largest accepted width x height (decompression bombs). Default: 50000000. Range: 1 to 1,000,000,000."""

    allowed_formats: list[str]
    """Formats accepted by validation. Default: ["JPEG", "PNG", "GIF", "WEBP", "HEIF"]."""

    keep_gps: bool
    """Keep GPS position in variants and metadata. Default: false."""

    log_level: str
    """Execution history logged. Default: "ERROR". One of: ALL, ERROR, FATAL, OFF."""

    include_execution_data: bool
    """Log state input/output (may contain user data). Default: false."""

    tracing: bool
    """X-Ray tracing for the workflow and functions. Default: false."""

    log_retention_days: int
    """Workflow log retention (days). Default: 30. One of: 1 ... 3653 (CloudWatch values)."""

    reconcile_every_minutes: int
    """How often the reconciler looks for stale images (min). Default: 5. Range: 1 to 1,440."""

    stale_after_seconds: int
    """Pending this long, an image is repaired or failed (s); default: execution timeout + 300. Range: 60 to 31,536,000."""

    repair_attempts: int
    """Re-runs of an upload whose execution failed transiently. Default: 2. Range: 0 to 10."""

    duplicates: str
    """Same user, same content: off; flag (record duplicateOf and nearDuplicateOf); reuse (flag, and copy an exact duplicate's variants instead of resizing). Default: "flag". One of: off, flag, reuse."""

    near_duplicate_distance: int
    """Largest Hamming distance of two 64-bit perceptual hashes counted as near duplicates (re-encoded or resized copies measure 0 to 2, unrelated photos 16 or more). Each image reads and writes distance + 1 hash band buckets; a changed distance starts new, empty ones. Default: 4. Range: 0 to 7."""

    near_duplicate_candidates: int
    """Newest uploads per hash band a near-duplicate lookup considers (a band's list is one item of at most 4 KB, rewritten by each upload: 16 entries of typical names are 1.7 KB, 2 write units; 8 fit in 1 KB; 32 of UUID names 3 KB; names of over 80 characters fill 4 KB with fewer). Default: 16. Range: 1 to 32."""


class StorageArgs(TypedDict, total=False):
    """Buckets and the status table."""

    versioning: bool
    """S3 versioning on the input and output buckets. Default: false."""

    point_in_time_recovery: bool
    """DynamoDB point-in-time recovery. Default: false."""

    protect: bool
    """Protect and retain buckets and table on `pulumi destroy`. Default: false."""

    variants_cache_control: str
    """Cache-Control of variant objects. Default: "public, max-age=31536000, immutable"."""


class AlarmArgs(TypedDict, total=False):
    """CloudWatch alarms; all notify the alerts topic."""

    period_seconds: int
    """Period of the queue alarms (s). Default: 300. Range: 10 to 86,400."""

    evaluation_periods: int
    """Periods over threshold before alarming. Default: 2. Range: 1 to 100."""

    queue_depth_threshold: int
    """Visible messages (average) above which to alarm. Default: 100. Range: >= 0."""

    dlq_depth_threshold: int
    """DLQ visible messages at or above which to alarm. Default: 1. Range: >= 1."""

    oldest_message_age_seconds: int
    """Oldest message age (maximum) above which to alarm. Default: 300. Range: >= 0."""

    email_subscriptions: list[pulumi.Input[str]]
    """Email addresses subscribed to the alerts topic (each may be an output or a secret). Default: []."""

    lambda_errors_threshold: int
    """Errors of one function in a period at which to alarm. Default: 1. Range: >= 1."""

    lambda_throttles_threshold: int
    """Throttles of one function in a period at which to alarm. Default: 1. Range: >= 1."""

    duration_percent_of_timeout: int
    """Maximum duration, in % of the timeout, above which to alarm. Default: 80. Range: 1 to 100."""

    execution_failures_threshold: int
    """Failed executions in a period at which to alarm (rejected uploads fail too). Default: 5. Range: >= 1."""

    execution_problems_threshold: int
    """Timed-out, throttled or aborted executions at which to alarm. Default: 1. Range: >= 1."""

    stalled_queue_age_seconds: int
    """Oldest message age above which a queue with no deletes is stalled. Default: 600. Range: >= 60."""

    dashboard: bool
    """Create the CloudWatch dashboard. Default: true."""


class EncryptionArgs(TypedDict, total=False):
    """Encryption at rest; always on, by AWS-managed keys or a customer KMS key."""

    mode: str
    """managed: SSE-SQS, SSE-S3, AWS-owned DynamoDB key (all free); kms: a customer key (about $1/month + $0.03 per 10,000 requests). Default: "managed". One of: managed, kms."""

    kms_key_arn: pulumi.Input[str]
    """With mode kms: an existing key's ARN (may be an output); None: create one. Default: unset."""


class ModerationArgs(TypedDict, total=False):
    """Optional content moderation: Amazon Rekognition DetectModerationLabels on the smallest JPEG variant."""

    enabled: bool
    """Moderate every image (needs jpeg among workflow.variantFormats). Default: false."""

    min_confidence: int
    """Lowest confidence (%) at which a label counts. Default: 80. Range: 0 to 100."""

    labels: list[str]
    """Labels that reject an image, at any level of Rekognition's taxonomy (e.g. Explicit Nudity, Violence); empty: any moderation label. Default: []."""


class NetworkArgs(TypedDict, total=False):
    """Where the functions run: Lambda's own network (the default), your VPC's private subnets, or a minimal private VPC created here. In a VPC every AWS call goes through VPC endpoints (`components.network.services`): no internet gateway or NAT is needed, and interface endpoints cost money (about $7.30 a month each per AZ in eu-west-1; `python -m tools cost` shows the stack's)."""

    subnet_ids: pulumi.Input[list[pulumi.Input[str]]]
    """Your VPC's private subnets for every function, in at least two AZs (may be an output); empty: not in your VPC. Default: []."""

    security_group_ids: list[pulumi.Input[str]]
    """Security groups of the functions (1 to 5, with subnetIds; each may be an output); they must allow HTTPS (443) out. Default: []."""

    create_vpc: bool
    """Create a private VPC (no internet gateway, no NAT) for the functions. Default: false."""

    vpc_cidr: str
    """CIDR block of the created VPC (/16 to /24). Default: "10.20.0.0/16"."""

    availability_zones: int
    """AZs of the created VPC's subnets, and of every interface endpoint there. Default: 2. Range: 2 to 6."""

    endpoints: bool
    """Create the VPC endpoints the functions call; off when your VPC already has them with private DNS (their policies must then allow this pipeline). Default: true."""

    require_vpc_endpoints: bool
    """Bucket and queue policies deny the pipeline's functions any access that does not come through this VPC's endpoints (aws:SourceVpce). Default: false."""


class ImagePipelineArgs(TypedDict, total=False):
    """Everything one `ImagePipeline` needs; the stack's `image-pipeline:pipeline` object."""

    queue: QueueArgs
    """Upload queue."""

    dead_letter_queue: DeadLetterQueueArgs
    """Dead-letter queue."""

    functions: FunctionsArgs
    """Lambdas."""

    workflow: WorkflowArgs
    """Workflow."""

    storage: StorageArgs
    """Data stores."""

    alarms: AlarmArgs
    """Alarms."""

    encryption: EncryptionArgs
    """Encryption at rest."""

    moderation: ModerationArgs
    """Content moderation (off by default)."""

    network: NetworkArgs
    """VPC placement (off by default)."""

    tags: dict[str, str]
    """Tags added to every taggable resource. Default: {}."""
