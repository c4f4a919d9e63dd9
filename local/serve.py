"""`python -m local serve`: the whole pipeline as a local AWS endpoint, running until Ctrl-C.

    python -m local serve [--stack dev] [--port 4566] [--state DIR] [--out out/serve]

moto answers every AWS client on http://127.0.0.1:PORT (the AWS CLI, boto3, the SDKs, the
project's tools). In the same process the real handlers run and the delivery loop
(`local.delivery`) moves uploads through the pipeline in real time, on the system clock:
S3 -> s3_event_handler -> SQS -> orchestrator -> workflow -> status; DLQ -> dlq_processor ->
alerts; the reconciler every `workflow.reconcile_every_minutes`. The in-process handlers and
the HTTP endpoint share moto's backends, so what a client uploads is what the pipeline sees.

With `--state DIR` (one serve per folder: it holds `DIR/serve.lock`) it saves the buckets and the
status table after the uploads and outcomes of each second, and at a clean stop (`local.snapshot`);
between two saves it journals each upload before S3's acknowledgement is sent (`local.journal`).

It writes `<out>/stack-outputs.json` (the keys of `pulumi stack output --json`, plus
`endpoint_url` and `region`), which `python -m tools ... --local` reads, and the functions'
logs to `<out>/functions.log`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from components.settings.config import Settings
from local import moderation, serve_checks, snapshot
from local.clock import RealClock
from local.delivery import Delivery
from local.emulator import Emulator
from local.events import Sequencer
from local.journal import Journal, replay
from local.live import LiveView
from local.serve_checks import CannotStart
from local.stack import REGION, subscribe_inbox

OUTPUTS_FILE = "stack-outputs.json"
SAVE_SHARE = 0.2  # saving takes at most this share of the delivery loop's time, however big the state
ENV_HINT = ("export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION=" + REGION + " AWS_REGION=" + REGION +
            " AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local")


def stack_outputs(emulator: Emulator, endpoint: str) -> dict[str, Any]:
    """What `pulumi stack output --json` prints for a deployed stack, for the local one."""
    p = emulator.pipeline
    return {"input_bucket_name": p.input_bucket, "output_bucket_name": p.output_bucket, "queue_url": p.queue_url,
            "queue_arn": p.queue_arn, "dead_letter_queue_url": p.dlq_url, "dead_letter_queue_arn": p.dlq_arn,
            "state_machine_arn": p.state_machine_arn, "table_name": p.table, "topic_arn": p.topic_arn,
            "function_names": {fn: f"local-{fn}" for fn in p.settings.created_functions()},
            "endpoint_url": endpoint, "region": REGION}


class LocalServer:
    """Context manager: the endpoint and the delivery loop run in background threads until exit."""

    def __init__(self, settings: Settings, *, port: int = 4566, out_dir: Path = Path("out/serve"),
                 state_dir: Path | None = None, host: str = "127.0.0.1", poll_seconds: float = 0.2,
                 emit: Any = print) -> None:
        self.settings = settings
        self.host, self.port = host, port
        self.out_dir, self.state_dir = out_dir, state_dir
        self.emit = emit
        self.emulator = Emulator(settings, retry_scale=1.0, quiet=False)
        self.clock = RealClock(poll_seconds)
        self.delivery = Delivery(self.emulator, self.clock, sequencer=Sequencer.from_clock())
        self.view = LiveView(emit=emit)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._state_lock: Any = None
        self.journal: Journal | None = None
        self._saving = threading.Lock()
        self._saved_after: tuple[int, ...] = (0, 0, 0)
        self._next_save = 0.0
        self._save_failed = False

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def outputs_path(self) -> Path:
        return self.out_dir / OUTPUTS_FILE

    def __enter__(self) -> LocalServer:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        for flag, folder in (("--state", self.state_dir), ("--out", self.out_dir)):
            if folder is not None:
                serve_checks.check_folder(flag, folder)
        self._state_lock = serve_checks.lock_state(self.state_dir) if self.state_dir is not None else None
        try:
            serve_checks.check_outputs_owner(self.outputs_path)
            serve_checks.check_port(self.host, self.port)  # werkzeug would print its own advice and exit
        except CannotStart:
            self._unlock_state_dir()
            raise
        app = serve_checks.without_moto_api(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler)
        self.port = self._server.server_port  # --port 0 picks a free one
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request would drown the view
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._log_file = (self.out_dir / "functions.log").open("a")
        try:
            self.emulator.__enter__()
            self._prepare()
        except BaseException:
            self._close()
            raise
        self._start(self._server.serve_forever, "endpoint")
        self._start(self._deliver, "delivery")
        return self

    def _prepare(self) -> None:
        from local.inprocess import functions_log

        self._functions_log = functions_log(self._log_file)
        self._functions_log.__enter__()
        if self.state_dir is not None:
            e = self.emulator
            restored = snapshot.load(self.state_dir, e.s3, e.dynamodb, e.pipeline)
            manifest, journaled = replay(self.state_dir, e.s3, restored["manifest"])
            e.sqs.purge_queue(QueueUrl=e.events_url)  # restored uploads are not new
            self.view.prime(self._status_items())  # restored outcomes are not news either
            unfinished = snapshot.unreflected_uploads(manifest, e.dynamodb, e.pipeline)
            for entry in unfinished:  # S3's event for it, sent again: none is lost, the object is untouched
                e.sqs.send_message(QueueUrl=e.events_url, MessageBody=json.dumps(snapshot.s3_event(entry)))
            if manifest or restored["items"]:
                self.emit(f"restored {len(manifest)} objects and {restored['items']} status items from "
                          f"{self.state_dir}" + (f" ({journaled} upload(s) from the journal)" if journaled else "") +
                          f"; {len(unfinished)} unfinished upload(s) announced again")
            self.journal = Journal(self.state_dir, e.s3, e.pipeline.input_bucket, self._journal_failed).__enter__()
            assert self._server is not None
            self._server.app = self.journal.wsgi(self._server.app)
        self._alerts_url = subscribe_inbox(self.emulator.sqs, self.emulator.sns, self.emulator.pipeline.topic_arn,
                                           "local-alerts-live", raw=False)
        written = self.outputs_path.with_name(f".{OUTPUTS_FILE}.new")  # renamed whole: no reader sees half of it
        written.write_text(json.dumps(stack_outputs(self.emulator, self.endpoint), indent=2) + "\n")
        written.replace(self.outputs_path)

    def _start(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=f"serve-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
        for thread in self._threads:
            thread.join(timeout=30)
        try:
            if self.state_dir is not None and hasattr(self.emulator, "pipeline"):
                saved = self.save()
                if saved:
                    self.emit(f"saved {saved['objects']} objects and {saved['items']} status items to "
                              f"{self.state_dir}")
        finally:
            self._close()

    def save(self) -> dict[str, int] | None:
        """Save to --state (atomically, see `local.snapshot`); None, said once, if the disk refuses."""
        assert self.state_dir is not None
        e = self.emulator
        with self._saving:
            try:
                covered = self.journal.rotate() if self.journal is not None else 0
                saved = snapshot.save(self.state_dir, e.s3, e.dynamodb, e.pipeline)
                if self.journal is not None:
                    self.journal.drop(covered)
            except OSError as error:  # a full disk, a folder made read-only meanwhile: the last save is intact
                if not self._save_failed:
                    self.emit(f"could not save to {self.state_dir} ({error.strerror or error}): the last "
                              "snapshot there is unchanged; trying again after the next outcome")
                self._save_failed = True
                return None
        self._save_failed = False
        return saved

    def _journal_failed(self, error: OSError) -> None:
        self.emit(f"could not journal an upload to {self.state_dir} ({error.strerror or error}): it is kept "
                  "by the next save")

    def _save_if_news(self) -> None:
        """Save when uploads arrived or images ended since the last save: a crash then loses only the
        runs in flight (announced again at the next start); uploads are in the journal already."""
        news = (self.delivery.counts.s3_events, self.view.endings, self.delivery.counts.dead_letters_settled)
        if self.state_dir is None or news == self._saved_after or time.monotonic() < self._next_save:
            return
        started = time.monotonic()
        if self.save() is not None:
            self._saved_after = news
        self._next_save = started + (time.monotonic() - started) / SAVE_SHARE

    def forget_outputs(self) -> None:
        """Remove the outputs file if it is ours: the tools then say no local stack is running."""
        if serve_checks.outputs_endpoint(self.outputs_path) == self.endpoint:
            self.outputs_path.unlink(missing_ok=True)

    def _unlock_state_dir(self) -> None:
        if self._state_lock is not None:
            self._state_lock.close()  # closing lets go of the lock
            self._state_lock = None

    def _close(self) -> None:
        self.forget_outputs()
        if self.journal is not None:
            self.journal.__exit__(None, None, None)
        self._unlock_state_dir()
        if hasattr(self, "_functions_log"):
            self._functions_log.__exit__(None, None, None)
        self.emulator.__exit__(None, None, None)
        if self._server is not None:
            self._server.server_close()
        self._log_file.close()

    # -- the loop ------------------------------------------------------------------------------

    def _deliver(self) -> None:
        period = 60 * self.settings.workflow.reconcile_every_minutes
        next_reconcile = self.clock.now() + period
        next_view = self.clock.now() + 1.0  # after the banner
        while not self._stop.is_set():
            try:
                moved = self.delivery.step()
                moved |= self.delivery.forward_execution_events()
                moved |= self.delivery.release_due(jump=False)
                if self.clock.now() >= next_reconcile:
                    self.delivery.reconcile(datetime.now(UTC))
                    next_reconcile = self.clock.now() + period
                if self.clock.now() >= next_view:
                    self.refresh_view()
                    self._save_if_news()
                    next_view = self.clock.now() + 1.0
            except Exception as error:  # the loop must outlive one bad round; say what happened
                moved = False
                self.errors.append(f"{type(error).__name__}: {error}")
                self.emit(f"delivery loop: {type(error).__name__}: {error} (continuing)")
                time.sleep(1)
            if not moved:
                self.clock.idle()

    def _status_items(self) -> list[dict[str, Any]]:
        e = self.emulator
        return [item for page in e.dynamodb.get_paginator("scan").paginate(TableName=e.pipeline.table)
                for item in page["Items"]]

    def refresh_view(self) -> None:
        e = self.emulator
        items = self._status_items()
        rejected, self.delivery.rejected = self.delivery.rejected, []
        self.view.update(items, uploads=self.delivery.counts.uploads_seen, running=self.delivery.running_executions(),
                         dead_lettered=self.delivery.counts.dead_letters_settled,
                         alerts=e.drain(self._alerts_url), bad_keys=rejected)
        e.drain(e.alerts_url)  # the batch report's raw inbox: emptied so a long session does not accumulate it

    def banner(self, stack: str) -> str:
        p = self.emulator.pipeline
        names = stack_outputs(self.emulator, self.endpoint)
        width = max(len(k) for k in names)
        rows = [f"  {k:<{width}}  {v}" for k, v in names.items() if k != "function_names"]
        return "\n".join([
            f"image-pipeline, locally: stack {stack} on {self.endpoint} (Ctrl-C stops it)",
            *rows,
            f"stack outputs in {self.outputs_path}; the functions' logs in {self.out_dir / 'functions.log'}",
            *([moderation.NOTICE] if p.settings.moderation.enabled else []),
            "",
            "In another shell:",
            f"  {ENV_HINT.format(endpoint=self.endpoint)}",
            f"  aws s3 cp photo.jpg s3://{p.input_bucket}/uploads/me/photo.jpg",
            "  python -m tools status --local --key uploads/me/photo.jpg",
            ""])
