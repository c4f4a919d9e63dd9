"""IAM enforcement for the local runner: every AWS call a function makes is checked against
that function's own role policy, the very document `components.policies` builds.

moto's built-in enforcement checks DynamoDB and Step Functions calls against resource `*`,
which denies correctly scoped statements; here each call is mapped to its IAM action and
the exact resource ARN, and evaluated with moto's policy engine.

Who is calling is known from context: the runner marks the function it invokes (and the
Lambda poller acting with that function's role); Step Functions tasks use the workflow role.

moto's engine evaluates `StringEquals` conditions only; the `s3:prefix` of a listing (ListObjects
is s3:ListBucket on the bucket) is checked here against the `StringLike`/`StringEquals` of the
Allow statements that grant it, so a listing outside the granted prefix is denied as AWS would.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import urlparse

import botocore.client
from botocore.exceptions import ClientError
from moto.iam.access_control import IAMPolicy, PermissionResult

ACCOUNT, REGION = "123456789012", "eu-west-1"
SQS_ACTIONS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
               "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}


LISTINGS = ("ListObjects", "ListObjectsV2")
DYNAMODB_BATCHES = ("BatchGetItem", "BatchWriteItem")  # their tables are the keys of `RequestItems`


@dataclass(frozen=True)
class Call:
    principal: str
    action: str
    resource: str
    prefix: str | None = None
    """A listing's `s3:prefix` ("" without one); None for every other call."""


def actions_and_resources(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, ...]]:
    """Every (IAM action, resource ARN[, s3:prefix]) an API call is authorized against: one, but a
    CopyObject needs s3:PutObject on the copy and s3:GetObject on its source; a listing names its prefix."""
    if service == "s3" and operation == "CopyObject":
        source = params.get("CopySource")
        bucket, key = ((source["Bucket"], source["Key"]) if isinstance(source, dict)
                       else str(source).lstrip("/").split("/", 1))
        return [("s3:PutObject", f"arn:aws:s3:::{params.get('Bucket')}/{params.get('Key', '')}"),
                ("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")]
    if service == "s3" and operation in LISTINGS:
        return [("s3:ListBucket", f"arn:aws:s3:::{params.get('Bucket')}", params.get("Prefix") or "")]
    if service == "dynamodb" and operation in DYNAMODB_BATCHES:  # one authorization per table the batch names
        return [(f"dynamodb:{operation}", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}")
                for table in params.get("RequestItems", {})]
    return [action_and_resource(service, operation, params)]


def action_and_resource(service: str, operation: str, params: dict[str, Any]) -> tuple[str, str]:
    """The IAM action and resource ARN an API call is authorized against."""
    if service == "sqs":
        queue = urlparse(params.get("QueueUrl", "")).path.rsplit("/", 1)[-1]
        return f"sqs:{SQS_ACTIONS.get(operation, operation)}", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"
    if service == "s3":
        action = f"s3:{operation}"
        if operation in ("GetObject", "HeadObject"):
            action = "s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"
        return action, f"arn:aws:s3:::{params.get('Bucket')}/{params.get('Key', '')}"
    if service == "dynamodb":
        table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{params.get('TableName')}"
        index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
        return f"dynamodb:{operation}", table + index
    if service == "sns":
        return f"sns:{operation}", params.get("TopicArn", "*")
    if service == "sfn":
        return f"states:{operation}", params.get("executionArn") or params.get("stateMachineArn", "*")
    if service == "lambda":
        name = params.get("FunctionName", "")
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        return "lambda:InvokeFunction" if operation == "Invoke" else f"lambda:{operation}", arn
    return f"{service}:{operation}", "*"


def _prefix_allowed(statement: dict[str, Any], call: Call) -> bool:
    """An Allow statement granting the listing `call`, with its `s3:prefix` conditions (if any) met."""
    permitted = IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": [
        {k: v for k, v in statement.items() if k != "Condition"}]})).is_action_permitted(call.action, call.resource)
    if statement.get("Effect") != "Allow" or permitted != PermissionResult.PERMITTED:
        return False
    for operator, values in statement.get("Condition", {}).items():
        patterns = values.get("s3:prefix")
        if patterns is None:
            continue
        patterns = [patterns] if isinstance(patterns, str) else patterns
        match = fnmatch.fnmatchcase if operator == "StringLike" else str.__eq__
        if operator not in ("StringLike", "StringEquals") or not any(match(call.prefix or "", p) for p in patterns):
            return False
    return True


@dataclass
class IamEnforcer:
    """Checks (and with `enforce`, denies) calls made while a principal is active."""

    policies: dict[str, dict[str, Any]]
    enforce: bool = True
    workflow_clients: set[int] = field(default_factory=set)
    checked: list[Call] = field(default_factory=list)
    denied: list[Call] = field(default_factory=list)
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _patch: Any = None
    _compiled: dict[str, Any] = field(default_factory=dict)

    @contextlib.contextmanager
    def acting_as(self, principal: str | None) -> Iterator[None]:
        previous = getattr(self._local, "principal", None)
        self._local.principal = principal
        try:
            yield
        finally:
            self._local.principal = previous

    def permitted(self, call: Call) -> bool:
        if call.principal not in self._compiled:
            document = self.policies.get(call.principal)
            self._compiled[call.principal] = IAMPolicy(json.dumps(document)) if document else None
        policy = self._compiled[call.principal]
        # NEUTRAL (no statement matched) is truthy in moto: compare with PERMITTED exactly.
        if policy is None:
            return False
        if policy.is_action_permitted(call.action, call.resource) != PermissionResult.PERMITTED:
            return False
        return call.prefix is None or any(
            _prefix_allowed(statement, call) for statement in self.policies[call.principal]["Statement"])

    def __enter__(self) -> IamEnforcer:
        enforcer, real = self, botocore.client.BaseClient._make_api_call

        def checked_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            principal = getattr(enforcer._local, "principal", None)
            if principal is None and id(client) in enforcer.workflow_clients:
                principal = "workflow"
            if principal is not None:
                service = client.meta.service_model.endpoint_prefix
                service = "sfn" if service == "states" else service
                for needed in actions_and_resources(service, operation, params):
                    call = Call(principal, *needed)
                    allowed = enforcer.permitted(call)
                    with enforcer._lock:
                        enforcer.checked.append(call)
                        if not allowed:
                            enforcer.denied.append(call)
                    if not allowed and enforcer.enforce:
                        raise ClientError({"Error": {"Code": "AccessDenied", "Message": (
                            f"{principal} is not authorized to perform {call.action} on {call.resource}")},
                            "ResponseMetadata": {"HTTPStatusCode": 403}}, operation)
            return real(client, operation, params)

        self._patch = mock.patch.object(botocore.client.BaseClient, "_make_api_call", checked_call)
        self._patch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.stop()
