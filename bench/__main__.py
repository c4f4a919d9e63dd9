"""`make bench`: every benchmark, each against its baseline measured in the same run.

    python -m bench [queue] [imaging] [formats] [content] [duplicates] [pipeline] [steps] [cost]
    python -m bench profile [N]    where a run of N images (1,000) spends its time, not part of `make bench`
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SUITES = ("queue", "imaging", "formats", "content", "duplicates", "pipeline", "steps", "cost")


def main(argv: list[str]) -> int:
    if argv[:1] == ["profile"]:
        from bench import profile

        text, _ = profile.run(*[int(n) for n in argv[1:2]])
        print(text)
        return 0
    chosen = argv or list(SUITES)
    results: dict[str, dict[str, float]] = {}
    for suite in chosen:
        if suite == "queue":
            from bench import queue_handlers as module
        elif suite == "imaging":
            from bench import imaging as module  # type: ignore[no-redef]
        elif suite == "formats":
            from bench import formats as module  # type: ignore[no-redef]
        elif suite == "content":
            from bench import content as module  # type: ignore[no-redef]
        elif suite == "duplicates":
            from bench import duplicates as module  # type: ignore[no-redef]
        elif suite == "pipeline":
            from bench import pipeline as module  # type: ignore[no-redef]
        elif suite == "steps":
            from bench import steps as module  # type: ignore[no-redef]
        elif suite == "cost":
            from bench import cost as module  # type: ignore[no-redef]
        else:
            print(f"unknown suite {suite!r}; choose from {', '.join(SUITES)}", file=sys.stderr)
            return 2
        text, figures = module.run()
        print(text, flush=True)
        results[suite] = figures
    out = Path("build") / "bench-results.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
