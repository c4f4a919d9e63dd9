"""Settings: defaults, every validation error and warning, all problems at once (no Pulumi runtime)."""

from __future__ import annotations

import dataclasses

import pytest

from components import ConfigError, parse_settings, read_stack_settings, settings_warnings
from components.settings.config import LOG_RETENTION_DAYS
from components.settings.stacks import UnknownStack, stack_names, stack_region
from tests.conftest import ROOT


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_settings(raw)
    return raised.value.problems


def test_defaults_are_the_original_designs_values():
    s = parse_settings({})
    assert dataclasses.astuple(s.queue) == (1_209_600, 300, 20, 262_144, 0)
    assert s.dead_letter_queue.max_receive_count == 3
    assert s.encryption.mode == "managed"
    a = s.alarms
    assert (a.queue_depth_threshold, a.dlq_depth_threshold, a.oldest_message_age_seconds) == (100, 1, 300)
    assert (a.period_seconds, a.evaluation_periods) == (300, 2)
    assert s.workflow.variant_sizes == [1280, 640, 160]
    assert s.functions.orchestrator.timeout * 6 <= s.queue.visibility_timeout_seconds


def test_dlq_settings_fall_back_to_the_queues():
    s = parse_settings({"queue": {"visibility_timeout_seconds": 600},
                        "dead_letter_queue": {"message_retention_seconds": 1_209_600}})
    assert s.dlq.visibility_timeout_seconds == 600
    assert s.dlq.message_retention_seconds == 1_209_600
    assert s.dlq.max_message_size == s.queue.max_message_size


def test_a_partial_function_section_keeps_that_functions_own_defaults():
    s = parse_settings({"functions": {"variants": {"log_retention_days": 90}}})
    assert (s.functions.variants.memory_size, s.functions.variants.timeout) == (2048, 120)
    assert s.functions.variants.log_retention_days == 90


@pytest.mark.parametrize(("raw", "message"), [
    ({"queue": {"message_retention_seconds": 59}},
     "queue.message_retention_seconds: 59 is below the minimum 60 (AWS range 60 to 1,209,600)"),
    ({"queue": {"message_retention_seconds": 1_209_601}},
     "queue.message_retention_seconds: 1209601 is above the maximum 1,209,600 (AWS range 60 to 1,209,600)"),
    ({"queue": {"visibility_timeout_seconds": 43_201}},
     "queue.visibility_timeout_seconds: 43201 is above the maximum 43,200 (AWS range 0 to 43,200)"),
    ({"queue": {"receive_wait_time_seconds": 21}},
     "queue.receive_wait_time_seconds: 21 is above the maximum 20 (AWS range 0 to 20)"),
    ({"queue": {"max_message_size": 1_023}},
     "queue.max_message_size: 1023 is below the minimum 1,024 (AWS range 1,024 to 1,048,576)"),
    ({"queue": {"max_message_size": 1_048_577}},
     "queue.max_message_size: 1048577 is above the maximum 1,048,576 (AWS range 1,024 to 1,048,576)"),
    ({"queue": {"delay_seconds": 901}}, "queue.delay_seconds: 901 is above the maximum 900 (AWS range 0 to 900)"),
    ({"dead_letter_queue": {"max_receive_count": 0}},
     "dead_letter_queue.max_receive_count: 0 is below the minimum 1 (AWS range 1 to 1,000)"),
    ({"dead_letter_queue": {"max_receive_count": 1_001}},
     "dead_letter_queue.max_receive_count: 1001 is above the maximum 1,000 (AWS range 1 to 1,000)"),
    ({"functions": {"validate": {"timeout": 0}}},
     "functions.validate.timeout: 0 is below the minimum 1 (AWS range 1 to 900)"),
    ({"functions": {"variants": {"timeout": 901}}},
     "functions.variants.timeout: 901 is above the maximum 900 (AWS range 1 to 900)"),
    ({"functions": {"metadata": {"memory_size": 127}}},
     "functions.metadata.memory_size: 127 is below the minimum 128 (AWS range 128 to 10,240)"),
    ({"functions": {"metadata": {"memory_size": 10_241}}},
     "functions.metadata.memory_size: 10241 is above the maximum 10,240 (AWS range 128 to 10,240)"),
    ({"functions": {"validate": {"architecture": "arm"}}},
     "functions.validate.architecture: 'arm' is not one of arm64, x86_64"),
    ({"functions": {"validate": {"log_retention_days": 31}}},
     f"functions.validate.log_retention_days: 31 is not one of {', '.join(map(str, LOG_RETENTION_DAYS))}"),
    ({"workflow": {"type": "express"}}, "workflow.type: 'express' is not one of STANDARD, EXPRESS"),
])
def test_values_aws_rejects_are_errors_naming_their_key(raw, message):
    assert problems(raw) == [message]


