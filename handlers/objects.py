"""S3 reads and writes for the workflow steps, with errors the workflow can act on.

Throttling and 5xx become `TransientError` (the state machine retries it); a missing
object is permanent (`InvalidImage`). Settings come from the function's environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from handlers.errors import InvalidImage, TransientError
from handlers.imaging import Limits

TRANSIENT_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling",
                   "ThrottlingException", "RequestLimitExceeded", "503", "500"}
HEAD_BYTES = 64 * 1024  # JPEG/PNG/GIF/WebP headers, and EXIF (at most 64 KiB), live here


@dataclass(frozen=True)
class StepSettings:
    limits: Limits
    keep_gps: bool
    output_bucket: str
    variant_sizes: list[int]
    variant_formats: list[str]
    quality: int
    cache_control: str

    @classmethod
    def from_env(cls) -> StepSettings:
        env = os.environ
        return cls(
            limits=Limits(max_bytes=int(env.get("MAX_IMAGE_BYTES", 52_428_800)),
                          max_pixels=int(env.get("MAX_PIXELS", 50_000_000)),
                          allowed_formats=tuple(env.get("ALLOWED_FORMATS", "JPEG,PNG,GIF,WEBP").split(","))),
            keep_gps=env.get("KEEP_GPS", "false") == "true",
            output_bucket=env.get("OUTPUT_BUCKET", ""),
            variant_sizes=[int(s) for s in env.get("VARIANT_SIZES", "1280,640,160").split(",")],
            variant_formats=env.get("VARIANT_FORMATS", "jpeg").split(","),
            quality=int(env.get("JPEG_QUALITY", 85)),
            cache_control=env.get("CACHE_CONTROL", "public, max-age=31536000, immutable"),
        )


def _translate(error: ClientError, bucket: str, key: str) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in TRANSIENT_CODES or status >= 500:
        return TransientError(f"S3 {code or status} on s3://{bucket}/{key}; retrying")
    if code in ("NoSuchKey", "404", "NotFound"):
        return InvalidImage(f"the upload s3://{bucket}/{key} no longer exists")
    return error


def head(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        raise _translate(error, bucket, key) from None


def read(s3: Any, bucket: str, key: str, *, first_bytes: int | None = None) -> bytes:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if first_bytes is not None:
        kwargs["Range"] = f"bytes=0-{first_bytes - 1}"
    try:
        return s3.get_object(**kwargs)["Body"].read()
    except ClientError as error:
        raise _translate(error, bucket, key) from None


def write(s3: Any, bucket: str, key: str, data: bytes, *, content_type: str, cache_control: str) -> None:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, CacheControl=cache_control)
    except ClientError as error:
        raise _translate(error, bucket, key) from None
