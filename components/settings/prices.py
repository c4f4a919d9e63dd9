"""The AWS prices the settings' cost warning quotes, package data of the component (`prices.json`: region,
date, each price's source page). `python -m tools cost` prices a whole stack from the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PRICES = Path(__file__).with_name("prices.json")


def load_prices(path: str | Path | None = None) -> dict[str, Any]:
    """The price data: `path`'s (a file like `prices.json`), or the component's own."""
    return json.loads(Path(path or PRICES).read_text())


def endpoint_prices() -> tuple[float, float, str] | None:
    """(dollars per interface endpoint per AZ per hour, per GB processed, the prices' region); None when the
    price data cannot be read."""
    try:
        prices = load_prices()
        link = prices["privatelink"]
        return link["interface_endpoint_az_hour"], link["data_processed_gb"], prices["region"]
    except (OSError, ValueError, KeyError):
        return None
