"""The words every part of cxgm shares: steps, statuses, error categories, dataset states.

Kept in one module so the emulator's truth file, the classifier, the pandera schemas and the reports
can never drift apart.
"""

from enum import StrEnum

# Production's steps and shapes are facts of production, shared with the emulator: see portal_shapes.
from portal_shapes import DATASET_STEPS, INGESTION_STEPS, SECRET_ENV_VARS, Step, step_of  # noqa: F401


class JobStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNABLE = "RUNNABLE"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


ACTIVE_JOB_STATUSES = (JobStatus.SUBMITTED, JobStatus.PENDING, JobStatus.RUNNABLE, JobStatus.STARTING, JobStatus.RUNNING)


class ExecutionStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"


class ErrorCategory(StrEnum):
    """Why a job failed. The exact vocabulary of the foundation issue; reports and alerts share it."""

    VALIDATION = "validation"
    OUT_OF_MEMORY = "out_of_memory"
    CONTAINER_IMAGE = "container_image"
    HOST_TERMINATED = "host_terminated"
    TIMEOUT = "timeout"
    RESOURCE_INIT = "resource_init"
    STORAGE = "storage"
    APPLICATION = "application"
    CANCELLED = "cancelled"
    THROTTLED = "throttled"
    UNKNOWN = "unknown"
    # provisional, never a rule's answer: an ingestion execution failed in a Batch task whose cause (the job's
    # description) does not say why, and the job's log, which does, is not read yet
    PENDING_LOGS = "pending_logs"


class ErrorKind(StrEnum):
    """Infrastructure failures are re-run as they are; runtime failures need a fix in data or code."""

    INFRASTRUCTURE = "infrastructure"
    RUNTIME = "runtime"
    UNKNOWN = "unknown"


ERROR_KIND = {
    ErrorCategory.VALIDATION: ErrorKind.RUNTIME,
    ErrorCategory.APPLICATION: ErrorKind.RUNTIME,
    ErrorCategory.OUT_OF_MEMORY: ErrorKind.INFRASTRUCTURE,
    ErrorCategory.CONTAINER_IMAGE: ErrorKind.INFRASTRUCTURE,
    ErrorCategory.HOST_TERMINATED: ErrorKind.INFRASTRUCTURE,
    ErrorCategory.TIMEOUT: ErrorKind.INFRASTRUCTURE,
    ErrorCategory.RESOURCE_INIT: ErrorKind.INFRASTRUCTURE,
    ErrorCategory.STORAGE: ErrorKind.INFRASTRUCTURE,
    ErrorCategory.CANCELLED: ErrorKind.INFRASTRUCTURE,
    ErrorCategory.THROTTLED: ErrorKind.INFRASTRUCTURE,
    ErrorCategory.UNKNOWN: ErrorKind.UNKNOWN,
    ErrorCategory.PENDING_LOGS: ErrorKind.UNKNOWN,
}


class RerunAs(StrEnum):
    """How a dataset of the re-run list is run again: the report's "re-run as is" and "fix first"."""

    AS_IS = "as_is"  # infrastructure, or never started: running it again may be all it takes
    FIX_FIRST = "fix_first"  # validation, application, unknown: nothing says running it again would help


