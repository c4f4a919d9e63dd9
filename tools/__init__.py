"""Operations tools: `python -m tools status|replay|metrics`, against AWS or the local runner."""

from pathlib import Path

# The Pulumi project whose stack files `--stack NAME` names (cost, capacity, layout): this repository.
PROJECT_DIR = Path(__file__).resolve().parent.parent
