"""Make moto fast and faithful enough for whole-pipeline runs (runner and tests only).

What each patch fixes (measured with moto 5.2.5, see design notes):
- the ASL definition was parsed again for every execution: parse once per definition;
- each Step Functions task built a new boto3 client: one client per service and region;
- JSONPath and intrinsic-function expressions were re-parsed on every use: cached;
- a Query on a table's own key sorted the whole table (`Table.all_items`) to keep one partition's
  items: it reads that partition only, so a Query costs what its partition holds, not the table
  (the results, their order and paging are moto's own: `tests/functional/test_speedups.py` compares them);
- conditional writes in moto's DynamoDB are not atomic across threads (two "winners" were
  seen under races): every DynamoDB backend call is serialized, as the real service is atomic;
- moto keeps every execution's worker threads in a module-level list: cleared on exit;
- moto announces a completed multipart upload twice (an `ObjectCreated:Put` from the object it
  writes, then `ObjectCreated:CompleteMultipartUpload`); S3 announces it once: the first is dropped;
- moto writes `$$.State.EnteredTime` as `2026-11-28T11:24:38.647426+00:00`; AWS writes
  `2026-11-28T11:24:38.647Z`, the format every other stored time uses: written as AWS does.
None of this changes the definitions or handlers that get deployed.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import sys
import threading
from types import SimpleNamespace
from typing import Any
from unittest import mock

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.s3 import notifications as s3_notifications
from moto.s3.models import S3Backend
from moto.stepfunctions.parser import utils as parser_utils
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils  # noqa: F401
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: F401
    state_task_service_aws_sdk,
    state_task_service_dynamodb,
    state_task_service_sns,
)
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser import IntrinsicParser
from moto.stepfunctions.parser.asl.utils import boto_client, json_path

from handlers.lifecycle.uploads import utc_iso

DYNAMODB_METHODS = ("put_item", "get_item", "update_item", "delete_item", "query", "scan",
                    "transact_write_items", "batch_write_item", "batch_get_item")


def _entered_time(tz: Any = None) -> SimpleNamespace:
    return SimpleNamespace(isoformat=lambda: utc_iso(datetime.datetime.now(datetime.UTC)))


AWS_ENTERED_TIME = SimpleNamespace(timezone=datetime.timezone, datetime=SimpleNamespace(now=_entered_time))


def partition_queries() -> contextlib.ExitStack:
    """Patches: a Query on the table's own key reads only the items of its hash key.

    moto's `Table.query` takes every item (`all_items()`, the whole table sorted), keeps those whose
    hash key matches, and sorts them by range key. Within one Query, `all_items` here returns the
    matching partition only, in the same order, so the rest of moto's query (ranges, filters, order,
    Limit, paging) runs unchanged on the same items. Index queries are left as they are.
    """
    real_query, real_all_items = Table.query, Table.all_items
    scope = threading.local()  # (table, hash key) of the Query running in this thread

    def query(table: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None:
            return real_query(table, hash_key, *args, **kwargs)
        scope.partition = (table, hash_key)
        try:
            return real_query(table, hash_key, *args, **kwargs)
        finally:
            scope.partition = None

    def all_items(table: Table) -> list[Any]:
        partition = getattr(scope, "partition", None)
        if partition is None or partition[0] is not table:
            return real_all_items(table)
        items = table.items.get(partition[1])
        if items is None:
            return []
        if not table.range_key_attr:
            return [items]
        return sorted(items.values(), key=lambda item: item.range_key)

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(Table, "query", query))
    stack.enter_context(mock.patch.object(Table, "all_items", all_items))
    return stack


class MotoSpeedups:
    """Context manager applying the patches above."""

    def __init__(self, *, fast: bool = True) -> None:
        """`fast=False` keeps only the fidelity patches (atomic DynamoDB, one event per multipart upload,
        AWS's time format): stock moto's speed, the benchmarks' baseline."""
        self.fast = fast
        self._patches = contextlib.ExitStack()
        self.workflow_clients: set[int] = set()  # ids of the clients Step Functions tasks call AWS with
        self._clients: dict[tuple[str, str], Any] = {}
        self._client_lock = threading.Lock()
        self._dynamodb_lock = threading.RLock()
        self._completing = threading.local()  # set while a multipart upload completes in this thread

    def _client_for(self, region: str, service: str, state_credentials: Any = None) -> Any:
        with self._client_lock:
            key = (region, service)
            if key not in self._clients:
                self._clients[key] = boto_client.boto3.client(
                    aws_access_key_id="ak", aws_secret_access_key="sk", region_name=region,
                    service_name=service, config=boto_client.Config(
                        parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}))
                self.workflow_clients.add(id(self._clients[key]))
            return self._clients[key]

    def _serialized(self, method: Any) -> Any:
        lock = self._dynamodb_lock

        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)
        return wrapper

    def _once_per_multipart_upload(self) -> tuple[Any, Any]:
        send_event, complete = s3_notifications.send_event, S3Backend.complete_multipart_upload
        completing = self._completing

        def send_once(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
            put = s3_notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT
            if not (getattr(completing, "active", False) and event_name == put):
                send_event(account_id, event_name, bucket, key)

        @functools.wraps(complete)
        def complete_once(*args: Any, **kwargs: Any) -> Any:
            completing.active = True
            try:
                return complete(*args, **kwargs)
            finally:
                completing.active = False
        return send_once, complete_once

    def __enter__(self) -> MotoSpeedups:
        asl_parse = functools.lru_cache(maxsize=32)(AmazonStateLanguageParser.parse)
        intrinsic_parse = functools.lru_cache(maxsize=1024)(IntrinsicParser.parse)
        patches = [mock.patch.object(state_module, "datetime", AWS_ENTERED_TIME)]
        if self.fast:
            patches += [
                mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(asl_parse)),
                mock.patch.object(IntrinsicParser, "parse", staticmethod(intrinsic_parse)),
                mock.patch.object(json_path, "parse", functools.lru_cache(maxsize=4096)(json_path.parse)),
                partition_queries(),
            ]
        send_once, complete_once = self._once_per_multipart_upload()
        patches += [mock.patch.object(s3_notifications, "send_event", send_once),
                    mock.patch.object(S3Backend, "complete_multipart_upload", complete_once)]
        # Every module that imported `boto_client_for` by name gets the caching version.
        for name, module in list(sys.modules.items()) if self.fast else []:
            if name.startswith("moto.stepfunctions.parser") and hasattr(module, "boto_client_for"):
                patches.append(mock.patch.object(module, "boto_client_for", self._client_for))
        for method in DYNAMODB_METHODS:
            patches.append(mock.patch.object(DynamoDBBackend, method,
                                             self._serialized(getattr(DynamoDBBackend, method))))
        for patch in patches:
            self._patches.enter_context(patch)
        return self

    def __exit__(self, *exc: object) -> None:
        self._patches.close()
        self._clients.clear()
        parser_utils.TMP_THREADS.clear()