def test_queue_visibility_below_the_consumer_timeout_is_an_error():
    assert problems({"queue": {"visibility_timeout_seconds": 29},
                     "dead_letter_queue": {"visibility_timeout_seconds": 300}}) == [
        "queue.visibility_timeout_seconds: 29 is below functions.orchestrator.timeout (30); AWS refuses the "
        "event source mapping. Use at least 180 (6 x timeout + batching window)"]


def test_dlq_visibility_below_the_dlq_processor_timeout_is_an_error():
    assert problems({"dead_letter_queue": {"visibility_timeout_seconds": 10}}) == [
        "dead_letter_queue.visibility_timeout_seconds: 10 is below functions.dlq_processor.timeout (30); AWS "
        "refuses the event source mapping. Use at least 180 (6 x timeout + batching window)"]


def test_an_inherited_dlq_visibility_names_the_key_that_sets_it():
    """The user never set the DLQ's visibility: the message names the upload queue's key, which they can change."""
    assert problems({"queue": {"visibility_timeout_seconds": 20},
                     "functions": {"orchestrator": {"timeout": 3}}}) == [
        "queue.visibility_timeout_seconds: 20 (the dead-letter queue inherits it; or set "
        "dead_letter_queue.visibility_timeout_seconds) is below functions.dlq_processor.timeout (30); AWS "
        "refuses the event source mapping. Use at least 180 (6 x timeout + batching window)"]


@pytest.mark.parametrize(("raw", "message"), [
    ({"queue": {"visibility": 300}}, "queue.visibility: unknown key (did you mean 'visibility_timeout_seconds'?)"),
    ({"alarm": {}}, "alarm: unknown key (did you mean 'alarms'?)"),
    ({"queue": {"delay_seconds": "5"}}, "queue.delay_seconds: expected an integer, got str '5'"),
    ({"functions": {"orchestrator": {"timeout": True}}},
     "functions.orchestrator.timeout: expected an integer, got bool True"),
    ({"storage": {"versioning": "yes"}}, "storage.versioning: expected a bool, got str 'yes'"),
    ({"queue": 300}, "queue: expected a mapping, got int 300"),
    ({"workflow": {"variant_sizes": 640}}, "workflow.variant_sizes: expected a list, got int 640"),
    ({"tags": {"team": 7}}, "tags: expected a mapping of strings, got dict {'team': 7}"),
])
def test_typos_and_wrong_types_are_errors_naming_their_key(raw, message):
    assert problems(raw) == [message]


