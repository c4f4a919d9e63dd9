"""AWS clients, created once per process and shared by every invocation.

In Lambda they are created during init (import), when the CPU is boosted; elsewhere (tests,
the local runner) on first use, so an emulator started later still intercepts them.
`reset()` drops them, for tests that start a fresh emulator.

Example:
    >>> from handlers.lifecycle.clients import clients
    >>> sqs = clients.get("sqs")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from contract.environment import in_lambda

# Standard retry mode: bounded exponential backoff with jitter for throttling and 5xx.
CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


class Clients:
    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def get(self, service: str) -> Any:
        client = self._cache.get(service)
        if client is None:
            client = self._cache[service] = boto3.client(service, config=CONFIG)
        return client

    def warm(self, *services: str) -> None:
        """Create these clients now when running inside Lambda (during the init phase)."""
        if in_lambda():
            for service in services:
                self.get(service)

    def reset(self) -> None:
        self._cache.clear()


clients = Clients()
