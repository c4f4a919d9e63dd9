"""`python -m local serve`: the command line of `local.serve` (arguments, signals, the banner).

    python -m local serve [--stack dev] [--port 4566] [--state DIR] [--out out/serve]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from local.serve import LocalServer
from local.serve_checks import CannotStart
from local.settings import load_stack
from tools.arguments import Number, Parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = Parser(prog="python -m local serve",
                                     description="the whole pipeline as a local AWS endpoint, until Ctrl-C")
    parser.add_argument("--stack", default="dev", help="whose Pulumi.<stack>.yaml settings to use (default: dev)")
    parser.add_argument("--port", type=Number("a port", whole=True, high=65535, note="0 picks a free one"),
                        default=4566,
                        help="the endpoint's port on 127.0.0.1 (default: 4566; 0 picks a free one)")
    parser.add_argument("--state", type=Path, help="keep the buckets and the status table in DIR across restarts, "
                        "each upload journaled as S3 accepts it, the rest saved after each second with news "
                        "and at the stop (one serve per DIR)")
    parser.add_argument("--out", type=Path, default=Path("out/serve"),
                        help="where the stack outputs and the functions' log go (default: out/serve)")
    return parser.parse_args(argv)


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    settings = load_stack(args.stack)
    if settings is None:
        return 2
    stop = threading.Event()
    signals = {"count": 0, "last": -1.0}

    def on_signal(*_: object) -> None:
        # Set explicitly: a process started in the background inherits SIGINT ignored. A second
        # Ctrl-C while stopping says what is happening; a third quits without the final save. Signals within
        # half a second count once: wrappers (make, timeout, a shell) pass one Ctrl-C on as several.
        now = time.monotonic()
        if now - signals["last"] < 0.5:
            return
        signals["last"] = now
        signals["count"] += 1
        stop.set()
        if signals["count"] == 2:
            say("still stopping (saving --state and closing the endpoint); Ctrl-C again quits without saving")
        elif signals["count"] >= 3:
            say("quitting without saving; --state keeps its last save (made after the last outcome)")
            server.forget_outputs()
            os._exit(130)

    server = LocalServer(settings, port=args.port, out_dir=args.out, state_dir=args.state, emit=say)
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, on_signal)
    try:
        server.__enter__()
    except CannotStart as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        say(server.banner(args.stack))
        while not stop.wait(0.5):
            pass
    finally:
        say("stopping...")
        server.__exit__(None, None, None)
    say("stopped")
    return 0
