"""The frames of the asset chain, as pandera DataFrameModels: strict columns, dtypes, enums, bounds.

Timestamps are UTC; durations are seconds and never negative; status and category columns only take
values of cxgm_pipeline.vocabulary. `validate` returns the coerced frame; a violation raises pandera's
SchemaError naming the column.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from cxgm_pipeline.schemas.dtypes import Text, UtcTime
from cxgm_pipeline.vocabulary import (
    AttemptOutcome,
    AttemptState,
    Step,
    DatasetState,
    ErrorCategory,
    ErrorKind,
    ExecutionStatus,
    JobStatus,
    LogStatus,
    PortalVerdict,
    ProductionVerdict,
    RerunAs,
)

OUTPUT_KINDS = ["dataset_version", "collection", "listed_dataset", "skipped_dataset", "verdict", "migration_revision",
                "answer_missing", "execution", "map_run"]
# not_read: no history looked at yet for it (the build's budget ran out); not_found: every history that could hold it
# was read after its execution closed, without it
OUTPUT_SOURCES = ["log", "history", "map_run", "s3", "job_env", "not_read", "not_found"]
# Canonical steps. Job frames keep a job name cxgm does not know as its step (an older machine's
# `download-validate`, say) rather than fail on it, so only the dataset views are held to this list.
STEPS = [s.value for s in Step]


def _values(enum) -> list[str]:
    return [e.value for e in enum]


class _Frame(pa.DataFrameModel):
    class Config:
        strict = True
        coerce = True


class _Partitioned(_Frame):
    stage: Series[Text] = pa.Field(description="deployment stage (dev, staging, prod, rdev)")
    attempt: Series[Text] = pa.Field(
        description="attempt key: the execution input's migration_attempt, else untagged-<start minute UTC>")


class MigrationJobs(_Partitioned):
    """Every Batch job of an attempt, one row per job. Secrets (TASK_TOKEN) are never columns."""

    job_id: Series[Text] = pa.Field(unique=True, description="Batch job id")
    job_name: Series[Text] = pa.Field(description="Batch JobName as submitted")
    step: Series[Text] = pa.Field(description="canonical step (JobName, lower-cased)")
    status: Series[Text] = pa.Field(isin=_values(JobStatus), description="status as AWS reports it")
    status_reason: Series[Text] = pa.Field(nullable=True, description="Batch statusReason")
    container_reason: Series[Text] = pa.Field(
        nullable=True, description="Batch container.reason (e.g. OutOfMemoryError)")
    attempt_reasons: Series[Text] = pa.Field(
        nullable=True, description="each Batch attempt's status reason, ' | '-joined")
    exit_code: Series[pd.Int64Dtype] = pa.Field(nullable=True, description="container exit code")
    created_at: Series[UtcTime] = pa.Field(description="when the job was submitted (UTC)")
    started_at: Series[UtcTime] = pa.Field(nullable=True, description="first start (UTC)")
    stopped_at: Series[UtcTime] = pa.Field(nullable=True, description="stop (UTC)")
    duration_s: Series[float] = pa.Field(
        ge=0, nullable=True, description="seconds from start to stop (or to now while running)")
    attempts: Series[int] = pa.Field(ge=0, description="Batch attempts of the job (retries of its retry strategy + 1)")
    queue: Series[Text] = pa.Field(description="Batch job queue")
    log_group: Series[Text] = pa.Field(nullable=True, description="CloudWatch log group")
    log_stream: Series[Text] = pa.Field(nullable=True, description="CloudWatch log stream of the latest attempt")
    observed_at: Series[UtcTime] = pa.Field(
        description="AWS's clock (its answers' Date) when the frame was fetched: running jobs are timed to it")
    execution_id: Series[Text] = pa.Field(nullable=True, description="EXECUTION_ID: the migration execution's name")
    migration_attempt: Series[Text] = pa.Field(
        nullable=True, description="MIGRATION_ATTEMPT env (older tagging), if any")
    collection_id: Series[Text] = pa.Field(nullable=True, description="COLLECTION_ID (stable across versions)")
    collection_version_id: Series[Text] = pa.Field(nullable=True, description="COLLECTION_VERSION_ID")
    dataset_id: Series[Text] = pa.Field(nullable=True, description="DATASET_ID (stable across versions)")
    dataset_version_id: Series[Text] = pa.Field(
        nullable=True, description="DATASET_VERSION_ID as the job or step saw it")


class EnrichedJobs(MigrationJobs):
    """migration_jobs plus what the failed and running jobs' logs say, and why each failed."""

    log_status: Series[Text] = pa.Field(
        isin=_values(LogStatus), description="what became of the log: fetched, not_fetched, missing, no_stream")
    log_lines: Series[int] = pa.Field(ge=0, description="log events read")
    app_lines: Series[int] = pa.Field(ge=0, description="JSON log records (the application's own lines)")
    runtime_lines: Series[int] = pa.Field(ge=0, description="plain log lines (Python runtime, tracebacks, signals)")
    error_lines: Series[Text] = pa.Field(nullable=True, description="last ERROR lines of the log")
    last_exception: Series[Text] = pa.Field(nullable=True, description="last exception line of the log")
    progress_hint: Series[Text] = pa.Field(nullable=True, description="last progress line of a running job")
    error_category: Series[Text] = pa.Field(
        isin=_values(ErrorCategory), nullable=True, description="why it failed (classifier's category)")
    error_kind: Series[Text] = pa.Field(
        isin=_values(ErrorKind), nullable=True, description="infrastructure (re-run as is) or runtime (needs a fix)")
    error_signature: Series[Text] = pa.Field(nullable=True, description="the cause, normalised so alike failures group")
    error_evidence: Series[Text] = pa.Field(
        nullable=True, description="why that category: '<rule id> @ <field>: <the line the rule matched>'")
    error_values: Series[Text] = pa.Field(
        nullable=True, description="what the signature's {placeholders} stand for here (term ids, instances…), ', '-joined")
    log_read_at: Series[UtcTime] = pa.Field(
        nullable=True, description="AWS's clock when the log was read (a running job's is re-read an interval later)")
    error_category_also: Series[Text] = pa.Field(
        isin=_values(ErrorCategory), nullable=True,
        description="a second category the same evidence supports (error_category is the one to act on), if any")


