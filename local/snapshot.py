"""`serve --state DIR`: keep the buckets and the status table across restarts.

moto's server keeps everything in memory and has no persistence of its own, so `serve` saves
what a user would miss (uploads, variants, statuses) after each second with news and when it
stops, and loads it when it starts (uploads since the last save are in its journal, `local.journal`):

    DIR/snapshot/manifest.json   every object: bucket, key, ETag, time, content type, metadata
    DIR/snapshot/objects/<n>     the objects' bytes (numbered: keys never become paths)
    DIR/snapshot/status.json     every status item, in DynamoDB's JSON

A save is written beside the last one (`snapshot.new`, flushed to the disk, marked complete
last) and swapped in only when whole, so a save that is interrupted (a crash, a kill -9, a full
disk) leaves the previous snapshot as it was; `load` takes the first whole snapshot it finds.
It reads the table before the objects, so a saved `completed` item never names a missing variant,
and links the files of objects unchanged since the last save, so saving often is cheap. Objects
come back with their ETag, time (to the microsecond), headers and tags, so status items still name them.

Queues, executions and alerts start empty: in-flight messages of a stopped emulator are gone.
So that no upload is lost with them, `serve` announces again (an S3 event, as S3 would send;
the object is not touched) each image's newest upload when the image's status does not
record it: no status item, an unfinished one, or an upload newer than the one recorded.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlencode

from moto.s3.models import s3_backends

from contract.errors import InvalidUploadKey
from contract.functions import UPLOAD_PREFIX
from handlers.lifecycle.duplicates import is_index_item
from handlers.lifecycle.status import plain_item
from handlers.lifecycle.uploads import parse_key, utc_iso
from local.stack import REGION, LocalPipeline

logger = logging.getLogger("local.snapshot")

ACCOUNT = "123456789012"
TERMINAL = ("completed", "failed", "rejected")
KEPT_HEADERS = ("ContentType", "CacheControl", "ContentEncoding", "ContentDisposition", "ContentLanguage",
                "Metadata", "StorageClass", "WebsiteRedirectLocation")
COMPLETE = "complete"  # written last: a snapshot folder without it is not whole


def save(directory: Path, s3: Any, dynamodb: Any, pipeline: LocalPipeline) -> dict[str, int]:
    """Write the buckets and the status table to `directory/snapshot`, replacing the last save at the end.

    The table is read first: a run writes its variants before its status says `completed`, so every
    variant a saved item names is among the objects listed after it; a run that ends meanwhile is saved
    unfinished and announced again at the next start. Objects unchanged since the last save (same key,
    ETag and time) are hard links to its files, so a save costs a listing plus the new bytes.
    """
    new, current, old = directory / "snapshot.new", directory / "snapshot", directory / "snapshot.old"
    items = [item for page in dynamodb.get_paginator("scan").paginate(TableName=pipeline.table)
             for item in page["Items"]]
    last = {(e["bucket"], e["key"]): (number, e) for number, e in enumerate(_whole_manifest(current))}
    shutil.rmtree(new, ignore_errors=True)
    (new / "objects").mkdir(parents=True)
    manifest: list[dict[str, Any]] = []
    backend = s3_backends[ACCOUNT]["aws"]
    for bucket in (pipeline.input_bucket, pipeline.output_bucket):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for listed in page.get("Contents", []):
                stored = backend.buckets[bucket].keys.get(listed["Key"])
                if stored is None:
                    continue  # deleted since the listing
                entry = _saved(s3, backend, bucket, listed, stored, last, new / "objects" / str(len(manifest)),
                               current / "objects")
                if entry is not None:
                    manifest.append(entry)
    _write(new / "manifest.json", json.dumps(manifest).encode())
    _write(new / "status.json", json.dumps(items).encode())
    _write(new / COMPLETE, b"")
    if current.exists():  # whole, so the older one beside it is stale
        shutil.rmtree(old, ignore_errors=True)
        current.rename(old)
    new.rename(current)  # until here a whole snapshot (current, or old) was always on disk
    sync_folder(directory)
    shutil.rmtree(old, ignore_errors=True)
    return {"objects": len(manifest), "items": sum(not is_index_item(item) for item in items)}


def _saved(s3: Any, backend: Any, bucket: str, listed: dict[str, Any], stored: Any,
           last: dict[tuple[str, str], tuple[int, dict[str, Any]]], path: Path,
           last_objects: Path) -> dict[str, Any] | None:
    """The manifest entry of one object, its bytes written to `path` (linked from the last save if unchanged)."""
    etag = listed["ETag"].strip('"')
    modified = utc_iso(stored.last_modified.replace(tzinfo=UTC))  # the listing rounds to seconds
    number, entry = last.get((bucket, listed["Key"]), (-1, {}))
    if entry.get("etag") == etag and entry.get("lastModified") == modified:
        try:
            os.link(last_objects / str(number), path)
            return {k: v for k, v in entry.items() if k != "Tagging"} | _tagging(backend, stored)
        except OSError:
            pass  # no hard links here, or the last file is gone: copy it afresh
    read = object_entry(s3, backend, bucket, stored)
    if read is None:
        return None
    entry, body = read
    _write(path, body)
    return entry


READ_ATTEMPTS = 5


def object_entry(s3: Any, backend: Any, bucket: str, stored: Any) -> tuple[dict[str, Any], bytes] | None:
    """One stored object's manifest entry (ETag, time to the microsecond, headers, tags) and bytes; None if
    it was deleted meanwhile."""
    for _ in range(READ_ATTEMPTS):
        try:
            got = s3.get_object(Bucket=bucket, Key=stored.name)
            body = got["Body"].read()
            break
        except s3.exceptions.NoSuchKey:
            return None
        except ValueError:  # "I/O operation on closed file": an overwrite disposed of this version: read the newer
            stored = backend.buckets[bucket].keys.get(stored.name)
            if stored is None:
                return None
    else:
        return None  # overwritten at every read: the request that overwrote it last is journaled after this
    return {"bucket": bucket, "key": stored.name, "etag": got["ETag"].strip('"'), "size": len(body),
            "lastModified": utc_iso(stored.last_modified.replace(tzinfo=UTC)),
            **{h: _json_safe(got[h]) for h in (*KEPT_HEADERS, "Expires") if got.get(h)},
            **_tagging(backend, stored)}, body


def _tagging(backend: Any, stored: Any) -> dict[str, str]:
    tags = {t["Key"]: t["Value"] for t in backend.get_object_tagging(stored)["Tags"]}
    return {"Tagging": urlencode(tags)} if tags else {}


def _whole_manifest(snapshot: Path) -> list[dict[str, Any]]:
    if not (snapshot / COMPLETE).is_file():
        return []
    try:
        return list(json.loads((snapshot / "manifest.json").read_text()))
    except (OSError, ValueError):
        return []


def _write(path: Path, data: bytes) -> None:
    """Write and flush to the disk: a snapshot marked complete must be whole after a power cut too."""
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _json_safe(value: Any) -> Any:
    return utc_iso(value) if isinstance(value, datetime) else value


def load(directory: Path, s3: Any, dynamodb: Any, pipeline: LocalPipeline) -> dict[str, Any]:
    """Put back the newest whole snapshot under `directory` (a damaged one is skipped); nothing if none."""
    for snapshot in (directory / "snapshot", directory / "snapshot.new", directory / "snapshot.old"):
        if not (snapshot / COMPLETE).is_file():
            continue
        try:
            manifest = json.loads((snapshot / "manifest.json").read_text())
            items = json.loads((snapshot / "status.json").read_text())
            bodies = [(snapshot / "objects" / str(number)).read_bytes() for number in range(len(manifest))]
            cut = [e["key"] for e, body in zip(manifest, bodies, strict=True) if len(body) != e.get("size", len(body))]
            if cut:
                raise ValueError(f"{len(cut)} object(s) cut short, the first {cut[0]!r}")
        except (OSError, ValueError) as error:
            logger.warning("skipping the damaged snapshot %s: %s", snapshot, error)
            continue
        for entry, body in zip(manifest, bodies, strict=True):
            restore_object(s3, entry, body)
        for item in items:
            dynamodb.put_item(TableName=pipeline.table, Item=item)
        return {"objects": len(manifest), "items": sum(not is_index_item(item) for item in items), "manifest": manifest,
                "from": snapshot}
    return {"objects": 0, "items": 0, "manifest": [], "from": None}


def restore_object(s3: Any, entry: dict[str, Any], body: bytes) -> None:
    """Put back one saved object with its ETag, time, headers and tags."""
    headers = {h: entry[h] for h in (*KEPT_HEADERS, "Tagging") if h in entry}
    if "Expires" in entry:
        headers["Expires"] = datetime.fromisoformat(entry["Expires"].replace("Z", "+00:00"))
    s3.put_object(Bucket=entry["bucket"], Key=entry["key"], Body=body, **headers)
    restored = s3_backends[ACCOUNT]["aws"].buckets[entry["bucket"]].keys[entry["key"]]
    restored._etag = entry["etag"]  # a multipart ETag (md5-N) is not what the bytes alone give
    restored.last_modified = _moment(entry["lastModified"]).replace(tzinfo=None)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def s3_event(entry: dict[str, Any]) -> dict[str, Any]:
    """The ObjectCreated event S3 sent for `entry`'s upload, sent again (the delivery loop adds the sequencer)."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION, "eventTime": utc_iso(datetime.now(UTC)),
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": entry["bucket"], "arn": f"arn:aws:s3:::{entry['bucket']}"},
               "object": {"key": quote_plus(entry["key"]), "size": entry.get("size", 0), "eTag": entry["etag"]}}}]}


def unreflected_uploads(manifest: list[dict[str, Any]], dynamodb: Any,
                        pipeline: LocalPipeline) -> list[dict[str, Any]]:
    """Per image, its newest restored upload if the image's status does not record it as finished:
    no item, an unfinished item, or an upload newer than the item's (by time, to the millisecond)."""
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
        if image not in newest or _moment(entry["lastModified"]) > _moment(newest[image]["lastModified"]):
            newest[image] = entry
    unfinished = []
    for image, entry in newest.items():
        item = items.get(image)
        if item is None or item.get("status") not in TERMINAL or _newer(entry, item):
            unfinished.append(entry)
    return unfinished


def _newer(entry: dict[str, Any], item: dict[str, Any]) -> bool:
    """Whether `entry` was uploaded after the upload `item` records (its event time), or, for items
    without an order, is other content under the recorded key."""
    recorded = str(item.get("uploadOrder", "")).split("|")[0]
    if recorded:
        return _moment(entry["lastModified"]) > _moment(recorded)
    return item.get("uploadKey") == entry["key"] and item.get("uploadVersion") != entry["etag"]
