"""Where a moderated image's variants live before and after the verdict: fail-closed by construction.

With moderation on, the variants step writes each variant under `staging/` (`staged_key`): the
bucket policy lets nobody outside the account read `staging/*` or `quarantine/*`, and a lifecycle
rule expires what a run that never finished left in `staging/`. Only the verdict moves them:

    staging/variants/{userId}/{imageId}/{token}/160.jpg
      -> accepted (or too small to moderate, with the reason recorded): variants/{userId}/.../160.jpg
      -> rejected: quarantine/variants/{userId}/.../160.jpg

Publishing happens before the `completed` status write that names the `variants/` keys. Whatever ends
an upload otherwise after that (its `completed` write refused or failing, a later run of the same upload
failing, the execution timing out or stopped between the two) withdraws everything under the upload's
own prefix (`upload_prefix`: variant keys change with every upload) unless the status item still needs
it (`keeps_published`): the workflow before it records `failed`, and the DLQ processor and the
reconciler whenever they settle an ended execution or record `failed` themselves.
Variant records always carry their public key; the staged one is derived from it, never stored.
Every move is idempotent: a retry finds the source gone and the copy already in place.
"""

from __future__ import annotations

from typing import Any

from contract.ownership import COMPLETED, UNFINISHED
from handlers.lifecycle import objects
from handlers.lifecycle.uploads import upload_identity

STAGING_PREFIX = "staging/"
QUARANTINE_PREFIX = "quarantine/"


def upload_prefix(user_id: str, image_id: str, token: str) -> str:
    """Where one upload's variants are published: `variants/{userId}/{imageId}/{uploadToken}/`."""
    return f"variants/{user_id}/{image_id}/{token}/"


def prefix_of(upload: dict[str, Any]) -> str:
    """`upload_prefix` of an upload message (or execution input)."""
    return upload_prefix(upload["userId"], upload["imageId"], upload_identity(upload)["token"])


def staged_key(key: str) -> str:
    """`variants/u/a/t/160.jpg` -> `staging/variants/u/a/t/160.jpg`."""
    return STAGING_PREFIX + key


def quarantine_key(key: str) -> str:
    return QUARANTINE_PREFIX + key


def _move(s3: Any, bucket: str, source: str, target: str) -> None:
    # A retry after the copy and delete finds the source gone: the copy is already in place.
    if objects.copy(s3, bucket, source, target):
        objects.delete(s3, bucket, source)


def publish(variants: list[dict[str, Any]], bucket: str, s3: Any) -> list[dict[str, Any]]:
    """Each staged variant moved to its public key; the records, unchanged, name those keys."""
    for variant in variants:
        _move(s3, bucket, staged_key(variant["key"]), variant["key"])
    return variants


def quarantine(variants: list[dict[str, Any]], bucket: str, s3: Any) -> list[dict[str, Any]]:
    """Each staged variant moved under `quarantine/`; the records with their new keys."""
    moved = []
    for variant in variants:
        _move(s3, bucket, staged_key(variant["key"]), quarantine_key(variant["key"]))
        moved.append(variant | {"key": quarantine_key(variant["key"])})
    return moved


def keeps_published(item: dict[str, Any] | None, upload_id: str, execution_arn: str) -> bool:
    """Whether the image's status item still needs this upload's published variants: it is `completed`
    for this upload, or another execution of this very upload owns it and settles them itself."""
    if not item or item.get("uploadId", {}).get("S") != upload_id:
        return False
    state = item.get("status", {}).get("S")
    return state == COMPLETED or (state in UNFINISHED and item.get("executionArn", {}).get("S") != execution_arn)


def withdraw(prefix: str, bucket: str, s3: Any) -> int:
    """Delete every published variant under one upload's `prefix` (listed, so a run that never reached
    its variants' records still finds them); how many. Staged copies are private and expire."""
    keys = [entry["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for entry in page.get("Contents", [])]
    for key in keys:
        objects.delete(s3, bucket, key)
    return len(keys)


def withdraw_unless_kept(item: dict[str, Any] | None, *, upload_id: str, prefix: str, execution_arn: str,
                         bucket: str, s3: Any) -> int:
    """`withdraw` an upload's published variants unless the image's status `item` still needs them."""
    return 0 if keeps_published(item, upload_id, execution_arn) else withdraw(prefix, bucket, s3)
