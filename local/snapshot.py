"""`serve --state DIR`: keep the buckets and the status table across restarts.

moto's server keeps everything in memory and has no persistence of its own, so `serve` saves
what a user would miss (uploads, variants, statuses) when it stops and loads it when it starts:

    DIR/s3/<bucket>/<key>      every object of the input and output buckets
    DIR/status.json            every status item, in DynamoDB's JSON

Queues, executions and alerts start empty: in-flight messages of a stopped emulator are gone.
So that no upload is lost with them, `serve` announces again (as a new upload of the same
object) every restored upload whose image's status does not reflect it: no status item, an
unfinished one (`processing`, `queued`), or one recording other content under the same key.
Everything else is not processed again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from components.environment import UPLOAD_PREFIX
from handlers.errors import InvalidUploadKey
from handlers.status import plain_item
from handlers.uploads import parse_key
from local.stack import LocalPipeline

TERMINAL = ("completed", "failed")


def save(directory: Path, s3: Any, dynamodb: Any, pipeline: LocalPipeline) -> dict[str, int]:
    """Write the buckets and the status table under `directory` (replacing what was there)."""
    objects = 0
    s3_dir = directory / "s3"
    shutil.rmtree(s3_dir, ignore_errors=True)
    for bucket in (pipeline.input_bucket, pipeline.output_bucket):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                target = s3_dir / bucket / entry["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
                objects += 1
    items = [item for page in dynamodb.get_paginator("scan").paginate(TableName=pipeline.table)
             for item in page["Items"]]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "status.json").write_text(json.dumps(items))
    return {"objects": objects, "items": len(items)}


def load(directory: Path, s3: Any, dynamodb: Any, pipeline: LocalPipeline) -> dict[str, int]:
    """Put back what `save` wrote; nothing if `directory` holds no snapshot."""
    objects = 0
    for bucket in (pipeline.input_bucket, pipeline.output_bucket):
        root = directory / "s3" / bucket
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.is_file():
                s3.put_object(Bucket=bucket, Key=path.relative_to(root).as_posix(), Body=path.read_bytes())
                objects += 1
    status_file = directory / "status.json"
    items = json.loads(status_file.read_text()) if status_file.is_file() else []
    for item in items:
        dynamodb.put_item(TableName=pipeline.table, Item=item)
    return {"objects": objects, "items": len(items)}


def unreflected_uploads(s3: Any, dynamodb: Any, pipeline: LocalPipeline) -> list[str]:
    """Upload keys in the input bucket whose image's status does not record them as finished."""
    items = {(i["userId"], i["imageId"]): i for i in (
        plain_item(raw) for page in dynamodb.get_paginator("scan").paginate(TableName=pipeline.table)
        for raw in page["Items"])}
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=pipeline.input_bucket, Prefix=UPLOAD_PREFIX):
        for entry in page.get("Contents", []):
            try:
                upload = parse_key(entry["Key"])
            except InvalidUploadKey:
                continue  # rejected when it was uploaded; rejected again would change nothing
            item = items.get((upload.user_id, upload.image_id))
            same_key = item is not None and item.get("uploadKey") == entry["Key"]
            if item is None or item.get("status") not in TERMINAL or (
                    same_key and item.get("uploadVersion") != entry["ETag"].strip('"')):
                keys.append(entry["Key"])
    return keys
