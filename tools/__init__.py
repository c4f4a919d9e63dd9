"""Operations tools: `python -m tools status|replay|metrics`, against AWS or the local runner."""
