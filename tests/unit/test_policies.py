"""Policy documents, linted with parliament: the same documents the component deploys."""

from __future__ import annotations

import json

import parliament
import pytest

from components import policies

ACCOUNT = "123456789012"
ARN = f"arn:aws:{{}}:eu-west-1:{ACCOUNT}"
FUNCTIONS = ("s3_event_handler", "orchestrator", "dlq_processor", "reconciler", "quarantine",
             *policies.STEP_FUNCTIONS)


def sample_arns(kms: bool = True, tracing: bool = True, moderation: bool = True) -> policies.PipelineArns:
    return policies.PipelineArns(
        account_id=ACCOUNT, upload_queue=f"{ARN.format('sqs')}:uploads", dead_letter_queue=f"{ARN.format('sqs')}:dlq",
        table=f"{ARN.format('dynamodb')}:table/status", topic=f"{ARN.format('sns')}:alerts",
        input_bucket="arn:aws:s3:::input", output_bucket="arn:aws:s3:::output",
        state_machine=f"{ARN.format('states')}:stateMachine:workflow",
        step_functions={n: f"{ARN.format('lambda')}:function:{n}" for n in (*policies.STEP_FUNCTIONS, "quarantine")},
        log_groups={n: f"{ARN.format('logs')}:log-group:/aws/lambda/{n}" for n in FUNCTIONS},
        kms_key=f"{ARN.format('kms')}:key/data" if kms else None, alerts_key=f"{ARN.format('kms')}:key/alerts",
        tracing=tracing, moderation=moderation)


def findings(document: dict) -> list[tuple[str, object]]:
    return [(f.issue, f.detail) for f in parliament.analyze_policy_string(json.dumps(document)).findings]


def all_documents(arns: policies.PipelineArns) -> dict[str, dict]:
    role = f"arn:aws:iam::{ACCOUNT}:role/"
    return {**policies.function_policies(arns), "state_machine": policies.state_machine_policy(arns),
            "queue": policies.queue_policy(arns.upload_queue, [role + "producer"], [role + "consumer"]),
            "bucket": policies.bucket_policy(arns.input_bucket),
            "output_bucket": policies.bucket_policy(arns.output_bucket, ACCOUNT, ("quarantine/", "staging/")),
            "topic": policies.topic_policy(arns.topic, ACCOUNT)}


@pytest.mark.parametrize("kms", [True, False])
@pytest.mark.parametrize("tracing", [True, False])
def test_every_role_and_resource_policy_lints_clean(kms, tracing):
    for name, document in all_documents(sample_arns(kms, tracing)).items():
        assert findings(document) == [], name


def test_key_policy_findings_are_only_the_key_policy_star_which_means_this_key():
    # In a key policy, Resource "*" is the key itself (AWS KMS docs); parliament reads it as an
    # identity policy. Anything else it finds is a real problem.
    assert {issue for issue, _ in findings(policies.kms_key_policy(ACCOUNT))} == {"RESOURCE_STAR"}


def test_no_allow_statement_uses_a_wildcard_action():
    for name, document in all_documents(sample_arns()).items():
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(a != "*" and not a.endswith(":*") for a in actions), (name, statement)


def test_function_policies_name_only_the_resources_given():
    arns = sample_arns(tracing=False)
    given = {arns.upload_queue, arns.dead_letter_queue, arns.table, arns.topic, arns.state_machine,
             arns.kms_key, arns.alerts_key, f"{arns.input_bucket}/uploads/*", f"{arns.output_bucket}/variants/*",
             arns.input_bucket, f"{arns.output_bucket}/dead-letters/*", f"{arns.table}/index/pending",
             arns.output_bucket,  # listed under `variants/` only (the s3:prefix condition, tested below)
             f"{arns.output_bucket}/quarantine/*", f"{arns.output_bucket}/staging/*",
             *policies.execution_arns(arns.state_machine),
             arns.state_machine.replace(":stateMachine:", ":mapRun:") + "/*:*",
             *(f"{group}:*" for group in arns.log_groups.values())}
    for name, document in policies.function_policies(arns).items():
        resources = {r for s in document["Statement"] for r in s["Resource"]}
        assert resources <= given, (name, resources - given)


