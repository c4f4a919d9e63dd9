"""`python -m tools smoke`: prove a fresh deployment works, end to end, in one command.

Uploads one valid image per format and one corrupt file under `uploads/smoke-<run>/`, waits for
each to become terminal, checks the variants exist and decode at the configured sizes and that
the corrupt one failed with its reason, checks the alerts topic delivers to a subscriber (a
temporary SQS subscription), prints a table, and deletes what it created (`--keep` leaves it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from botocore.exceptions import ClientError
from PIL import Image, ImageDraw

from components import parse_settings, read_stack_settings
from handlers.lifecycle.duplicates import index_keys
from handlers.lifecycle.hash_bands import BAND_COUNTS
from handlers.lifecycle.status import get_item
from tools import PROJECT_DIR, arguments, resources
from tools.aws import connect
from tools.command import DEPLOYED_STACK, Command
from tools.status import plain_item

FORMATS = {"jpg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}
CORRUPT = b"\xff\xd8\xff\xe0 this JPEG stops right after its first marker"
DENIED = {"AccessDenied", "AccessDeniedException", "AuthorizationError"}


@dataclass
class Check:
    key: str
    expect: str  # "completed" or "failed"
    uploaded_at: float
    status: str = "pending"
    detail: str = ""
    seconds: float | None = None
    ok: bool = False


@dataclass
class SmokeResult:
    checks: list[Check] = field(default_factory=list)
    alerts: str = "not checked"
    alerts_ok: bool = True

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks) and self.alerts_ok

    def table(self) -> str:
        rows = [f"{'upload':<44} {'expected':<10} {'status':<10} {'latency':>8}  detail"]
        for c in self.checks:
            latency = f"{c.seconds:.1f} s" if c.seconds is not None else "-"
            rows.append(f"{c.key:<44} {c.expect:<10} {c.status:<10} {latency:>8}  {'ok' if c.ok else 'FAIL'}: "
                        f"{c.detail}")
        rows.append(f"alerts: {self.alerts}")
        rows.append("smoke test passed" if self.ok else "smoke test FAILED")
        return "\n".join(rows)


def sample(fmt: str) -> bytes:
    image = Image.new("RGB", (1600, 1200), (30, 90, 160))
    ImageDraw.Draw(image).ellipse((300, 200, 1300, 1000), fill=(240, 200, 40))
    buffer = BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _check_item(session: Any, check: Check, item: dict[str, Any], output_bucket: str | None,
                sizes: list[int]) -> None:
    check.status = item["status"]
    if check.expect == "failed":  # rejected as the bad file it is, not failed by a crash
        check.ok = item["status"] == "failed" and item.get("error") == "InvalidImage" and bool(item.get("reason"))
        check.detail = f"{item.get('error', '?')}: {item.get('reason', 'no reason recorded')}"
        return
    if item["status"] != "completed":
        check.detail = item.get("reason", "")
        return
    s3, problems = session.client("s3"), []
    variants = json.loads(item.get("variants", "[]"))
    long_edge = max(int(item["width"]), int(item["height"]))
    for size in sizes:
        found = [v for v in variants if v["size"] == size]
        if not found:
            problems.append(f"no {size} px variant")
        for variant in found:
            body = s3.get_object(Bucket=output_bucket, Key=variant["key"])["Body"].read()
            with Image.open(BytesIO(body)) as decoded:
                if max(decoded.size) != min(size, long_edge):
                    problems.append(f"{variant['key']} is {decoded.size}, expected a {min(size, long_edge)} px edge")
    check.ok = not problems
    check.detail = "; ".join(problems) or f"{len(variants)} variants decode at {sizes}"


def check_alerts(session: Any, topic_arn: str, sleep: Callable[[float], None], timeout: float) -> tuple[bool, str]:
    """Publish a test message and receive it on a temporary SQS subscription; False only on a real failure."""
    sqs, sns = session.client("sqs"), session.client("sns")
    try:
        url = sqs.create_queue(QueueName=f"image-pipeline-smoke-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    except ClientError as error:  # only our own missing permission excuses not checking
        if error.response["Error"]["Code"] in DENIED:
            return True, f"cannot check (no permission to create a queue: {error.response['Error']['Code']})"
        raise
    subscription = None
    try:
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        only_the_topic = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(only_the_topic)})
        subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                                     Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
        marker = f"image-pipeline smoke test {uuid.uuid4().hex}"
        sns.publish(TopicArn=topic_arn, Subject="image-pipeline: smoke test", Message=marker)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])
            if any(marker in m["Body"] for m in messages):
                return True, "the topic delivered a test message to a subscriber"
            sleep(1)
        return False, f"a test message published to {topic_arn} was not delivered within {timeout:.0f} s"
    except ClientError as error:  # the topic is missing, its key unusable, publishing refused: alerts are broken
        return False, f"the topic did not take a test message ({error.response['Error']['Code']}: " \
                      f"{error.response['Error']['Message']})"
    finally:
        if subscription and subscription != "pending confirmation":
            sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=url)


def smoke(session: Any, *, input_bucket: str, output_bucket: str, table: str, topic_arn: str | None,
          sizes: list[int], timeout: float = 600, keep: bool = False, sleep: Callable[[float], None] = time.sleep,
          on_progress: Callable[[int, int], None] | None = None) -> SmokeResult:
    run = f"smoke-{uuid.uuid4().hex[:10]}"
    s3, dynamodb = session.client("s3"), session.client("dynamodb")
    uploads = {f"uploads/{run}/{ext}-image.{ext}": sample(fmt) for ext, fmt in FORMATS.items()}
    uploads[f"uploads/{run}/corrupt.jpg"] = CORRUPT
    result = SmokeResult()
    deadline = time.monotonic() + timeout
    try:
        for key, data in uploads.items():
            s3.put_object(Bucket=input_bucket, Key=key, Body=data)
            result.checks.append(Check(key, "failed" if data is CORRUPT else "completed", time.monotonic()))
        while time.monotonic() < deadline and any(c.status in ("pending", "queued", "processing")
                                                  for c in result.checks):
            for check in result.checks:
                if check.status not in ("pending", "queued", "processing"):
                    continue
                image_id = check.key.rsplit("/", 1)[1].rsplit(".", 1)[0]
                raw = dynamodb.get_item(TableName=table, ConsistentRead=True, Key={
                    "imageId": {"S": image_id}, "userId": {"S": run}}).get("Item")
                if raw:
                    item = plain_item(raw)
                    check.status = item["status"]
                    if check.status in ("completed", "failed"):
                        check.seconds = time.monotonic() - check.uploaded_at
                        _check_item(session, check, item, output_bucket, sizes)
            if on_progress:
                on_progress(sum(c.status in ("completed", "failed") for c in result.checks), len(result.checks))
            if any(c.status in ("pending", "queued", "processing") for c in result.checks):
                sleep(2)
        for check in result.checks:
            if check.status in ("pending", "queued", "processing"):
                check.detail = f"still {check.status} after {timeout:.0f} s"
        if topic_arn:
            result.alerts_ok, result.alerts = check_alerts(session, topic_arn, sleep, timeout=60)
        else:
            result.alerts = "cannot check (no topic_arn among the stack outputs)"
    finally:
        if not keep:
            clean_up(session, run, list(uploads), input_bucket, output_bucket, table)
    return result


def _delete_prefix(s3: Any, bucket: str, prefix: str) -> None:
    """Every object and every version under `prefix` (versioned buckets keep deleted objects otherwise)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])


