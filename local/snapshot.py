"""`serve --state DIR`: keep the buckets and the status table across restarts.

moto's server keeps everything in memory and has no persistence of its own, so `serve` saves
what a user would miss (uploads, variants, statuses) when it stops and loads it when it starts:

    DIR/snapshot/manifest.json   every object: bucket, key, ETag, time, content type, metadata
    DIR/snapshot/objects/<n>     the objects' bytes (numbered: keys never become paths)
    DIR/snapshot/status.json     every status item, in DynamoDB's JSON

A save is written beside the last one and swapped in only when complete, so a save that is
interrupted (a third Ctrl-C, a full disk) leaves the previous snapshot as it was. Objects come
back with their ETag and time, so the status items' upload versions still name them.

Queues, executions and alerts start empty: in-flight messages of a stopped emulator are gone.
So that no upload is lost with them, `serve` announces again (as a new upload of the same
object) each image's newest upload if the image's status does not record it as finished.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from moto.s3.models import s3_backends

from components.environment import UPLOAD_PREFIX
from handlers.errors import InvalidUploadKey
from handlers.status import plain_item
from handlers.uploads import parse_key
from local.stack import LocalPipeline

ACCOUNT = "123456789012"
TERMINAL = ("completed", "failed")
KEPT_HEADERS = ("ContentType", "CacheControl", "ContentEncoding", "ContentDisposition", "Metadata")


def save(directory: Path, s3: Any, dynamodb: Any, pipeline: LocalPipeline) -> dict[str, int]:
    """Write the buckets and the status table to `directory/snapshot`, replacing the last save at the end."""
    new, current, old = directory / "snapshot.new", directory / "snapshot", directory / "snapshot.old"
    shutil.rmtree(new, ignore_errors=True)
    (new / "objects").mkdir(parents=True)
    manifest = []
    for bucket in (pipeline.input_bucket, pipeline.output_bucket):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=entry["Key"])
                (new / "objects" / str(len(manifest))).write_bytes(got["Body"].read())
                manifest.append({"bucket": bucket, "key": entry["Key"], "etag": entry["ETag"].strip('"'),
                                 "lastModified": entry["LastModified"].isoformat(),
                                 **{h: got[h] for h in KEPT_HEADERS if got.get(h)}})
    items = [item for page in dynamodb.get_paginator("scan").paginate(TableName=pipeline.table)
             for item in page["Items"]]
    (new / "manifest.json").write_text(json.dumps(manifest))
    (new / "status.json").write_text(json.dumps(items))
    shutil.rmtree(old, ignore_errors=True)
    if current.exists():
        current.rename(old)
    new.rename(current)
    shutil.rmtree(old, ignore_errors=True)
    return {"objects": len(manifest), "items": len(items)}


def load(directory: Path, s3: Any, dynamodb: Any, pipeline: LocalPipeline) -> dict[str, Any]:
    """Put back what `save` wrote (the previous save if the last swap was cut short); nothing if none."""
    snapshot = next((d for d in (directory / "snapshot", directory / "snapshot.old")
                     if (d / "manifest.json").is_file()), None)
    if snapshot is None:
        return {"objects": 0, "items": 0, "manifest": []}
    manifest = json.loads((snapshot / "manifest.json").read_text())
    buckets = s3_backends[ACCOUNT]["aws"].buckets
    for number, entry in enumerate(manifest):
        s3.put_object(Bucket=entry["bucket"], Key=entry["key"], Body=(snapshot / "objects" / str(number)).read_bytes(),
                      **{h: entry[h] for h in KEPT_HEADERS if h in entry})
        restored = buckets[entry["bucket"]].keys[entry["key"]]
        restored._etag = entry["etag"]  # a multipart ETag (md5-N) is not what the bytes alone give
        restored.last_modified = datetime.fromisoformat(entry["lastModified"]).replace(tzinfo=None)
    items = json.loads((snapshot / "status.json").read_text())
    for item in items:
        dynamodb.put_item(TableName=pipeline.table, Item=item)
    return {"objects": len(manifest), "items": len(items), "manifest": manifest}


def unreflected_uploads(manifest: list[dict[str, Any]], dynamodb: Any, pipeline: LocalPipeline) -> list[str]:
    """Per image, its newest restored upload if the image's status does not record it as finished."""
    items = {(i["userId"], i["imageId"]): i for i in (
        plain_item(raw) for page in dynamodb.get_paginator("scan").paginate(TableName=pipeline.table)
        for raw in page["Items"])}
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in manifest:
        if entry["bucket"] != pipeline.input_bucket or not entry["key"].startswith(UPLOAD_PREFIX):
            continue
        try:
            upload = parse_key(entry["key"])
        except InvalidUploadKey:
            continue  # rejected when it was uploaded; rejected again would change nothing
        image = (upload.user_id, upload.image_id)
        if image not in newest or entry["lastModified"] > newest[image]["lastModified"]:
            newest[image] = entry
    keys = []
    for image, entry in newest.items():
        item = items.get(image)
        if item is None or item.get("status") not in TERMINAL or item.get("uploadKey") != entry["key"] or \
                item.get("uploadVersion") != entry["etag"]:
            keys.append(entry["key"])
    return keys
