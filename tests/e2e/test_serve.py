"""`python -m local serve` end to end, exactly as the README says: a subprocess on a free port, uploads over
HTTP with boto3 and the AWS CLI, the tools with `--local`, Ctrl-C, and a restart with `--state`."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from PIL import Image

from local.samples import encode, jpeg_with_exif, photo, png_with_alpha, text_named_jpg

REPO = Path(__file__).resolve().parents[2]
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"PYTHONPATH": str(REPO)}
DUMMIES = {"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass
class Served:
    process: subprocess.Popen[str]
    cwd: Path
    lines: list[str] = field(default_factory=list)

    @property
    def outputs_file(self) -> Path:
        return self.cwd / "out" / "serve" / "stack-outputs.json"

    @property
    def outputs(self) -> dict[str, Any]:
        return json.loads(self.outputs_file.read_text())

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.outputs["endpoint_url"], region_name="eu-west-1",
                            aws_access_key_id="local", aws_secret_access_key="local")

    def tool(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m tools ...` from the user's folder, with no AWS credentials or region in the environment."""
        # AWS_PROFILE names a profile for AWS work that does not exist here: --local never reads it.
        return subprocess.run([sys.executable, "-m", "tools", *args], cwd=self.cwd,
                              env=CLEAN_ENV | {"AWS_PROFILE": "work-sso"},
                              capture_output=True, text=True, timeout=120)

    def status(self, key: str) -> dict[str, Any] | None:
        result = self.tool("status", "--local", "--key", key, "--json")
        if result.returncode == 1 and "has no status yet" in result.stderr:  # not started yet
            return None
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def wait_for(self, key: str, predicate: Any, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.status(key)
            if item and predicate(item):
                return item
            time.sleep(0.5)
        raise AssertionError(f"{key} never got there; last status {item}; serve said:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)  # Ctrl-C
        return self.process.wait(timeout=60)


@contextlib.contextmanager
def serving(cwd: Path, *extra: str) -> Iterator[Served]:
    # Started from the shell where the README's exports point clients at the endpoint: serve's own must not follow.
    env = CLEAN_ENV | DUMMIES | {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_PROFILE": "nobody"}
    process = subprocess.Popen([sys.executable, "-m", "local", "serve", "--port", "0", *extra], cwd=cwd,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    served = Served(process, cwd)
    left = served.outputs_file.read_text() if served.outputs_file.exists() else None  # by a serve killed with -9
    reader = threading.Thread(target=lambda: served.lines.extend(line.rstrip() for line in process.stdout),
                              daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not served.outputs_file.exists() or served.outputs_file.read_text() == left:
            assert process.poll() is None, "serve exited:\n" + "\n".join(served.lines)
            assert time.monotonic() < deadline, "serve did not start:\n" + "\n".join(served.lines)
            time.sleep(0.2)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)


def aws_cli() -> str | None:
    """The AWS CLI if one runs here (a pyenv shim may exist without it)."""
    found = shutil.which("aws")
    if found and subprocess.run([found, "--version"], capture_output=True, timeout=60).returncode == 0:
        return found
    return None


def refuses_connections(endpoint: str) -> bool:
    host, port = endpoint.removeprefix("http://").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) != 0


def big_photo() -> bytes:
    """A 24-megapixel camera JPEG with EXIF (rotated), over the 5 MiB multipart threshold used below."""
    data = jpeg_with_exif(width=6000, height=4000)
    if len(data) < 6 * 1024 * 1024:
        data = encode(photo(6000, 4000), "JPEG", quality=100, subsampling=0)
    return data


def test_serve_takes_uploads_from_any_client_and_the_tools_follow_inspect_and_replay_them(tmp_path):
    photo_file = tmp_path / "photo.jpg"
    photo_file.write_bytes(big_photo())
    with serving(tmp_path) as served:
        endpoint = served.outputs["endpoint_url"]
        assert served.outputs["input_bucket_name"] == "local-input" and served.outputs["region"] == "eu-west-1"
        s3 = served.client("s3")
        # boto3's managed transfer: a multipart upload, as SDKs and the CLI do for big files.
        s3.upload_file(str(photo_file), "local-input", "uploads/me/photo.jpg",
                       Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
        s3.put_object(Bucket="local-input", Key="uploads/me/logo.png", Body=png_with_alpha())
        s3.put_object(Bucket="local-input", Key="uploads/me/notes.jpg", Body=text_named_jpg())
        s3.put_object(Bucket="local-input", Key="uploads/me/album/beach.jpg", Body=text_named_jpg())  # rejected key
        served.client("sns").publish(TopicArn=served.outputs["topic_arn"], Message="hello, not JSON")
        cli_path = aws_cli()
        if cli_path:
            cli = subprocess.run([cli_path, "s3", "cp", str(photo_file), "s3://local-input/uploads/you/photo.jpg"],
                                 env=CLEAN_ENV | DUMMIES | {"AWS_ENDPOINT_URL": endpoint},
                                 capture_output=True, text=True, timeout=120)
            assert cli.returncode == 0, cli.stderr

        photo_item = served.wait_for("uploads/me/photo.jpg", lambda i: i["status"] in ("completed", "failed"))
        assert photo_item["status"] == "completed", photo_item
        logo = served.wait_for("uploads/me/logo.png", lambda i: i["status"] in ("completed", "failed"))
        assert logo["status"] == "completed", logo
        notes = served.wait_for("uploads/me/notes.jpg", lambda i: i["status"] in ("completed", "failed"))
        assert notes["status"] == "failed" and notes["error"] == "InvalidImage", notes
        if cli_path:
            assert served.wait_for("uploads/you/photo.jpg", lambda i: i["status"] == "completed")

        # A multipart upload is one upload: one execution, as S3 sends one event.
        executions = served.client("stepfunctions").list_executions(
            stateMachineArn=served.outputs["state_machine_arn"])["executions"]
        photos = 2 if cli_path else 1  # uploads/me/photo.jpg, and uploads/you/photo.jpg from the AWS CLI
        assert [e["status"] for e in executions if e["name"].startswith("photo-")] == ["SUCCEEDED"] * photos

        # The variants are in the output bucket, readable by any client; never upscaled.
        for variant in photo_item["variants"]:
            body = s3.get_object(Bucket="local-output", Key=variant["key"])["Body"].read()
            with Image.open(io.BytesIO(body)) as image:
                assert image.size == (variant["width"], variant["height"])
                assert max(image.size) <= 4000

        human = served.tool("status", "--local", "--key", "uploads/me/photo.jpg")
        assert human.returncode == 0 and "completed" in human.stdout
        assert all(len(line) <= 100 for line in human.stdout.splitlines())
        failures = served.tool("status", "--local", "--failed-since", "1h", "--json")
        assert [f["imageId"] for f in json.loads(failures.stdout)] == ["notes"], failures.stderr
        replay = served.tool("replay", "--local", "--failed-since", "1h")  # its file was refused: left alone
        assert replay.returncode == 0 and "replayed 0, skipped 1" in replay.stdout, replay.stdout + replay.stderr
        replay = served.tool("replay", "--local", "--failed-since", "1h", "--include-invalid")
        assert replay.returncode == 0 and "replayed 1" in replay.stdout, replay.stdout + replay.stderr
        again = served.wait_for("uploads/me/notes.jpg", lambda i: i["status"] == "failed" and i.get("replayCount"))
        assert int(again["replayCount"]) == 1 and again["error"] == "InvalidImage"
        metrics = served.tool("metrics", "--local")
        assert metrics.returncode == 0, metrics.stderr
        assert all(len(line) <= 100 for line in metrics.stdout.splitlines())
        native = served.tool("replay", "--local", "--dlq", "--native")
        assert native.returncode == 2 and "does not implement: use --dlq without --native" in native.stderr
        both = served.tool("status", "--local", "--key", "uploads/me/notes.jpg", "--failed-since", "1h")
        assert both.returncode == 2 and "not both" in both.stderr

        # One image, one status: asking for an older key of the image says which upload it reflects.
        s3.put_object(Bucket="local-input", Key="uploads/me/logo.jpg", Body=encode(photo(400, 300), "JPEG"))
        served.wait_for("uploads/me/logo.jpg", lambda i: i["uploadKey"] == "uploads/me/logo.jpg"
                        and i["status"] == "completed")
        older = served.tool("status", "--local", "--key", "uploads/me/logo.png")
        assert "note: this image's newest upload is uploads/me/logo.jpg, not uploads/me/logo.png" in older.stdout

        # A second serve in the same folder does not take over the running one's outputs.
        second = subprocess.run([sys.executable, "-m", "local", "serve", "--port", "0"], cwd=tmp_path, env=CLEAN_ENV,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and f"a local stack is already running at {endpoint}" in second.stderr
        assert served.outputs["endpoint_url"] == endpoint

        assert served.stop() == 0
        log = "\n".join(served.lines)
        assert "completed       uploads/me/photo.jpg  3 variants" in log
        assert "failed          uploads/me/notes.jpg" in log and "stopped" in log
        assert "bad key         key 'uploads/me/album/beach.jpg' is not uploads/{userId}/{imageId}.{ext}" in log
        assert "Traceback" not in log and "delivery loop:" not in log
        assert not served.outputs_file.exists()
        assert refuses_connections(endpoint)

    # With serve stopped the tools say so in one line.
    gone = served.tool("status", "--local", "--key", "uploads/me/photo.jpg")
    assert gone.returncode == 2 and gone.stderr.count("\n") == 1 and "python -m local serve" in gone.stderr


def late_size(state: Path, number: int) -> int:
    return (state / "snapshot" / "objects" / str(number)).stat().st_size


def test_state_keeps_uploads_variants_and_statuses_across_a_restart_and_loses_no_upload(tmp_path):
    state = tmp_path / "state"
    with serving(tmp_path, "--state", str(state)) as served:
        served.client("s3").put_object(Bucket="local-input", Key="uploads/me/a.jpg",
                                       Body=encode(photo(1600, 1200), "JPEG"))
        first = served.wait_for("uploads/me/a.jpg", lambda i: i["status"] == "completed")
        assert served.stop() == 0
    assert "saved 4 objects and 1 status items" in "\n".join(served.lines)  # the upload and its 3 variants
    # An upload S3 had accepted when serve stopped, before its event was delivered: saved, never processed.
    manifest_file = state / "snapshot" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    (state / "snapshot" / "objects" / str(len(manifest))).write_bytes(encode(photo(640, 480), "JPEG"))
    manifest.append({"bucket": "local-input", "key": "uploads/me/late.jpg", "etag": "not-yet-processed",
                     "size": late_size(state, len(manifest)), "lastModified": "2026-11-28T12:00:00.000Z",
                     "ContentType": "image/jpeg", "Metadata": {"camera": "phone"}})
    manifest_file.write_text(json.dumps(manifest))

    with serving(tmp_path, "--state", str(state)) as served:
        assert served.status("uploads/me/a.jpg") == first
        variant = first["variants"][0]["key"]
        assert served.client("s3").head_object(Bucket="local-output", Key=variant)["ContentLength"] > 0
        assert served.wait_for("uploads/me/late.jpg", lambda i: i["status"] == "completed")
        # Announced again by its S3 event: the object itself is as it was uploaded.
        late = served.client("s3").head_object(Bucket="local-input", Key="uploads/me/late.jpg")
        assert (late["ETag"], late["ContentType"], late["Metadata"]) == (
            '"not-yet-processed"', "image/jpeg", {"camera": "phone"})
        assert served.status("uploads/me/a.jpg") == first  # a finished upload is not processed again
        # Uploads after the restart still order after those before it (S3's sequencer keeps growing).
        served.client("s3").put_object(Bucket="local-input", Key="uploads/me/a.jpg",
                                       Body=encode(photo(300, 200), "JPEG"))
        newer = served.wait_for("uploads/me/a.jpg", lambda i: i.get("startedAt", "") > first["startedAt"]
                                and i["status"] in ("completed", "failed"))
        assert newer["status"] == "completed" and newer["variants"][0]["width"] == 300
        assert served.stop() == 0
    assert "restored 5 objects and 1 status items" in "\n".join(served.lines)  # 4 saved + the late upload
    assert "1 unfinished upload(s) announced again" in "\n".join(served.lines)


@pytest.mark.parametrize(("arguments", "said"), [
    (["--state", "{file}"], "error: --state {file} is a file: give a folder (it is created if missing)"),
    (["--port", "99999"], "error: argument --port: '99999' is not a port (0 to 65535; 0 picks a free one)"),
    (["--stack", "qa"], "error: no stack 'qa': there is no Pulumi.qa.yaml in"),
])
def test_start_up_mistakes_are_one_line(tmp_path, arguments, said):
    (tmp_path / "file").write_text("")
    arguments = [a.format(file=tmp_path / "file") for a in arguments]
    result = subprocess.run([sys.executable, "-m", "local", "serve", "--port", "0", *arguments], cwd=tmp_path,
                            env=CLEAN_ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert said.format(file=tmp_path / "file") in result.stderr.strip().splitlines()[-1]


def test_a_taken_port_is_one_line_naming_the_way_out(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "local", "serve", "--port", str(port)], cwd=tmp_path,
                                env=CLEAN_ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: port {port} on 127.0.0.1 is in use (Address already in use): another `python -m local serve` "
        "or LocalStack? Stop it, or pass --port N")
    assert "Traceback" not in result.stderr


def serve_processes_in(folder: Path) -> list[str]:
    """`python -m local serve` processes (and any fork of one) running in `folder`: this test's, never those of
    tests running beside it in other pytest workers, which have folders of their own."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "-m local serve" in command and (proc / "cwd").resolve().is_relative_to(folder):
                found.append(f"{proc.name}: {command}")
        except OSError:  # not a process, or it ended while being read
            continue
    return found


@pytest.fixture(autouse=True)
def _no_leftover_serve(tmp_path) -> Iterator[None]:
    yield
    assert serve_processes_in(tmp_path) == [], "serve processes left running"


def test_one_ctrl_c_passed_on_several_times_by_wrappers_still_saves(tmp_path):
    """`make serve` or `timeout` can deliver one Ctrl-C as several signals: that is one stop, with its save."""
    with serving(tmp_path, "--state", str(tmp_path / "state")) as served:
        for _ in range(3):
            served.process.send_signal(signal.SIGINT)
            time.sleep(0.05)
        assert served.process.wait(timeout=60) == 0
    log = "\n".join(served.lines)
    assert "saved 0 objects and 0 status items" in log and "quitting without saving" not in log


def test_a_state_folder_in_use_is_refused_in_one_line_naming_the_way_out(tmp_path):
    state = tmp_path / "state"
    with serving(tmp_path, "--state", str(state)) as served:
        served.client("s3").put_object(Bucket="local-input", Key="uploads/me/a.jpg", Body=encode(photo(64, 48), "JPEG"))
        second = subprocess.run([sys.executable, "-m", "local", "serve", "--port", "0", "--state", str(state),
                                 "--out", str(tmp_path / "second")], cwd=tmp_path, env=CLEAN_ENV,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert second.stderr.strip().splitlines()[-1] == (
            f"error: --state {state} is in use by another `python -m local serve` (pid {served.process.pid}): "
            "Stop it, or pass another --state DIR")
        assert served.wait_for("uploads/me/a.jpg", lambda i: i["status"] == "completed")
        assert served.stop() == 0
    with serving(tmp_path, "--state", str(state)) as served:  # free again once the first has stopped
        assert served.status("uploads/me/a.jpg")["status"] == "completed"
        assert served.stop() == 0


def last_save(state: Path) -> tuple[dict[str, str], set[str]]:
    """The statuses (imageId -> status) and the object keys of the last whole save under `state`."""
    try:
        if not (state / "snapshot" / "complete").is_file():
            return {}, set()
        items = json.loads((state / "snapshot" / "status.json").read_text())
        keys = {entry["key"] for entry in json.loads((state / "snapshot" / "manifest.json").read_text())}
    except (OSError, ValueError):  # caught mid-swap
        return {}, set()
    return {i["imageId"]["S"]: i["status"]["S"] for i in items if "status" in i}, keys


def test_state_survives_kill_9_and_the_next_start_finishes_what_was_in_flight(tmp_path):
    state = tmp_path / "state"
    with serving(tmp_path, "--state", str(state)) as served:
        s3 = served.client("s3")
        s3.put_object(Bucket="local-input", Key="uploads/me/a.jpg", Body=encode(photo(1600, 1200), "JPEG"))
        first = served.wait_for("uploads/me/a.jpg", lambda i: i["status"] == "completed")
        deadline = time.monotonic() + 30
        while last_save(state)[0].get("a") != "completed":  # saved after the outcome, not at a stop
            assert time.monotonic() < deadline, f"never saved: {last_save(state)}\n" + "\n".join(served.lines)
            time.sleep(0.2)
        s3.put_object(Bucket="local-input", Key="uploads/me/b.jpg", Body=big_photo())
        deadline = time.monotonic() + 30
        while "uploads/me/b.jpg" not in last_save(state)[1]:  # saved once S3's event is taken
            assert time.monotonic() < deadline, f"never saved: {last_save(state)}\n" + "\n".join(served.lines)
            time.sleep(0.1)
        served.process.send_signal(signal.SIGKILL)
        assert served.process.wait(timeout=30) == -signal.SIGKILL
    assert "saved" not in "\n".join(served.lines)  # no save at the end: what is there was saved before

    with serving(tmp_path, "--state", str(state)) as served:  # the kill released the folder
        assert served.status("uploads/me/a.jpg") == first
        for variant in first["variants"]:
            assert served.client("s3").head_object(Bucket="local-output", Key=variant["key"])["ContentLength"] > 0
        assert served.wait_for("uploads/me/b.jpg", lambda i: i["status"] == "completed")
        assert served.stop() == 0
    assert "restored 5 objects" in "\n".join(served.lines) or "restored 8 objects" in "\n".join(served.lines)


MOTO_API_REFUSAL = ("this endpoint serves the pipeline's AWS APIs, not moto's dashboard or its /moto-api/ "
                    "(which could reset the stack): use python -m tools status|metrics --local")


def test_motos_own_dashboard_is_refused_in_one_line_and_cannot_reset_the_stack(tmp_path):
    import urllib.error
    import urllib.request

    with serving(tmp_path) as served:
        endpoint = served.outputs["endpoint_url"]
        for method, path in (("GET", "/moto-api/"), ("GET", "/moto-api/data.json"), ("POST", "/moto-api/reset"),
                             ("GET", "/favicon.ico")):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(endpoint + path, method=method, data=b"" if
                                                              method == "POST" else None), timeout=30)
            assert (refused.value.code, refused.value.read().decode()) == (404, MOTO_API_REFUSAL + "\n"), path
        assert served.client("s3").head_bucket(Bucket="local-input")  # not reset
        time.sleep(1.5)  # a view refresh
        assert served.stop() == 0
    log = "\n".join(served.lines)
    assert "Traceback" not in log and "Error on request" not in log


def test_a_request_signed_for_motos_own_api_is_refused_like_its_path():
    """moto routes a request whose SigV4 scope names `moto_api` to its dashboard app, whatever the path."""
    from local.serve_checks import without_moto_api

    def pipeline_app(environ, start_response):
        raise AssertionError("reached moto's dispatcher")

    answered = []
    body = without_moto_api(pipeline_app)(
        {"HTTP_HOST": "127.0.0.1:4566", "PATH_INFO": "/", "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=x/"
         "20261207/eu-west-1/moto_api/aws4_request, SignedHeaders=host, Signature=0"},
        lambda status, headers: answered.append(status))
    assert (answered, b"".join(body).decode()) == (["404 Not Found"], MOTO_API_REFUSAL + "\n")