def clean_up(session: Any, run: str, keys: list[str], input_bucket: str, output_bucket: str, table: str) -> None:
    """Uploads (all versions), variants, status items and their duplicates' index items of this run. Uploads
    still queued when the run stopped early may be processed later and leave `smoke-...` items: run it
    again, or delete them."""
    s3, dynamodb = session.client("s3"), session.client("dynamodb")
    _delete_prefix(s3, input_bucket, f"uploads/{run}/")
    _delete_prefix(s3, output_bucket, f"variants/{run}/")
    for key in keys:
        image_id = key.rsplit("/", 1)[1].rsplit(".", 1)[0]
        image_key = {"imageId": {"S": image_id}, "userId": {"S": run}}
        item = get_item(dynamodb, table, image_id, run) or {}
        if "sha256" in item and "phash" in item:  # its duplicates' claim and buckets, whatever the stack's distance
            for index_key in index_keys(run, item["sha256"]["S"], item["phash"]["S"], BAND_COUNTS):
                dynamodb.delete_item(TableName=table, Key=index_key)
        dynamodb.delete_item(TableName=table, Key=image_key)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    resources.add_arguments(parser)
    parser.add_argument("--timeout", type=arguments.positive, default=600.0, help="seconds to wait (default 600)")
    parser.add_argument("--keep", action="store_true", help="leave the test uploads, variants and items")
    parser.add_argument("--sizes", type=arguments.sizes,
                        help="variant sizes to expect, e.g. 1280,640,160 (default: the stack's)")


def run_smoke(args: argparse.Namespace, session: Any = None) -> SmokeResult:
    """`smoke` against the stack the arguments name, expecting its variant sizes (`--sizes`, else its settings)."""
    found = resources.resolve(args)
    found.need("input_bucket", "output_bucket", "table")
    if args.sizes:
        sizes = args.sizes
    else:
        stack = args.stack.rsplit("/", 1)[-1] if args.stack else None  # `org/dev` reads Pulumi.dev.yaml
        try:
            sizes = parse_settings(read_stack_settings(stack, PROJECT_DIR) if stack else {}).workflow.variant_sizes
        except FileNotFoundError:
            raise resources.ResourceError(f"no Pulumi.{stack}.yaml here to read the variant sizes from: run from "
                                          "the project folder, or pass --sizes 1280,640,160") from None
    return smoke(connect(found, session), input_bucket=found.input_bucket, output_bucket=found.output_bucket,
                 table=found.table, topic_arn=found.topic_arn, sizes=sizes, timeout=args.timeout,
                 keep=args.keep, on_progress=lambda done, total: print(
                     f"\r  {done}/{total} terminal", end="", file=sys.stderr, flush=True))


def run(args: argparse.Namespace) -> int:
    """Prints the table; exit code 0 only if every check held."""
    result = run_smoke(args)
    print(f"\n{result.table()}")
    return 0 if result.ok else 1


COMMAND = Command("smoke", "upload test images to a deployed stack and check each ends right", DEPLOYED_STACK,
                  add_arguments, run)
