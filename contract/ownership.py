"""Which upload owns an image, and what its status item holds: the rules the workflow's own status
writes (`components.workflow.definition`) and the functions' (`handlers.lifecycle.status`) both apply.

    (no item) -> processing -> completed | failed | rejected   (one upload, in the workflow)
    failed -> queued -> processing ...                     (a replay or a repair of that upload)
    any state -> processing                                (a newer upload of the image takes it)
"""

from __future__ import annotations

QUEUED, PROCESSING, COMPLETED, FAILED, REJECTED = "queued", "processing", "completed", "failed", "rejected"
UNFINISHED = (QUEUED, PROCESSING)
FAILED_BY_DEAD_LETTER = "dead-letter"  # `failedBy` of an image a dead letter failed before any execution ran

# The upload in the values takes the image when it is newer than the one the item reflects: same key, a
# larger sequencer; another key of the image, a later event time. An item without `uploadId` reflects no
# upload yet (no item; `queued`, `processing`) or was finished by a release before the upload identity
# existed. An upgrade never changes a finished image's outcome: such an item owns its image against every
# upload not provably newer, that is one whose event time is not after the item's last write (its upload
# came before its processing started). `handlers.lifecycle.status.is_newer` is this rule in Python.
NEWER_UPLOAD = ("(attribute_not_exists(#uploadId) AND (attribute_not_exists(#status) "
                "OR #status IN (:queued, :processing) OR #updatedAt < :uploadTime)) "
                "OR (#uploadKey = :uploadKey AND #uploadSequencer < :uploadSequencer) "
                "OR (#uploadKey <> :uploadKey AND #uploadOrder < :uploadOrder)")
# The execution that marked the image `processing` still owns it: every later write of a run requires this.
OWNED = "#status = :processing AND #executionArn = :executionArn"
# When an execution may take the image: a newer upload; this upload, queued by a replay or failed by a dead
# letter before any execution ran; or this very execution retrying its first write.
TAKES_IMAGE = (f"{NEWER_UPLOAD} "
               "OR (#uploadId = :uploadId AND (#status = :queued OR (#status = :failed AND #failedBy = :deadLetter))) "
               f"OR ({OWNED})")

# What the variants step learns of the upload's content (`handlers.variants`' `record`).
RECORD_ATTRIBUTES = ("sha256", "phash", "thumbhash", "averageColor", "variantRecipe", "duplicateOf",
                     "nearDuplicateOf", "nearDuplicateDistance", "moderationSkipped")
# A finished upload's results: removed when a dead letter fails a newer upload of the image.
RESULT_ATTRIBUTES = ("variants", "metadata", "format", "width", "height", "completedAt", "executionArn", "startedAt",
                     "rejectedAt", "moderationLabels", *RECORD_ATTRIBUTES)
# Everything a previous upload left on the item: removed when an execution takes the image.
PREVIOUS_UPLOAD_ATTRIBUTES = ("variants", "metadata", "format", "width", "height", "reason", "error", "failedAt",
                              "completedAt", "failedBy", "deadLetterId", "queuedAt", "queuedAttempt", "repairCount",
                              "rejectedAt", "moderationLabels", *RECORD_ATTRIBUTES)

# Fail states whose executions need nobody's help: the image's status is already right.
SETTLED_ERRORS = ("ImageFailed", "StaleExecution")
# The Fail state of an execution whose status write kept failing: the DLQ processor and the reconciler settle it.
STATUS_NOT_RECORDED = "StatusNotRecorded"
