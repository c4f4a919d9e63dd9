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

from contract.workflow_types import STANDARD, WORKFLOW_TYPES, WorkflowType, type_of_execution


def machine_type(machine: Any) -> WorkflowType:
    """The type a state machine was created with (moto keeps `sm_type` STANDARD whatever the type)."""
    return WORKFLOW_TYPES.get(getattr(machine, "type", None), STANDARD)


class StateMachineTypeNotSupported(AWSError):
    TYPE = "StateMachineTypeNotSupported"
    STATUS = 400


def _machine(state_machine_arn: str) -> Any:
    _, _, _, region, account, *_ = state_machine_arn.split(":")  # arn:aws:states:<region>:<account>:stateMachine:..
    return next((machine for machine in stepfunctions_parser_backends[account][region].state_machines
                 if machine.arn == state_machine_arn), None)


def executions(state_machine_arn: str, status: str | None = None) -> list[Any]:
    """The state machine's executions as moto holds them (any type), newest first."""
    machine = _machine(state_machine_arn)
    found = [e for e in (machine.executions if machine else []) if status is None or e.status == status]
    return sorted(found, key=lambda e: e.start_date, reverse=True)


class RunningExecutions:
    """How many of a state machine's executions are running, at a cost that does not grow with the
    executions ever run (the delivery loop asks thousands of times a run; moto keeps every execution).

    moto only appends to a machine's executions, and an execution never runs again once it ended:
    each count reads the executions started since the last count, and the ones still running then.
    """

    def __init__(self) -> None:
        self._machine: Any = None
        self._seen = 0
        self._running: list[Any] = []

    def count(self, state_machine_arn: str) -> int:
        machine = _machine(state_machine_arn)
        if machine is None:
            return 0
        if machine is not self._machine:  # another machine, or another moto: start over
            self._machine, self._seen, self._running = machine, 0, []
        started = machine.executions[self._seen:]
        self._seen += len(started)
        self._running = [e for e in self._running + started if e.status == "RUNNING"]
        return len(self._running)


class ExpressExecutions:
    """Context manager applying the behaviour above to EXPRESS state machines only (as their type,
    `contract.workflow_types`, describes them)."""

    def __init__(self) -> None:
        self._patches = contextlib.ExitStack()

    def __enter__(self) -> ExpressExecutions:
        real_execution = parser_models.Execution
        real_idempotency = sfn_models.StateMachine._handle_name_input_idempotency
        real_describe = sfn_models.StepFunctionBackend.describe_execution
        real_list = sfn_models.StepFunctionBackend.list_executions

        def execution(*args: Any, **kwargs: Any) -> Any:
            kind = machine_type(kwargs.get("state_machine"))
            if not kind.exactly_once:  # each start is a new execution: its ARN ends with a unique id
                standard, own = f":{STANDARD.arn_segment}:", f":{kind.arn_segment}:"
                kwargs["exec_arn"] = kwargs["exec_arn"].replace(standard, own, 1) + f":{uuid.uuid4()}"
            return real_execution(*args, **kwargs)

        def idempotency(machine: Any, name: str, execution_input: str) -> Any:
            if not machine_type(machine).exactly_once:
                return None
            return real_idempotency(machine, name, execution_input)

        def describe(backend: Any, execution_arn: str) -> Any:
            kind = type_of_execution(execution_arn)
            if not kind.can_describe_executions:
                raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {kind.arn_segment}'")
            return real_describe(backend, execution_arn)

        def list_executions(backend: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
            if not machine_type(backend.describe_state_machine(state_machine_arn)).can_describe_executions:
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