class _IngestionStepDurations(_Partitioned):
    """Seconds spent in each ingestion step (empty where the step did not run)."""

    validate_anndata_s: Series[float] = pa.Field(
        ge=0, nullable=True, description="seconds in validate_anndata (all its jobs)")
    validate_atac_s: Series[float] = pa.Field(
        ge=0, nullable=True, description="seconds in validate_atac (all its jobs)")
    add_labels_s: Series[float] = pa.Field(ge=0, nullable=True, description="seconds in add_labels (all its jobs)")
    cxg_s: Series[float] = pa.Field(ge=0, nullable=True, description="seconds in cxg (all its jobs)")


class OutputRecords(_Partitioned):
    """The answering steps' `output` (and PY-1 `Response`, cleanup `skipping dataset`) log records of the
    attempt's window, as written: one sweep of the migration log group that needs no job list, so it runs while
    the jobs are still being described."""

    log_group: Series[Text] = pa.Field(description="CloudWatch log group swept")
    log_stream: Series[Text] = pa.Field(description="the job's log stream (joins migration_jobs.log_stream)")
    event_id: Series[Text] = pa.Field(unique=True, description="CloudWatch eventId")
    timestamp: Series[UtcTime] = pa.Field(description="when the step logged it (UTC)")
    message: Series[Text] = pa.Field(description="the JSON record as logged, secrets cut")


