"""A stack's settings for the local pipeline, with the warnings `pulumi preview` would print."""

from __future__ import annotations

import sys

from components import ConfigError, Settings, parse_settings, read_stack_settings, settings_warnings
from tools import PROJECT_DIR


def load_stack(stack: str, *, brief: bool = False) -> Settings | None:
    """`Pulumi.<stack>.yaml`'s settings, each pitfall warning printed as `pulumi preview` would (`brief`:
    one line counting them); None after printing one line per problem if the stack is unknown or its
    settings invalid."""
    try:
        settings = parse_settings(read_stack_settings(stack, PROJECT_DIR))
    except (ConfigError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return None
    warnings = settings_warnings(settings)
    if brief and warnings:
        keys = ", ".join(dict.fromkeys(warning.split(":")[0] for warning in warnings))
        print(f"note: stack {stack} has {len(warnings)} settings warning{'s' if len(warnings) > 1 else ''} ({keys}), "
              "as `pulumi preview` shows them: add --warnings to list them", file=sys.stderr)
        return settings
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return settings
