"""Test images: the generators live in `local.samples` (the demo uses them too)."""

from local.samples import *  # noqa: F403
