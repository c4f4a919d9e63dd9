"""The Step Functions workflow: its role, log group, state machine, and the safety net that
sends executions which timed out or were aborted to the DLQ (so the DLQ processor marks
those images `failed`: every upload ends in a terminal state).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies
from components.functions import PipelineFunction
from components.settings.config import Settings
from components.workflow.definition import stack_definition, unfinished_executions_pattern


@dataclass(frozen=True)
class Workflow:
    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy
    log_group: aws.cloudwatch.LogGroup
    state_machine: aws.sfn.StateMachine
    unfinished_rule: aws.cloudwatch.EventRule | None
    """Only for a type that emits status-change events (STANDARD): EXPRESS executions report their own ends."""
    events_dead_letter_queue: aws.sqs.Queue | None
    """Events EventBridge could not deliver to the DLQ (kept 14 days; its depth alarms); STANDARD only."""


def workflow(name: str, settings: Settings, *, account_id: str, table: aws.dynamodb.Table,
             step_functions: dict[str, PipelineFunction], arns: pulumi.Output[policies.PipelineArns],
             output_bucket: pulumi.Output[str], topic: aws.sns.Topic, dead_letter_queue: aws.sqs.Queue,
             tags: dict[str, str],
             parent: pulumi.Resource) -> Workflow:
    wf = settings.workflow
    opts = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-workflow-role",
        assume_role_policy=json.dumps(policies.assume_role_policy("states", account_id)),
        description=f"Execution role of the {name} workflow", tags=tags, opts=opts)
    role_policy = aws.iam.RolePolicy(
        f"{name}-workflow-policy", role=role.id,
        policy=arns.apply(lambda a: json.dumps(policies.state_machine_policy(a))),
        opts=pulumi.ResourceOptions(parent=role))
    # Vended-logs prefix: keeps the CloudWatch Logs resource policy small (AWS docs).
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-workflow-logs", name_prefix=f"/aws/vendedlogs/states/{name}-",
        retention_in_days=wf.log_retention_days, tags=tags, opts=opts)

    steps = sorted(step_functions)  # validate, variants, metadata (+ quarantine with moderation)

    def build(table_name: str, bucket: str, topic_arn: str, dlq_url: str, *arns: str) -> str:
        return json.dumps(stack_definition(
            settings, table_name=table_name, output_bucket=bucket, topic_arn=topic_arn, dead_letter_queue_url=dlq_url,
            step_arns=dict(zip(steps, arns, strict=True))))

    definition = pulumi.Output.all(table.name, output_bucket, topic.arn, dead_letter_queue.url,
                                   *(step_functions[step].function.arn for step in steps)).apply(lambda a: build(*a))
    state_machine = aws.sfn.StateMachine(
        f"{name}-workflow",
        type=wf.kind.name,
        role_arn=role.arn,
        definition=definition,
        logging_configuration={"level": wf.log_level, "include_execution_data": wf.include_execution_data,
                               "log_destination": log_group.arn.apply(lambda arn: f"{arn}:*")},
        tracing_configuration={"enabled": wf.tracing},
        tags=tags,
        # CreateStateMachine checks that the role may deliver logs.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role_policy]),
    )
    rule, events_dlq = (unfinished_execution_events(name, state_machine, dead_letter_queue, tags, parent)
                        if wf.kind.emits_status_events else (None, None))
    return Workflow(role=role, role_policy=role_policy, log_group=log_group,
                    state_machine=state_machine, unfinished_rule=rule, events_dead_letter_queue=events_dlq)


def unfinished_execution_events(name: str, state_machine: aws.sfn.StateMachine, dead_letter_queue: aws.sqs.Queue,
                                tags: dict[str, str], parent: pulumi.Resource
                                ) -> tuple[aws.cloudwatch.EventRule, aws.sqs.Queue]:
    """The rule sending a STANDARD workflow's unfinished executions to the DLQ, and its own DLQ."""
    opts = pulumi.ResourceOptions(parent=parent)
    # Status-change events exist for STANDARD workflows. An execution that times out, is
    # aborted, or fails with an error no Catch can handle (States.Runtime, a status write that
    # kept failing) leaves its image `processing`; the DLQ processor settles it. The
    # reconciler covers events that are lost.
    rule = aws.cloudwatch.EventRule(
        f"{name}-unfinished-executions",
        description="Executions that ended without recording their image's status, for the DLQ processor",
        event_pattern=state_machine.arn.apply(lambda arn: json.dumps(unfinished_executions_pattern(arn))),
        tags=tags, opts=opts)
    # An event EventBridge cannot deliver (a key policy, a queue policy gone wrong) is kept here,
    # on SQS-managed encryption that needs no key policy, instead of being dropped.
    events_dlq = aws.sqs.Queue(
        f"{name}-events-dlq", message_retention_seconds=1_209_600, sqs_managed_sse_enabled=True, tags=tags,
        opts=pulumi.ResourceOptions(parent=rule))
    events_dlq_policy = aws.sqs.QueuePolicy(
        f"{name}-events-dlq-policy", queue_url=events_dlq.url,
        policy=pulumi.Output.all(events_dlq.arn, rule.arn).apply(
            lambda a: json.dumps(policies.events_dead_letter_queue_policy(*a))),
        opts=pulumi.ResourceOptions(parent=events_dlq))
    aws.cloudwatch.EventTarget(
        f"{name}-unfinished-to-dlq", rule=rule.name, arn=dead_letter_queue.arn,
        retry_policy={"maximum_event_age_in_seconds": 86_400, "maximum_retry_attempts": 185},
        dead_letter_config={"arn": events_dlq.arn},
        opts=pulumi.ResourceOptions(parent=rule, depends_on=[events_dlq_policy]))
    return rule, events_dlq


def events_to_queue_statement(queue_arn: str, rule_arn: str) -> dict:
    """Queue-policy statement letting only this EventBridge rule send to the DLQ."""
    return {"Sid": "AllowUnfinishedExecutionEvents", "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}
