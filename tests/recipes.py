"""Recipes for tests of the image core: the sizes and formats asked for, the stack's defaults otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contract.recipe import Recipe


def recipe(sizes: Sequence[int], formats: Sequence[str], *, quality: int | None = None, **fields: Any) -> Recipe:
    """A `Recipe` of `sizes` x `formats`; `quality`, when given, is every format's quality."""
    if quality is not None:
        fields |= {"jpeg_quality": quality, "webp_quality": quality, "avif_quality": quality}
    return Recipe(variant_sizes=tuple(sizes), variant_formats=tuple(formats), **fields)
