"""Lambda functions, their triggers, and their least-privilege roles."""

from __future__ import annotations

import json

import pytest

from components import parse_settings, read_stack_settings
from components.functions import ROOT
from tests.infra.conftest import STACKS

FUNCTION = "aws:lambda/function:Function"
NAMES = ("s3-event-handler", "orchestrator", "dlq-processor", "validate", "variants", "metadata", "reconciler")
STEPS = ("validate", "variants", "metadata")
# Actions AWS offers without resource-level permissions; the only place a "*" resource is allowed.
RESOURCELESS_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                        "xray:GetSamplingTargets", "logs:CreateLogDelivery",
                        "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
                        "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
                        "logs:DescribeLogGroups",
                        # Its only resource type, a custom adapter (projectversion), is optional: without
                        # one, IAM authorizes it against "*" (parliament's copy of the IAM reference).
                        "rekognition:DetectModerationLabels"}


def functions(graph, stack="dev"):
    return {name: graph.named(f"images-{stack}-{name}") for name in NAMES}


def role_policy(graph, function):
    role = next(r for r in graph.of_type("aws:iam/role:Role") if r.inputs["arn"] == function.inputs["role"])
    return next(p for p in graph.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.inputs["name"])


def test_each_function_has_its_own_role_and_log_group_with_retention(deploy):
    graph = deploy("dev")
    fns = functions(graph)
    assert len({fn.inputs["role"] for fn in fns.values()}) == len(NAMES)
    groups = {g.inputs["name"]: g for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for name, fn in fns.items():
        group = groups[fn.inputs["loggingConfig"]["logGroup"]]
        assert group.inputs["namePrefix"].startswith(f"/aws/lambda/images-dev-{name}-"), name
        assert group.inputs["retentionInDays"] == 30, name


def test_functions_default_to_arm64_and_run_the_handlers_package(deploy):
    for name, fn in functions(deploy("dev")).items():
        module = name.replace("-", "_")
        assert fn.inputs["architectures"] == ["arm64"], name
        assert fn.inputs["handler"] == f"handlers.{module}.lambda_handler", name
        assert (ROOT / "handlers" / f"{module}.py").is_file(), f"handlers/{module}.py is missing"


def test_code_archive_holds_only_the_handler_and_contract_sources(deploy):
    fn = functions(deploy("dev"))["orchestrator"]
    assets = fn.inputs["code"].assets
    assert {"handlers/orchestrator.py", "handlers/__init__.py", "handlers/image/imaging.py",
            "handlers/lifecycle/status.py", "contract/__init__.py"} <= set(assets)
    assert all(path.startswith(("handlers/", "contract/")) and path.endswith(".py") for path in assets)
    assert not any("__pycache__" in path for path in assets)


def test_powertools_comes_from_the_aws_layer_and_pillow_only_where_images_are_decoded(deploy):
    graph = deploy("dev")
    pillow = graph.one("aws:lambda/layerVersion:LayerVersion")
    assert pillow.inputs["compatibleArchitectures"] == ["arm64"]
    assert pillow.inputs["compatibleRuntimes"] == ["python3.12"]
    for name, fn in functions(graph).items():
        powertools = ("arn:aws:lambda:eu-west-1:017000801446:layer:"
                      "AWSLambdaPowertoolsPythonV3-python312-arm64:27")
        expected = [powertools, pillow.inputs["arn"]] if name in STEPS else [powertools]
        assert fn.inputs["layers"] == expected, name


def test_function_sizes_follow_the_stack_config(deploy):
    settings = parse_settings(read_stack_settings("prod", ROOT))
    fns = functions(deploy("prod"), "prod")
    assert fns["variants"].inputs["memorySize"] == settings.functions.variants.memory_size == 1769
    assert fns["orchestrator"].inputs["reservedConcurrentExecutions"] == 60
    assert fns["validate"].inputs["reservedConcurrentExecutions"] == -1


@pytest.mark.parametrize("stack", STACKS)
def test_queue_mappings_report_batch_item_failures(deploy, stack):
    settings = parse_settings(read_stack_settings(stack, ROOT))
    graph = deploy(stack)
    fns = functions(graph, stack)
    queue, dlq = graph.named(f"images-{stack}-queue"), graph.named(f"images-{stack}-dlq")
    mappings = {m.inputs["eventSourceArn"]: m
                for m in graph.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")}
    assert set(mappings) == {queue.inputs["arn"], dlq.inputs["arn"]}
    for queue_arn, fn_name, cfg in ((queue.inputs["arn"], "orchestrator", settings.functions.orchestrator),
                                    (dlq.inputs["arn"], "dlq-processor", settings.functions.dlq_processor)):
        mapping = mappings[queue_arn]
        assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping.inputs["functionName"] == fns[fn_name].inputs["arn"]
        assert mapping.inputs["batchSize"] == cfg.batch_size == 10
        assert mapping.inputs["maximumBatchingWindowInSeconds"] == cfg.batching_window_seconds
        assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": cfg.maximum_concurrency}


def test_mappings_wait_for_the_role_policy_that_lets_them_read_the_queue(deploy):
    graph = deploy("dev")
    fns = functions(graph)
    for mapping in graph.of_type("aws:lambda/eventSourceMapping:EventSourceMapping"):
        fn = graph.by_arn(mapping.inputs["functionName"])
        assert graph.depends_on(mapping, role_policy(graph, fn)), mapping.urn
    assert fns


def test_failed_s3_events_are_retried_then_sent_to_the_dlq(deploy):
    graph = deploy("dev")
    config = graph.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert config.inputs["functionName"] == functions(graph)["s3-event-handler"].inputs["name"]
    assert config.inputs["maximumRetryAttempts"] == 2
    assert config.inputs["destinationConfig"] == {
        "onFailure": {"destination": graph.named("images-dev-dlq").inputs["arn"]}}


@pytest.mark.parametrize("stack", STACKS)
def test_no_role_policy_allows_a_wildcard_action(deploy, stack):
    graph = deploy(stack)
    for policy in graph.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in policy.policy()["Statement"]:
            for action in statement["Action"]:
                assert action != "*" and not action.endswith(":*"), (policy.urn, action)
            if "*" in statement["Resource"]:
                assert set(statement["Action"]) <= RESOURCELESS_ACTIONS, (policy.urn, statement)


def test_each_role_names_only_its_own_resources(deploy):
    graph = deploy("dev")
    fns = functions(graph)
    arn = {name: graph.named(f"images-dev-{name}").inputs["arn"] for name in ("queue", "dlq", "status", "alerts")}
    workflow = graph.one("aws:sfn/stateMachine:StateMachine").inputs["arn"]
    key = graph.one("aws:kms/key:Key").inputs["arn"]
    buckets = {name: graph.named(f"images-dev-{name}").inputs["arn"] for name in ("input", "output")}

    def granted(name):
        statements = role_policy(graph, fns[name]).policy()["Statement"]
        log_group = fns[name].inputs["loggingConfig"]["logGroup"]
        return {(a, r) for s in statements for a in s["Action"] for r in s["Resource"]
                if not r.startswith(f"arn:aws:logs:eu-west-1:123456789012:log-group:{log_group}")}

    consume = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}
    assert granted("s3-event-handler") == {("sqs:SendMessage", arn["queue"]), ("sqs:SendMessage", arn["dlq"])}
    assert granted("orchestrator") == {(a, arn["queue"]) for a in consume} | {("states:StartExecution", workflow)}
    executions = {("states:DescribeExecution", workflow.replace(":stateMachine:", f":{kind}:") + ":*")
                  for kind in ("execution", "express")}
    settle = {("sns:Publish", arn["alerts"]), ("dynamodb:UpdateItem", arn["status"]),
              ("dynamodb:GetItem", arn["status"]), ("sqs:SendMessage", arn["queue"]),
              ("kms:GenerateDataKey", key), ("kms:Decrypt", key)} | executions
    assert granted("dlq-processor") == ({(a, arn["dlq"]) for a in consume} | settle | {
        ("s3:PutObject", f"{buckets['output']}/dead-letters/*")})
    # Reading by version needs GetObjectVersion; ListBucket makes a missing upload 404, not 403.
    uploads = {(action, f"{buckets['input']}/uploads/*") for action in ("s3:GetObject", "s3:GetObjectVersion")}
    uploads.add(("s3:ListBucket", buckets["input"]))
    assert granted("reconciler") == settle | uploads | {("dynamodb:Query", f"{arn['status']}/index/pending"),
                                                        ("states:ListExecutions", workflow), (
        "states:ListExecutions", workflow.replace(":stateMachine:", ":mapRun:") + "/*:*")}
    assert granted("validate") == granted("metadata") == uploads
    index = {(f"dynamodb:{action}", arn["status"]) for action in ("PutItem", "BatchGetItem")}
    assert granted("variants") == uploads | index | {
        ("s3:PutObject", f"{buckets['output']}/variants/*"), ("s3:GetObject", f"{buckets['output']}/variants/*"),
        ("dynamodb:GetItem", arn["status"])}
    # The index actions reach only the claim and bucket items, never an image's status item.
    [keeping] = [s for s in role_policy(graph, fns["variants"]).policy()["Statement"]
                 if s["Sid"] == "KeepFingerprintIndex"]
    assert keeping["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["sha256:*", "phash*"]}}


def test_log_statements_name_the_functions_own_log_group(deploy):
    graph = deploy("dev")
    groups = {g.inputs["name"]: g.inputs["arn"] for g in graph.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for name, fn in functions(graph).items():
        statements = role_policy(graph, fn).policy()["Statement"]
        logs = next(s for s in statements if s["Sid"] == "WriteOwnLogs")
        assert logs["Resource"] == [groups[fn.inputs["loggingConfig"]["logGroup"]] + ":*"], name


def test_workflow_role_invokes_only_its_step_functions_and_writes_only_the_table(deploy):
    graph = deploy("dev")
    fns = functions(graph)
    policy = json.loads(graph.named("images-dev-workflow-policy").inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    step_arns = [fns[name].inputs["arn"] for name in STEPS]
    assert statements["InvokeStepFunctions"]["Resource"] == step_arns + [f"{a}:*" for a in step_arns]
    assert statements["RecordStatus"] == {"Sid": "RecordStatus", "Effect": "Allow",
                                          "Action": ["dynamodb:UpdateItem"],
                                          "Resource": [graph.named("images-dev-status").inputs["arn"]]}


def test_roles_trust_only_their_service_in_this_account(deploy):
    for role in deploy("dev").of_type("aws:iam/role:Role"):
        statement = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
        service = "states.amazonaws.com" if "workflow" in role.name else "lambda.amazonaws.com"
        assert statement["Principal"] == {"Service": service}, role.urn
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_an_express_workflow_reports_its_own_unfinished_executions_and_the_orchestrator_marks_uploads(deploy):
    """prod runs EXPRESS: no status-change events exist, so no rule; the workflow may send to the DLQ
    and nothing else there; the orchestrator may write the status table; logging stays on."""
    graph = deploy("prod")
    machine = graph.one("aws:sfn/stateMachine:StateMachine")
    assert machine.inputs["type"] == "EXPRESS" and machine.inputs["loggingConfiguration"]["level"] != "OFF"
    definition = json.loads(machine.inputs["definition"])
    assert definition["TimeoutSeconds"] == 300
    dlq = graph.named("images-prod-dlq")
    reports = {name: s for name, s in definition["States"].items() if name.startswith("Report")}
    assert set(reports) == {"ReportStatusNotRecorded", "ReportModerationUnavailable"}
    assert all(r["Parameters"]["QueueUrl"] == dlq.inputs["url"] for r in reports.values())
    assert not graph.of_type("aws:cloudwatch/eventRule:EventRule") or all(
        "unfinished" not in rule.name for rule in graph.of_type("aws:cloudwatch/eventRule:EventRule"))
    workflow = json.loads(graph.named("images-prod-workflow-policy").inputs["policy"])
    sends = [s for s in workflow["Statement"] if "sqs:SendMessage" in s["Action"]]
    assert sends == [{"Sid": "ReportUnfinishedExecutions", "Effect": "Allow", "Action": ["sqs:SendMessage"],
                      "Resource": [dlq.inputs["arn"]]}]
    orchestrator = role_policy(graph, graph.named("images-prod-orchestrator")).policy()
    marks = [s for s in orchestrator["Statement"] if s.get("Sid") == "MarkQueued"]
    assert marks == [{"Sid": "MarkQueued", "Effect": "Allow", "Action": ["dynamodb:UpdateItem"],
                      "Resource": [graph.one("aws:dynamodb/table:Table").inputs["arn"]]}]
    dlq_policy = graph.named("images-prod-dlq-policy").policy()
    producers = next(s for s in dlq_policy["Statement"] if s.get("Sid") == "AllowProducers")
    assert graph.named("images-prod-workflow-role").inputs["arn"] in producers["Principal"]["AWS"]
