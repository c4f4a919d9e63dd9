"""The upload contract: S3 key format, queue message shape, execution names. Pure functions.

Example:
    >>> upload = parse_key("uploads/user-1/img-42.JPG")
    >>> upload.user_id, upload.image_id, upload.extension, upload.content_type
    ('user-1', 'img-42', 'jpg', 'image/jpeg')
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from contract.errors import InvalidMessage, InvalidUploadKey

CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
                 "webp": "image/webp", "heic": "image/heic", "heif": "image/heif"}
# Always `fullmatch`: `$` (and `match` without it) accepts a key that ends in a newline.
KEY_PATTERN = re.compile(r"uploads/(?P<user>[^/]+)/(?P<image>[^/]+)\.(?P<ext>[A-Za-z0-9]+)")
MAX_ID_LENGTH = 256
REQUIRED_FIELDS = ("imageId", "userId", "s3Key", "bucketName")
IDENTITY_FIELDS = ("versionId", "eTag", "sequencer", "uploadTimestamp")
EXECUTION_NAME = re.compile(r"[^A-Za-z0-9_-]")
FUTURE_TOLERANCE = timedelta(minutes=15)  # clock skew between S3 and Lambda is far smaller
SEQUENCER_WIDTH = 40  # S3 sequencers are hex strings of varying length: compare after left-padding


@dataclass(frozen=True)
class UploadKey:
    key: str
    user_id: str
    image_id: str
    extension: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.extension]

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def decode_key(raw_key: str) -> str:
    """S3 event keys are URL-encoded (`my+photo%2B1.jpg` is `my photo+1.jpg`): decode once."""
    return unquote_plus(raw_key)


def parse_key(key: str) -> UploadKey:
    """Validate a decoded key; raise `InvalidUploadKey` saying what is wrong."""
    match = KEY_PATTERN.fullmatch(key)
    if match is None:
        if has_control_characters(key):
            raise InvalidUploadKey(f"key {key!r} has control characters")
        raise InvalidUploadKey(f"key {key!r} is not uploads/{{userId}}/{{imageId}}.{{ext}}")
    user_id, image_id, extension = match["user"], match["image"], match["ext"].lower()
    if ".." in key:
        raise InvalidUploadKey(f"key {key!r} contains '..'")
    for label, value in (("userId", user_id), ("imageId", image_id)):
        if not value.strip() or value.startswith("."):
            raise InvalidUploadKey(f"key {key!r} has an empty {label}")
        if len(value) > MAX_ID_LENGTH:
            raise InvalidUploadKey(f"key {key!r} has a {label} longer than {MAX_ID_LENGTH} characters")
        if has_control_characters(value):
            raise InvalidUploadKey(f"key {key!r} has control characters in its {label}")
    if extension not in CONTENT_TYPES:
        raise InvalidUploadKey(f"key {key!r} has unsupported extension .{extension} "
                               f"(supported: {', '.join(sorted(CONTENT_TYPES))})")
    return UploadKey(key=key, user_id=user_id, image_id=image_id, extension=extension)


def has_control_characters(value: str) -> bool:
    """Any character of Unicode's "other" categories (controls, a newline too, format, private, surrogates) or a
    line or paragraph separator (U+2028, U+2029: a line break to `str.splitlines` and to log readers)."""
    return any(unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in ("Zl", "Zp") for ch in value)


def upload_message(record: dict[str, Any]) -> dict[str, Any]:
    """The queue message body for one S3 `ObjectCreated` record.

    Raises `InvalidUploadKey` for a key the pipeline does not accept, `InvalidMessage` for a
    record that is not shaped like S3's (a field of the wrong type, a missing part).
    """
    try:
        s3 = record["s3"]
        raw_key = s3["object"]["key"]
    except (KeyError, TypeError) as error:
        raise InvalidMessage(f"the S3 record lacks s3.object.key ({type(error).__name__})") from None
    if not isinstance(raw_key, str):
        raise InvalidMessage(f"the S3 record's key is a {type(raw_key).__name__}, not a string")
    upload = parse_key(decode_key(raw_key))
    body: dict[str, Any] = {
        "imageId": upload.image_id,
        "userId": upload.user_id,
        "s3Key": upload.key,
        "bucketName": s3["bucket"]["name"],
        "fileName": upload.file_name,
        "fileSize": s3["object"].get("size", 0),
        "fileType": upload.content_type,
        "uploadTimestamp": record.get("eventTime", ""),
    }
    # What makes this upload unique, for a deterministic execution name downstream.
    for field, source in (("versionId", "versionId"), ("sequencer", "sequencer"), ("eTag", "eTag")):
        if s3["object"].get(source):
            body[field] = s3["object"][source]
    return check_body(body)


def message_attributes(body: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        "imageId": {"DataType": "String", "StringValue": body["imageId"]},
        "userId": {"DataType": "String", "StringValue": body["userId"]},
        "priority": {"DataType": "String", "StringValue": "normal"},
        "processingType": {"DataType": "String", "StringValue": "standard"},
    }


def parse_message(raw_body: str) -> dict[str, Any]:
    """Parse and check a queue message body; raise `InvalidMessage` naming the problem."""
    try:
        body = json.loads(raw_body)
    except (TypeError, ValueError) as error:
        raise InvalidMessage(f"message body is not JSON: {error}") from None
    except RecursionError:
        raise InvalidMessage("message body is JSON nested too deeply") from None
    return check_body(body)


def check_body(body: Any) -> dict[str, Any]:
    """Check an upload message body's shape and types; raise `InvalidMessage` naming the problem."""
    if not isinstance(body, dict):
        raise InvalidMessage(f"message body is a JSON {type(body).__name__}, not an object")
    missing = [field for field in REQUIRED_FIELDS if not isinstance(body.get(field), str) or not body[field]]
    if missing:
        raise InvalidMessage(f"message body lacks {', '.join(missing)}")
    wrong = [field for field in IDENTITY_FIELDS if field in body and not isinstance(body[field], str)]
    if wrong:
        raise InvalidMessage(f"message body fields {', '.join(wrong)} must be strings")
    try:
        upload = parse_key(body["s3Key"])
    except InvalidUploadKey as error:
        raise InvalidMessage(str(error)) from None
    if (upload.user_id, upload.image_id) != (body["userId"], body["imageId"]):
        raise InvalidMessage(f"s3Key {body['s3Key']!r} does not belong to image {body['imageId']!r} "
                             f"of user {body['userId']!r}")
    # Upload order comes from the event time: one from the future would outrank every real upload.
    uploaded = event_time(body.get("uploadTimestamp"))
    if uploaded and uploaded > utc_iso(datetime.now(UTC) + FUTURE_TOLERANCE):
        raise InvalidMessage(f"uploadTimestamp {body['uploadTimestamp']!r} is in the future")
    return body




