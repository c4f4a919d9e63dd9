"""`serve --state`: an upload S3 acknowledges is on the disk before its acknowledgement is sent.

The full save (`local.snapshot`) is spaced so that it stays cheap however big the state is, so on its
own a `kill -9` would lose the uploads since the last one. Between two saves, every change a client
makes to the input bucket through the endpoint (an upload, a copy, a finished multipart upload, new
tags, a delete) is appended to `DIR/journal/<n>`: the object's manifest entry and bytes (or that it
was removed), written and flushed to the disk in the request, before its response leaves:

    {"put": {manifest entry}}\\n<size bytes>      or      {"removed": {"bucket": ..., "key": ...}}\\n

A save starts the next journal file before it lists the buckets and drops the older ones once it is
swapped in, so the snapshot plus the journal files left beside it always hold every acknowledged
upload; the next start replays them in order after the snapshot (a record cut short by the kill is
the end of its file). Outcomes and variants are not journaled: a run the kill interrupts is
announced again, as are uploads the journal restores.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from unittest import mock

from moto.s3 import notifications as s3_notifications
from moto.s3.models import s3_backends

from local.snapshot import ACCOUNT, object_entry, restore_object, sync_folder

logger = logging.getLogger("local.journal")

FOLDER = "journal"
JOURNALED = ("s3:ObjectCreated:", "s3:ObjectRemoved:", "s3:ObjectTagging:")


class Journal:
    """The append-only journal of the input bucket under `directory/journal`, numbered files."""

    def __init__(self, directory: Path, s3: Any, bucket: str, on_error: Callable[[OSError], None]) -> None:
        self.folder = directory / FOLDER
        self.s3, self.bucket, self.on_error = s3, bucket, on_error
        self._lock = threading.Lock()
        self._file: Any = None
        self._number = max(files(directory), default=(0, None))[0] + 1
        self._touched = threading.local()  # the input bucket's keys the current request changed
        self._patch: Any = None

    def __enter__(self) -> Journal:
        send_event = s3_notifications.send_event

        def noting(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
            touched = getattr(self._touched, "keys", None)
            if touched is not None and bucket.name == self.bucket and str(event_name.value).startswith(JOURNALED):
                touched.add(key.name)
            send_event(account_id, event_name, bucket, key)

        self._patch = mock.patch.object(s3_notifications, "send_event", noting)
        self._patch.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._patch is not None:
            self._patch.__exit__(None, None, None)
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def wsgi(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """`app`, journaling what each request changed in the input bucket before the response is sent
        (werkzeug sends the status and headers with the first bytes of the body, after `app` returns)."""

        def journaling(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            self._touched.keys = set()
            try:
                response = app(environ, start_response)
                for key in sorted(self._touched.keys):
                    self.record(key)
                return response
            finally:
                self._touched.keys = None
        return journaling

    def record(self, key: str) -> None:
        """Append the input bucket's `key` as it is now (or its removal), flushed to the disk."""
        try:
            with self._lock:
                # Read inside the lock: of two requests that change one key, the later record is the newer state.
                stored = s3_backends[ACCOUNT]["aws"].buckets[self.bucket].keys.get(key)
                read = object_entry(self.s3, s3_backends[ACCOUNT]["aws"], self.bucket, stored) if stored else None
                header, body = ({"put": read[0]}, read[1]) if read else (
                    {"removed": {"bucket": self.bucket, "key": key}}, b"")
                if self._file is None:
                    self.folder.mkdir(parents=True, exist_ok=True)
                    self._file = (self.folder / str(self._number)).open("ab")
                    sync_folder(self.folder)  # the new file's name survives a power cut too
                self._file.write(json.dumps(header).encode() + b"\n" + body)
                self._file.flush()
                os.fsync(self._file.fileno())
        except OSError as error:  # a full disk: the upload stands, the next full save may still keep it
            self.on_error(error)

    def rotate(self) -> int:
        """Start the next journal file; the number of the last one, which a save that lists the buckets
        after this call covers."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            covered, self._number = self._number, self._number + 1
        return covered

    def drop(self, covered: int) -> None:
        """Remove the journal files up to `covered`: a whole snapshot on disk holds what they hold."""
        for number, path in files(self.folder.parent):
            if number <= covered:
                path.unlink(missing_ok=True)


def files(directory: Path) -> list[tuple[int, Path]]:
    folder = directory / FOLDER
    if not folder.is_dir():
        return []
    return sorted((int(path.name), path) for path in folder.iterdir() if path.name.isdigit())


def replay(directory: Path, s3: Any, manifest: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Apply the journal files under `directory` after the snapshot `manifest` was restored: the manifest
    as it now is, and how many records changed something."""
    objects = {(e["bucket"], e["key"]): e for e in manifest}
    changed = 0
    for _, path in files(directory):
        for header, body in _records(path):
            if "put" in header:
                entry = header["put"]
                known = objects.get((entry["bucket"], entry["key"]))
                if known == entry:
                    continue  # the snapshot has it already (bytes, headers and tags: a retag keeps ETag and time)
                restore_object(s3, entry, body)
                objects[(entry["bucket"], entry["key"])] = entry
            else:
                gone = header["removed"]
                if objects.pop((gone["bucket"], gone["key"]), None) is None:
                    continue
                s3.delete_object(Bucket=gone["bucket"], Key=gone["key"])
            changed += 1
    return list(objects.values()), changed


def _records(path: Path) -> Iterable[tuple[dict[str, Any], bytes]]:
    data = path.read_bytes()
    at = 0
    while at < len(data):
        end = data.find(b"\n", at)
        try:
            header = json.loads(data[at:end]) if end >= 0 else None
        except ValueError:
            header = None
        size = header["put"]["size"] if header and "put" in header else 0
        if header is None or end + 1 + size > len(data):
            logger.warning("the journal %s ends with a record cut short (a kill while writing it): skipped", path)
            return
        yield header, data[end + 1:end + 1 + size]
        at = end + 1 + size