@pytest.mark.parametrize(("raw", "message"), [
    ({"workflow": {"type": "EXPRESS", "execution_timeout_seconds": 900}},
     "workflow.execution_timeout_seconds: 900 is above 300, the longest an EXPRESS execution may run; set it to "
     "300 or less, or leave it unset (EXPRESS's default is 300)"),
    ({"workflow": {"type": "EXPRESS", "log_level": "OFF", "execution_timeout_seconds": 300}},
     "workflow.log_level: OFF leaves an EXPRESS workflow without any record of its executions (EXPRESS keeps no "
     "execution history); use ERROR or ALL"),
    ({"workflow": {"type": "EXPRESS", "execution_timeout_seconds": 300}, "functions": {"variants": {"timeout": 300}}},
     "workflow.execution_timeout_seconds: 300 is below what the steps may take once each (350 s: the validate, "
     "variants or metadata functions' timeouts + 10 s each); lower those timeouts (an EXPRESS execution runs 300 s "
     "at most)"),
    ({"workflow": {"execution_timeout_seconds": 0}},
     "workflow.execution_timeout_seconds: 0 is below the minimum 1 (AWS range 1 to 31,536,000)"),
    ({"workflow": {"variant_formats": ["png"]}}, "workflow.variant_formats: 'png' is not one of jpeg, webp, avif"),
    ({"workflow": {"avif_speed": 11}}, "workflow.avif_speed: 11 is above the maximum 10 (AWS range 0 to 10)"),
    ({"workflow": {"stale_after_seconds": 600}},
     "workflow.stale_after_seconds: 600 is below the execution timeout (900) + 60; the reconciler would judge "
     "images whose execution may still record them. Leave it unset for timeout + 300"),
    ({"workflow": {"variant_sizes": [640, 640]}}, "workflow.variant_sizes: [640, 640] has duplicates"),
    ({"workflow": {"allowed_formats": ["TIFF"]}},
     "workflow.allowed_formats: 'TIFF' is not one of JPEG, PNG, GIF, WEBP, HEIF"),
    ({"functions": {"orchestrator": {"batch_size": 100}}},
     "functions.orchestrator.batch_size: 100 needs batching_window_seconds >= 1 (AWS allows at most 10 "
     "without a window)"),
    ({"alarms": {"email_subscriptions": ["oncall"]}},
     "alarms.email_subscriptions: 'oncall' is not an email address"),
    ({"encryption": {"kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/abc"}},
     "encryption.kms_key_arn: only used with encryption.mode 'kms'; set mode: kms or remove the key"),
    ({"moderation": {"enabled": True}, "workflow": {"variant_formats": ["avif"]}},
     "moderation.enabled: Rekognition reads JPEG and PNG only; add jpeg to workflow.variant_formats (its "
     "smallest JPEG variant is what gets moderated)"),
    ({"moderation": {"labels": ["Violence", "Violence"]}},
     "moderation.labels: ['Violence', 'Violence'] has duplicates"),
    ({"moderation": {"labels": ["it's bad"]}},
     "moderation.labels: \"it's bad\" is not a label name (1 to 100 letters, digits, spaces and & / ( ) . -)"),
    ({"workflow": {"duplicates": "merge"}}, "workflow.duplicates: 'merge' is not one of off, flag, reuse"),
    ({"moderation": {"enabled": True}, "workflow": {"variant_sizes": [64, 32]}},
     "moderation.enabled: no variant size in workflow.variant_sizes [64, 32] reaches 80 px, Rekognition's smallest "
     "image: no image could be moderated"),
    ({"moderation": {"labels": ["Weapon Violence "]}},
     "moderation.labels: 'Weapon Violence ' has spaces at an end or doubled; Rekognition's names match exactly"),
    ({"workflow": {"near_duplicate_distance": 8}},
     "workflow.near_duplicate_distance: 8 is above the maximum 7 (AWS range 0 to 7)"),
])
def test_cross_field_rules(raw, message):
    assert problems(raw) == [message]


def test_the_workflow_types_defaults_follow_the_chosen_type_and_only_a_set_value_is_an_error():
    express = parse_settings({"workflow": {"type": "EXPRESS"}}).workflow
    assert (express.execution_timeout_seconds, express.stale_after) == (300, 600)
    standard = parse_settings({"workflow": {"type": "STANDARD"}}).workflow
    assert (standard.execution_timeout_seconds, standard.stale_after) == (900, 1200)
    chosen = parse_settings({"workflow": {"type": "EXPRESS", "execution_timeout_seconds": 240}}).workflow
    assert chosen.execution_timeout_seconds == 240
    assert parse_settings({"workflow": {"execution_timeout_seconds": 3600}}).workflow.execution_timeout_seconds \
        == 3600


def test_every_problem_is_listed_at_once():
    found = problems({"queue": {"delay_seconds": 901, "visibilty_timeout_seconds": 1},
                      "dead_letter_queue": {"max_receive_count": 0},
                      "functions": {"orchestrator": {"timeout": 901, "memory_size": "big"}},
                      "workflow": {"type": "FAST"}})
    assert [p.split(":")[0] for p in found] == [
        "queue.visibilty_timeout_seconds", "functions.orchestrator.memory_size", "queue.delay_seconds",
        "dead_letter_queue.max_receive_count", "functions.orchestrator.timeout", "workflow.type",
        "queue.visibility_timeout_seconds"]  # 300 is below the (invalid) 901 s timeout too
    assert str(ConfigError(found)).startswith("7 problem(s) in config 'image-pipeline:pipeline':\n  - ")


