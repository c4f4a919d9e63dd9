"""What `python -m local serve` checks before it starts, and what its endpoint refuses.

Each refusal is one line naming the way out (`CannotStart`): a --state or --out that is a file or
not writable, a --state folder another serve holds, a local stack already running with the same
outputs file, a taken port. The endpoint answers moto's own dashboard and `/moto-api/` with one line.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path
from typing import IO, Any

LOCK_FILE = "serve.lock"  # in the --state folder, held while serve runs: one serve per folder
MOTO_API_REFUSAL = ("this endpoint serves the pipeline's AWS APIs, not moto's dashboard or its /moto-api/ "
                    "(which could reset the stack): use python -m tools status|metrics --local")


class CannotStart(OSError):
    """Something stops serve from starting (a taken port, a running stack, a bad --state): the message
    says what, and what to do instead."""


def check_folder(flag: str, folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise CannotStart(f"{flag} {folder} is a file: give a folder (it is created if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise CannotStart(f"{flag} {folder}: cannot write there ({error.strerror}): give a folder you "
                          "can write to") from None


def lock_state(state_dir: Path) -> IO[str]:
    """Hold the --state folder while serve runs (close the file to let go): two serves saving to one
    folder would overwrite each other's saves. The kernel lets go when the process ends, however it ends."""
    lock = (state_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise CannotStart(f"--state {state_dir} is in use by another `python -m local serve` (pid {holder}): "
                          "Stop it, or pass another --state DIR") from None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def check_outputs_owner(outputs_path: Path) -> None:
    """Refuse to take over the outputs file of a local stack that is still running."""
    running = answering_endpoint(outputs_path)
    if running:
        raise CannotStart(f"a local stack is already running at {running} (its outputs are in "
                          f"{outputs_path}): use that one, stop it, or pass --out DIR to run another")


def check_port(host: str, port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds
        try:
            probe.bind((host, port))
        except OSError as error:
            raise CannotStart(f"port {port} on {host} is in use ({error.strerror}): another "
                              "`python -m local serve` or LocalStack? Stop it, or pass --port N") from None


def without_moto_api(app: Any) -> Any:
    """moto's dashboard and `/moto-api/` (reset, state) answered with one line: a reset would delete the
    local stack's resources, and the dashboard's data calls ask Docker about Lambda (a traceback each)."""
    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        host = environ.get("HTTP_HOST", "").partition(":")[0]
        path = environ.get("PATH_INFO", "")
        # `Credential=<key>/<date>/<region>/<service>/aws4_request`: moto routes a request signed for `moto_api` there.
        signed_for = environ.get("HTTP_AUTHORIZATION", "").partition("Credential=")[2].split(",")[0].split("/")[3:4]
        if path.startswith("/moto-api") or path == "/favicon.ico" or "moto_api" in (host, *signed_for):
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"{MOTO_API_REFUSAL}\n".encode()]
        return app(environ, start_response)
    return guarded


def outputs_endpoint(path: Path) -> str | None:
    try:
        endpoint = json.loads(path.read_text()).get("endpoint_url")
    except (OSError, ValueError, AttributeError):
        return None
    return endpoint if isinstance(endpoint, str) else None


def answering_endpoint(path: Path) -> str | None:
    """The endpoint named in the outputs file at `path` if something answers there."""
    endpoint = outputs_endpoint(path)
    if not endpoint or not endpoint.startswith("http://"):
        return None
    host, _, port = endpoint.removeprefix("http://").partition(":")
    with socket.socket() as probe:
        probe.settimeout(1)
        return endpoint if port.isdigit() and probe.connect_ex((host, int(port))) == 0 else None
