"""The realistic corpus through the whole local pipeline: every decodable upload completes."""

from __future__ import annotations

import json
from io import BytesIO

import boto3
from PIL import Image

from components import parse_settings, read_stack_settings
from local.faults import Faults
from local.runner import LocalRunner, Upload
from tests import corpus as corpus_module
from tests.conftest import ROOT
from tests.corpus import corpus
from tools.status import plain_item

STAGING = read_stack_settings("staging", ROOT)  # jpeg and webp variants; here AVIF too
SETTINGS = parse_settings(STAGING | {"workflow": STAGING.get("workflow", {}) | {
    "variant_formats": ["jpeg", "webp", "avif"], "square_sizes": [256], "animation": "animated_webp"}})
ANIMATED = {"animated-220.gif": 220, "animated-160.webp": 160}
TYPES = {"jpeg": "image/jpeg", "webp": "image/webp", "avif": "image/avif"}


def test_every_corpus_image_completes_through_the_whole_pipeline():
    images = corpus()
    runner = LocalRunner(SETTINGS, faults=Faults(), iam_enforce=True)
    with runner.running():
        runner.run([Upload(name, f"uploads/corpus/{name.rsplit('.', 1)[0]}.{name.rsplit('.', 1)[1]}", data)
                    for name, data in images.items()])
        dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
        items = {item["imageId"]: item for item in map(plain_item, dynamodb.scan(TableName=runner.pipeline.table)[
            "Items"])}
        for name in images:
            item = items[name.rsplit(".", 1)[0]]
            assert item["status"] == "completed", (name, item.get("reason"))
            variants = json.loads(item["variants"])
            assert {v["format"] for v in variants} == {"jpeg", "webp", "avif"}, name
            animated = {v["frames"] for v in variants if v["format"] == "webp" and v["shape"] == "fit"}
            assert animated == {ANIMATED.get(name, 1)}, name  # WebP keeps an animation's frames, the rest do not
            squares = [v for v in variants if v.get("shape") == "square"]
            assert len(squares) == 3 and all(v["width"] == v["height"] <= 256 for v in squares), name
            if name == "off-centre-portrait.jpg":  # the attention crop keeps the face: most of it is in the square
                square = next(v for v in squares if v["format"] == "jpeg")
                body = s3.get_object(Bucket=runner.pipeline.output_bucket, Key=square["key"])["Body"].read()
                whole = corpus_module.skin_share(corpus_module.off_centre_portrait())
                assert corpus_module.skin_share(Image.open(BytesIO(body))) > whole * 1.4, name
            for smallest in (v for v in variants if v["size"] == min(SETTINGS.workflow.variant_sizes) or
                             v.get("shape") == "square"):
                got = s3.get_object(Bucket=runner.pipeline.output_bucket, Key=smallest["key"])
                assert got["ContentType"] == TYPES[smallest["format"]], name
                with Image.open(BytesIO(got["Body"].read())) as decoded:
                    assert decoded.size == (smallest["width"], smallest["height"]), name
                    assert decoded.format == smallest["format"].upper(), name
        assert runner.enforcer.denied == []
        # Of the 190 pairs, two show the same pixels (one animation's first frame as GIF and as WebP, one
        # photo under two kinds of broken EXIF): both found, and no unrelated pair (the false-positive rate).
        flagged = {frozenset((image, item.get("duplicateOf") or item.get("nearDuplicateOf")))
                   for image, item in items.items() if item.get("duplicateOf") or item.get("nearDuplicateOf")}
        assert flagged == {frozenset(("animated-220", "animated-160")),
                           frozenset(("make-rational-be", "make-float-le"))}
        assert all(item.get("thumbhash") and item.get("averageColor") for item in items.values()
                   if "status" in item)
