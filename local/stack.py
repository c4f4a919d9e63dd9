"""Stand the pipeline up on moto from the same `Settings` and definitions the component uses.

| part | on moto | done here |
|---|---|---|
| buckets, queues + redrive to the DLQ, table, topic | moto | created with the stack's settings |
| state machine | moto's ASL interpreter runs the real definition | `stack_definition` from `components/` |
| Lambda functions | moto stores them | `InProcessLambdas` runs the real handlers |
| S3 -> handler, SQS -> Lambda pollers | not emulated usefully by moto | `local.delivery` |

Call inside an active `mock_aws(config=MOTO_CONFIG)`.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3

from components.environment import function_environment
from components.settings.config import Settings
from components.workflow.definition import stack_definition
from contract.functions import AFTER_WORKFLOW, handler_path
from contract.table import STATUS_TABLE

REGION = "eu-west-1"


@dataclass(frozen=True)
class LocalPipeline:
    settings: Settings
    input_bucket: str
    output_bucket: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    table: str
    topic_arn: str
    state_machine_arn: str
    function_arns: dict[str, str]
    environment: dict[str, str]
    """Every function's variables together (they never conflict), for in-process invocations."""


def _code_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers/__init__.py", "")
    return buffer.getvalue()


def queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def create_queue(sqs: Any, name: str, settings: Any, redrive: dict[str, Any] | None = None) -> tuple[str, str]:
    """A queue with the stack's settings (`QueueSettings`); returns (url, arn)."""
    attributes = {"MessageRetentionPeriod": str(settings.message_retention_seconds),
                  "VisibilityTimeout": str(settings.visibility_timeout_seconds),
                  "MaximumMessageSize": str(settings.max_message_size),
                  "ReceiveMessageWaitTimeSeconds": "0",  # long polling would block in real time
                  "SqsManagedSseEnabled": "true"}
    if redrive:
        attributes["RedrivePolicy"] = json.dumps(redrive)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, queue_arn(sqs, url)


def create_status_table(dynamodb: Any, name: str) -> None:
    """The status table as the component declares it (`contract.table`): its keys and the `pending` index."""
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=STATUS_TABLE.key_schema(),
                          AttributeDefinitions=STATUS_TABLE.attribute_definitions(),
                          GlobalSecondaryIndexes=STATUS_TABLE.global_secondary_indexes())


def subscribe_inbox(sqs: Any, sns: Any, topic_arn: str, name: str, *, raw: bool = True) -> str:
    """An SQS queue subscribed to `topic_arn`, standing in for a mailbox; returns its url.

    Raw delivery puts the message alone in the body; otherwise the body is SNS's envelope
    (`Subject`, `Message`, ...)."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn(sqs, url),
                  Attributes={"RawMessageDelivery": "true" if raw else "false"})
    return url


def deploy(settings: Settings, name: str = "local") -> LocalPipeline:
    session = boto3.session.Session(region_name=REGION)
    s3, sqs, dynamodb = session.client("s3"), session.client("sqs"), session.client("dynamodb")
    sns, iam, lambda_, sfn = (session.client(n) for n in ("sns", "iam", "lambda", "stepfunctions"))

    input_bucket, output_bucket = f"{name}-input", f"{name}-output"
    for bucket in (input_bucket, output_bucket):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    dlq_url, dlq_arn = create_queue(sqs, f"{name}-dlq", settings.dlq)
    queue_url, upload_queue_arn = create_queue(sqs, f"{name}-queue", settings.queue, {
        "deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.dead_letter_queue.max_receive_count})
    table = f"{name}-status"
    create_status_table(dynamodb, table)
    topic_arn = sns.create_topic(Name=f"{name}-alerts")["TopicArn"]
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    merged: dict[str, str] = {}

    def create_functions(names: tuple[str, ...], state_machine_arn: str) -> dict[str, str]:
        environment = function_environment(settings, queue_url=queue_url, dlq_url=dlq_url, table_name=table,
                                           topic_arn=topic_arn, state_machine_arn=state_machine_arn,
                                           output_bucket=output_bucket)
        for function in names:
            merged.update(environment[function])
        return {fn: lambda_.create_function(
            FunctionName=f"{name}-{fn}", Runtime=settings.functions.runtime, Role=role,
            Handler=handler_path(fn), Code={"ZipFile": _code_zip()},
            Timeout=getattr(settings.functions, fn).timeout,
            Environment={"Variables": environment[fn] | {"POWERTOOLS_SERVICE_NAME": fn,
                                                         "POWERTOOLS_METRICS_NAMESPACE": "ImagePipeline"}},
        )["FunctionArn"] for fn in names}

    steps = create_functions(settings.workflow_functions(), "")
    definition = stack_definition(settings, table_name=table, output_bucket=output_bucket, topic_arn=topic_arn,
                                  dead_letter_queue_url=dlq_url, step_arns=steps)
    state_machine_arn = sfn.create_state_machine(
        name=f"{name}-workflow", definition=json.dumps(definition), roleArn=role,
        type=settings.workflow.kind.name)["stateMachineArn"]
    functions = steps | create_functions(AFTER_WORKFLOW, state_machine_arn)
    return LocalPipeline(settings=settings, input_bucket=input_bucket, output_bucket=output_bucket,
                         queue_url=queue_url, queue_arn=upload_queue_arn, dlq_url=dlq_url, dlq_arn=dlq_arn, table=table,
                         topic_arn=topic_arn, state_machine_arn=state_machine_arn, function_arns=functions,
                         environment=merged)