class StepOutputs(_Partitioned):
    """What the migration's steps answered (their SendTaskSuccess output, read from the `output` log records,
    the execution histories or the S3 artifacts), one row per fact: a dataset's new version, a gathered
    collection, a dataset a collection set out to migrate, a dataset skipped as already current; and an answer
    still missing (`answer_missing`), with the executions and Map Runs whose histories were read for it."""

    kind: Series[Text] = pa.Field(isin=OUTPUT_KINDS, description="dataset_version | collection | listed_dataset | "
                                                                 "skipped_dataset | verdict | migration_revision | "
                                                                 "answer_missing | execution | map_run")
    source: Series[Text] = pa.Field(isin=OUTPUT_SOURCES, description="where it was read: log, history, map_run, s3, "
                                                                     "job_env; answer_missing: not_read, not_found")
    job_id: Series[Text] = pa.Field(nullable=True, description="the Batch job whose answer this is")
    collection_id: Series[Text] = pa.Field(nullable=True, description="COLLECTION_ID (stable across versions)")
    collection_version_id: Series[Text] = pa.Field(nullable=True, description="as gathered (the published version)")
    dataset_id: Series[Text] = pa.Field(nullable=True, description="DATASET_ID (stable across versions)")
    dataset_version_id: Series[Text] = pa.Field(nullable=True, description="the version before the migration")
    new_dataset_version_id: Series[Text] = pa.Field(nullable=True, description="made by dataset_migrate")
    sfn_name: Series[Text] = pa.Field(nullable=True, description="name of the ingestion execution it starts")
    verdict: Series[Text] = pa.Field(
        isin=_values(ProductionVerdict), nullable=True,
        description="kind verdict: what production's cleanup step said of the dataset (its error record's rollback)")
    verdict_message: Series[Text] = pa.Field(
        nullable=True, description="kind verdict: production's message in that record, as logged (may be empty)")
    migration_revision_id: Series[Text] = pa.Field(
        nullable=True, description="the collection version collection_migrate migrated into (its answer's "
                                   "collection_version_id: a new auto revision of a published version, else the version "
                                   "itself): on migration_revision, listed_dataset and dataset_version rows")
    # kinds execution and map_run: what the history fallback has read, so a refresh reads again only what is open
    execution_arn: Series[Text] = pa.Field(
        nullable=True, description="kind execution: a migration execution or a Map Run's child; kind map_run: the run")
    parent_arn: Series[Text] = pa.Field(
        nullable=True, description="kind execution: the Map Run it is an item of; kind map_run: the execution that started it")
    execution_status: Series[Text] = pa.Field(nullable=True, description="kinds execution and map_run: status as last listed")
    started_at: Series[UtcTime] = pa.Field(nullable=True, description="kinds execution and map_run: start (UTC)")
    stopped_at: Series[UtcTime] = pa.Field(nullable=True, description="kinds execution and map_run: stop (UTC)")
    read_at: Series[UtcTime] = pa.Field(
        nullable=True, description="kind execution: when its history was read; kind map_run: when its children were listed")
    read_status: Series[Text] = pa.Field(
        nullable=True, description="its status then: a history read after its execution closed is never read again")


class SfnExecutions(_Partitioned):
    """The attempt's datasets that got a new version, with their ingestion execution (ListExecutions: name,
    status, times). `attribution` says how the row was tied to a dataset; `unattributed` rows are kept."""

    new_dataset_version_id: Series[Text] = pa.Field(
        unique=True, description="the NEW dataset version dataset_migrate made")
    execution_arn: Series[Text] = pa.Field(nullable=True, description="empty until the execution starts")
    execution_name: Series[Text] = pa.Field(
        nullable=True, description="ingestion execution name (migrate_<version>_<epoch>)")
    status: Series[Text] = pa.Field(isin=_values(ExecutionStatus), nullable=True, description="status as AWS reports it")
    start_at: Series[UtcTime] = pa.Field(nullable=True, description="execution start (UTC)")
    stop_at: Series[UtcTime] = pa.Field(nullable=True, description="execution stop (UTC)")
    duration_s: Series[float] = pa.Field(
        ge=0, nullable=True, description="seconds from start to stop (or to now while running)")
    dataset_id: Series[Text] = pa.Field(nullable=True, description="DATASET_ID (stable across versions)")
    collection_version_id: Series[Text] = pa.Field(nullable=True, description="COLLECTION_VERSION_ID")
    old_dataset_version_id: Series[Text] = pa.Field(
        nullable=True, description="the dataset version before the migration")
    attribution: Series[Text] = pa.Field(
        isin=[*OUTPUT_SOURCES, "execution_name", "unattributed"], description="how the row was tied to its dataset")
    failure_error: Series[Text] = pa.Field(
        nullable=True, description="a FAILED execution with no failed job of its own: the error its history ends "
                                   "on (States.Timeout: a task past its TimeoutSeconds)")
    failure_state: Series[Text] = pa.Field(nullable=True, description="the task state that error hit (e.g. AddLabels)")
    failure_cause: Series[Text] = pa.Field(
        nullable=True, description="that error's cause: a Batch task's is its job's description (reasons, exit code)")
    history_read: Series[bool] = pa.Field(
        description="its history was read for that error (once: a refresh keeps what was read)")


