"""Handlers written to behave like the original design's, for the benchmarks' baseline.

They reproduce its costs, not its bugs' consequences: new clients for every message, a
HeadObject and a SendMessage per upload, StartExecution plus an UpdateItem per message,
sequential, an execution name that includes the current time.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote_plus

import boto3


def original_s3_event_handler(event: dict[str, Any], queue_url: str) -> None:
    for record in event["Records"]:
        s3 = boto3.client("s3")
        sqs = boto3.client("sqs")
        bucket, key = record["s3"]["bucket"]["name"], unquote_plus(record["s3"]["object"]["key"])
        head = s3.head_object(Bucket=bucket, Key=key)
        _, user_id, file_name = key.split("/")
        body = {"imageId": file_name.rsplit(".", 1)[0], "userId": user_id, "s3Key": key, "bucketName": bucket,
                "fileName": file_name, "fileSize": head["ContentLength"], "fileType": head["ContentType"],
                "uploadTimestamp": record["eventTime"], "metadata": head.get("Metadata", {})}
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))


def original_orchestrator(event: dict[str, Any], state_machine_arn: str, table: str) -> dict[str, Any]:
    for record in event["Records"]:
        try:
            sfn = boto3.client("stepfunctions")
            dynamodb = boto3.client("dynamodb")
            body = json.loads(record["body"])
            execution = sfn.start_execution(stateMachineArn=state_machine_arn,
                                            name=f"{body['imageId']}-{int(time.time() * 1000)}",
                                            input=json.dumps(body))
            dynamodb.update_item(TableName=table, Key={"imageId": {"S": body["imageId"]},
                                                       "userId": {"S": body["userId"]}},
                                 UpdateExpression="SET #s = :s, executionArn = :e",
                                 ExpressionAttributeNames={"#s": "status"},
                                 ExpressionAttributeValues={":s": {"S": "processing"},
                                                            ":e": {"S": execution["executionArn"]}})
        except Exception as error:
            print(f"error: {error}")
    return {"statusCode": 200}