def padded_sequencer(sequencer: str | None) -> str:
    """A sequencer that compares correctly as a string (AWS: left-pad to equal length, then compare)."""
    return (sequencer or "").upper().rjust(SEQUENCER_WIDTH, "0")


def utc_iso(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`: the one time format the pipeline stores, sortable as a string."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_time(value: str | None) -> str:
    """`eventTime` normalised by `utc_iso` ("" if absent or unreadable)."""
    if not value:
        return ""
    try:
        return utc_iso(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return ""


def upload_identity(body: dict[str, Any]) -> dict[str, str]:
    """Which upload a message announces, and where it stands in the image's order of uploads.

    - `id`: unique per upload (bucket, key, version or ETag, sequencer); `token` is its short form,
      used in variant keys so variants of two uploads never mix.
    - `sequencer`: orders uploads of one key (AWS's documented order for one key).
    - `order`: orders uploads of different keys of one image (`photo.jpg`, then `photo.png`): event
      time, then sequencer.
    - `time`: the event time alone ("" if unknown), which is all an item written before the upload
      identity existed can be compared with (`handlers.lifecycle.status.NEWER_UPLOAD`).

    Example:
        >>> identity = upload_identity({"bucketName": "b", "s3Key": "uploads/u/p.jpg", "eTag": "e1",
        ...                             "sequencer": "0A1", "uploadTimestamp": "2026-01-01T00:00:00Z"})
        >>> identity["sequencer"][-4:], identity["order"][:24]
        ('00A1', '2026-01-01T00:00:00.000Z')
    """
    version = body.get("versionId") or (body.get("eTag") or "").strip('"')
    sequencer = padded_sequencer(body.get("sequencer"))
    digest = hashlib.sha256("\0".join((body["bucketName"], body["s3Key"], version, sequencer)).encode()).hexdigest()
    return {"id": digest[:32], "token": digest[:16], "key": body["s3Key"], "version": version,
            "versionId": body.get("versionId") or "", "eTag": (body.get("eTag") or "").strip('"'),
            "sequencer": sequencer,
            "order": f"{event_time(body.get('uploadTimestamp'))}|{sequencer}",
            "time": event_time(body.get("uploadTimestamp"))}


def execution_input(body: dict[str, Any]) -> dict[str, Any]:
    """The workflow's input: the message body plus the upload identity it is judged by.

    Every field the definition reads is present: a missing JSONPath is a States.Runtime error,
    which no Catch handles. An `upload` sent by anyone else is replaced, never trusted.
    """
    return body | {"upload": upload_identity(body)}


def rerun_message(execution_input: dict[str, Any], attempt: object) -> dict[str, Any]:
    """The queue message that runs an upload again as `attempt`: its execution input (or stored message)
    without the derived `upload`, which the orchestrator recomputes, and with `replayAttempt`."""
    return {k: v for k, v in execution_input.items() if k != "upload"} | {"replayAttempt": attempt}


def execution_name(body: dict[str, Any]) -> str:
    """Deterministic Step Functions execution name for one upload (<= 80 of [A-Za-z0-9_-]).

    The same upload delivered twice gets the same name, so Step Functions starts it once; a new
    upload of the same key (new sequencer, version or ETag) gets a new one.
    """
    identity = upload_identity(body)["id"]
    if body.get("replayAttempt"):  # a replay after a fix is a new run of the same upload
        identity += f"#replay{body['replayAttempt']}"
    digest = hashlib.sha256(identity.encode()).hexdigest()
    readable = EXECUTION_NAME.sub("_", body["imageId"])[:40]
    return f"{readable}-{digest[:32]}"