class DatasetRollup(_IngestionStepDurations):
    """One row per corpus dataset (by DATASET_ID, resolved through the version mapping) and collection version
    gathered: a collection gathered twice (a curator's open revision and its published version) is migrated twice."""

    class Config:
        unique = ["dataset_id", "collection_version_id"]

    dataset_id: Series[Text] = pa.Field(description="DATASET_ID (stable across versions)")
    collection_id: Series[Text] = pa.Field(nullable=True, description="COLLECTION_ID (stable across versions)")
    collection_version_id: Series[Text] = pa.Field(
        nullable=True, description="the collection version gather_collections gathered (this row's branch)")
    dataset_version_id: Series[Text] = pa.Field(
        nullable=True, description="DATASET_VERSION_ID as the job or step saw it")
    new_dataset_version_id: Series[Text] = pa.Field(
        nullable=True, description="the NEW dataset version dataset_migrate made")
    state: Series[Text] = pa.Field(isin=_values(DatasetState), description="state")
    current_step: Series[Text] = pa.Field(isin=STEPS, nullable=True, description="step of its latest active job")
    last_step: Series[Text] = pa.Field(isin=STEPS, nullable=True, description="step of its latest job")
    failing_step: Series[Text] = pa.Field(isin=STEPS, nullable=True, description="step whose failure decided the dataset's state")
    error_category: Series[Text] = pa.Field(
        isin=_values(ErrorCategory), nullable=True, description="why it failed (classifier's category)")
    error_signature: Series[Text] = pa.Field(nullable=True, description="the cause, normalised so alike failures group")
    started_at: Series[UtcTime] = pa.Field(nullable=True, description="first start (UTC)")
    finished_at: Series[UtcTime] = pa.Field(nullable=True, description="when its last job stopped (UTC)")
    total_duration_s: Series[float] = pa.Field(
        ge=0, nullable=True, description="seconds from its first job to its last stop (or now)")
    dataset_migration_s: Series[float] = pa.Field(
        ge=0, nullable=True, description="seconds in dataset_migration (all its jobs)")
    retries: Series[int] = pa.Field(ge=0, description="Batch retries + Step Functions re-submissions")
    jobs: Series[int] = pa.Field(ge=0, description="jobs counted")
    attribution: Series[Text] = pa.Field(isin=["job_env", "version", "listed", "unattributed"],
                                        description="how the dataset's jobs were found; unattributed: an ingestion "
                                                    "whose dataset no source names (dataset_id 'unattributed:<version>')")
    campaign_state: Series[Text] = pa.Field(
        isin=_values(DatasetState), description="its outcome across the campaign (attempts that re-run one another): "
                                                "the latest attempt that processed it decides (monitor/attempts/campaigns.py)")
    campaign_attempt: Series[Text] = pa.Field(description="the attempt whose outcome campaign_state is")
    campaign: Series[Text] = pa.Field(description="the campaign: the key of its first attempt (this one's alone)")
    production_verdict: Series[Text] = pa.Field(
        isin=_values(ProductionVerdict), nullable=True,
        description="production's own verdict from its cleanup records: rolled_back (rollback true: not processed "
                    "successfully, previous version restored) or not_latest_schema; empty when it raised none")
    production_message: Series[Text] = pa.Field(
        nullable=True, description="production's message with its verdict (the dataset's validation message), as logged")
    migration_revision_id: Series[Text] = pa.Field(
        nullable=True, description="the migration revision holding its new dataset version (collection_migrate's "
                                   "answer collection_version_id; its dataset_migration's COLLECTION_VERSION_ID)")