def test_a_label_rekognition_never_returns_is_a_warning():
    warnings = settings_warnings(parse_settings({"moderation": {"labels": ["violence", "Violence"]}}))
    assert [w for w in warnings if w.startswith("moderation.")] == [
        "moderation.labels: 'violence' starts with a small letter; Rekognition's names are capitalised "
        "(e.g. 'Violence') and match exactly, so this label would never reject an image"]


def test_pitfalls_aws_accepts_are_warnings_naming_their_key():
    s = parse_settings({"queue": {"visibility_timeout_seconds": 100}})
    assert settings_warnings(s) == [
        "queue.visibility_timeout_seconds: 100 is below 6 x functions.orchestrator.timeout + batching window "
        "(180); retried invocations may see messages reappear while still in flight",
        "queue.visibility_timeout_seconds: 100 (the dead-letter queue inherits it; or set "
        "dead_letter_queue.visibility_timeout_seconds) is below 6 x functions.dlq_processor.timeout + "
        "batching window (180); retried invocations may see messages reappear while still in flight",
        "dead_letter_queue.message_retention_seconds: 1209600 is not longer than the queue's 1209600; a "
        "message keeps its original enqueue time in the DLQ and may expire there unseen",
        "dead_letter_queue.max_receive_count: 3 is below 5, the Lambda docs' minimum for queues that feed "
        "Lambda; throttled invocations may send healthy messages to the DLQ",
    ]


