"""The status table's keys and its `pending` index, stated once: the component declares the table from
them (`components.storage`), the local stack creates it from them (`local.stack`), and the functions
query the index by its name (`handlers.lifecycle.status`).

One item per image: `imageId` (hash) + `userId` (range). The sparse `pending` index holds only images
still `queued` or `processing` (the attribute is removed at a terminal status), ordered by
`pendingSince`: the reconciler's work list.

Example:
    >>> STATUS_TABLE.key_schema()
    [{'AttributeName': 'imageId', 'KeyType': 'HASH'}, {'AttributeName': 'userId', 'KeyType': 'RANGE'}]
    >>> PENDING_INDEX
    'pending'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STRING = "S"  # every key attribute is a string


def _key_schema(hash_key: str, range_key: str) -> list[dict[str, str]]:
    return [{"AttributeName": hash_key, "KeyType": "HASH"}, {"AttributeName": range_key, "KeyType": "RANGE"}]


@dataclass(frozen=True)
class Index:
    """A global secondary index: its name, keys and projection."""

    name: str
    hash_key: str
    range_key: str
    projection: str = "ALL"


@dataclass(frozen=True)
class TableKeys:
    """A table's keys and indexes, with the DynamoDB API's shapes of them (`CreateTable`'s parameters)."""

    hash_key: str
    range_key: str
    indexes: tuple[Index, ...] = ()

    def key_attributes(self) -> tuple[str, ...]:
        """Every attribute a key of the table or of an index names, each once: the attribute definitions."""
        names = [self.hash_key, self.range_key]
        for index in self.indexes:
            names += [index.hash_key, index.range_key]
        return tuple(dict.fromkeys(names))

    def key_schema(self) -> list[dict[str, str]]:
        return _key_schema(self.hash_key, self.range_key)

    def attribute_definitions(self) -> list[dict[str, str]]:
        return [{"AttributeName": name, "AttributeType": STRING} for name in self.key_attributes()]

    def global_secondary_indexes(self) -> list[dict[str, Any]]:
        return [{"IndexName": index.name, "Projection": {"ProjectionType": index.projection},
                 "KeySchema": _key_schema(index.hash_key, index.range_key)} for index in self.indexes]


PENDING = Index("pending", hash_key="pending", range_key="pendingSince")
STATUS_TABLE = TableKeys(hash_key="imageId", range_key="userId", indexes=(PENDING,))
PENDING_INDEX = PENDING.name


def item_bytes(item: dict[str, Any]) -> int:
    """A typed item's size as DynamoDB counts it for its limits and its read and write units: each attribute's
    name plus its value (strings and binary by length in UTF-8, numbers about one byte per two digits plus one,
    booleans and nulls one byte, sets and documents their elements plus 3 bytes)."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: dict[str, Any]) -> int:
    (kind, content), = value.items()
    if kind in ("S", "B"):
        return len(content.encode() if isinstance(content, str) else content)
    if kind == "N":
        return (len(content.lstrip("-").replace(".", "").strip("0") or "0") + 1) // 2 + 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_bytes({kind[0]: element}) for element in content)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(element) for element in content)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_bytes(element) for name, element in content.items())
    return 1  # BOOL, NULL