class _DatasetStateCounts(_Frame):
    """How many datasets are in each DatasetState (and in all)."""

    datasets: Series[int] = pa.Field(ge=0, description="datasets in all")
    succeeded: Series[int] = pa.Field(ge=0, description="datasets succeeded")
    failed: Series[int] = pa.Field(ge=0, description="datasets failed")
    running: Series[int] = pa.Field(ge=0, description="datasets running")
    pending: Series[int] = pa.Field(ge=0, description="datasets waiting for a job to start")
    not_started: Series[int] = pa.Field(ge=0, description="datasets not started")
    skipped: Series[int] = pa.Field(ge=0, description="datasets skipped (already current)")


class CollectionRollup(_DatasetStateCounts, _Partitioned):
    """One row per collection and version gathered: its datasets by state, its collection_migration outcome and
    whether production would publish its revision (`can_publish`)."""

    class Config:
        unique = ["collection_id", "collection_version_id"]

    collection_id: Series[Text] = pa.Field(description="COLLECTION_ID (stable across versions)")
    collection_version_id: Series[Text] = pa.Field(nullable=True, description="the version gathered (before migration)")
    collection_migration_status: Series[Text] = pa.Field(
        nullable=True, description="latest collection_migration job's status")
    collection_migration_error_category: Series[Text] = pa.Field(
        isin=_values(ErrorCategory), nullable=True,
        description="why its latest collection_migration job failed (classifier's category); empty unless it failed")
    collection_migration_error_signature: Series[Text] = pa.Field(
        nullable=True, description="that job's cause, normalised as error_signatures groups it; empty unless it failed")
    can_publish: Series[bool] = pa.Field(
        description="production would publish its migration revision: an auto revision of a published collection, "
                    "its collection_migration and every dataset it set out to migrate succeeded, and the cleanup "
                    "raised no error (schema_migration.py publish_and_cleanup, publish_revisions)")
    execution_error: Series[Text] = pa.Field(
        nullable=True, description="when Step Functions failed its SpanCollections child execution (an error no "
                                   "Catch takes): '<error> in <state>', e.g. States.DataLimitExceeded in SpanDatasets")


class ErrorSignatures(_Partitioned):
    """One row per cause of failure: the jobs and datasets it hit, its category and step, examples and evidence,
    so that 300 failures with one cause read as one line."""

    error_signature: Series[Text] = pa.Field(description="the cause, normalised so alike failures group")
    error_category: Series[Text] = pa.Field(
        isin=_values(ErrorCategory), description="why it failed (classifier's category)")
    error_kind: Series[Text] = pa.Field(
        isin=_values(ErrorKind), description="infrastructure (re-run as is) or runtime (needs a fix)")
    step: Series[Text] = pa.Field(description="canonical step (JobName, lower-cased)")
    jobs: Series[int] = pa.Field(ge=0, description="jobs counted (0: Step Functions failed the datasets, no job "
                                                   "did: child_failures)")
    datasets: Series[int] = pa.Field(ge=0, description="datasets in all")
    first_seen: Series[UtcTime] = pa.Field(nullable=True, description="first failure's stop time")
    last_seen: Series[UtcTime] = pa.Field(nullable=True, description="last failure's stop time")
    example_datasets: Series[Text] = pa.Field(nullable=True, description="a few datasets it hit")
    examples: Series[Text] = pa.Field(
        nullable=True, description="distinct values behind the signature's {placeholders}, e.g. the term ids one "
                                   "validator rule rejected, ', '-joined")
    error_evidence: Series[Text] = pa.Field(
        nullable=True, description="why that category, for one of its jobs: '<rule id> @ <field>: <matched line>'")