def test_batching_window_counts_toward_the_visibility_warning():
    s = parse_settings({"functions": {"orchestrator": {"batching_window_seconds": 121}},
                        "dead_letter_queue": {"max_receive_count": 5, "message_retention_seconds": 1_209_600},
                        "queue": {"message_retention_seconds": 345_600}})
    assert [w.split(":")[0] for w in settings_warnings(s)] == ["queue.visibility_timeout_seconds"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_stack_file_is_valid(stack):
    parse_settings(read_stack_settings(stack, ROOT))


def test_stack_files_are_read_from_the_project_folder_the_caller_names(tmp_path):
    (tmp_path / "Pulumi.edge.yaml").write_text("config:\n  aws:region: us-east-2\n"
                                               "  image-pipeline:pipeline:\n    queue: {delay_seconds: 5}\n")
    (tmp_path / "Pulumi.bare.yaml").write_text("config: {}\n")
    assert read_stack_settings("edge", tmp_path) == {"queue": {"delay_seconds": 5}}
    assert read_stack_settings("bare", tmp_path) == {}
    assert (stack_names(tmp_path), stack_region("edge", tmp_path), stack_region("bare", tmp_path)) == (
        ["bare", "edge"], "us-east-2", None)
    with pytest.raises(UnknownStack, match=rf"no stack 'dev': there is no Pulumi.dev.yaml in {tmp_path}; the stacks "
                                           "here are bare, edge"):
        read_stack_settings("dev", tmp_path)


def test_staging_and_prod_are_hardened_and_dev_is_not():
    dev, prod = (parse_settings(read_stack_settings(s, ROOT)) for s in ("dev", "prod"))
    assert len(settings_warnings(dev)) == 2
    assert settings_warnings(prod) == []
    assert prod.storage.point_in_time_recovery and prod.storage.protect
    assert prod.dlq.message_retention_seconds > prod.queue.message_retention_seconds
    assert prod.alarms.email_subscriptions


def test_reserved_concurrency_beyond_the_accounts_quota_is_a_warning_saying_how_to_raise_it():
    prod = read_stack_settings("prod", ROOT)
    new_account = parse_settings(prod | {"functions": prod["functions"] | {"account_concurrency_quota": 10}})
    assert settings_warnings(new_account) == [
        "functions.account_concurrency_quota: the functions reserve 65 concurrent executions; AWS keeps 100 "
        "unreserved, so the account needs a quota of at least 165 (it is 10). Check with `aws lambda "
        "get-account-settings`; raise it in Service Quotas (Lambda, Concurrent executions)"]
    assert settings_warnings(parse_settings(prod)) == []  # the default quota, 1,000, is enough


def test_a_customer_key_of_ones_own_must_let_every_service_principal_use_it():
    s = parse_settings({"encryption": {"mode": "kms", "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/abc"},
                        "dead_letter_queue": {"max_receive_count": 5, "message_retention_seconds": 1_209_600},
                        "queue": {"message_retention_seconds": 345_600}})
    [warning] = settings_warnings(s)
    assert "cloudwatch.amazonaws.com" in warning and "events.amazonaws.com" in warning


@pytest.mark.parametrize(("raw", "message"), [
    ({"encryption": {"mode": "kms", "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:alias/images"}},
     "encryption.kms_key_arn: 'arn:aws:kms:eu-west-1:123456789012:alias/images' is not a KMS key ARN "
     "(arn:aws:kms:<region>:<account>:key/<id>; an alias ARN will not do: IAM grants name keys)"),
    ({"alarms": {"period_seconds": 45}}, "alarms.period_seconds: 45 must be 10, 20, 30 or a multiple of 60"),
    ({"alarms": {"period_seconds": 3000, "evaluation_periods": 30}},
     "alarms.evaluation_periods: 30 x period_seconds 3000 = 90000 s; CloudWatch allows at most 86,400 s for this "
     "period"),
    ({"alarms": {"period_seconds": 86_400, "evaluation_periods": 8}},
     "alarms.evaluation_periods: 8 x period_seconds 86400 = 691200 s; CloudWatch allows at most 604,800 s for "
     "this period"),
    ({"tags": {"aws:owner": "me"}}, "tags.aws:owner: keys starting with 'aws:' are reserved by AWS"),
    ({"storage": {"variants_cache_control": "x" * 5000}},
     "storage.variants_cache_control: 1 to 256 characters (it travels in the variants function's environment, "
     "which Lambda limits to 4 KB)"),
    ({"tags": {"team": "images!#"}},
     "tags.team: use only letters, digits, spaces and _ . : / = + - @ (SQS, SNS and IAM refuse others)"),
])
def test_values_aws_would_refuse_at_deploy_are_caught_at_preview(raw, message):
    assert problems(raw) == [message]


def test_a_component_name_some_aws_name_refuses_is_a_problem_naming_the_rule():
    from components.settings.names import name_problems

    assert name_problems("images-prod") == []
    assert name_problems("images_prod") == [
        "component name: 'images_prod' may hold only letters, digits and hyphens, starting with a letter or digit "
        "(S3 bucket names, and the SQS, Lambda and EventBridge names made from it, allow nothing else)"]


@pytest.mark.parametrize(("raw", "key"), [
    ({"encryption": {"mode": "kms", "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/abc\n"}},
     "encryption.kms_key_arn"),
    ({"alarms": {"email_subscriptions": ["ops@example.com\n"]}}, "alarms.email_subscriptions"),
    ({"moderation": {"enabled": True, "labels": ["Violence\n"]}}, "moderation.labels"),
    ({"network": {"subnet_ids": ["subnet-0123456789abcdef0\n", "subnet-0123456789abcdef1"],
                  "security_group_ids": ["sg-0123456789abcdef0"]}}, "network.subnet_ids"),
    ({"network": {"subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                  "security_group_ids": ["sg-0123456789abcdef0\n"]}}, "network.security_group_ids"),
])
def test_a_value_ending_in_a_newline_is_refused_naming_its_key(raw, key):
    """`$` matches before a final newline: every pattern is matched whole."""
    assert any(problem.startswith(key) for problem in problems(raw)), problems(raw)


def test_a_component_name_ending_in_a_newline_is_refused():
    from components.settings.names import name_problems

    assert name_problems("images-prod\n")


@pytest.mark.parametrize(("name", "prefix"), [("xn--images", "xn--"), ("sthree-images", "sthree-"),
                                              ("Amzn-S3-Demo-images", "amzn-s3-demo-")])
def test_a_component_name_starting_with_a_prefix_s3_reserves_is_refused(name, prefix):
    from components.settings.names import name_problems

    assert name_problems(name) == [f"component name: {name!r} starts with {prefix!r}, which S3 reserves: its "
                                   "buckets' names start with the component's name"]
