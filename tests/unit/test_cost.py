"""`tools cost` and `tools capacity`: hand-computed cases, and the goals they are held to."""

from __future__ import annotations

import dataclasses

import pytest

from components import Settings, parse_settings, read_stack_settings
from components.settings.prices import load_prices
from tests.conftest import ROOT
from tools import capacity, cost
from tools.__main__ import main, per_second

ZERO = {"aws_call_ms": 0, "dynamodb_call_ms": 0, "s3_mb_per_s": 1e12, "workflow_overhead_ms": 0,
        "lambda_platform_log_bytes": 0, "moderation_ms": 0}
PROFILE = {"photo": {"megapixels": 10.0, "bytes": 1_000_000},
           "cpu_ms": {"validate": 0, "metadata": 0, "fingerprint": 0, "orchestrator": 0, "orchestrator_original": 0,
                      "s3_event_handler": 0, "s3_event_handler_original": 0,
                      "variants": {"jpeg": 1769.0, "webp": 2769.0, "avif": 5769.0},
                      "variants_160": 769.0},  # decoding; the 1,000 ms more of "jpeg" grow with the pixels
           "variant_sizes": [1280, 640, 160], "variant_bytes": {"jpeg": 1_024_000, "webp": 512_000, "avif": 256_000},
           "status_item_bytes": 1500, "log_bytes_per_invocation": 0, "custom_metrics": 10,
           "standard_transitions": {"plain": 7, "moderation": 11}, "assumptions": ZERO}
PRICES = load_prices()


def settings(**workflow) -> Settings:
    return parse_settings({"workflow": {"duplicates": "off"} | workflow,
                           "functions": {"variants": {"memory_size": 1769, "architecture": "x86_64"}}})


def test_lambda_time_scales_with_the_memorys_share_of_one_vcpu_and_no_further():
    assert cost.lambda_seconds(1000, 0, 1769) == pytest.approx(1.0)
    assert cost.lambda_seconds(1000, 0, 884.5) == pytest.approx(2.0)
    assert cost.lambda_seconds(1000, 50, 3538) == pytest.approx(1.05)  # single-threaded: 2 vCPUs buy nothing


def test_a_hand_computed_standard_image():
    report = cost.estimate(settings(), profile=PROFILE, prices=PRICES)
    # variants: 1,769 ms of CPU at 1,769 MB (one vCPU) = 1.769 s x 1.7275 GB x $0.0000166667
    variants = next(d for s, w, d in report.lines if w.startswith("variants duration"))
    assert variants == pytest.approx(1.769 * 1769 / 1024 * 0.0000166667)
    assert report.per_million("Step Functions") == pytest.approx(7 * 25.0)
    assert next(d for s, w, d in report.lines if w == "PUT 3 variants") == pytest.approx(3 * 0.000005)
    # status: MarkProcessing 1 unit + RecordCompleted 2 units (1,500 bytes); no duplicate index
    assert report.per_million("DynamoDB") == pytest.approx(3 * 0.7068)
    # send + receive and delete per batch of 10
    idle = 2 * 5 * 30 * 86_400 / 20 * 0.40 / 1e6  # two queues, five long polls of 20 s each, a month
    assert report.per_million("SQS") == pytest.approx(1.2 * 0.40 + idle)


