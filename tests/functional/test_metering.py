"""The DynamoDB meter (`local.metering`) on moto: items and units as DynamoDB bills them."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from contract.table import item_bytes
from local.metering import MeteredDynamoDB
from local.stack import create_status_table

TABLE = "status"


@pytest.fixture
def meter():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        create_status_table(client, TABLE)
        yield MeteredDynamoDB(client)


def item(name: str, size: int) -> dict:
    """An item of `size` bytes as DynamoDB counts them."""
    key = {"imageId": {"S": name}, "userId": {"S": "u"}}
    return key | {"data": {"S": "x" * (size - item_bytes(key) - len("data"))}}


def test_a_read_costs_a_unit_per_4_kb_started_even_when_nothing_is_found(meter):
    meter.put_item(TableName=TABLE, Item=item("big", 5000))
    meter.reset()
    key = {"imageId": {"S": "big"}, "userId": {"S": "u"}}
    meter.get_item(TableName=TABLE, Key=key, ConsistentRead=True)
    meter.get_item(TableName=TABLE, Key=key | {"imageId": {"S": "none"}}, ConsistentRead=True)
    meter.get_item(TableName=TABLE, Key=key)  # eventually consistent: half
    used = meter.snapshot()
    assert (used.reads, used.read_unit_total, used.calls["get_item"]) == (2, 2 + 1 + 1, 3)
    meter.reset()
    keys = [key, key | {"imageId": {"S": "none"}}]
    meter.batch_get_item(RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}})
    assert (meter.snapshot().reads, meter.snapshot().read_unit_total) == (1, 2 + 1)
    assert meter.snapshot().calls == {"batch_get_item": 1}  # a snapshot is a copy: reading it changes nothing


def test_a_write_costs_a_unit_per_kb_of_the_larger_of_before_and_after_also_when_its_condition_refuses_it(meter):
    meter.put_item(TableName=TABLE, Item=item("a", 3000))
    assert (meter.snapshot().writes, meter.snapshot().write_unit_total) == (1, 3)
    meter.reset()
    meter.put_item(TableName=TABLE, Item=item("a", 1500))  # replaces 3,000 bytes
    with pytest.raises(ClientError):
        meter.put_item(TableName=TABLE, Item=item("a", 100), ConditionExpression="attribute_not_exists(imageId)")
    meter.delete_item(TableName=TABLE, Key={"imageId": {"S": "a"}, "userId": {"S": "u"}})
    used = meter.snapshot()
    assert (used.writes, used.write_units["put_item"], used.write_units["delete_item"]) == (2, 3 + 2, 2)
    meter.reset()
    assert meter.snapshot().as_dict() == {"items_read": 0, "items_written": 0, "read_units": 0, "write_units": 0,
                                          "calls": {}}
