"""The frames of the asset chain, as pandera DataFrameModels: strict columns, dtypes, enums, bounds.

Timestamps are UTC; durations are seconds and never negative; status and category columns only take
values of cxgm_pipeline.vocabulary. `validate` returns the coerced frame; a violation raises pandera's
SchemaError naming the column.
"""

from __future__ import annotations

from typing import Annotated, Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from cxgm_pipeline.vocabulary import (
    AttemptState,
    DatasetState,
    ErrorCategory,
    ErrorKind,
    ExecutionStatus,
    JobStatus,
    LogStatus,
)

UtcTime = Annotated[pd.DatetimeTZDtype, "ns", "UTC"]
OUTPUT_KINDS = ["dataset_version", "collection", "listed_dataset", "skipped_dataset"]
OUTPUT_SOURCES = ["log", "history", "map_run", "s3", "job_env"]


def _values(enum) -> list[str]:
    return [e.value for e in enum]


class _Frame(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = True


class _Partitioned(_Frame):
    stage: Series[str]
    attempt: Series[str]


class MigrationJobs(_Partitioned):
    """Every Batch job of an attempt, one row per job. Secrets (TASK_TOKEN) are never columns."""

    job_id: Series[str] = pa.Field(unique=True)
    job_name: Series[str]
    step: Series[str]
    status: Series[str] = pa.Field(isin=_values(JobStatus))
    status_reason: Series[str] = pa.Field(nullable=True)
    container_reason: Series[str] = pa.Field(nullable=True)
    attempt_reasons: Series[str] = pa.Field(nullable=True)
    exit_code: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    created_at: Series[UtcTime]
    started_at: Series[UtcTime] = pa.Field(nullable=True)
    stopped_at: Series[UtcTime] = pa.Field(nullable=True)
    duration_s: Series[float] = pa.Field(ge=0, nullable=True)
    attempts: Series[int] = pa.Field(ge=0)
    queue: Series[str]
    log_group: Series[str] = pa.Field(nullable=True)
    log_stream: Series[str] = pa.Field(nullable=True)
    execution_id: Series[str] = pa.Field(nullable=True)
    migration_attempt: Series[str] = pa.Field(nullable=True)
    collection_id: Series[str] = pa.Field(nullable=True)
    collection_version_id: Series[str] = pa.Field(nullable=True)
    dataset_id: Series[str] = pa.Field(nullable=True)
    dataset_version_id: Series[str] = pa.Field(nullable=True)


class EnrichedJobs(MigrationJobs):
    """migration_jobs plus what the failed and running jobs' logs say, and why each failed."""

    log_status: Series[str] = pa.Field(isin=_values(LogStatus))
    log_lines: Series[int] = pa.Field(ge=0)
    app_lines: Series[int] = pa.Field(ge=0)
    runtime_lines: Series[int] = pa.Field(ge=0)
    error_lines: Series[str] = pa.Field(nullable=True)
    last_exception: Series[str] = pa.Field(nullable=True)
    progress_hint: Series[str] = pa.Field(nullable=True)
    error_category: Series[str] = pa.Field(isin=_values(ErrorCategory), nullable=True)
    error_kind: Series[str] = pa.Field(isin=_values(ErrorKind), nullable=True)
    error_signature: Series[str] = pa.Field(nullable=True)


class _IngestionStepDurations(_Partitioned):
    """Seconds spent in each ingestion step (empty where the step did not run)."""

    validate_anndata_s: Series[float] = pa.Field(ge=0, nullable=True)
    validate_atac_s: Series[float] = pa.Field(ge=0, nullable=True)
    add_labels_s: Series[float] = pa.Field(ge=0, nullable=True)
    cxg_s: Series[float] = pa.Field(ge=0, nullable=True)


class StepOutputs(_Partitioned):
    """What the migration's steps answered (their SendTaskSuccess output, read from the `output` log records,
    the execution histories or the S3 artifacts), one row per fact: a dataset's new version, a gathered
    collection, a dataset a collection set out to migrate, a dataset skipped as already current."""

    kind: Series[str] = pa.Field(isin=OUTPUT_KINDS, description="dataset_version | collection | listed_dataset | skipped_dataset")
    source: Series[str] = pa.Field(isin=OUTPUT_SOURCES, description="where it was read: log, history, map_run, s3, job_env")
    job_id: Series[str] = pa.Field(nullable=True, description="the Batch job whose answer this is")
    collection_id: Series[str] = pa.Field(nullable=True)
    collection_version_id: Series[str] = pa.Field(nullable=True, description="as gathered (the published version)")
    dataset_id: Series[str] = pa.Field(nullable=True)
    dataset_version_id: Series[str] = pa.Field(nullable=True, description="the version before the migration")
    new_dataset_version_id: Series[str] = pa.Field(nullable=True, description="made by dataset_migrate")
    sfn_name: Series[str] = pa.Field(nullable=True, description="name of the ingestion execution it starts")


class SfnExecutions(_Partitioned):
    """The attempt's datasets that got a new version, with their ingestion execution (ListExecutions: name,
    status, times). `attribution` says how the row was tied to a dataset; `unattributed` rows are kept."""

    new_dataset_version_id: Series[str] = pa.Field(unique=True)
    execution_arn: Series[str] = pa.Field(nullable=True, description="empty until the execution starts")
    execution_name: Series[str] = pa.Field(nullable=True)
    status: Series[str] = pa.Field(isin=_values(ExecutionStatus), nullable=True)
    start_at: Series[UtcTime] = pa.Field(nullable=True)
    stop_at: Series[UtcTime] = pa.Field(nullable=True)
    duration_s: Series[float] = pa.Field(ge=0, nullable=True)
    dataset_id: Series[str] = pa.Field(nullable=True)
    collection_version_id: Series[str] = pa.Field(nullable=True)
    old_dataset_version_id: Series[str] = pa.Field(nullable=True)
    attribution: Series[str] = pa.Field(isin=[*OUTPUT_SOURCES, "execution_name", "unattributed"])


class DatasetRollup(_IngestionStepDurations):
    """One row per corpus dataset (by DATASET_ID, resolved through the version mapping)."""

    dataset_id: Series[str] = pa.Field(unique=True)
    collection_id: Series[str] = pa.Field(nullable=True)
    collection_version_id: Series[str] = pa.Field(nullable=True)
    dataset_version_id: Series[str] = pa.Field(nullable=True)
    new_dataset_version_id: Series[str] = pa.Field(nullable=True)
    state: Series[str] = pa.Field(isin=_values(DatasetState))
    current_step: Series[str] = pa.Field(nullable=True)
    last_step: Series[str] = pa.Field(nullable=True)
    failing_step: Series[str] = pa.Field(nullable=True)
    error_category: Series[str] = pa.Field(isin=_values(ErrorCategory), nullable=True)
    error_signature: Series[str] = pa.Field(nullable=True)
    started_at: Series[UtcTime] = pa.Field(nullable=True)
    finished_at: Series[UtcTime] = pa.Field(nullable=True)
    total_duration_s: Series[float] = pa.Field(ge=0, nullable=True)
    dataset_migration_s: Series[float] = pa.Field(ge=0, nullable=True)
    retries: Series[int] = pa.Field(ge=0)
    jobs: Series[int] = pa.Field(ge=0)
    attribution: Series[str] = pa.Field(isin=["job_env", "version", "listed", "unattributed"],
                                        description="how the dataset's jobs were found; unattributed: an ingestion "
                                                    "whose dataset no source names (dataset_id 'unattributed:<version>')")


class _DatasetStateCounts(_Frame):
    """How many datasets are in each DatasetState (and in all)."""

    datasets: Series[int] = pa.Field(ge=0)
    succeeded: Series[int] = pa.Field(ge=0)
    failed: Series[int] = pa.Field(ge=0)
    running: Series[int] = pa.Field(ge=0)
    pending: Series[int] = pa.Field(ge=0)
    not_started: Series[int] = pa.Field(ge=0)
    skipped: Series[int] = pa.Field(ge=0)


class CollectionRollup(_DatasetStateCounts, _Partitioned):
    collection_id: Series[str] = pa.Field(unique=True)
    collection_version_id: Series[str] = pa.Field(nullable=True, description="the version gathered (before migration)")
    collection_migration_status: Series[str] = pa.Field(nullable=True)
    can_publish: Series[bool]


class ErrorSignatures(_Partitioned):
    error_signature: Series[str]
    error_category: Series[str] = pa.Field(isin=_values(ErrorCategory))
    error_kind: Series[str] = pa.Field(isin=_values(ErrorKind))
    step: Series[str]
    jobs: Series[int] = pa.Field(ge=1)
    datasets: Series[int] = pa.Field(ge=0)
    first_seen: Series[UtcTime] = pa.Field(nullable=True)
    last_seen: Series[UtcTime] = pa.Field(nullable=True)
    example_datasets: Series[str] = pa.Field(nullable=True)


OUTCOME_CHANGES = ["same", "succeeded_to_failed", "failed_to_succeeded", "only_in_base", "only_in_other", "other_change"]


class DurationDeltas(_Frame):
    """Per dataset and step: durations in two partitions and their difference; outcome changes."""

    base: Series[str]
    other: Series[str]
    dataset_id: Series[str]
    collection_id: Series[str] = pa.Field(nullable=True)
    step: Series[str]
    base_duration_s: Series[float] = pa.Field(ge=0, nullable=True)
    other_duration_s: Series[float] = pa.Field(ge=0, nullable=True)
    delta_s: Series[float] = pa.Field(nullable=True)
    base_state: Series[str] = pa.Field(nullable=True)
    other_state: Series[str] = pa.Field(nullable=True)
    outcome_change: Series[str] = pa.Field(isin=OUTCOME_CHANGES)


def empty_frame(model: type[pa.DataFrameModel]) -> pd.DataFrame:
    """A zero-row frame with the model's columns and dtypes: an explicit 'nothing ran here'."""
    columns = list(model.to_schema().columns)
    return validate(model, pd.DataFrame({c: pd.Series([], dtype=object) for c in columns}))


def validate(model: type[pa.DataFrameModel], df: pd.DataFrame) -> pd.DataFrame:
    """Coerced and checked; raises pandera.errors.SchemaError (naming the column) on violation."""
    return model.validate(df.reset_index(drop=True))


class RerunManifest(_Partitioned):
    """What to re-run: failed datasets, and those a finished attempt never started."""

    dataset_id: Series[str] = pa.Field(unique=True)
    dataset_version_id: Series[str] = pa.Field(nullable=True)
    collection_id: Series[str] = pa.Field(nullable=True)
    collection_version_id: Series[str] = pa.Field(nullable=True)
    state: Series[str] = pa.Field(isin=[DatasetState.FAILED.value, DatasetState.NOT_STARTED.value])
    failing_step: Series[str] = pa.Field(nullable=True)
    error_category: Series[str] = pa.Field(isin=_values(ErrorCategory), nullable=True)
    error_signature: Series[str] = pa.Field(nullable=True)


class AttemptStates(_DatasetStateCounts):
    """Every attempt of every stage at a glance."""

    stage: Series[str]
    attempt: Series[str]
    state: Series[str] = pa.Field(isin=_values(AttemptState))
    start: Series[UtcTime]
    end: Series[UtcTime] = pa.Field(nullable=True)
    executions: Series[str]
    rolled_up: Series[bool]
