"""A local stand-in for Amazon Rekognition DetectModerationLabels, which moto does not have.

Deterministic, and driven by the upload, not by the pixels: the labels are the ones its user
metadata `moderation-labels` names, comma-separated, each found with 99 % confidence (a
`Parent/Child` entry is a second-level label, returned with its parent as AWS does):

    aws s3 cp beach.jpg s3://local-input/uploads/me/beach.jpg --metadata moderation-labels="Swimwear or Underwear"

Any other upload has no labels. The real definition calls it exactly as it calls Rekognition
(the `aws-sdk:rekognition:detectModerationLabels` task, through moto's SDK integration), and
Rekognition's errors get the names AWS gives them (`Rekognition.ThrottlingException`), which
moto would spell `rekognition.ThrottlingException`.

What only a real account shows: Rekognition's own judgement of an image, its latency and quota.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any
from unittest import mock

import boto3
from moto.core.exceptions import JsonRESTError
from moto.rekognition.responses import RekognitionResponse
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk

from handlers.lifecycle.status import get_item

MARKER = "moderation-labels"
CONFIDENCE = 99.0
NOTICE = ("moderation: a local stand-in answers DetectModerationLabels (moto has none): labels come from the "
          f"upload's `{MARKER}` metadata, not from its pixels")


def labels_for(marker: str, min_confidence: float) -> list[dict[str, Any]]:
    """`"Violence, Explicit/Exposed Male Genitalia"` -> Rekognition's `ModerationLabels`."""
    found: dict[str, dict[str, Any]] = {}
    for entry in (part.strip() for part in marker.split(",")):
        parent, _, child = entry.rpartition("/")
        for name, parent_name, level in ((parent, "", 1), (child, parent, 2 if parent else 1)):
            if name and min_confidence <= CONFIDENCE:
                found.setdefault(name, {"Confidence": CONFIDENCE, "Name": name, "ParentName": parent_name,
                                        "TaxonomyLevel": level})
    return list(found.values())


class ModerationStandIn:
    """Patches moto while active; `calls` lists each request's (bucket, key)."""

    def __init__(self, table: str, region: str, authorize: Callable[[str, str], bool] | None = None) -> None:
        self.table, self.region, self.authorize = table, region, authorize
        self.calls: list[tuple[str, str]] = []
        self.throttle_next = 0  # tests: answer this many next calls with ThrottlingException, as a busy account does
        self.fail_images: dict[str, str] = {}  # tests: imageId -> the error code every call for it answers
        self.on_detect: Callable[[str], None] | None = None  # tests: called with the key before answering
        self._patches = contextlib.ExitStack()

    def detect(self, request: dict[str, Any]) -> dict[str, Any]:
        s3_object = request["Image"]["S3Object"]
        bucket, key = s3_object["Bucket"], s3_object["Name"]
        self.calls.append((bucket, key))
        if self.on_detect is not None:
            self.on_detect(key)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            raise _error("ThrottlingException", "Rate exceeded")
        parts = key.removeprefix("staging/").split("/")
        if len(parts) > 2 and parts[2] in self.fail_images:
            raise _error(self.fail_images[parts[2]], f"refused {key} (injected)")
        if self.authorize is not None and not self.authorize(bucket, key):
            raise _error("AccessDeniedException", f"the workflow role may not read s3://{bucket}/{key}")
        try:
            self._s3.head_object(Bucket=bucket, Key=key)
        except self._s3.exceptions.ClientError:
            raise _error("InvalidS3ObjectException", f"Unable to get object metadata from S3: {key}") from None
        marker = self._marker(key)
        return {"ModerationLabels": labels_for(marker, float(request.get("MinConfidence", 50))) if marker else [],
                "ModerationModelVersion": "7.0"}

    def _marker(self, key: str) -> str | None:
        """The upload's marker: [staging/]variants/{userId}/{imageId}/... -> the image's upload -> its metadata."""
        parts = key.removeprefix("staging/").split("/")
        if len(parts) < 4 or parts[0] != "variants":
            return None
        item = get_item(self._dynamodb, self.table, parts[2], parts[1]) or {}
        if "s3Key" not in item:
            return None
        head = self._s3.head_object(Bucket=item["bucketName"]["S"], Key=item["s3Key"]["S"])
        return (head.get("Metadata") or {}).get(MARKER)

    def __enter__(self) -> ModerationStandIn:
        stand_in = self
        # Created once, inside moto: the stand-in reads the variant and the upload as Rekognition would.
        self._s3 = boto3.client("s3", region_name=self.region)
        self._dynamodb = boto3.client("dynamodb", region_name=self.region)

        def detect_moderation_labels(response: RekognitionResponse) -> str:
            return json.dumps(stand_in.detect(json.loads(response.body)))

        self._patches.enter_context(mock.patch.object(RekognitionResponse, "detect_moderation_labels",
                                                      detect_moderation_labels, create=True))
        self._patches.enter_context(mock.patch.dict(state_task_service_aws_sdk._SERVICE_ERROR_NAMES,
                                                    {"rekognition": "Rekognition"}))
        return self

    def __exit__(self, *exc: object) -> None:
        self._patches.close()


def _error(code: str, message: str) -> Exception:
    return JsonRESTError(code, message)
