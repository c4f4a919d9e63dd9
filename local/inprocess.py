"""Lambda functions on moto, run in-process: the real `handlers/` code, no Docker.

moto's Docker-free Lambda backend answers every invoke with a canned payload; this patches
it to import the function's handler (`handlers.validate.lambda_handler`) and call it with
the function's own environment, so a direct invoke and a Step Functions `lambda:invoke`
task both run the real code. An exception becomes a function error whose `errorType` is
the exception's class name, exactly what a state machine's Retry/Catch matches.

Example:
    >>> with mock_aws(config=MOTO_CONFIG), InProcessLambdas():  # doctest: +SKIP
    ...     boto3.client("lambda").invoke(FunctionName="validate", Payload=b"{}")
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from unittest import mock

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from contract.functions import FUNCTION_NAMES

MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
Hook = Callable[[str, dict[str, Any]], None]


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as `context`, with a deadline from the function's timeout."""

    function_name: str = "local-function"
    timeout_seconds: float = 30.0
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS poller passes for messages as ReceiveMessage returned them."""
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": {k: str(v) for k, v in m.get("Attributes", {}).items()}, "messageAttributes": {},
        "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
        "awsRegion": "eu-west-1"} for m in messages]}


def resolve_handler(path: str) -> Callable[[dict[str, Any], Any], Any]:
    module, attribute = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), attribute)


class InProcessLambdas:
    """Context manager: moto Lambda invokes call the real handlers; retries wait `retry_scale` x less.

    `before_invoke(function_name, event)` may raise to inject a fault into one invocation.
    """

    _env_lock = threading.Lock()

    def __init__(self, *, before_invoke: Hook | None = None, retry_scale: float = 1.0,
                 around_invoke: Callable[[str], contextlib.AbstractContextManager[Any]] | None = None) -> None:
        self.before_invoke = before_invoke
        self.around_invoke = around_invoke
        self.retry_scale = retry_scale
        self.invocations: list[tuple[str, str]] = []  # (function name, outcome)
        self._patches = contextlib.ExitStack()

    def __enter__(self) -> InProcessLambdas:
        runner = self

        def invoke(backend: LambdaSimpleBackend, function_name: str, qualifier: str | None, body: Any,
                   headers: Any, response_headers: dict[str, str]) -> bytes:
            function = backend.get_function(function_name, qualifier)
            return runner.call(function.function_name, function.handler, function.environment_vars,
                               float(function.timeout or 3), body, response_headers)

        real_sleep = time.sleep
        self._patches.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", invoke))
        self._patches.enter_context(mock.patch.object(
            retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: real_sleep(seconds * self.retry_scale))))
        return self

    def __exit__(self, *exc: object) -> None:
        self._patches.close()

    def call(self, name: str, handler_path: str, environment: dict[str, str], timeout: float, body: Any,
             response_headers: dict[str, str]) -> bytes:
        event = json.loads(body) if body else {}
        try:
            with self._env_lock:  # the functions' variables never conflict; set them once
                os.environ.update(environment or {})
            if self.before_invoke is not None:
                self.before_invoke(name, event)
            around = self.around_invoke(name) if self.around_invoke else contextlib.nullcontext()
            with around:
                result = resolve_handler(handler_path)(event, LambdaContext(name, timeout))
        except Exception as error:
            self.invocations.append((name, type(error).__name__))
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error),
                               "stackTrace": []}).encode()
        self.invocations.append((name, "ok"))
        return json.dumps(result).encode()


@contextlib.contextmanager
def quiet_handlers() -> Any:
    """Handlers log INFO and print EMF metrics per invocation; locally only errors are shown."""
    loggers = [importlib.import_module(f"handlers.{name}").logger for name in FUNCTION_NAMES]
    levels = [logger.log_level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)  # outcomes are in the report; per-image warnings would drown the bar
    with mock.patch.dict(os.environ, {"POWERTOOLS_METRICS_DISABLED": "true"}), \
            contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@contextlib.contextmanager
def functions_log(stream: Any) -> Any:
    """The handlers' logs go to `stream` (`serve` keeps the terminal for its live view); metrics are off."""
    handlers = [importlib.import_module(f"handlers.{name}").logger.registered_handler for name in FUNCTION_NAMES]
    streams = [handler for handler in handlers if isinstance(handler, logging.StreamHandler)]
    previous = [handler.setStream(stream) for handler in streams]
    try:
        with mock.patch.dict(os.environ, {"POWERTOOLS_METRICS_DISABLED": "true"}), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            yield
    finally:
        for handler, old in zip(streams, previous, strict=True):
            if old is not None:
                handler.setStream(old)