def test_the_duplicate_index_costs_what_the_bench_measured_one_bucket_per_band_scaled_to_its_entries():
    measured = {"claim_write_units": 1, "status_reads": 4, "bucket_bytes": 1800, "near_duplicate_candidates": 16}
    # Distance 4: 5 buckets read (1 unit each) and written (1,800 bytes: 2 units each), the claim written once.
    assert cost.index_units(settings(duplicates="flag"), measured) == (1 + 5 * 2, 4 + 5, 4 + 1 + 1 + 5)
    # Distance 7: 8 buckets; 8 entries a bucket: 900 bytes, 1 unit each; 32 entries: 3,600 bytes, 4 units.
    assert cost.index_units(settings(duplicates="flag", near_duplicate_distance=7, near_duplicate_candidates=8),
                            measured)[:2] == (1 + 8, 4 + 8)
    assert cost.index_units(settings(duplicates="flag", near_duplicate_candidates=32), measured)[0] == 1 + 5 * 4
    assert cost.index_units(settings(duplicates="flag", near_duplicate_candidates=32),
                            measured | {"bucket_bytes": 3000})[0] == 1 + 5 * 4  # 6,000 bytes: capped at 4 KB
    # The estimate prices the committed measurement (`python -m bench duplicates`).
    writes, reads, _ = cost.index_units(settings(duplicates="flag"), cost.load("index_profile.json"))
    assert cost.status_units(settings(duplicates="flag"), PROFILE) == (3 + writes, reads)
    report = cost.estimate(settings(duplicates="flag"), profile=PROFILE, prices=PRICES)
    assert ("DynamoDB", f"{3 + writes} write units, {reads} read units") in [(s, w) for s, w, d in report.lines]


def test_express_is_priced_by_requests_and_duration_in_100_ms_and_64_mb_steps():
    report = cost.estimate(settings(type="EXPRESS", execution_timeout_seconds=300), profile=PROFILE, prices=PRICES)
    # validate 0 s + variants 1.769 s (metadata runs beside) -> billed 1.8 s x 0.0625 GB x $0.00001667, + $1 a million
    assert report.per_million("Step Functions") == pytest.approx(1.0 + 1.8 * 0.0625 * 0.00001667 * 1e6)
    assert report.per_million("DynamoDB") == pytest.approx(4 * 0.7068)  # + the orchestrator's queued mark


def test_formats_add_their_measured_encode_time_and_bytes():
    jpeg = cost.estimate(settings(variant_formats=["jpeg"]), profile=PROFILE, prices=PRICES)
    both = cost.estimate(settings(variant_formats=["jpeg", "webp"]), profile=PROFILE, prices=PRICES)
    assert both.per_million("Lambda") - jpeg.per_million("Lambda") == pytest.approx(
        1.0 * 1769 / 1024 * 0.0000166667 * 1e6)  # webp adds 1,000 ms of CPU: 1 s at one vCPU
    assert both.per_million("S3") - jpeg.per_million("S3") == pytest.approx(
        3 * 5.0 + 0.512 / 1024 * 0.023 * 1e6)  # 3 more PUTs and 512 KB more a month


def test_variants_time_and_bytes_grow_with_their_pixels_but_not_the_decode():
    base = cost.estimate(settings(), profile=PROFILE, prices=PRICES)
    double = cost.estimate(settings(variant_sizes=[1280, 640, 160], square_sizes=[1280]), profile=PROFILE,
                           prices=PRICES)
    area = 1 + 1280 * 1280 / sum(side * side * 3 / 4 for side in (1280, 640, 160))
    assert double.seconds["variants"] == pytest.approx((769 + 1000 * area) / 1000)
    assert base.seconds["variants"] == pytest.approx(1.769)


def test_a_small_volume_shows_what_is_fixed_and_the_bill():
    from tools.cost import render

    report = cost.estimate(settings(), images_per_month=1, profile=PROFILE, prices=PRICES)
    text = render(settings(), "dev", {"STANDARD": report}, 10)
    assert "Cost of 1 image a month" in text and f"${report.fixed_per_month():,.2f} a month" in text
    assert report.fixed_per_month() > 10  # alarms, metrics, the dashboard, the key, idle polling


