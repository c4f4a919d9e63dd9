"""`serve --state` killed with SIGKILL right after a burst of uploads: every upload S3 acknowledged is
there at the next start, as uploaded, and is processed."""

from __future__ import annotations

import signal
import threading
import time

from local.samples import encode, photo
from tests.e2e.test_serve import serving

BURST = 12


def test_kill_9_right_after_a_burst_loses_no_upload_s3_acknowledged(tmp_path):
    state = tmp_path / "state"
    bodies = {f"uploads/me/burst{n:02d}.jpg": encode(photo(320 + 8 * n, 240), "JPEG") for n in range(BURST)}
    with serving(tmp_path, "--state", str(state)) as served:
        s3 = served.client("s3")
        acknowledged: dict[str, str] = {}

        def upload(key: str) -> None:
            answer = s3.put_object(Bucket="local-input", Key=key, Body=bodies[key], ContentType="image/jpeg",
                                   Metadata={"camera": "phone"}, Tagging="source=burst")
            acknowledged[key] = answer["ETag"]

        uploads = [threading.Thread(target=upload, args=(key,)) for key in bodies]
        for thread in uploads:
            thread.start()
        for thread in uploads:
            thread.join()
        served.process.send_signal(signal.SIGKILL)  # the moment the last acknowledgement arrived
        assert served.process.wait(timeout=30) == -signal.SIGKILL
    assert len(acknowledged) == BURST

    with serving(tmp_path, "--state", str(state)) as served:
        s3, dynamodb = served.client("s3"), served.client("dynamodb")
        for key, etag in acknowledged.items():
            got = s3.get_object(Bucket="local-input", Key=key)
            assert (got["ETag"], got["ContentType"], got["Metadata"], got["Body"].read()) == (
                etag, "image/jpeg", {"camera": "phone"}, bodies[key]), key
            tags = s3.get_object_tagging(Bucket="local-input", Key=key)["TagSet"]
            assert tags == [{"Key": "source", "Value": "burst"}], key
        deadline = time.monotonic() + 180
        while True:  # each announced again (or finished before the kill), and processed
            items = dynamodb.scan(TableName=served.outputs["table_name"])["Items"]
            statuses = {i["imageId"]["S"]: i["status"]["S"] for i in items if "/" not in i["userId"]["S"]}
            if sorted(statuses.values()) == ["completed"] * BURST:
                break
            assert time.monotonic() < deadline, f"{statuses}\n" + "\n".join(served.lines)
            time.sleep(0.5)
        assert served.stop() == 0
    assert "unfinished upload(s) announced again" in "\n".join(served.lines)
