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