def test_a_vpc_adds_its_interface_endpoints_by_the_hour_and_their_bytes_by_the_gb():
    net = dataclasses.replace(settings(), network=parse_settings(
        {"network": {"create_vpc": True, "availability_zones": 3}}).network)
    report = cost.estimate(net, images_per_month=1_000_000, profile=PROFILE, prices=PRICES)
    # 5 interface endpoints (sqs, states, sns, logs, monitoring) x 3 AZs x 730 h x $0.01
    assert report.monthly[-1] == ("VPC endpoints", "5 interface endpoints x 3 AZs x 730 h", pytest.approx(109.5))
    # SendMessage + StartExecution, each 2,500 bytes of HTTPS and a 700-byte message: 6,400 bytes x $0.01 per GB
    assert report.per_million("VPC endpoints") == pytest.approx(109.5 + 6_400 / 1e9 * 0.01 * 1e6)
    plain = cost.estimate(settings(), images_per_month=1_000_000, profile=PROFILE, prices=PRICES)
    assert "VPC endpoints" not in plain.services()
    assert report.per_million() - plain.per_million() == pytest.approx(report.per_million("VPC endpoints"))
    own = dataclasses.replace(settings(), network=parse_settings({"network": {
        "subnet_ids": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
        "security_group_ids": ["sg-0a1b2c3d4e5f60001"], "endpoints": False}}).network)
    assert "VPC endpoints" not in cost.estimate(own, profile=PROFILE, prices=PRICES).services()


def test_uploads_above_max_pixels_are_refused_not_priced():
    with pytest.raises(ValueError, match=r"workflow\.max_pixels"):
        cost.estimate(settings(), megapixels=60, profile=PROFILE, prices=PRICES)


def test_the_recommended_production_stack_costs_at_most_a_third_of_the_original_design_per_image():
    """The same work (no duplicate index: the original had none; no moderation), processing only."""
    prod = parse_settings(read_stack_settings("prod", ROOT))
    plain = dataclasses.replace(prod, moderation=dataclasses.replace(prod.moderation, enabled=False),
                                workflow=dataclasses.replace(prod.workflow, duplicates="off"))
    ours = cost.estimate(plain).per_million(processing=True)
    original = cost.estimate(dataclasses.replace(plain, workflow=dataclasses.replace(plain.workflow, type="STANDARD")),
                             design="original").per_million(processing=True)
    assert ours <= original / 3, (ours, original)


def test_capacity_names_the_limit_that_binds_first_with_its_headroom():
    standard = capacity.limits(settings(), rate=100, profile=PROFILE)
    assert (standard[0].name, standard[0].headroom) == ("Step Functions state transitions (STANDARD)",
                                                         pytest.approx(1500 / 700))
    express = capacity.limits(settings(type="EXPRESS", execution_timeout_seconds=300), rate=100, profile=PROFILE)
    assert all("transitions" not in row.name for row in express)
    assert next(r for r in express if "StartExecution" in r.name).limit == 6000


def test_a_throttled_queue_grows_and_its_age_alarm_fires_when_the_model_says():
    backlog = capacity.throttled_backlog(settings(), rate=500, served=300)
    assert backlog["backlog_per_minute"] == 12_000
    assert backlog["age_alarm_after_s"] == pytest.approx(300 / 0.4)  # oldest age grows 0.4 s per second
    assert backlog["dead_letter_after_s"] == 3 * 300


def test_rates_are_read_per_second_or_per_minute():
    assert per_second("500/s") == 500 and per_second("30000/min") == 500 and per_second("12") == 12
    with pytest.raises(Exception, match="500/s"):
        per_second("5/fortnight")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_commands_answer_for_every_stack(stack, capsys):
    assert main(["cost", "--stack", stack]) == 0 and "| **total** |" in capsys.readouterr().out
    assert main(["capacity", "--stack", stack, "--rate", "100/s"]) == 0
    out = capsys.readouterr().out
    assert "Binds first:" in out and ("With an EXPRESS workflow" in out or "With a STANDARD workflow" in out)


def test_capacity_counts_rekognition_reserved_concurrency_and_the_region():
    moderated = parse_settings({"moderation": {"enabled": True}})
    assert capacity.limits(moderated, rate=100, profile=PROFILE)[0].name == "Rekognition DetectModerationLabels"
    reserved = parse_settings({"functions": {"orchestrator": {"reserved_concurrency": 2}}})
    row = next(r for r in capacity.limits(reserved, rate=10, profile=PROFILE) if r.name.startswith("Orchestrator"))
    free = next(r for r in capacity.limits(settings(), rate=10, profile=PROFILE) if r.name.startswith("Orchestrator"))
    assert row.limit == pytest.approx(free.limit * 2 / 10)  # 2 invocations at once instead of 10
    elsewhere = capacity.limits(settings(), rate=100, profile=PROFILE, region="ap-south-1")
    assert next(r for r in elsewhere if "transitions" in r.name).limit == 500


