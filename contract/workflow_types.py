"""The two Step Functions workflow types as objects: a stack chooses one, and code asks it what differs.

Example:
    >>> from contract.workflow_types import workflow_type
    >>> kind = workflow_type("EXPRESS")
    >>> kind.longest_run_seconds, kind.can_describe_executions, kind.marks_queued
    (300, False, True)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkflowType:
    """What one workflow type means for the pipeline (Step Functions developer guide, "Standard vs. Express")."""

    name: str
    longest_run_seconds: int
    """The longest an execution may run: the most `workflow.execution_timeout_seconds` can be."""
    default_execution_timeout: int
    """`workflow.execution_timeout_seconds` when the stack does not set it."""
    emits_status_events: bool
    """EventBridge receives "Execution Status Change" events (STANDARD only): the DLQ processor hears of a
    timed-out or aborted execution from them; an EXPRESS workflow reports its own unfinished ends."""
    can_describe_executions: bool
    """DescribeExecution and ListExecutions work (STANDARD); EXPRESS executions live only in their logs."""
    marks_queued: bool
    """The orchestrator marks the image `queued` before starting (EXPRESS): names are not unique there, so
    the queued mark is what the reconciler finds when a start was lost."""
    arn_segment: str
    """The execution ARN's resource type: `arn:aws:states:<region>:<account>:<segment>:<machine>:<name>...`."""
    exactly_once: bool
    counts_state_transitions: bool
    """Step Functions meters each state transition (STANDARD): bills it, and throttles it by the StateTransition
    quota; EXPRESS is billed by requests and duration instead, with no transition quota."""

    def __str__(self) -> str:
        return self.name


STANDARD = WorkflowType("STANDARD", longest_run_seconds=31_536_000, default_execution_timeout=900,
                        emits_status_events=True, can_describe_executions=True, marks_queued=False,
                        arn_segment="execution", exactly_once=True,
                        counts_state_transitions=True)
EXPRESS = WorkflowType("EXPRESS", longest_run_seconds=300, default_execution_timeout=300,
                       emits_status_events=False, can_describe_executions=False, marks_queued=True,
                       arn_segment="express", exactly_once=False,
                       counts_state_transitions=False)
WORKFLOW_TYPES: dict[str, WorkflowType] = {kind.name: kind for kind in (STANDARD, EXPRESS)}


def workflow_type(name: str) -> WorkflowType:
    """The type called `name`; `KeyError` naming the choices for any other."""
    try:
        return WORKFLOW_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown workflow type {name!r}; one of: {', '.join(WORKFLOW_TYPES)}") from None


def type_of_execution(execution_arn: str) -> WorkflowType:
    """The type an execution ARN was made by (its resource type segment)."""
    return EXPRESS if f":{EXPRESS.arn_segment}:" in execution_arn else STANDARD


def execution_name(execution_arn: str) -> str:
    """The name in an execution ARN: `...:execution:<machine>:<name>`, EXPRESS `...:express:<machine>:<name>:<id>`."""
    return execution_arn.split(":")[-2 if type_of_execution(execution_arn) is EXPRESS else -1]
