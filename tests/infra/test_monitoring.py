"""Alerts topic, alarms, encryption key and the workflow resources."""

from __future__ import annotations

import json

import pytest

from components.workflow.definition import build_definition
from tests.infra.conftest import STACKS

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def alarms(graph, stack="dev"):
    return {a.name.removeprefix(f"images-{stack}-"): a for a in graph.of_type(ALARM)}


def test_the_original_three_alarms_with_their_thresholds(deploy):
    graph = deploy("dev")
    queue, dlq = graph.named("images-dev-queue"), graph.named("images-dev-dlq")
    found = alarms(graph)
    expected = {
        "queue-depth": ("ApproximateNumberOfMessagesVisible", queue, "Average", "GreaterThanThreshold", 100, 2),
        "dlq-depth": ("ApproximateNumberOfMessagesVisible", dlq, "Maximum", "GreaterThanOrEqualToThreshold", 1, 1),
        "oldest-message-age": ("ApproximateAgeOfOldestMessage", queue, "Maximum", "GreaterThanThreshold", 300, 2),
    }
    assert set(expected) <= set(found)
    for name, (metric, target, statistic, comparison, threshold, periods) in expected.items():
        alarm = found[name].inputs
        assert (alarm["namespace"], alarm["metricName"]) == ("AWS/SQS", metric), name
        assert alarm["dimensions"] == {"QueueName": target.inputs["name"]}, name
        assert (alarm["statistic"], alarm["comparisonOperator"]) == (statistic, comparison), name
        assert (alarm["threshold"], alarm["evaluationPeriods"], alarm["period"]) == (threshold, periods, 300), name
        assert alarm["treatMissingData"] == "notBreaching", name


@pytest.mark.parametrize("stack", STACKS)
def test_alarms_notify_the_alerts_topic_when_raised_and_cleared(deploy, stack):
    graph = deploy(stack)
    topic = graph.named(f"images-{stack}-alerts").inputs["arn"]
    for alarm in graph.of_type(ALARM):
        assert alarm.inputs["alarmActions"] == [topic], alarm.urn
        assert alarm.inputs["okActions"] == [topic], alarm.urn