OUTCOME_CHANGES = ["same", "succeeded_to_failed", "failed_to_succeeded", "only_in_base", "only_in_other", "other_change",
                   "pending", "not_reached"]


class DurationDeltas(_Frame):
    """Per dataset and step: durations in two partitions and their difference; outcome changes."""

    base: Series[Text] = pa.Field(description="STAGE:ATTEMPT compared from")
    other: Series[Text] = pa.Field(description="STAGE:ATTEMPT compared to")
    dataset_id: Series[Text] = pa.Field(description="DATASET_ID (stable across versions)")
    collection_id: Series[Text] = pa.Field(nullable=True, description="COLLECTION_ID (stable across versions)")
    step: Series[Text] = pa.Field(description="canonical step (JobName, lower-cased)")
    base_duration_s: Series[float] = pa.Field(ge=0, nullable=True, description="seconds in the step, base attempt")
    other_duration_s: Series[float] = pa.Field(ge=0, nullable=True, description="seconds in the step, other attempt")
    delta_s: Series[float] = pa.Field(nullable=True, description="other minus base, seconds")
    base_state: Series[Text] = pa.Field(nullable=True, description="dataset state in the base attempt")
    other_state: Series[Text] = pa.Field(nullable=True, description="dataset state in the other attempt")
    base_cause: Series[Text] = pa.Field(nullable=True, description="failing step: error category, where it failed in base")
    other_cause: Series[Text] = pa.Field(nullable=True, description="failing step: error category, where it failed in other")
    outcome_change: Series[Text] = pa.Field(isin=OUTCOME_CHANGES, description="how its outcome changed between the two")


def empty_frame(model: type[pa.DataFrameModel]) -> pd.DataFrame:
    """A zero-row frame with the model's columns and dtypes: an explicit 'nothing ran here'."""
    columns = list(model.to_schema().columns)
    return validate(model, pd.DataFrame({c: pd.Series([], dtype=object) for c in columns}))


def validate(model: type[pa.DataFrameModel], df: pd.DataFrame) -> pd.DataFrame:
    """Coerced and checked; raises pandera.errors.SchemaError (naming the column) on violation."""
    return model.validate(df.reset_index(drop=True))


class RerunManifest(_Partitioned):
    """What to re-run: failed datasets, and those a finished attempt never started (a dataset of a collection
    gathered twice once per version gathered), each with how (`rerun_as`, `rerun_hint`): the report's split, so
    rerun.csv can be filtered by it."""

    class Config:
        unique = ["dataset_id", "collection_version_id"]

    dataset_id: Series[Text] = pa.Field(description="DATASET_ID (stable across versions)")
    dataset_version_id: Series[Text] = pa.Field(
        nullable=True, description="DATASET_VERSION_ID as the job or step saw it")
    collection_id: Series[Text] = pa.Field(nullable=True, description="COLLECTION_ID (stable across versions)")
    collection_version_id: Series[Text] = pa.Field(nullable=True, description="COLLECTION_VERSION_ID")
    state: Series[Text] = pa.Field(isin=[DatasetState.FAILED.value, DatasetState.NOT_STARTED.value], description="state")
    failing_step: Series[Text] = pa.Field(isin=STEPS, nullable=True, description="step whose failure decided the dataset's state")
    error_category: Series[Text] = pa.Field(
        isin=_values(ErrorCategory), nullable=True, description="why it failed (classifier's category)")
    error_signature: Series[Text] = pa.Field(nullable=True, description="the cause, normalised so alike failures group")
    rerun_as: Series[Text] = pa.Field(
        isin=_values(RerunAs), description="as_is (infrastructure, never started: run it again) or fix_first "
                                           "(validation, application, unknown): the report's split")
    rerun_hint: Series[Text] = pa.Field(
        nullable=True, description="what to do before or while re-running it, as the report says it (e.g. 'with more "
                                   "memory', 'fix the data or code', or what production's cleanup step did to a "
                                   "dataset whose jobs all succeeded); empty: re-run as is")
    campaign_attempt: Series[Text] = pa.Field(
        description="the attempt of the campaign whose outcome this is (its failing step and cause)")
    migration_revision_id: Series[Text] = pa.Field(
        nullable=True, description="the migration revision holding its new dataset version, if one was made")


