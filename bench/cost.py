"""Cost per image: the README's production configuration against the original design, same tool, same profile.

The profile is this run's (`python -m bench steps` writes build/step_profile.json; run it first, as
`make bench` does) or else the committed one. Both are priced by `tools.cost` without moderation (the
original design had none; it costs the same $0.001 an image in both). Goal (issue 14): ours <= 1/3.
"""

from __future__ import annotations

import dataclasses
import json

from bench.measure import ROOT, table
from components import Settings, read_stack_settings
from tools import cost


def run() -> tuple[str, dict[str, float]]:
    fresh = ROOT / "build" / "step_profile.json"
    profile = json.loads(fresh.read_text()) if fresh.exists() else cost.load("step_profile.json")
    prod = Settings.from_dict(read_stack_settings("prod"))
    plain = dataclasses.replace(prod, moderation=dataclasses.replace(prod.moderation, enabled=False))
    standard = dataclasses.replace(plain, workflow=dataclasses.replace(plain.workflow, type="STANDARD"))
    ours = cost.estimate(plain, profile=profile)
    original = cost.estimate(standard, profile=profile, design="original")
    figures = {"ours_per_million": ours.per_million(), "original_per_million": original.per_million(),
               "ratio": ours.per_million() / original.per_million()}
    services = list(dict.fromkeys(ours.services() + original.services()))
    rows = [[s, f"{ours.per_million(s):,.2f}", f"{original.per_million(s):,.2f}"] for s in services]
    rows.append(["total", f"{figures['ours_per_million']:,.2f}", f"{figures['original_per_million']:,.2f}"])
    rows.append(["ours / original", f"{figures['ratio']:.2f}", "goal <= 0.33"])
    return table(f"Dollars per million 12 MP images: prod (EXPRESS) vs the original design (STANDARD), profile "
                 f"{'of this run' if fresh.exists() else 'committed'}", ["service", "ours", "original design"],
                 rows), figures