def test_without_a_customer_key_no_kms_statement_is_granted_for_data():
    documents = policies.function_policies(sample_arns(kms=False))
    assert all(s["Sid"] != "UseEncryptionKey" for s in documents["orchestrator"]["Statement"])
    dlq = next(s for s in documents["dlq_processor"]["Statement"] if s["Sid"] == "UseEncryptionKey")
    assert dlq["Resource"] == [sample_arns().alerts_key]  # publishing to the encrypted topic


def test_a_traced_workflow_may_read_xray_sampling_rules_and_write_traces():
    traces = next(s for s in policies.state_machine_policy(sample_arns(tracing=True))["Statement"]
                  if s["Sid"] == "WriteTraces")
    assert traces["Action"] == ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                                "xray:GetSamplingTargets"]
    untraced = policies.state_machine_policy(sample_arns(tracing=False))["Statement"]
    assert all(s["Sid"] != "WriteTraces" for s in untraced)


def test_only_the_workflow_role_moderates_and_only_with_moderation_on():
    moderated = sample_arns(moderation=True)
    workflow = {s["Sid"]: s for s in policies.state_machine_policy(moderated)["Statement"]}
    assert workflow["ModerateImages"]["Action"] == ["rekognition:DetectModerationLabels"]
    # Rekognition reads the staged variant with the caller's credentials, and the alert is the workflow's own.
    assert workflow["ReadVariantsForModeration"]["Resource"] == ["arn:aws:s3:::output/staging/*"]
    assert workflow["AlertRejectedImages"]["Resource"] == [moderated.topic]
    assert moderated.step_functions["quarantine"] in workflow["InvokeStepFunctions"]["Resource"]
    assert moderated.alerts_key in workflow["UseEncryptionKey"]["Resource"]
    for name, document in policies.function_policies(moderated).items():
        assert all(not a.startswith("rekognition:") for s in document["Statement"] for a in s["Action"]), name
    plain = sample_arns(moderation=False)
    assert "quarantine" not in policies.function_policies(plain)
    sids = {s["Sid"] for s in policies.state_machine_policy(plain)["Statement"]}
    assert not sids & {"ModerateImages", "ReadVariantsForModeration", "AlertRejectedImages"}
    assert all(s["Sid"] != "StageVariants" for s in policies.function_policies(plain)["variants"]["Statement"])


def test_with_moderation_the_variants_step_may_only_add_staged_variants():
    statements = policies.function_policies(sample_arns(kms=False, tracing=False))["variants"]["Statement"]
    granted = {(a, r) for s in statements for a in s["Action"] for r in s["Resource"] if "/staging/" in r}
    assert granted == {("s3:PutObject", "arn:aws:s3:::output/staging/*")}


def test_the_moderation_function_moves_staged_variants_and_nothing_else():
    """Staged -> published or quarantined; an upload's published ones withdrawn (listed by its prefix) when the
    image does not complete with them."""
    statements = policies.function_policies(sample_arns(kms=False, tracing=False))["quarantine"]["Statement"]
    granted = {(a, r) for s in statements for a in s["Action"] for r in s["Resource"] if ":log-group:" not in r}
    assert granted == {("s3:GetObject", "arn:aws:s3:::output/staging/*"),
                       ("s3:DeleteObject", "arn:aws:s3:::output/staging/*"),
                       ("s3:PutObject", "arn:aws:s3:::output/variants/*"),
                       ("s3:ListBucket", "arn:aws:s3:::output"),
                       ("s3:DeleteObject", "arn:aws:s3:::output/variants/*"),
                       ("s3:PutObject", "arn:aws:s3:::output/quarantine/*"),
                       ("dynamodb:GetItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/status")}