CHILD_FAILURE_KINDS = ["map_run", "child", "execution"]


class ChildFailures(_Partitioned):
    """What Step Functions itself says failed, beyond the Batch jobs: each DISTRIBUTED Map Run read (DescribeMapRun:
    status, failed and total items, its tolerance), each failed child execution (its error and cause, and the
    collection or dataset its input names), and a migration execution that failed. Errors no Catch takes
    (States.Runtime, States.DataLimitExceeded) leave no failed job: only these rows say where a dataset stopped."""

    kind: Series[Text] = pa.Field(isin=CHILD_FAILURE_KINDS, description="map_run | child (a Map Run's failed child "
                                                                         "execution) | execution (the migration's own)")
    execution_arn: Series[Text] = pa.Field(nullable=True, description="the failed execution (child or migration)")
    map_run_arn: Series[Text] = pa.Field(nullable=True, description="the Map Run (of the row, or that ran the child)")
    state_name: Series[Text] = pa.Field(nullable=True, description="the Map state of the Map Run (SpanCollections, SpanDatasets)")
    status: Series[Text] = pa.Field(nullable=True, description="the Map Run's or execution's status as AWS gives it")
    items_failed: Series[pd.Int64Dtype] = pa.Field(nullable=True, description="map_run: itemCounts.failed")
    items_total: Series[pd.Int64Dtype] = pa.Field(nullable=True, description="map_run: itemCounts.total")
    tolerated_failure_percentage: Series[float] = pa.Field(
        nullable=True, description="map_run: ToleratedFailurePercentage (past it the Map Run fails)")
    error: Series[Text] = pa.Field(nullable=True, description="the execution's error (States.Runtime, ...)")
    cause: Series[Text] = pa.Field(nullable=True, description="the execution's cause, secrets cut")
    failed_state: Series[Text] = pa.Field(nullable=True, description="the state the cause names")
    failing_step: Series[Text] = pa.Field(isin=STEPS, nullable=True,
                                          description="the step whose answer the failed state was handling")
    collection_id: Series[Text] = pa.Field(nullable=True, description="COLLECTION_ID the failed execution's input names")
    collection_version_id: Series[Text] = pa.Field(nullable=True, description="its COLLECTION_VERSION_ID (a dataset "
                                                                                "item's: the migration revision)")
    dataset_id: Series[Text] = pa.Field(nullable=True, description="DATASET_ID the failed execution's input names")
    dataset_version_id: Series[Text] = pa.Field(nullable=True, description="its DATASET_VERSION_ID (before the migration)")
    stopped_at: Series[UtcTime] = pa.Field(nullable=True, description="when the execution or Map Run stopped (UTC)")
    read_at: Series[UtcTime] = pa.Field(nullable=True, description="map_run: when DescribeMapRun was read (AWS's "
                                                                    "clock, UTC)")


class SentAlerts(_Partitioned):
    """Every alert message cxgm sent (one digest per attempt and sensor tick), newest last."""

    sent_at: Series[UtcTime] = pa.Field(description="when it was sent (UTC)")
    kind: Series[Text] = pa.Field(description="new_signature, failure_rate, finished, or several (a digest)")
    subject: Series[Text] = pa.Field(description="the message's subject line")
    body: Series[Text] = pa.Field(description="the message's text, links included")
    partition_url: Series[Text] = pa.Field(description="the attempt's partition in the Dagster UI")
    report_url: Series[Text] = pa.Field(description="the attempt's HTML report (served URL, else its path)")


