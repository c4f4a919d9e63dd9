"""S3 reads and writes for the workflow steps, with errors the workflow can act on.

Throttling and 5xx become `TransientError` (the state machine retries it); a missing
object is permanent (`InvalidImage`); an object overwritten since its event is
`UploadSuperseded` (S3 answers 412 to the event's ETag as If-Match, or the version is
read by id where the bucket is versioned).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from contract.errors import InvalidImage, TransientError, UploadSuperseded

TRANSIENT_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling",
                   "ThrottlingException", "RequestLimitExceeded", "503", "500"}
T = TypeVar("T")
HEAD_BYTES = 64 * 1024  # JPEG/PNG/GIF/WebP headers, and EXIF (at most 64 KiB), live here
READ_CHUNK = 1024 * 1024


def _translate(error: ClientError, bucket: str, key: str) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in TRANSIENT_CODES or status >= 500:
        return TransientError(f"S3 {code or status} on s3://{bucket}/{key}; retrying")
    if code in ("PreconditionFailed", "412") or status == 412:
        return UploadSuperseded(f"s3://{bucket}/{key} was overwritten by a newer upload")
    if code in ("NoSuchKey", "NoSuchVersion", "404", "NotFound"):
        return InvalidImage(f"the upload s3://{bucket}/{key} no longer exists")
    return error


def _exact(upload: dict[str, Any] | None) -> dict[str, str]:
    """Request parameters that read exactly the announced upload: its version, or its ETag as If-Match."""
    identity = (upload or {}).get("upload") or {}
    if identity.get("versionId"):
        return {"VersionId": identity["versionId"]}
    if identity.get("eTag"):
        return {"IfMatch": f'"{identity["eTag"]}"'}
    return {}


def head(s3: Any, bucket: str, key: str, upload: dict[str, Any] | None = None) -> dict[str, Any]:
    """HeadObject of the upload the execution announced (`upload` is the execution input)."""
    try:
        return s3.head_object(Bucket=bucket, Key=key, **_exact(upload))
    except ClientError as error:
        raise _translate(error, bucket, key) from None


def read(s3: Any, bucket: str, key: str, upload: dict[str, Any] | None = None, *,
         first_bytes: int | None = None) -> bytes:
    """The announced upload's bytes (the first `first_bytes` only, if given); a newer object raises
    `UploadSuperseded`, a missing one `InvalidImage`."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, **_exact(upload)}
    if first_bytes is not None:
        kwargs["Range"] = f"bytes=0-{first_bytes - 1}"
    try:
        return s3.get_object(**kwargs)["Body"].read()
    except ClientError as error:
        raise _translate(error, bucket, key) from None


def read_hashed(s3: Any, bucket: str, key: str, upload: dict[str, Any] | None = None) -> tuple[bytes, str]:
    """The announced upload's bytes and their SHA-256, hashed chunk by chunk as they arrive (the kernel
    keeps receiving while a chunk is hashed, so the hash costs no time of its own on a real network)."""
    digest, chunks = hashlib.sha256(), []
    try:
        body = s3.get_object(Bucket=bucket, Key=key, **_exact(upload))["Body"]
        for chunk in body.iter_chunks(READ_CHUNK):
            digest.update(chunk)
            chunks.append(chunk)
    except ClientError as error:
        raise _translate(error, bucket, key) from None
    return b"".join(chunks), digest.hexdigest()


def write(s3: Any, bucket: str, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, CacheControl=cache_control)
    except ClientError as error:
        raise _translate(error, bucket, key) from None


def copy(s3: Any, bucket: str, source_key: str, key: str) -> bool:
    """Server-side copy within `bucket` (metadata kept); False if the source no longer exists."""
    try:
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": source_key},
                       MetadataDirective="COPY")
        return True
    except ClientError as error:
        translated = _translate(error, bucket, source_key)
        if isinstance(translated, InvalidImage):
            return False
        raise translated from None


def delete(s3: Any, bucket: str, key: str) -> None:
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except ClientError as error:
        raise _translate(error, bucket, key) from None


def read_and_inspect(upload: dict[str, Any], size: int, s3: Any,
                     inspect: Callable[..., T]) -> T:
    """Run `inspect(data, complete=...)` on the first bytes, and on the whole object if they do not suffice.

    The partial read is only an optimisation: whatever goes wrong on it (a PNG whose EXIF
    follows the pixels, a GIF whose frames run past the first bytes) falls back to the whole
    object, and only a file that fails whole is rejected.
    """
    bucket, key = upload["bucketName"], upload["s3Key"]
    if size > HEAD_BYTES:
        first = read(s3, bucket, key, upload, first_bytes=HEAD_BYTES)
        # `imaging.NeedWholeFile`, or anything else the partial data caused: try the whole object.
        with contextlib.suppress(Exception):
            return inspect(first, complete=False)
    return inspect(read(s3, bucket, key, upload), complete=True)
