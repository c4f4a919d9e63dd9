"""IAM and resource policy documents, built from exact ARNs by plain functions.

No pulumi import: the component calls these inside `Output.apply`, and the local runner
calls them with moto's ARNs, so both enforce the very same documents.

Rules every document here follows:
- Allow statements name single resources (a queue, a table, a bucket prefix, a function).
- No `*` action anywhere in an Allow; a `*` resource only where AWS requires it, commented.
- Resource policies deny every request made without TLS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contract.functions import workflow_steps
from contract.workflow_types import STANDARD, WorkflowType

Document = dict[str, Any]
VERSION = "2012-10-17"

QUEUE_CONSUMER_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                          "sqs:GetQueueAttributes"]
STEP_FUNCTIONS = workflow_steps(moderation=False)


@dataclass(frozen=True)
class PipelineArns:
    """The ARNs the pipeline's policies name; plain strings, resolved."""

    account_id: str
    upload_queue: str
    dead_letter_queue: str
    table: str
    topic: str
    input_bucket: str
    output_bucket: str
    state_machine: str = ""
    step_functions: dict[str, str] = field(default_factory=dict)
    log_groups: dict[str, str] = field(default_factory=dict)
    kms_key: str | None = None
    """Customer key the data stores use; None with AWS-managed encryption."""
    alerts_key: str | None = None
    """Customer key of the alerts topic."""
    tracing: bool = False
    moderation: bool = False
    """The workflow moderates images (Rekognition, the quarantine function, alerts)."""
    workflow_type: WorkflowType = STANDARD
    """Without status-change events (EXPRESS) the workflow sends its unfinished executions to the DLQ itself,
    and the orchestrator marks images `queued`."""


def document(*statements: Document) -> Document:
    return {"Version": VERSION, "Statement": [s for s in statements if s]}


def allow(sid: str, actions: list[str], resources: list[str]) -> Document:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def deny_insecure_transport(service: str, resources: list[str]) -> Document:
    """The TLS-only statement every queue, bucket and topic policy carries.

    A Deny may use the service wildcard: it restricts, it never grants.
    """
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
            "Action": f"{service}:*", "Resource": resources,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def assume_role_policy(service: str, account_id: str) -> Document:
    """Trust policy for `lambda` or `states`, limited to this account (confused deputy)."""
    return document({"Effect": "Allow", "Principal": {"Service": f"{service}.amazonaws.com"},
                     "Action": "sts:AssumeRole",
                     "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}})


def queue_policy(queue_arn: str, producer_role_arns: list[str],
                 consumer_role_arns: list[str]) -> Document:
    """Queue policy: named producer roles send, named consumer roles consume, TLS only.

    Lambda reads and writes SQS with the function's execution role, so the principals are
    roles, never the `lambda.amazonaws.com` service (design pitfall 11).
    """
    statements = [deny_insecure_transport("sqs", [queue_arn])]
    if producer_role_arns:
        statements.append({"Sid": "AllowProducers", "Effect": "Allow",
                           "Principal": {"AWS": sorted(producer_role_arns)},
                           "Action": ["sqs:SendMessage"], "Resource": queue_arn})
    if consumer_role_arns:
        statements.append({"Sid": "AllowConsumers", "Effect": "Allow",
                           "Principal": {"AWS": sorted(consumer_role_arns)},
                           "Action": QUEUE_CONSUMER_ACTIONS, "Resource": queue_arn})
    return document(*statements)


def bucket_policy(bucket_arn: str, account_id: str | None = None, private_prefixes: tuple[str, ...] = ()) -> Document:
    """TLS only; objects under each of `private_prefixes` (`quarantine/`, `staging/`) are readable by this
    account's principals alone, whatever else the policy may grant later (a CDN's service principal, a
    public prefix)."""
    private = [{"Sid": f"Deny{prefix.strip('/').title()}OutsideAccount", "Effect": "Deny", "Principal": "*",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": f"{bucket_arn}/{prefix}*",
                "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalAccount": account_id}}}
               for prefix in (private_prefixes if account_id else ())]
    return document(deny_insecure_transport("s3", [bucket_arn, f"{bucket_arn}/*"]), *private)


