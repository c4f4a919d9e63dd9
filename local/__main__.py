"""`python -m local`: run images through the whole pipeline on moto, no AWS account, no Docker.

    python -m local                          # a built-in sample set, generated on the fly
    python -m local photos/*.jpg --out out --report out/report.json
    python -m local --faults throttle=0.2,crash=0.1,duplicate=0.1,lost_event=0.2 --seed 7 --iam-enforce
    python -m local serve                    # a local AWS endpoint running the pipeline (see local/serve.py)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from pathlib import Path

from contract.workflow_types import workflow_type
from local import moderation
from local.faults import Faults, FaultSpecError
from local.report import Report
from local.runner import Upload
from local.samples import BROKEN_ON_PURPOSE
from local.settings import load_stack
from tools.arguments import Number, Parser, whole


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = Parser(prog="python -m local", description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="*", type=Path,
                        help="image files or folders, taken recursively (default: the built-in sample set)")
    parser.add_argument("--stack", default="dev", help="whose Pulumi.<stack>.yaml settings to use (default: dev)")
    parser.add_argument("--out", type=Path, default=Path("out"), help="where variants are written (default: out)")
    parser.add_argument("--report", type=Path, help="write the JSON report here (default: <out>/report.json)")
    parser.add_argument("--user", default="local-user", help="userId in the upload keys (default: local-user)")
    parser.add_argument("--faults", help="e.g. throttle=0.2,dynamodb=0.05,crash=0.1,duplicate=0.1,lost_event=0.2")
    parser.add_argument("--seed", type=Number("a whole number", whole=True), default=0,
                        help="seed of the fault injection (default: 0)")
    parser.add_argument("--warnings", action="store_true",
                        help="list the stack's settings warnings (those `pulumi preview` prints) instead of counting "
                             "them in one line")
    parser.add_argument("--iam-enforce", action="store_true",
                        help="check every AWS call against the calling function's own role policy")
    parser.add_argument("--workers", type=whole,
                        help="worker processes, each with its own moto (default: 2 from 40 images on)")
    return parser.parse_args(argv)


class InputError(ValueError):
    """An input path that names nothing to upload."""


def image_files(paths: list[Path]) -> list[Path]:
    """The files named, and every file under the folders named (sorted; hidden files skipped)."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InputError(f"no such file or folder: {', '.join(missing)}")
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(f for f in path.rglob("*") if f.is_file() and not any(
                part.startswith(".") for part in f.relative_to(path).parts))
        else:
            files.append(path)
    if not files:
        raise InputError(f"no files in {', '.join(map(str, paths))}")
    return files


def uploads_from(paths: list[Path], user: str) -> list[Upload]:
    if not paths:
        from local.samples import sample_set

        named = sample_set()
    else:
        named = [(p.name, p.read_bytes()) for p in image_files(paths)]
    uploads, seen = [], set()
    for file, data in named:
        stem, dot, ext = file.rpartition(".")
        stem = re.sub(r"[/\\]", "_", stem if dot else file)
        image_id = stem if stem not in seen else f"{stem}-{len(seen)}"
        seen.add(image_id)
        uploads.append(Upload(file=file, key=f"uploads/{user}/{image_id}.{ext if dot else 'bin'}", data=data))
    return uploads


class Progress:
    """A one-line progress bar on stderr, fed by a shared counter."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self._stop = total, 0, threading.Event()
        self._thread = threading.Thread(target=self._render, daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        sys.stderr.write("\n")

    def _render(self) -> None:
        while not self._stop.wait(0.2):
            self.draw()
        self.draw()

    def draw(self) -> None:
        if self.done == getattr(self, "_drawn", None):
            return
        self._drawn = self.done
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        sys.stderr.write(f"\r  uploading [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}")
        sys.stderr.flush()


def failures(report: Report) -> list[str]:
    """`failed N`, then a line per reason; failures the sample set means are marked `expected`."""
    failed = [o for o in report.outcomes if o.status == "failed"]
    expected = [o for o in failed if o.expected == "failed"]
    lines = [f"failed          {len(failed)}" + (
        f" ({len(expected)} expected: broken on purpose in the sample set)" if expected else "")]
    for reason, n in report.failed_by_reason.most_common():
        files = [o.file for o in expected if (o.reason or "?") == reason]
        lines.append(f"  {n:>4} x {reason}" + (f" (expected: {', '.join(files)})" if len(files) == n else ""))
    return lines


def summary(report: Report) -> str:
    counts = report.counts
    lines = [
        f"uploaded        {len(report.outcomes)}",
        f"completed       {counts.get('completed', 0)}",
        *failures(report),
        f"missing         {counts.get('missing', 0)}",
        f"dead-lettered   {len(report.dead_lettered)}",
        f"alerts          {len(report.alerts)}",
        f"regressions     {len(report.regressions)} (images not reflecting their newest upload)",
        f"duplicate executions {report.duplicate_executions}" + (
            " (EXPRESS runs a redelivered message again; one outcome is kept)"
            if not workflow_type(report.workflow_type).exactly_once else ""),
        f"variant writes  {sum(report.variant_writes.values())} ({report.duplicate_variant_writes} rewrites of a key)",
        f"wall time       {report.wall_seconds:.2f} s",
        f"throughput      {report.images_per_second:.1f} images/s",
    ]
    if report.faults_injected:
        lines.append("faults injected " + ", ".join(f"{k}={v}" for k, v in sorted(report.faults_injected.items())))
    if report.iam_checked:
        lines.append(f"IAM             {report.iam_checked} calls checked, {len(report.iam_denied)} denied")
        lines += [f"  denied: {denied}" for denied in report.iam_denied]
    return "\n".join(lines)


def keep_inputs(uploads: list[Upload], out: Path) -> Path:
    """The generated sample set, written next to the outputs so they can be compared."""
    folder = out / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    for upload in uploads:
        (folder / upload.key.rsplit("/", 1)[-1]).write_bytes(upload.data)
    return folder


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        from local import serve_command

        return serve_command.main(argv[1:])
    args = parse_args(argv)
    settings = load_stack(args.stack, brief=not args.warnings)
    try:
        Faults.parse(args.faults, args.seed)
    except FaultSpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if settings is None:
        return 2
    try:
        uploads = uploads_from(args.images, args.user)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    workers = args.workers or (min(2, os.cpu_count() or 1) if len(uploads) >= 40 else 1)
    print(f"image-pipeline, locally: {len(uploads)} image(s), stack {args.stack}, {workers} worker(s)"
          f"{', faults ' + args.faults if args.faults else ''}{', IAM enforced' if args.iam_enforce else ''}",
          file=sys.stderr)
    if settings.moderation.enabled:
        print(moderation.NOTICE, file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    inputs = keep_inputs(uploads, args.out) if not args.images else None
    started = time.perf_counter()
    from local import parallel

    with Progress(len(uploads)) as progress:
        report = parallel.run(settings, uploads, workers=workers, faults=args.faults, seed=args.seed,
                              iam_enforce=args.iam_enforce, out_dir=args.out,
                              on_progress=lambda done, total: setattr(progress, "done", done))
        progress.done = len(uploads)
    if inputs:
        for outcome in report.outcomes:
            outcome.expected = "failed" if outcome.file in BROKEN_ON_PURPOSE else None
    report_path = args.report or args.out / "report.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report.to_json(), indent=2, default=str))
    print(summary(report))
    if inputs:
        print(f"the generated inputs are in {inputs}")
    print(f"variants under {args.out}/variants, report in {report_path} "
          f"({time.perf_counter() - started:.1f} s with set-up)")
    return 1 if report.counts.get("missing") else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