def test_with_moderation_the_repairs_may_list_and_delete_published_variants_only():
    """The DLQ processor and the reconciler withdraw a failed upload's published variants: a listing of the
    `variants/` prefix and deletes under it, nothing more of the output bucket; without moderation, neither."""
    for moderation in (True, False):
        documents = policies.function_policies(sample_arns(kms=False, tracing=False, moderation=moderation))
        for name in ("dlq_processor", "reconciler"):
            statements = documents[name]["Statement"]
            granted = {(a, r) for s in statements for a in s["Action"] for r in s["Resource"]
                       if r.startswith("arn:aws:s3:::output") and "/dead-letters/" not in r}
            expected = {("s3:ListBucket", "arn:aws:s3:::output"), ("s3:DeleteObject", "arn:aws:s3:::output/variants/*")}
            assert granted == (expected if moderation else set()), (name, moderation)
            listing = [s for s in statements
                       if "s3:ListBucket" in s["Action"] and s["Resource"] == ["arn:aws:s3:::output"]]
            assert [s.get("Condition") for s in listing] == (
                [{"StringLike": {"s3:prefix": ["variants/*"]}}] if moderation else []), name


def test_the_local_iam_check_holds_a_listing_to_its_granted_prefix():
    from local.iam import Call, IamEnforcer, actions_and_resources

    enforcer = IamEnforcer({"dlq_processor": policies.function_policies(sample_arns())["dlq_processor"]})
    listing = actions_and_resources("s3", "ListObjectsV2", {"Bucket": "output", "Prefix": "variants/u/a/0123/"})
    assert listing == [("s3:ListBucket", "arn:aws:s3:::output", "variants/u/a/0123/")]
    assert enforcer.permitted(Call("dlq_processor", *listing[0]))
    for prefix in ("", "staging/variants/u/a/", "quarantine/"):
        assert not enforcer.permitted(Call("dlq_processor", "s3:ListBucket", "arn:aws:s3:::output", prefix)), prefix
    assert not enforcer.permitted(Call("dlq_processor", "s3:ListBucket", "arn:aws:s3:::input", "variants/"))


def test_the_local_iam_check_authorizes_a_batch_read_on_each_table_it_names():
    from local.iam import Call, IamEnforcer, actions_and_resources

    enforcer = IamEnforcer({"variants": policies.function_policies(sample_arns())["variants"]})
    keys = {"Keys": [{"imageId": {"S": "phash0:01:u"}, "userId": {"S": "u/bucket"}}], "ConsistentRead": True}
    needed = actions_and_resources("dynamodb", "BatchGetItem", {"RequestItems": {"status": keys, "other": keys}})
    assert needed == [("dynamodb:BatchGetItem", f"{ARN.format('dynamodb')}:table/status"),
                      ("dynamodb:BatchGetItem", f"{ARN.format('dynamodb')}:table/other")]
    assert [enforcer.permitted(Call("variants", *call)) for call in needed] == [True, False]


def test_quarantined_and_staged_objects_are_readable_by_this_account_alone():
    document = policies.bucket_policy("arn:aws:s3:::output", ACCOUNT, ("quarantine/", "staging/"))
    [_, *private] = document["Statement"]
    assert [(p["Sid"], p["Resource"]) for p in private] == [
        ("DenyQuarantineOutsideAccount", "arn:aws:s3:::output/quarantine/*"),
        ("DenyStagingOutsideAccount", "arn:aws:s3:::output/staging/*")]
    for statement in private:
        assert (statement["Effect"], statement["Principal"]) == ("Deny", "*")
        # IfExists: a request with no principal account (anonymous, a service principal such as a CDN) is
        # denied too.
        assert statement["Condition"] == {"StringNotEqualsIfExists": {"aws:PrincipalAccount": ACCOUNT}}
