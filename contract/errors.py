"""Errors the handlers raise. The class name is the Lambda `errorType` a workflow Catch matches."""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error raised on purpose by the handlers."""


class InvalidUploadKey(PipelineError):
    """The object key is not `uploads/{userId}/{imageId}.{ext}` with a supported extension."""


class InvalidMessage(PipelineError):
    """A queue message body is not JSON or lacks a field of the upload message contract."""


class EnqueueError(PipelineError):
    """SendMessageBatch kept failing for some uploads; the invocation fails so Lambda retries it."""


class DeadlineReached(PipelineError):
    """Too little time is left in this invocation; the record is handed back to the queue."""


class TransientError(PipelineError):
    """A retryable failure (throttling, 5xx); the workflow retries the step."""


class InvalidImage(PipelineError):
    """The upload is not an image the pipeline accepts; permanent, never retried."""


# The errorTypes (as a failed image's `error` records them) that mean the uploaded file itself is bad:
# processing the same file again fails it again, so a replay leaves it alone unless asked.
FILE_ERRORS = frozenset({InvalidImage.__name__})


class UploadSuperseded(PipelineError):
    """The object was overwritten after the event this execution handles: a newer upload wins."""


class ReconcileIncomplete(PipelineError):
    """The reconciler settled what it could; AWS errors left some images for its next run."""

    def __init__(self, message: str, counts: dict[str, int]) -> None:
        super().__init__(message)
        self.counts = counts