@pytest.mark.parametrize("stack", STACKS)
def test_alerts_topic_uses_a_key_cloudwatch_may_use(deploy, stack):
    graph = deploy(stack)
    key = graph.one("aws:kms/key:Key")
    topic = graph.named(f"images-{stack}-alerts")
    assert topic.inputs["kmsMasterKeyId"] == key.inputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    alarms = statements["AllowAlarmsToUseKey"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(alarms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    # EventBridge's own statement: its KMS calls may not carry aws:SourceAccount, so no condition.
    events = statements["AllowEventBridgeToUseKey"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"} and "Condition" not in events
    assert all(a != "kms:*" and a != "*" for s in statements.values() for a in s["Action"])


def test_topic_policy_lets_only_this_accounts_alarms_publish_over_tls(deploy):
    graph = deploy("dev")
    topic = graph.named("images-dev-alerts").inputs["arn"]
    policy = graph.one("aws:sns/topicPolicy:TopicPolicy").policy()
    allow = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               and s["Resource"] == [topic] for s in policy["Statement"])


def test_prod_mails_alerts_to_the_configured_address_and_dev_to_nobody(deploy):
    [subscription] = deploy("prod").of_type("aws:sns/topicSubscription:TopicSubscription")
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == (
        "email", "image-pipeline-oncall@example.com")
    assert deploy("dev").of_type("aws:sns/topicSubscription:TopicSubscription") == []


def test_state_machine_runs_the_definition_built_from_its_own_resources(deploy):
    graph = deploy("dev")
    machine = graph.one("aws:sfn/stateMachine:StateMachine")
    arns = {step: graph.named(f"images-dev-{step}").inputs["arn"] for step in ("validate", "variants", "metadata")}
    expected = build_definition(table_name=graph.named("images-dev-status").inputs["name"], function_arns=arns,
                                function_timeouts={"validate": 30, "variants": 120, "metadata": 30},
                                execution_timeout_seconds=900)
    assert json.loads(machine.inputs["definition"]) == expected
    assert machine.inputs["type"] == "STANDARD"
    assert machine.inputs["roleArn"] == graph.named("images-dev-workflow-role").inputs["arn"]
    assert graph.depends_on(machine, graph.named("images-dev-workflow-policy"))


def test_workflow_logging_and_tracing_follow_the_stack(deploy):
    for stack, tracing in (("dev", False), ("prod", True)):
        graph = deploy(stack)
        machine = graph.one("aws:sfn/stateMachine:StateMachine")
        group = graph.named(f"images-{stack}-workflow-logs")
        assert machine.inputs["loggingConfiguration"] == {
            "level": "ERROR", "includeExecutionData": False, "logDestination": group.inputs["arn"] + ":*"}
        assert machine.inputs["tracingConfiguration"] == {"enabled": tracing}
        assert group.inputs["namePrefix"].startswith("/aws/vendedlogs/states/")


def test_executions_that_ended_without_recording_their_image_reach_the_dlq(deploy):
    graph = deploy("dev")
    rule = graph.named("images-dev-unfinished-executions")
    pattern = json.loads(rule.inputs["eventPattern"])
    # FAILED too (States.Runtime and a status write that kept failing escape every Catch), except
    # the two Fail states that end after the status was recorded.
    assert pattern["detail"] == {
        "stateMachineArn": [graph.one("aws:sfn/stateMachine:StateMachine").inputs["arn"]],
        "$or": [{"status": ["TIMED_OUT", "ABORTED"]},
                {"status": ["FAILED"], "error": [{"anything-but": ["ImageFailed", "StaleExecution"]}]}]}
    target = graph.named("images-dev-unfinished-to-dlq")
    assert target.inputs["arn"] == graph.named("images-dev-dlq").inputs["arn"]
    assert target.inputs["rule"] == rule.inputs["name"]


FUNCTIONS = ("s3-event-handler", "orchestrator", "dlq-processor", "validate", "variants", "metadata", "reconciler")


def test_every_function_has_error_throttle_and_duration_alarms(deploy):
    graph = deploy("dev")
    found = alarms(graph)
    for function in FUNCTIONS:
        name = graph.named(f"images-dev-{function}").inputs["name"]
        timeout = graph.named(f"images-dev-{function}").inputs["timeout"]
        errors, throttles, duration = (found[f"{function}-{kind}"].inputs
                                       for kind in ("errors", "throttles", "duration"))
        if function in ("validate", "variants", "metadata"):  # rejected uploads are subtracted (below)
            queries = {q["id"]: q["metric"] for q in errors["metricQueries"] if "metric" in q}
            assert (queries["errors"]["metricName"], queries["errors"]["dimensions"]) == ("Errors",
                                                                                          {"FunctionName": name})
        else:
            assert (errors["namespace"], errors["metricName"], errors["dimensions"]) == (
                "AWS/Lambda", "Errors", {"FunctionName": name})
        assert (errors["threshold"], errors["comparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert throttles["metricName"] == "Throttles"
        assert (duration["metricName"], duration["statistic"]) == ("Duration", "Maximum")
        assert duration["threshold"] == timeout * 1000 * 0.8
        assert all(a["treatMissingData"] == "notBreaching" for a in (errors, throttles, duration))


def test_workflow_outcomes_and_a_stalled_queue_alarm(deploy):
    graph = deploy("dev")
    found = alarms(graph)
    machine = graph.one("aws:sfn/stateMachine:StateMachine").inputs["arn"]
    for key, metric in (("executions-failed", "ExecutionsFailed"), ("executions-timed-out", "ExecutionsTimedOut"),
                        ("executions-throttled", "ExecutionThrottled"), ("executions-aborted", "ExecutionsAborted")):
        alarm = found[key].inputs
        assert (alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == (
            "AWS/States", metric, {"StateMachineArn": machine})
    stalled = found["queue-stalled"].inputs
    queries = {q["id"]: q for q in stalled["metricQueries"]}
    assert queries["stalled"]["expression"] == "IF(age > 600 AND deleted == 0, 1, 0)"
    assert queries["age"]["metric"]["metricName"] == "ApproximateAgeOfOldestMessage"
    assert queries["deleted"]["metric"]["metricName"] == "NumberOfMessagesDeleted"
    assert queries["age"]["metric"]["dimensions"] == {"QueueName": graph.named("images-dev-queue").inputs["name"]}


def test_alarm_thresholds_come_from_settings(deploy):
    found = alarms(deploy("dev", {"alarms": {"lambda_errors_threshold": 5, "execution_failures_threshold": 20,
                                             "duration_percent_of_timeout": 50}}))
    assert found["orchestrator-errors"].inputs["threshold"] == 5
    assert found["executions-failed"].inputs["threshold"] == 20
    assert found["orchestrator-duration"].inputs["threshold"] == 15_000


def test_the_dashboard_shows_queues_executions_functions_and_images(deploy):
    graph = deploy("dev")
    body = json.loads(graph.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == ["Upload queue", "Dead-letter queue", "Executions by outcome", "Images", "Lambda errors",
                      "Lambda duration (p99, ms)"]
    text = json.dumps(body)
    assert graph.named("images-dev-queue").inputs["name"] in text
    assert graph.named("images-dev-dlq").inputs["name"] in text
    assert all(graph.named(f"images-dev-{f}").inputs["name"] in text for f in FUNCTIONS)
    assert '"ImagePipeline", "ImagesFailed", "service", "dlq_processor"' in text


def test_the_dashboard_can_be_turned_off(deploy):
    assert deploy("dev", {"alarms": {"dashboard": False}}).of_type("aws:cloudwatch/dashboard:Dashboard") == []


def test_the_reconciler_runs_on_a_schedule_with_its_own_invoke_permission(deploy):
    graph = deploy("dev")
    rule = graph.named("images-dev-reconcile-schedule")
    assert rule.inputs["scheduleExpression"] == "rate(5 minutes)"
    reconciler = graph.named("images-dev-reconciler")
    target = graph.named("images-dev-reconcile-target")
    assert (target.inputs["rule"], target.inputs["arn"]) == (rule.inputs["name"], reconciler.inputs["arn"])
    permission = graph.named("images-dev-reconcile-invoke")
    assert (permission.inputs["principal"], permission.inputs["sourceArn"]) == ("events.amazonaws.com",
                                                                                  rule.inputs["arn"])
    assert graph.depends_on(target, permission)
    variables = reconciler.inputs["environment"]["variables"]
    # The stale bound: the execution timeout (900 s) plus a 5-minute margin.
    assert (variables["STALE_AFTER_SECONDS"], variables["REPAIR_ATTEMPTS"]) == ("1200", "2")


def test_execution_events_eventbridge_cannot_deliver_are_kept_and_alarmed(deploy):
    graph = deploy("staging")  # STANDARD: its executions' status-change events go to the DLQ
    target = graph.named("images-staging-unfinished-to-dlq")
    events_dlq = graph.named("images-staging-events-dlq")
    assert target.inputs["deadLetterConfig"] == {"arn": events_dlq.inputs["arn"]}
    assert target.inputs["retryPolicy"] == {"maximumEventAgeInSeconds": 86_400, "maximumRetryAttempts": 185}
    # SQS-managed encryption: EventBridge can always write there, whatever happened to the key policy.
    assert events_dlq.inputs["sqsManagedSseEnabled"] is True and "kmsMasterKeyId" not in events_dlq.inputs
    policy = graph.named("images-staging-events-dlq-policy").policy()
    allow = next(s for s in policy["Statement"] if s["Effect"] == "Allow")
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": graph.named(
        "images-staging-unfinished-executions").inputs["arn"]}}
    assert graph.depends_on(target, graph.named("images-staging-events-dlq-policy"))
    alarm = graph.named("images-staging-events-undelivered")
    assert (alarm.inputs["dimensions"], alarm.inputs["threshold"]) == ({"QueueName": events_dlq.inputs["name"]}, 1)


def test_a_rejected_upload_does_not_page_but_any_other_step_error_does(deploy):
    found = alarms(deploy("dev"))
    for step in ("validate", "variants", "metadata"):
        queries = {q["id"]: q for q in found[f"{step}-errors"].inputs["metricQueries"]}
        assert queries["unexpected"]["expression"] == "errors - FILL(rejected, 0)"
        assert queries["unexpected"]["returnData"] is True
        rejected = queries["rejected"]["metric"]
        assert (rejected["namespace"], rejected["metricName"], rejected["dimensions"]) == (
            "ImagePipeline", "ImagesRejected", {"service": step})