class AttemptStates(_DatasetStateCounts):
    """Every attempt of every stage at a glance."""

    stage: Series[Text] = pa.Field(description="deployment stage (dev, staging, prod, rdev)")
    attempt: Series[Text] = pa.Field(
        description="attempt key: the execution input's migration_attempt, else untagged-<start minute UTC>")
    state: Series[Text] = pa.Field(isin=_values(AttemptState), description="state")
    start: Series[UtcTime] = pa.Field(description="when the attempt started (UTC)")
    end: Series[UtcTime] = pa.Field(nullable=True, description="when the attempt ended (UTC), empty while it runs")
    executions: Series[Text] = pa.Field(description="names of the attempt's migration executions")
    rolled_up: Series[bool] = pa.Field(description="a dataset_rollup is stored")
    campaign: Series[Text] = pa.Field(
        nullable=True, description="the campaign it belongs to (its first attempt's key); empty: not rolled up")
    redrives: Series[int] = pa.Field(ge=0, description="times its execution was redriven (DescribeExecution's redriveCount)")
    outcome: Series[Text] = pa.Field(
        isin=_values(AttemptOutcome), nullable=True,
        description="what it achieved, which its state (its execution's status) does not say: a failed gather or a "
                    "SpanCollections tolerance breach ends SUCCEEDED through report; empty until its frames are read")


class PortalState(_Partitioned):
    """What the stage's portal (its public Curation API, `GET /curation/v1/collections/{id}`) serves for each
    dataset of the attempt's dataset_rollup, one row per dataset, and the verdict joining both worlds."""

    dataset_id: Series[Text] = pa.Field(unique=True, description="DATASET_ID (stable across versions)")
    collection_id: Series[Text] = pa.Field(nullable=True, description="COLLECTION_ID (stable across versions)")
    state: Series[Text] = pa.Field(isin=_values(DatasetState), description="the dataset's state in the migration")
    dataset_version_id: Series[Text] = pa.Field(nullable=True, description="the version before the migration")
    new_dataset_version_id: Series[Text] = pa.Field(nullable=True, description="the version the migration made")
    revision_version_id: Series[Text] = pa.Field(
        nullable=True, description="the collection version the migration put the new version in (its revision)")
    portal_collection_version_id: Series[Text] = pa.Field(
        nullable=True, description="the collection version the portal serves")
    portal_visibility: Series[Text] = pa.Field(nullable=True, description="PUBLIC or PRIVATE, as the portal says")
    revision_published: Series[pd.BooleanDtype] = pa.Field(
        nullable=True, description="the portal serves the migration's revision, published; empty when unknown")
    portal_dataset_version_id: Series[Text] = pa.Field(nullable=True, description="the dataset version the portal serves")
    portal_schema_version: Series[Text] = pa.Field(nullable=True, description="schema_version of the served version")
    portal_processing_status: Series[Text] = pa.Field(
        nullable=True, description="processing_status of the served version (the portal gives it for unpublished ones)")
    portal_current: Series[pd.BooleanDtype] = pa.Field(
        nullable=True, description="the portal serves the new version this migration made; empty when unknown")
    portal_verdict: Series[Text] = pa.Field(isin=_values(PortalVerdict), description="the verdict joining both worlds")
    portal_why: Series[Text] = pa.Field(nullable=True, description="why, when knowable (e.g. the failed datasets "
                                                                 "its revision holds)")
    portal_http_status: Series[pd.Int64Dtype] = pa.Field(nullable=True, description="HTTP status of the portal's answer")
    portal_read_at: Series[UtcTime] = pa.Field(nullable=True, description="when the portal was read (UTC)")
    portal_read_after_end: Series[pd.BooleanDtype] = pa.Field(
        nullable=True, description="read once the attempt had ended: final, not read again; empty when not read")
    portal_later_attempt: Series[Text] = pa.Field(
        nullable=True, description="the later attempt of the stage that had started when the portal was read: what it "
                                   "serves is then that attempt's doing, not this one's result; empty: its own")