class DatasetState(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RUNNING = "running"
    PENDING = "pending"
    NOT_STARTED = "not_started"
    SKIPPED = "skipped"  # already on the current schema (or not processed): collection_migrate left it alone


# a dataset with no outcome yet (nothing to compare); a finished attempt re-runs its NOT_STARTED ones
ACTIVE_DATASET_STATES = (DatasetState.RUNNING, DatasetState.PENDING)
UNFINISHED_DATASET_STATES = (*ACTIVE_DATASET_STATES, DatasetState.NOT_STARTED)


class LogStatus(StrEnum):
    """What became of a job's CloudWatch log: explicit, so no row is silently dropped."""

    FETCHED = "fetched"
    NOT_FETCHED = "not_fetched"  # succeeded jobs: their logs are not read
    MISSING = "missing"  # the job names a stream that no longer exists (retention) or never appeared
    NO_STREAM = "no_stream"  # the container never started, so there is no stream to read




class AttemptState(StrEnum):
    """A migration attempt's state, derived from its schema-migration execution(s)."""

    DISCOVERED = "discovered"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    TIMED_OUT = "timed_out"


class AttemptOutcome(StrEnum):
    """What an attempt achieved. Not its execution's status: production's Catch sends a failed gather_collections
    and a SpanCollections Map Run past its ToleratedFailurePercentage (20) to `report`, so the execution ends
    SUCCEEDED (schema_migration/main.tf @ 00e5dcc: GatherCollections and SpanCollections Catch States.ALL, Next
    report); those attempts failed."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every dataset it set out to migrate succeeded (or was skipped as current)
    FINISHED_WITH_FAILURES = "finished_with_failures"  # it ran to the end; some datasets or collections failed
    FAILED_IN_GATHER = "failed_in_gather"  # gather_collections failed: nothing was migrated
    TOLERANCE_EXCEEDED = "tolerance_exceeded"  # the SpanCollections Map Run failed: collections never ran
    FAILED = "failed"  # the execution itself failed (an error no Catch took: States.Runtime, ...)
    ABORTED = "aborted"
    TIMED_OUT = "timed_out"
    UNKNOWN = "unknown"  # ended, but its jobs are not read yet


ATTEMPT_STATE_OF_EXECUTION = {
    ExecutionStatus.RUNNING: AttemptState.RUNNING,
    ExecutionStatus.PENDING_REDRIVE: AttemptState.RUNNING,
    ExecutionStatus.SUCCEEDED: AttemptState.SUCCEEDED,
    ExecutionStatus.FAILED: AttemptState.FAILED,
    ExecutionStatus.ABORTED: AttemptState.ABORTED,
    ExecutionStatus.TIMED_OUT: AttemptState.TIMED_OUT,
}


class PortalVerdict(StrEnum):
    """What the portal (the stage's public Curation API) serves for a dataset, joined with its migration."""

    MIGRATED_AND_LIVE = "migrated_and_live"  # serves the version this migration made, processed
    # skipped as already on the current schema before the attempt (and its campaign) started, served as it was
    ALREADY_CURRENT = "already_current"
    # skipped as current because an earlier attempt of its campaign migrated it (a re-run, monitor/attempts/campaigns.py),
    # and the portal serves the version that attempt made
    MIGRATED_EARLIER = "migrated_earlier"
    MIGRATED_NOT_PUBLISHED = "migrated_not_published"  # migrated, but the revision holding it is not published
    PUBLISHED_ON_OLD_SCHEMA = "published_on_old_schema"  # not migrated: the portal serves the old version
    NEW_VERSION_NOT_READY = "new_version_not_ready"  # serves the new version, but failed or still processing
    OTHER_VERSION_SERVED = "other_version_served"  # neither: a later migration's or a curator's version
    MISSING_FROM_PORTAL = "missing_from_portal"  # the collection (or the dataset in it) is not served
    PORTAL_UNREACHABLE = "portal_unreachable"  # no answer (network, 5xx, timeout): nothing known
    NOT_CONFIGURED = "not_configured"  # the stage has no portal_url: the portal is not read
    NOT_CHECKED = "not_checked"  # no collection known for the row (an unattributed ingestion)
    NOT_READ_YET = "not_read_yet"  # the build's time for the portal ran out first: the next build reads it


class ProductionVerdict(StrEnum):
    """What production's cleanup step said of a dataset it did not migrate (its error record's `rollback`)."""

    ROLLED_BACK = "rolled_back"  # rollback true: processing_status not SUCCESS; the previous version restored
    NOT_LATEST_SCHEMA = "not_latest_schema"  # rollback false: the dataset is not on the latest schema
