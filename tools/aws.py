"""The one place the tools make AWS clients: at the stack's endpoint and region when it has them.

Against an endpoint other than AWS's (the local stack's emulator) no real credentials are needed:
if none are configured, the clients sign with dummy ones, which an emulator accepts.
`AWS_ENDPOINT_URL` keeps working: boto3 reads it itself when no endpoint is given here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from tools.resources import Resources

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
DUMMY_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
# A local endpoint either answers at once or is not running: say so in seconds, not after a minute
# of retries (botocore's defaults are made for AWS's own endpoints).
LOCAL_CONFIG = Config(connect_timeout=5, retries={"mode": "standard", "total_max_attempts": 2})


@dataclass(frozen=True)
class Clients:
    """Makes clients from `session` at `endpoint_url` and in `region` (None: the session's own).

    It has the `client(name)` of a boto3 session, so code that takes a session takes this too."""

    session: Any
    endpoint_url: str | None = None
    region: str | None = None

    def client(self, service: str) -> Any:
        options: dict[str, Any] = {}
        if self.region:
            options["region_name"] = self.region
        if self.endpoint_url:
            options.update(endpoint_url=self.endpoint_url, config=LOCAL_CONFIG)
        if self.dummy_credentials:
            options.update(DUMMY_CREDENTIALS)
        return self.session.client(service, **options)

    @cached_property
    def dummy_credentials(self) -> bool:
        """True when talking to a non-AWS endpoint and no credentials are configured."""
        endpoint = self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        return bool(endpoint) and self.session.get_credentials() is None


def connect(found: Resources, session: Any = None) -> Clients:
    """Clients for the resources `found`, from `session` (default: boto3's default credential chain).

    A local endpoint (the local stack's emulator) needs no profile: a profile set for AWS work, even
    one that does not exist here, is not read for it.
    """
    if session is None:
        local = bool(found.endpoint_url) and (urlsplit(found.endpoint_url).hostname or "") in LOCAL_HOSTS
        if local:
            for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):  # this process talks to the emulator only
                os.environ.pop(variable, None)
        session = boto3.session.Session(**DUMMY_CREDENTIALS) if local else boto3.session.Session()
    return Clients(session, endpoint_url=found.endpoint_url, region=found.region)
