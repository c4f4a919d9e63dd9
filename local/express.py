"""EXPRESS state machines on moto, behaving as AWS documents them (moto treats them as STANDARD).

- Every StartExecution starts a new execution, whatever its name (no `ExecutionAlreadyExists`, no
  idempotent return of a running one), with an ARN of AWS's form
  `arn:aws:states:<region>:<account>:express:<state machine>:<name>:<id>`.
- DescribeExecution of such an ARN fails with `InvalidArn` ("Resource type not valid in this context:
  express"), and ListExecutions of an EXPRESS state machine with `StateMachineTypeNotSupported`.
- They emit no status-change events (`local.events` forwards none).

The runner itself still needs to see executions (to wait for them, to count them): `executions()`
reads moto's backend directly, never through the API the handlers use.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any
from unittest import mock

from moto.core.exceptions import AWSError
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions.exceptions import InvalidArn
from moto.stepfunctions.parser import models as parser_models
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from contract.workflow_types import type_of_execution


def is_express(machine: Any) -> bool:
    return getattr(machine, "type", None) == "EXPRESS"  # moto keeps `sm_type` STANDARD whatever the type


class StateMachineTypeNotSupported(AWSError):
    TYPE = "StateMachineTypeNotSupported"
    STATUS = 400


def executions(state_machine_arn: str, status: str | None = None) -> list[Any]:
    """The state machine's executions as moto holds them (any type), newest first."""
    _, _, _, region, account, *_ = state_machine_arn.split(":")  # arn:aws:states:<region>:<account>:stateMachine:..
    for machine in stepfunctions_parser_backends[account][region].state_machines:
        if machine.arn == state_machine_arn:
            found = [e for e in machine.executions if status is None or e.status == status]
            return sorted(found, key=lambda e: e.start_date, reverse=True)
    return []


class ExpressExecutions:
    """Context manager applying the behaviour above to EXPRESS state machines only."""

    def __init__(self) -> None:
        self._patches = contextlib.ExitStack()

    def __enter__(self) -> ExpressExecutions:
        real_execution = parser_models.Execution
        real_idempotency = sfn_models.StateMachine._handle_name_input_idempotency
        real_describe = sfn_models.StepFunctionBackend.describe_execution
        real_list = sfn_models.StepFunctionBackend.list_executions

        def execution(*args: Any, **kwargs: Any) -> Any:
            if is_express(kwargs.get("state_machine")):
                kwargs["exec_arn"] = (kwargs["exec_arn"].replace(":execution:", ":express:", 1)
                                      + f":{uuid.uuid4()}")
            return real_execution(*args, **kwargs)

        def idempotency(machine: Any, name: str, execution_input: str) -> Any:
            if is_express(machine):
                return None
            return real_idempotency(machine, name, execution_input)

        def describe(backend: Any, execution_arn: str) -> Any:
            if not type_of_execution(execution_arn).can_describe_executions:
                raise InvalidArn("Invalid Arn: 'Resource type not valid in this context: express'")
            return real_describe(backend, execution_arn)

        def list_executions(backend: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
            if is_express(backend.describe_state_machine(state_machine_arn)):
                raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
            return real_list(backend, state_machine_arn, *args, **kwargs)

        self._patches.enter_context(mock.patch.object(parser_models, "Execution", execution))
        self._patches.enter_context(mock.patch.object(sfn_models.StateMachine, "_handle_name_input_idempotency",
                                                      idempotency))
        self._patches.enter_context(mock.patch.object(sfn_models.StepFunctionBackend, "describe_execution", describe))
        self._patches.enter_context(mock.patch.object(sfn_models.StepFunctionBackend, "list_executions",
                                                      list_executions))
        return self

    def __exit__(self, *exc: object) -> None:
        self._patches.close()