def test_capacity_says_what_each_exceeded_limit_does():
    text = capacity.render(parse_settings({"moderation": {"enabled": True}}), "any", 1000)
    for name in ("Rekognition DetectModerationLabels:", "state transitions (STANDARD):", "StartExecution (STANDARD):"):
        assert name in text
    assert "dead-lettered" in text and "one SNS alert" in text


def test_reserved_concurrency_needs_the_100_lambda_keeps_unreserved_and_fails_the_deploy_on_a_new_account():
    prod = read_stack_settings("prod", ROOT)  # orchestrator 60 + DLQ processor 5 reserved
    rows = capacity.limits(parse_settings(prod), rate=10, profile=PROFILE)
    reserved = next(r for r in rows if r.name.startswith("Lambda reserved concurrency"))
    assert (reserved.demand, reserved.limit) == (165, 1000)
    shared = next(r for r in rows if r.name.startswith("Lambda concurrency"))
    assert shared.limit == 1000 - 65  # the functions without a reservation share what is left
    quotas = cost.load("quotas.json")["lambda"]
    assert (quotas["concurrent_executions"], quotas["new_account_concurrent_executions"]) == (1000, 10)
    new = parse_settings(prod | {"functions": prod["functions"] | {"account_concurrency_quota": 10}})
    first = capacity.limits(new, rate=10, profile=PROFILE)[0]
    assert (first.name, first.demand, first.limit) == ("Lambda reserved concurrency (reserved + 100 unreserved)",
                                                       165, 10)
    text = capacity.render(new, "prod", 10)
    assert ("- Lambda reserved concurrency (reserved + 100 unreserved): `pulumi up` fails: Lambda refuses a "
            "reservation that leaves less than 100 of the account's 10 concurrent executions unreserved "
            "(InvalidParameterValueException); raise the quota to at least 165 first") in text


def test_capacity_states_the_quotas_new_accounts_start_with():
    text = capacity.render(parse_settings(read_stack_settings("prod", ROOT)), "prod", 10)
    assert ("New accounts start lower: Lambda 10 concurrent executions (this stack needs at least 165: 65 reserved "
            "+ 100 unreserved), raised automatically with use; `aws lambda get-account-settings` and Service Quotas "
            "show yours.") in text  # EXPRESS: no state-transition quota
    assert ("New accounts start lower: Lambda 10 concurrent executions and reduced Step Functions state transitions, "
            "raised automatically with use") in capacity.render(parse_settings({}), "any", 10)


def test_a_moderated_image_pays_for_publishing_its_staged_variants():
    """With moderation, each variant is staged, then copied to `variants/` by the moderation function."""
    plain = cost.estimate(settings(), profile=PROFILE, prices=PRICES)
    moderated = cost.estimate(dataclasses.replace(settings(), moderation=parse_settings(
        {"moderation": {"enabled": True}}).moderation), profile=PROFILE, prices=PRICES)
    assert next(d for s, w, d in moderated.lines if w == "COPY 3 staged variants to variants/") == pytest.approx(
        3 * 0.000005)  # a COPY is priced as a PUT; the staged copy's DELETE is free
    assert "quarantine requests" in {w for _, w, _ in moderated.lines}
    assert "quarantine requests" not in {w for _, w, _ in plain.lines}
    assert moderated.per_million("Step Functions") == pytest.approx(11 * 25.0)


def test_a_slow_rate_is_shown_with_its_digits_not_as_zero():
    text = capacity.render(parse_settings(read_stack_settings("prod", ROOT)), "prod", 5 / 3600)  # --rate 5/h
    assert text.splitlines()[0] == "Capacity of stack prod (EXPRESS, eu-west-1) at 0.0014 images/s"
