"""Cost per image: the README's production configuration against the original design, same tool, same profile.

The profile is this run's (`python -m bench steps` writes build/step_profile.json; run it first, as
`make bench` does) or else the committed one. Both are priced by `tools.cost` without moderation (the
original design had none; it costs the same $0.001 an image in both) and on processing (keeping the
uploads costs the same in both). The same work: no duplicate index in either (the original had none);
then ours with its duplicate index on, the default. Goal: ours <= 1/3 for the same work.
"""

from __future__ import annotations

import dataclasses
import json

from bench.measure import ROOT, table
from components import Settings, read_stack_settings
from contract.workflow_types import STANDARD
from tools import cost


def run() -> tuple[str, dict[str, float]]:
    fresh = ROOT / "build" / "step_profile.json"
    profile = json.loads(fresh.read_text()) if fresh.exists() else cost.load("step_profile.json")
    prod = Settings.from_dict(read_stack_settings("prod"))
    figures: dict[str, float] = {}
    rows = []
    for duplicates in ("off", "flag"):
        for images in (1_000_000, 10_000_000):
            ours_settings = dataclasses.replace(
                prod, moderation=dataclasses.replace(prod.moderation, enabled=False),
                workflow=dataclasses.replace(prod.workflow, duplicates=duplicates))
            original_settings = dataclasses.replace(
                ours_settings, workflow=dataclasses.replace(ours_settings.workflow, type=STANDARD.name))
            ours = cost.estimate(ours_settings, images_per_month=images, profile=profile)
            original = cost.estimate(original_settings, images_per_month=images, profile=profile, design="original")
            ratio = ours.per_million(processing=True) / original.per_million(processing=True)
            label = f"duplicates_{duplicates}_{images // 1_000_000}M"
            figures |= {f"{label}_ours": ours.per_million(processing=True),
                        f"{label}_original": original.per_million(processing=True), f"{label}_ratio": ratio}
            rows.append(["same work (no duplicate index)" if duplicates == "off" else "ours with its duplicate index",
                         f"{images:,}", f"{ours.per_million(processing=True):,.2f}",
                         f"{original.per_million(processing=True):,.2f}", f"{ratio:.2f}",
                         "<= 0.33" if duplicates == "off" else ""])
    return table(f"Dollars per million 12 MP images, processing: prod (EXPRESS) vs the original design (STANDARD), "
                 f"profile {'of this run' if fresh.exists() else 'committed'}",
                 ["compared", "images a month", "ours", "original design", "ratio", "goal"], rows), figures
