"""What a DynamoDB client's calls cost: items read and written, and read and write units as DynamoDB bills them.

`MeteredDynamoDB(client)` stands in for a low-level client (every method passes through) and counts, per
operation: calls, items that came back (GetItem, BatchGetItem, Query, Scan), items written (PutItem,
UpdateItem, DeleteItem, BatchWriteItem; a write its condition refused writes nothing but is billed), and
the units DynamoDB would bill:

- reads: a strongly consistent GetItem or BatchGetItem key costs ceil(size / 4 KB) units, 1 when no item
  comes back; a Query or Scan ceil(total size of what came back / 4 KB), at least 1; eventually
  consistent reads half as much;
- writes: ceil(max(size before, size after) / 1 KB), at least 1, also when the condition refused it.

Sizes are `contract.table.item_bytes`. The size before a write is not in the request: with `size_writes`
(the default) the meter reads it with an unmetered GetItem on the wrapped client first (and the size after
an UpdateItem after it); without, a write is billed by the size it writes (an UpdateItem: 1 unit).

Used as `meter = MeteredDynamoDB(client)`, `Index(meter, table)`, then `meter.reset()` before and
`meter.snapshot()` after the work measured.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from contract.table import STATUS_TABLE, item_bytes

READ_UNIT_BYTES, WRITE_UNIT_BYTES = 4 * 1024, 1024
KEYS = (STATUS_TABLE.hash_key, STATUS_TABLE.range_key)


@dataclass(frozen=True)
class Metered:
    """Counts per operation name (`get_item`, ...); the totals as properties."""

    calls: Counter[str] = field(default_factory=Counter)
    items_read: Counter[str] = field(default_factory=Counter)
    items_written: Counter[str] = field(default_factory=Counter)
    read_units: Counter[str] = field(default_factory=Counter)
    write_units: Counter[str] = field(default_factory=Counter)

    @property
    def reads(self) -> int:
        return sum(self.items_read.values())

    @property
    def writes(self) -> int:
        return sum(self.items_written.values())

    @property
    def read_unit_total(self) -> float:
        return sum(self.read_units.values())

    @property
    def write_unit_total(self) -> int:
        return sum(self.write_units.values())

    def as_dict(self) -> dict[str, Any]:
        return {"items_read": self.reads, "items_written": self.writes, "read_units": self.read_unit_total,
                "write_units": self.write_unit_total, "calls": dict(self.calls)}


def read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / READ_UNIT_BYTES)) * (1 if consistent else 0.5)


def write_units(*sizes: int) -> int:
    return max(1, math.ceil(max(sizes, default=0) / WRITE_UNIT_BYTES))


class MeteredDynamoDB:
    """A low-level DynamoDB client that counts what its calls read and write (thread-safe)."""

    def __init__(self, client: Any, *, size_writes: bool = True) -> None:
        self.client, self.size_writes = client, size_writes
        self._lock = threading.Lock()
        self._meter = Metered()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def reset(self) -> None:
        with self._lock:
            self._meter = Metered()

    def snapshot(self) -> Metered:
        """The counts so far (a copy: later calls do not change it)."""
        with self._lock:
            m = self._meter
            return Metered(Counter(m.calls), Counter(m.items_read), Counter(m.items_written), Counter(m.read_units),
                           Counter(m.write_units))

    def _count(self, operation: str, *, read: int = 0, written: int = 0, rcu: float = 0, wcu: int = 0) -> None:
        with self._lock:
            self._meter.calls[operation] += 1
            self._meter.items_read[operation] += read
            self._meter.items_written[operation] += written
            self._meter.read_units[operation] += rcu
            self._meter.write_units[operation] += wcu

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        response = self.client.get_item(**kwargs)
        item = response.get("Item")
        self._count("get_item", read=int(item is not None),
                    rcu=read_units(item_bytes(item) if item else 0, kwargs.get("ConsistentRead", False)))
        return response

    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]:
        response = self.client.batch_get_item(**kwargs)
        read, rcu = 0, 0.0
        for table, request in kwargs["RequestItems"].items():
            unprocessed = len(response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
            items = response.get("Responses", {}).get(table, [])
            consistent = request.get("ConsistentRead", False)
            read += len(items)
            rcu += sum(read_units(item_bytes(item), consistent) for item in items)
            rcu += read_units(0, consistent) * (len(request["Keys"]) - unprocessed - len(items))  # not found
        self._count("batch_get_item", read=read, rcu=rcu)
        return response

    def query(self, **kwargs: Any) -> dict[str, Any]:
        return self._listing("query", **kwargs)

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        return self._listing("scan", **kwargs)

    def _listing(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        response = getattr(self.client, operation)(**kwargs)
        items = response.get("Items", [])
        self._count(operation, read=len(items), rcu=read_units(sum(map(item_bytes, items)),
                                                               kwargs.get("ConsistentRead", False)))
        return response

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        key = {name: kwargs["Item"][name] for name in KEYS}
        return self._write("put_item", kwargs["TableName"], key, lambda: item_bytes(kwargs["Item"]), **kwargs)

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        after = (lambda: self._size(kwargs["TableName"], kwargs["Key"])) if self.size_writes else (lambda: 0)
        return self._write("update_item", kwargs["TableName"], kwargs["Key"], after, **kwargs)

    def delete_item(self, **kwargs: Any) -> dict[str, Any]:
        return self._write("delete_item", kwargs["TableName"], kwargs["Key"], lambda: 0, **kwargs)

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        sizes = []
        for table, requests in kwargs["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    sizes.append(max(self._before(table, {name: item[name] for name in KEYS}), item_bytes(item)))
                else:
                    sizes.append(self._before(table, request["DeleteRequest"]["Key"]))
        response = self.client.batch_write_item(**kwargs)
        unprocessed = sum(len(requests) for requests in response.get("UnprocessedItems", {}).values())
        # Unprocessed requests are neither written nor billed; which ones they were does not change the sizes much.
        done = sizes[:len(sizes) - unprocessed]
        self._count("batch_write_item", written=len(done), wcu=sum(write_units(size) for size in done))
        return response

    def _write(self, operation: str, table: str, key: dict[str, Any], after: Any, **kwargs: Any) -> dict[str, Any]:
        before = self._before(table, key)
        try:
            response = getattr(self.client, operation)(**kwargs)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                self._count(operation, wcu=write_units(before, after() if operation == "put_item" else 0))
            raise
        self._count(operation, written=1, wcu=write_units(before, after()))
        return response

    def _before(self, table: str, key: dict[str, Any]) -> int:
        return self._size(table, key) if self.size_writes else 0

    def _size(self, table: str, key: dict[str, Any]) -> int:
        item = self.client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item_bytes(item) if item else 0
