"""Both workflow types for the end-to-end and stateful tests: each runs on STANDARD and on EXPRESS."""

from __future__ import annotations

from components import Settings, parse_settings, read_stack_settings
from tests.conftest import ROOT

WORKFLOW_TYPES = ("STANDARD", "EXPRESS")


def stack_settings(stack: str, workflow_type: str) -> Settings:
    """The stack's settings with a STANDARD or an EXPRESS workflow (EXPRESS: the 5-minute limit)."""
    raw = read_stack_settings(stack, ROOT)
    raw["workflow"] = raw.get("workflow", {}) | {"type": workflow_type} | (
        {"execution_timeout_seconds": 300} if workflow_type == "EXPRESS" else {})
    return parse_settings(raw)
