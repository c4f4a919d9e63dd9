"""The runner's moto patches change speed, never answers: each is compared with stock moto on random input."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from local.speedups import partition_queries

TABLE_NUMBERS = itertools.count()


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="eu-west-1")


KEY_VALUES = {"S": st.sampled_from(["a", "ab", "abc", "b", "ba", "c", "user#1", "user#10", "user#2"]),
              "N": st.integers(-5, 30).map(str)}


@st.composite
def tables(draw: st.DrawFn) -> dict[str, Any]:
    """A key schema (hash key, with or without a range key, of either type) and items for it."""
    hash_type, range_type = draw(st.sampled_from("SN")), draw(st.sampled_from(["S", "N", None]))
    range_key = {"r": KEY_VALUES[range_type].map(lambda v: {range_type: v})} if range_type else {}
    key = st.fixed_dictionaries({"h": KEY_VALUES[hash_type].map(lambda v: {hash_type: v}), **range_key})
    extra = st.fixed_dictionaries({}, optional={"colour": st.sampled_from(["red", "blue"]).map(lambda v: {"S": v}),
                                                "weight": st.integers(0, 9).map(lambda v: {"N": str(v)}),
                                                "pad": st.integers(0, 3).map(lambda n: {"S": "x" * 300 * n})})
    items = draw(st.lists(st.builds(lambda k, e: {**k, **e}, key, extra), max_size=40))
    return {"hash_type": hash_type, "range_type": range_type, "items": items}


@st.composite
def queries(draw: st.DrawFn, table: dict[str, Any]) -> dict[str, Any]:
    hash_type, range_type = table["hash_type"], table["range_type"]
    values: dict[str, Any] = {":h": {hash_type: draw(KEY_VALUES[hash_type])}}
    condition = "h = :h"
    if range_type and draw(st.booleans()):
        kinds = ["=", "<", "<=", ">", ">=", "between"] + (["begins_with"] if range_type == "S" else [])
        kind = draw(st.sampled_from(kinds))
        low, high = sorted([draw(KEY_VALUES[range_type]) for _ in range(2)],
                           key=lambda v: v if range_type == "S" else int(v))
        values[":lo"] = {range_type: low}
        if kind == "between":
            values[":hi"] = {range_type: high}
            condition += " AND r BETWEEN :lo AND :hi"
        elif kind == "begins_with":
            condition += " AND begins_with(r, :lo)"
        else:
            condition += f" AND r {kind} :lo"
    query: dict[str, Any] = {"KeyConditionExpression": condition, "ExpressionAttributeValues": values,
                             "ScanIndexForward": draw(st.booleans())}
    if draw(st.booleans()):
        query["Limit"] = draw(st.integers(1, 6))
    if draw(st.booleans()):
        query["FilterExpression"] = "colour = :colour OR weight > :weight"
        values |= {":colour": {"S": "red"}, ":weight": {"N": "4"}}
    if draw(st.booleans()):
        query["ProjectionExpression"] = "h, colour"
    return query


def pages(dynamodb: Any, table: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of the query, following LastEvaluatedKey, without the request's metadata."""
    found, start = [], None
    while True:
        page = dynamodb.query(TableName=table, **query, **({"ExclusiveStartKey": start} if start else {}))
        page.pop("ResponseMetadata")
        found.append(page)
        start = page.get("LastEvaluatedKey")
        if start is None or len(found) > 50:
            return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), table=tables())
def test_a_query_reading_only_its_partition_answers_as_stock_moto_does(dynamodb, data, table):
    name = f"t{next(TABLE_NUMBERS)}"
    keys = [{"AttributeName": "h", "KeyType": "HASH"}] + (
        [{"AttributeName": "r", "KeyType": "RANGE"}] if table["range_type"] else [])
    definitions = [{"AttributeName": "h", "AttributeType": table["hash_type"]}] + (
        [{"AttributeName": "r", "AttributeType": table["range_type"]}] if table["range_type"] else [])
    dynamodb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=definitions,
                          BillingMode="PAY_PER_REQUEST")
    for item in table["items"]:
        dynamodb.put_item(TableName=name, Item=item)
    for query in data.draw(st.lists(queries(table), min_size=1, max_size=4)):
        stock = pages(dynamodb, name, query)
        with partition_queries():
            patched = pages(dynamodb, name, query)
        assert patched == stock, query
    dynamodb.delete_table(TableName=name)


def test_index_queries_and_scans_are_left_to_stock_moto(dynamodb):
    """Only the table's own key is narrowed: a query on a secondary index still sees every partition."""
    dynamodb.create_table(
        TableName="indexed", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("h", "r", "g")],
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    for h in ("a", "b", "c"):
        dynamodb.put_item(TableName="indexed", Item={"h": {"S": h}, "r": {"S": "1"}, "g": {"S": "same"}})
    with partition_queries():
        by_index = dynamodb.query(TableName="indexed", IndexName="by-g", KeyConditionExpression="g = :g",
                                  ExpressionAttributeValues={":g": {"S": "same"}})
        own_key = dynamodb.query(TableName="indexed", KeyConditionExpression="h = :h",
                                 ExpressionAttributeValues={":h": {"S": "b"}})
        scanned = dynamodb.scan(TableName="indexed")
    assert sorted(item["h"]["S"] for item in by_index["Items"]) == ["a", "b", "c"]
    assert [item["h"]["S"] for item in own_key["Items"]] == ["b"]
    assert scanned["Count"] == 3
