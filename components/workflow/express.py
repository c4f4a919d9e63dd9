"""What an EXPRESS workflow adds to the definition: it reports its own unfinished ends.

A STANDARD execution that ends without recording its image (a status write that kept failing,
moderation that stayed unavailable) is sent to the DLQ by an EventBridge rule on its status-change
event. EXPRESS executions emit no such events and cannot be listed or described afterwards, so
before each of those Fail states the workflow sends the same message itself: an event-shaped body
the DLQ processor already settles (`handlers.lifecycle.dead_letters`). What no state can catch (the 5-minute
timeout) leaves the image `processing`, which the reconciler settles once it is stale.

Example:
    >>> definition = {"StartAt": "A", "States": {
    ...     "A": {"Type": "Pass", "Next": "Broken"},
    ...     "Broken": {"Type": "Fail", "Error": "StatusWriteFailed", "Cause": "..."}}}
    >>> sorted(report_unfinished(definition, "https://sqs/dlq", settled=())["States"])
    ['A', 'Broken', 'ReportBroken']
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from components.workflow.states import State, retry

EXECUTION_EVENT = "Step Functions Execution Status Change"  # handlers.lifecycle.dead_letters matches it
REPORT_SOURCE = "image-pipeline.workflow"
TRANSIENT_SQS_ERRORS = ["SQS.SdkClientException", "SQS.AmazonSQSException", "SQS.KmsThrottlingException",
                        "States.TaskFailed"]


def report_state(fail: State, dead_letter_queue_url: str, next_state: str) -> State:
    """Send what an execution-status event would carry for this Fail, then go on to it."""
    detail = {"executionArn.$": "$$.Execution.Id", "name.$": "$$.Execution.Name",
              "stateMachineArn.$": "$$.StateMachine.Id", "status": "FAILED",
              "error": fail["Error"], "cause": fail.get("Cause", ""),
              "input.$": "States.JsonToString($$.Execution.Input)"}
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Comment": "EXPRESS emits no execution events: report this unfinished end to the DLQ processor.",
        "Parameters": {"QueueUrl": dead_letter_queue_url,
                       "MessageBody": {"version": "0", "detail-type": EXECUTION_EVENT, "source": REPORT_SOURCE,
                                       "detail": detail}},
        "ResultPath": None,
        "Retry": retry(TRANSIENT_SQS_ERRORS, attempts=3),
        # If even the DLQ cannot be reached, the image stays `processing` or `queued` (the orchestrator's
        # mark): the reconciler settles it, so a short retry keeps within the 5-minute limit.
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": next_state}],
        "Next": next_state,
    }


def _redirect(state: State, targets: dict[str, str]) -> None:
    if state.get("Next") in targets:
        state["Next"] = targets[state["Next"]]
    if state.get("Default") in targets:
        state["Default"] = targets[state["Default"]]
    for rule in state.get("Choices", []) + state.get("Catch", []):
        if rule.get("Next") in targets:
            rule["Next"] = targets[rule["Next"]]


def report_unfinished(definition: State, dead_letter_queue_url: str, *, settled: Iterable[str]) -> State:
    """`definition` with a report before every top-level Fail whose error is not in `settled`."""
    result: dict[str, Any] = copy.deepcopy(definition)
    states: dict[str, State] = result["States"]
    unfinished = {name: f"Report{name}" for name, state in states.items()
                  if state["Type"] == "Fail" and state.get("Error") not in set(settled)}
    for state in states.values():
        _redirect(state, unfinished)
    for name, report in unfinished.items():
        states[report] = report_state(states[name], dead_letter_queue_url, next_state=name)
    return result
