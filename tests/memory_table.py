"""A DynamoDB table in a dict, for the few calls the duplicates index makes (GetItem, PutItem with its two
conditions, BatchGetItem), when moto's speed would make a test of 10,000 images take minutes.

It answers as the low-level client does (typed items, `ConditionalCheckFailedException` as a `ClientError`)
and refuses any request it does not model rather than answer it wrongly.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from botocore.exceptions import ClientError

from contract.table import STATUS_TABLE

KEYS = (STATUS_TABLE.hash_key, STATUS_TABLE.range_key)
MAX_BATCH_KEYS = 100  # BatchGetItem's limit per request


class MemoryTable:
    """One table's items by key; conditional writes are atomic (one lock), as DynamoDB's are."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.items: dict[tuple[str, ...], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _key(self, table: str, key: dict[str, Any]) -> tuple[str, ...]:
        if table != self.table or set(key) != set(KEYS):
            raise NotImplementedError(f"no table {table!r} or not a key: {key}")
        return tuple(key[name]["S"] for name in KEYS)

    def get_item(self, *, TableName: str, Key: dict[str, Any],  # noqa: N803 (boto3's parameter names)
                 ConsistentRead: bool = False) -> dict[str, Any]:  # noqa: N803
        with self._lock:
            item = self.items.get(self._key(TableName, Key))
        return {"Item": copy.deepcopy(item)} if item is not None else {}

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        [(table, request)] = RequestItems.items()
        if len(request["Keys"]) > MAX_BATCH_KEYS or set(request) - {"Keys", "ConsistentRead"}:
            raise NotImplementedError(f"not modelled: {request}")
        found = [self.get_item(TableName=table, Key=key).get("Item") for key in request["Keys"]]
        return {"Responses": {table: [item for item in found if item is not None]}, "UnprocessedKeys": {}}

    def put_item(self, *, TableName: str, Item: dict[str, Any],  # noqa: N803 (boto3's parameter names)
                 ConditionExpression: str | None = None,  # noqa: N803
                 ExpressionAttributeValues: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: N803
        key = self._key(TableName, {name: Item[name] for name in KEYS})
        with self._lock:
            held = self.items.get(key)
            if ConditionExpression is None:
                allowed = True
            elif ConditionExpression == "attribute_not_exists(imageId)":
                allowed = held is None
            elif ConditionExpression == "version = :version" and ExpressionAttributeValues:
                allowed = held is not None and held.get("version") == ExpressionAttributeValues[":version"]
            else:
                raise NotImplementedError(f"condition not modelled: {ConditionExpression}")
            if not allowed:
                raise ClientError({"Error": {"Code": "ConditionalCheckFailedException",
                                             "Message": "The conditional request failed"},
                                   "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem")
            self.items[key] = copy.deepcopy(Item)
        return {}