def topic_policy(topic_arn: str, account_id: str) -> Document:
    """CloudWatch alarms in this account may publish; nothing without TLS."""
    return document(
        deny_insecure_transport("sns", [topic_arn]),
        {"Sid": "AllowCloudWatchAlarms", "Effect": "Allow",
         "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
         "Resource": topic_arn, "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}})


def kms_key_policy(account_id: str, partition: str = "aws") -> Document:
    """Key policy of a key the component creates.

    The account statement delegates use to IAM (the roles' own policies name the key);
    CloudWatch must be able to use the key or alarms on an encrypted topic reach nobody
    (design pitfall 10). In a key policy, resource `*` means "this key".
    """
    root = f"arn:{partition}:iam::{account_id}:root"
    admin = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
             "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
             "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
             "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
    return document(
        {"Sid": "AccountAdministersAndDelegatesToIam", "Effect": "Allow",
         "Principal": {"AWS": root}, "Action": admin, "Resource": "*"},
        {"Sid": "AllowAlarmsToUseKey", "Effect": "Allow",
         "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}},
        # EventBridge delivers unfinished executions to the (encrypted) DLQ. Its KMS calls need not
        # carry aws:SourceAccount, so a condition on it could drop those events silently.
        {"Sid": "AllowEventBridgeToUseKey", "Effect": "Allow",
         "Principal": {"Service": "events.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"})


def events_dead_letter_queue_policy(queue_arn: str, rule_arn: str) -> Document:
    """The EventBridge target's own DLQ: only that rule may send, nothing without TLS."""
    return document(
        deny_insecure_transport("sqs", [queue_arn]),
        {"Sid": "AllowUndeliveredExecutionEvents", "Effect": "Allow",
         "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": queue_arn,
         "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}})


def _logs(arns: PipelineArns, function: str) -> Document:
    group = arns.log_groups.get(function)
    return allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                 [f"{group}:*"]) if group else {}


def _kms(arns: PipelineArns, actions: list[str], keys: list[str | None]) -> Document:
    named = sorted({key for key in keys if key})
    return allow("UseEncryptionKey", actions, named) if named else {}


def _tracing(arns: PipelineArns, *, sampling: bool = False) -> Document:
    # X-Ray has no resource-level permissions: AWS requires resource "*" here. Step Functions also
    # reads the sampling rules itself (AWS docs, "Trace Step Functions request data in AWS X-Ray").
    actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    if sampling:
        actions += ["xray:GetSamplingRules", "xray:GetSamplingTargets"]
    return allow("WriteTraces", actions, ["*"]) if arns.tracing else {}


def _list_uploads(arns: PipelineArns) -> Document:
    # Without s3:ListBucket, S3 answers 403 instead of 404 for a missing object, so "the
    # upload no longer exists" could never be told from a permissions problem. No s3:prefix
    # condition: a GetObject/HeadObject request carries no prefix, so it would never match.
    return allow("ListUploads", ["s3:ListBucket"], [arns.input_bucket])


def _read_uploads(arns: PipelineArns) -> list[Document]:
    # GetObjectVersion: steps read exactly the announced version where the bucket is versioned.
    return [allow("ReadUploads", ["s3:GetObject", "s3:GetObjectVersion"], [f"{arns.input_bucket}/uploads/*"]),
            _list_uploads(arns)]


def execution_arns(state_machine_arn: str) -> list[str]:
    """Every execution of one state machine (DescribeExecution is authorized on the execution;
    IAM lists standard and express executions as two resource types)."""
    return [state_machine_arn.replace(":stateMachine:", f":{kind}:", 1) + ":*" for kind in ("execution", "express")]


def _fingerprint_index(arns: PipelineArns) -> Document:
    """The content claims and hash band buckets (`handlers.lifecycle.duplicates`): only items whose key says so
    (their GetItem is the status reads' `ReadImages`)."""
    return {**allow("KeepFingerprintIndex", ["dynamodb:PutItem", "dynamodb:BatchGetItem"], [arns.table]),
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["sha256:*", "phash*"]}}}


def _withdraw_published(arns: PipelineArns) -> list[Document]:
    """With moderation: list one upload's published variants (`variants/{userId}/{imageId}/{token}/`, the
    request's prefix) and delete them (`handlers.lifecycle.publication.withdraw`); nothing else of the bucket."""
    if not arns.moderation:
        return []
    return [{**allow("ListPublishedVariants", ["s3:ListBucket"], [arns.output_bucket]),
             "Condition": {"StringLike": {"s3:prefix": ["variants/*"]}}},
            allow("WithdrawPublishedVariants", ["s3:DeleteObject"], [f"{arns.output_bucket}/variants/*"])]


def function_policies(arns: PipelineArns) -> dict[str, Document]:
    """Each Lambda function's inline role policy, keyed by function name."""
    variants, staging = f"{arns.output_bucket}/variants/*", f"{arns.output_bucket}/staging/*"
    data_key = ["kms:GenerateDataKey", "kms:Decrypt"]
    describe = allow("DescribeExecutions", ["states:DescribeExecution"], execution_arns(arns.state_machine))
    specific: dict[str, list[Document]] = {
        "s3_event_handler": [
            allow("EnqueueUploads", ["sqs:SendMessage"], [arns.upload_queue]),
            # The async-invoke on-failure destination sends with the function's role.
            allow("SendFailedEventsToDlq", ["sqs:SendMessage"], [arns.dead_letter_queue]),
            _kms(arns, data_key, [arns.kms_key]),
        ],
        "orchestrator": [
            allow("ConsumeUploadQueue", QUEUE_CONSUMER_ACTIONS, [arns.upload_queue]),
            allow("StartWorkflow", ["states:StartExecution"], [arns.state_machine]),
            allow("MarkQueued", ["dynamodb:UpdateItem"], [arns.table]) if arns.workflow_type.marks_queued else {},
            _kms(arns, ["kms:Decrypt"] + (["kms:GenerateDataKey"] if arns.workflow_type.marks_queued else []),
                 [arns.kms_key]),
        ],
        "dlq_processor": [
            allow("ConsumeDeadLetterQueue", QUEUE_CONSUMER_ACTIONS, [arns.dead_letter_queue]),
            allow("PublishAlerts", ["sns:Publish"], [arns.topic]),
            allow("SettleImageStatus", ["dynamodb:GetItem", "dynamodb:UpdateItem"], [arns.table]),
            describe,
            allow("RequeueUploads", ["sqs:SendMessage"], [arns.upload_queue]),
            allow("ArchiveUnreadableDeadLetters", ["s3:PutObject"], [f"{arns.output_bucket}/dead-letters/*"]),
            *_withdraw_published(arns),
            _kms(arns, data_key, [arns.kms_key, arns.alerts_key]),
        ],
        "reconciler": [
            allow("FindStaleImages", ["dynamodb:Query"], [f"{arns.table}/index/pending"]),
            # IAM lists ListExecutions on the state machine and on its (distributed) map runs.
            allow("FindFailedExecutions", ["states:ListExecutions"],
                  [arns.state_machine, arns.state_machine.replace(":stateMachine:", ":mapRun:", 1) + "/*:*"]),
            allow("SettleImageStatus", ["dynamodb:GetItem", "dynamodb:UpdateItem"], [arns.table]),
            describe,
            allow("RequeueUploads", ["sqs:SendMessage"], [arns.upload_queue]),
            allow("PublishAlerts", ["sns:Publish"], [arns.topic]),
            *_read_uploads(arns),
            *_withdraw_published(arns),
            _kms(arns, data_key, [arns.kms_key, arns.alerts_key]),
        ],
        "validate": [*_read_uploads(arns), _kms(arns, ["kms:Decrypt"], [arns.kms_key])],
        "variants": [*_read_uploads(arns),
                     # GetObject: `duplicates: reuse` copies an exact duplicate's variants.
                     allow("WriteVariants", ["s3:PutObject", "s3:GetObject"], [variants]),
                     # With moderation, new variants are written under `staging/` until the verdict.
                     allow("StageVariants", ["s3:PutObject"], [staging]) if arns.moderation else {},
                     allow("ReadImages", ["dynamodb:GetItem"], [arns.table]),
                     _fingerprint_index(arns),
                     _kms(arns, data_key, [arns.kms_key])],
        # Moves staged variants where the verdict sends them, or withdraws published ones (`handlers.quarantine`).
        "quarantine": [allow("MoveStagedVariants", ["s3:GetObject", "s3:DeleteObject"], [staging]),
                       allow("PublishVariants", ["s3:PutObject"], [variants]),
                       *_withdraw_published(arns),
                       allow("WriteQuarantine", ["s3:PutObject"], [f"{arns.output_bucket}/quarantine/*"]),
                       allow("ReadImageStatus", ["dynamodb:GetItem"], [arns.table]),
                       _kms(arns, data_key, [arns.kms_key])],
        "metadata": [*_read_uploads(arns), _kms(arns, ["kms:Decrypt"], [arns.kms_key])],
    }
    if not arns.moderation:
        del specific["quarantine"]
    return {name: document(*statements, _logs(arns, name), _tracing(arns))
            for name, statements in specific.items()}


def _moderation(arns: PipelineArns) -> list[Document]:
    if not arns.moderation:
        return []
    return [
        # DetectModerationLabels names no resource unless it uses a custom adapter: AWS requires "*".
        allow("ModerateImages", ["rekognition:DetectModerationLabels"], ["*"]),
        # Rekognition reads the S3 object with the caller's credentials.
        allow("ReadVariantsForModeration", ["s3:GetObject"], [f"{arns.output_bucket}/staging/*"]),
        allow("AlertRejectedImages", ["sns:Publish"], [arns.topic]),
    ]


def state_machine_policy(arns: PipelineArns) -> Document:
    """The workflow's role: invoke its three step functions, write the status table, log."""
    invoked = workflow_steps(arns.moderation)
    functions = [arns.step_functions[name] for name in invoked]
    return document(
        allow("InvokeStepFunctions", ["lambda:InvokeFunction"],
              functions + [f"{arn}:*" for arn in functions]),
        allow("RecordStatus", ["dynamodb:UpdateItem"], [arns.table]),
        allow("ReportUnfinishedExecutions", ["sqs:SendMessage"], [arns.dead_letter_queue])
        if not arns.workflow_type.emits_status_events else {},
        *_moderation(arns),
        _kms(arns, ["kms:GenerateDataKey", "kms:Decrypt"],
             [arns.kms_key, arns.alerts_key if arns.moderation else None]),
        # CloudWatch Logs vended delivery has no resource-level permissions: AWS requires "*".
        allow("DeliverExecutionLogs",
              ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
               "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
               "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"], ["*"]),
        _tracing(arns, sampling=True),
    )
