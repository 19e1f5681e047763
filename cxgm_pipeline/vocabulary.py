"""The words every part of cxgm shares: steps, statuses, error categories, dataset states.

Kept in one module so the emulator's truth file, the classifier, the pandera schemas and the reports
can never drift apart.
"""

from enum import StrEnum


class Step(StrEnum):
    """Batch job names (= STEP_NAME) of the schema-migration and ingestion state machines."""

    GATHER_COLLECTIONS = "gather_collections"
    COLLECTION_MIGRATION = "collection_migration"
    DATASET_MIGRATION = "dataset_migration"
    COLLECTION_CLEANUP = "Collection_cleanup"
    REPORT = "report"
    VALIDATE_ANNDATA = "validate_anndata"
    VALIDATE_ATAC = "validate_atac"
    ADD_LABELS = "add_labels"
    CXG = "cxg"


MIGRATION_STEPS = (
    Step.GATHER_COLLECTIONS,
    Step.COLLECTION_MIGRATION,
    Step.DATASET_MIGRATION,
    Step.COLLECTION_CLEANUP,
    Step.REPORT,
)
INGESTION_STEPS = (Step.VALIDATE_ANNDATA, Step.VALIDATE_ATAC, Step.ADD_LABELS, Step.CXG)
# The order a dataset goes through; used for "current/last step" and per-step columns.
DATASET_STEPS = (Step.DATASET_MIGRATION, *INGESTION_STEPS)


class JobStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNABLE = "RUNNABLE"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


ACTIVE_JOB_STATUSES = (JobStatus.SUBMITTED, JobStatus.PENDING, JobStatus.RUNNABLE, JobStatus.STARTING, JobStatus.RUNNING)
WAITING_JOB_STATUSES = (JobStatus.SUBMITTED, JobStatus.PENDING, JobStatus.RUNNABLE, JobStatus.STARTING)


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
}


class DatasetState(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RUNNING = "running"
    PENDING = "pending"
    NOT_STARTED = "not_started"


class LogStatus(StrEnum):
    """What became of a job's CloudWatch log: explicit, so no row is silently dropped."""

    FETCHED = "fetched"
    NOT_FETCHED = "not_fetched"  # succeeded jobs: their logs are not read
    MISSING = "missing"  # the job names a stream that no longer exists (retention) or never appeared
    NO_STREAM = "no_stream"  # the container never started, so there is no stream to read


# Container environment variables whose values are secrets: never stored, never printed.
SECRET_ENV_VARS = frozenset({"TASK_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})


class AttemptState(StrEnum):
    """A migration attempt's state, derived from its schema-migration execution(s)."""

    DISCOVERED = "discovered"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    TIMED_OUT = "timed_out"


ATTEMPT_STATE_OF_EXECUTION = {
    ExecutionStatus.RUNNING: AttemptState.RUNNING,
    ExecutionStatus.PENDING_REDRIVE: AttemptState.RUNNING,
    ExecutionStatus.SUCCEEDED: AttemptState.SUCCEEDED,
    ExecutionStatus.FAILED: AttemptState.FAILED,
    ExecutionStatus.ABORTED: AttemptState.ABORTED,
    ExecutionStatus.TIMED_OUT: AttemptState.TIMED_OUT,
}
ENDED_ATTEMPT_STATES = frozenset({AttemptState.SUCCEEDED, AttemptState.FAILED, AttemptState.ABORTED, AttemptState.TIMED_OUT})
