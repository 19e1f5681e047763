"""dataset_rollup, collection_rollup, error_signatures: the views an engineer reads during a migration.

Datasets are keyed by DATASET_ID and the collection version gathered: gather_collections skips a published
collection only when its open revision is an auto (migration) revision, so a curator's open revision makes one
collection gathered twice in one attempt (single-cell-data-portal backend/layers/processing/schema_migration.py
@ 001730b8, `gather_collections`: `has_migration_revision` holds only `is_auto_version` revisions), and each
version is migrated on its own: its own migration revision (`collection_migrate`: a published version gets a new
auto revision, an unpublished one is migrated in place), its own dataset_migration jobs, new versions and
ingestions. The two are two rows, never summed. Ingestion jobs carry only the *new* DATASET_VERSION_ID made by
dataset_migration, so they are resolved through the version mapping of sfn_executions; without it, the
old notebook helpers counted one dataset as two. Collections are keyed by COLLECTION_ID and the version gathered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from pandera.typing import DataFrame

from cxgm_pipeline.monitor.attempts.listing import utcnow
from cxgm_pipeline.monitor.classify.classifier import diagnose, diagnose_task_cause
from cxgm_pipeline.monitor.classify.logparse import parse_text
from portal_shapes import INGESTION_TASK_STATES
from cxgm_pipeline.monitor.frames.columns_epoch import epoch_to_utc
from cxgm_pipeline.monitor.frames.columns_rows import row_dicts
from cxgm_pipeline.monitor.frames.columns_missing import none_if_missing
from cxgm_pipeline.schemas import (
    CollectionRollup,
    DatasetRollup,
    EnrichedJobs,
    ErrorSignatures,
    SfnExecutions,
    StepOutputs,
    empty_frame,
    validate,
)
from cxgm_pipeline.vocabulary import (
    DATASET_STEPS,
    INGESTION_STEPS,
    ACTIVE_JOB_STATUSES,
    DatasetState,
    ERROR_KIND,
    ErrorCategory,
    ErrorKind,
    JobStatus,
    ProductionVerdict,
    Step,
)

_ACTIVE = {s.value for s in ACTIVE_JOB_STATUSES}
_DATASET_STEP_NAMES = {s.value for s in DATASET_STEPS}
_INGESTION_STEPS = [s.value for s in INGESTION_STEPS]
_STEP_ORDER = {s.value: i for i, s in enumerate(DATASET_STEPS)}
EXAMPLES = 5


def version_index(executions: pd.DataFrame) -> dict[str, str | None]:
    """{new dataset version: DATASET_ID or None}: every version this attempt made or started ingesting."""
    if executions.empty:
        return {}
    return {v: none_if_missing(d) for v, d in zip(executions["new_dataset_version_id"], executions["dataset_id"])}


def resolve_dataset_ids(jobs: pd.DataFrame, executions: pd.DataFrame) -> pd.Series:
    """DATASET_ID of every job: from its environment, else through its new DATASET_VERSION_ID; a version
    this attempt ingests but no source ties to a dataset gives `unattributed:<version>`."""
    index = version_index(executions)
    marked = {v: d if d else f"{UNATTRIBUTED}{v}" for v, d in index.items()}
    by_version = jobs["dataset_version_id"].map(marked)
    return jobs["dataset_id"].where(jobs["dataset_id"].notna(), by_version)


UNATTRIBUTED = "unattributed:"
# How an ingestion execution that ended badly without a failed job of its own (a Lambda, a StartExecution
# failure, an operator's abort) leaves its dataset.
_EXECUTION_ENDED_BADLY = {"FAILED": ErrorCategory.UNKNOWN, "TIMED_OUT": ErrorCategory.TIMEOUT,
                          "ABORTED": ErrorCategory.CANCELLED}


def revision_index(outputs: pd.DataFrame | None) -> dict[str, str]:
    """{migration revision: collection version gathered}, from collection_migrate's answers (and the datasets they
    listed): the revision a dataset_migration job's COLLECTION_VERSION_ID names, back to the version gathered."""
    if outputs is None or outputs.empty or "migration_revision_id" not in outputs:
        return {}
    known = outputs[outputs["kind"].isin(["migration_revision", "listed_dataset"])]
    known = known.dropna(subset=["migration_revision_id", "collection_version_id"])
    return dict(zip(known["migration_revision_id"], known["collection_version_id"]))


def gathered_versions(outputs: pd.DataFrame | None) -> dict[str, list[str]]:
    """{COLLECTION_ID: the versions gathered_collections gathered of it (two with a curator's open revision)}."""
    out: dict[str, list[str]] = {}
    if outputs is None or outputs.empty:
        return out
    for cid, cvid in zip(*(outputs.loc[outputs["kind"] == "collection", c] for c in ("collection_id", "collection_version_id"))):
        if none_if_missing(cid) and none_if_missing(cvid) and cvid not in out.setdefault(cid, []):
            out[cid].append(cvid)
    return out


def branch_of(collection_id, revision, revisions: dict[str, str], gathered: dict[str, list[str]]) -> str | None:
    """The collection version gathered whose migration a job with this COLLECTION_VERSION_ID (a migration
    revision, or the version itself) belongs to; a collection gathered once is its one version whatever the
    revision says."""
    revision = none_if_missing(revision)
    versions = gathered.get(none_if_missing(collection_id) or "", [])
    if revision is not None and revision in revisions:
        return revisions[revision]
    if revision is not None and revision in versions:
        return revision
    if len(versions) == 1:
        return versions[0]
    return revision


def one_row_per_dataset(rollup: pd.DataFrame) -> pd.DataFrame:
    """One row of each dataset, for views that compare datasets across attempts: of a dataset gathered twice (a
    curator's open revision and its published version), the published version's branch (migrated into a new
    revision), which is what the published corpus moves with."""
    if rollup.empty or not rollup["dataset_id"].duplicated().any():
        return rollup
    in_place = (rollup["migration_revision_id"] == rollup["collection_version_id"]) if "migration_revision_id" in rollup \
        else pd.Series(False, index=rollup.index)
    return rollup.assign(_in_place=in_place.fillna(False)).sort_values("_in_place", kind="stable") \
        .drop_duplicates("dataset_id").drop(columns="_in_place").sort_index()


def attempt_jobs(jobs: pd.DataFrame, executions: pd.DataFrame) -> pd.DataFrame:
    """The attempt's own jobs: ingestion jobs of other uploads share the queue and the window; only those of a
    version this attempt made count (the rest never reach a rollup, a signature or an alert)."""
    if jobs.empty:
        return jobs
    ingestion = jobs["step"].isin([s.value for s in INGESTION_STEPS])
    return jobs[~ingestion | jobs["dataset_version_id"].isin(set(version_index(executions)))]


# the job fields a dataset's row reads (a record of every column of 10,000 jobs was half of the rollup's time); a
# record of 9 fields is 272 bytes, one of 11 (with its dataset and branch, its group's key) 464
_ROW_INPUTS = ["step", "status", "stopped_at", "created_at", "started_at", "duration_s", "attempts", "error_category",
               "error_signature"]
# the job columns the rollup reads: each of its filtered and assigned frames copies every column it holds (copies of
# the 39 columns of 100,000 jobs were a third of its peak memory)
_ROLLUP_COLUMNS = ["job_id", "step", "status", "dataset_id", "dataset_version_id", "collection_id",
                   "collection_version_id", "created_at", "started_at", "stopped_at", "duration_s", "attempts",
                   "error_category", "error_signature"]


def _dataset_row(dataset_id: str, jobs: list[dict], info: dict, collection_job: dict | None, ended: bool,
                 aborted: bool, now_us: int, execution_status: str | None = None, verdict: dict | None = None,
                 execution_failure: tuple | None = None) -> dict:
    """One dataset from its jobs (plain records, oldest first, times in epoch microseconds or None): ~10 us a
    dataset, not a pandas query each. Its started_at/finished_at are epoch microseconds too."""
    row = _jobs_row(dataset_id, jobs, info, collection_job, ended, aborted, now_us, execution_status)
    return _with_verdict(_with_execution_failure(row, execution_status, execution_failure, ended), verdict)


def _with_execution_failure(row: dict, execution_status: str | None, execution_failure: tuple | None,
                            ended: bool = True) -> dict:
    """A dataset its ingestion execution alone failed, with the cause its history gave (`execution_failure`:
    (error, the state it failed in, the error's cause)), where its jobs only said the execution ended badly. A
    Batch task's failure is what its job's description says (`diagnose_task_cause`: the signature its job will
    have); one that says nothing a rule knows is, while the attempt runs, `pending_logs`: its job was listed before
    it failed, and its log, read once it is listed failed, tells why. Otherwise the error is classified by name
    (States.Timeout: `timeout`; States.TaskFailed: `application`, the wrapper with nothing better)."""
    if row["state"] == DatasetState.FAILED.value and row["error_signature"] == f"ingestion execution {execution_status}" \
            and execution_failure and execution_failure[0]:
        error, state, cause = (*execution_failure, None)[:3]
        signature = f"{_EXECUTION_SIGNATURE}{execution_status}: {error}" + (f" in {state}" if state else "")
        found = diagnose_task_cause(cause) if error == _TASK_FAILED else None
        if found is not None:
            category, signature = found.category, found.signature
        elif error == _TASK_FAILED and state in INGESTION_TASK_STATES and not ended:
            category = ErrorCategory.PENDING_LOGS
        else:
            category = diagnose(None, None, parse_text(error)).category
        row.update(error_category=category.value, failing_step=INGESTION_STATE_STEPS.get(state),
                   error_signature=signature)
    return row


_TASK_FAILED = "States.TaskFailed"  # a .sync task whose job failed: its cause is the job's description


def _with_verdict(row: dict, verdict: dict | None) -> dict:
    """The row with production's verdict from its cleanup step (None: it gave none)."""
    row.update(production_verdict=None, production_message=None)
    if verdict is not None:
        row.update(production_verdict=verdict["verdict"], production_message=verdict["message"])
        if row["state"] == DatasetState.SUCCEEDED.value:
            # every job succeeded, yet production's cleanup says it did not migrate: its word decides
            category, signature = verdict_cause(verdict["verdict"], verdict["message"])
            row.update(state=DatasetState.FAILED.value, failing_step=verdict["step"], error_category=category,
                       error_signature=signature)
    return row


INGESTION_STATE_STEPS = {state: job for state, job in INGESTION_TASK_STATES.items()}
_EXECUTION_SIGNATURE = "ingestion execution "
_VERDICT_WORDS = {ProductionVerdict.ROLLED_BACK.value: "rolled back by the cleanup step (processing_status not SUCCESS)",
                  ProductionVerdict.NOT_LATEST_SCHEMA.value: "not on the latest schema after the cleanup step"}


def verdict_cause(verdict: str, message: str | None) -> tuple[str, str]:
    """(error_category, error_signature) of a dataset production's verdict alone failed: its message read as the
    classifier reads a log (a validator's `ERROR: ...` lines are `validation`), else `application` with production's
    message, or the verdict's words when it gave none."""
    text = (message or "").strip()
    if text:
        found = diagnose(None, None, parse_text(text))
        if found.category is not ErrorCategory.UNKNOWN:
            return found.category.value, found.signature
        return ErrorCategory.APPLICATION.value, f"{ErrorCategory.APPLICATION.value}: {text.splitlines()[0]}"[:200]
    return ErrorCategory.APPLICATION.value, f"{ErrorCategory.APPLICATION.value}: {_VERDICT_WORDS[verdict]}"


def _jobs_row(dataset_id: str, jobs: list[dict], info: dict, collection_job: dict | None, ended: bool,
              aborted: bool, now_us: int, execution_status: str | None = None) -> dict:
    row = {"dataset_id": dataset_id, **info, "current_step": None, "last_step": None, "failing_step": None,
           "error_category": None, "error_signature": None, "started_at": None, "finished_at": None,
           "total_duration_s": None, "retries": 0, "jobs": len(jobs),
           **{f"{s.value}_s": None for s in DATASET_STEPS}}
    if info.get("skipped"):
        row["state"] = DatasetState.SKIPPED.value
        return row
    if not jobs:
        row.update(_not_started(collection_job))
        return row
    active = [j for j in jobs if j["status"] in _ACTIVE]
    row["last_step"] = jobs[-1]["step"]
    if active:
        row["current_step"] = active[-1]["step"]
    row.update(_job_state(jobs, active, ended, aborted, now_us, execution_status))
    row.update(_step_durations(jobs))
    row.update(_timing(jobs, row["state"], active, now_us))
    row["retries"] = _retries(jobs)
    return row


def _not_started(collection_job: dict | None) -> dict:
    """A dataset with no job: not started, and where its collection's migration failed, that step and cause."""
    if collection_job is not None and collection_job["status"] == JobStatus.FAILED.value:
        return {"state": DatasetState.NOT_STARTED.value, "failing_step": Step.COLLECTION_MIGRATION.value,
                "error_category": none_if_missing(collection_job["error_category"]),
                "error_signature": none_if_missing(collection_job["error_signature"])}
    return {"state": DatasetState.NOT_STARTED.value}


def _job_state(jobs: list[dict], active: list[dict], ended: bool, aborted: bool, now_us: int,
               execution_status: str | None) -> dict:
    """The state of a dataset with jobs (oldest first; `active`: those still queued or running) and, failed,
    where and why."""
    latest = {j["step"]: j for j in jobs}  # a step's outcome is its latest job (Step Functions retries a step)
    failed = [j for j in latest.values() if j["status"] == JobStatus.FAILED.value]
    if failed:
        # the first to stop: in the ingestion's Parallel state a failed validation stops its sibling
        # two stopped at one moment (an abort or a failed execution stops both Parallel branches): the machine's order
        f = min(failed, key=lambda j: (j["stopped_at"] if j["stopped_at"] is not None else now_us, j["created_at"],
                                       _STEP_ORDER.get(j["step"], len(_STEP_ORDER))))
        return {"state": DatasetState.FAILED.value, "failing_step": f["step"],
                "error_category": none_if_missing(f["error_category"]),
                "error_signature": none_if_missing(f["error_signature"])}
    if execution_status in _EXECUTION_ENDED_BADLY:
        return {"state": DatasetState.FAILED.value, "error_category": _EXECUTION_ENDED_BADLY[execution_status].value,
                "error_signature": f"ingestion execution {execution_status}"}
    if active:
        started = any(j["started_at"] is not None for j in jobs)
        return {"state": (DatasetState.RUNNING if started else DatasetState.PENDING).value}
    if latest.get(Step.CXG.value, {}).get("status") == JobStatus.SUCCEEDED.value:
        return {"state": DatasetState.SUCCEEDED.value}
    if ended:
        # stopped between two steps: the attempt ended under it
        return {"state": DatasetState.FAILED.value,
                "error_category": (ErrorCategory.CANCELLED if aborted else ErrorCategory.UNKNOWN).value}
    return {"state": DatasetState.RUNNING.value}


def _step_durations(jobs: list[dict]) -> dict:
    """{`<step>_s`: the seconds its jobs ran, retries summed} of the dataset steps that have a duration."""
    durations: dict[str, float] = {}
    for j in jobs:
        duration = none_if_missing(j["duration_s"])
        if duration is not None and j["step"] in _DATASET_STEP_NAMES:
            column = f"{j['step']}_s"
            durations[column] = durations.get(column, 0.0) + float(duration)
    return durations


def _timing(jobs: list[dict], state: str, active: list[dict], now_us: int) -> dict:
    """started_at (its first job's creation), finished_at (its last stop, once it ended and nothing runs) and
    total_duration_s (up to `now_us` while it has not finished)."""
    started = min(j["created_at"] for j in jobs)
    finished = None
    if state in (DatasetState.SUCCEEDED.value, DatasetState.FAILED.value) and not active:
        stops = [j["stopped_at"] for j in jobs if j["stopped_at"] is not None]
        finished = max(stops) if stops else None
    end = finished if finished is not None else now_us
    return {"started_at": started, "finished_at": finished, "total_duration_s": max(0.0, (end - started) / 1e6)}


def _retries(jobs: list[dict]) -> int:
    """Batch's retries of each job, plus Step Functions' of each step (a step with several jobs)."""
    per_step = Counter(j["step"] for j in jobs)
    return sum(max(int(j["attempts"]) - 1, 0) for j in jobs) + sum(n - 1 for n in per_step.values())


@dataclass(frozen=True)
class _Branches:
    """What tells a collection's versions gathered apart: {migration revision: version gathered} and {COLLECTION_ID:
    the versions gathered}."""

    revisions: dict[str, str]
    gathered: dict[str, list[str]]

    @classmethod
    def of_outputs(cls, outputs: DataFrame[StepOutputs] | None) -> _Branches:
        return cls(revision_index(outputs), gathered_versions(outputs))

    def branch(self, collection_id, revision) -> str | None:
        return branch_of(collection_id, revision, self.revisions, self.gathered)


class _Datasets:
    """The datasets found so far, keyed by (DATASET_ID, version gathered) in the order the sources name them, with
    what they say of each; and each dataset's collection, from whichever source named it first."""

    def __init__(self) -> None:
        self.info: dict[tuple, dict] = {}
        self.collection_of: dict[str, str] = {}

    def note(self, dataset_id: str, collection_id, branch, dataset_version_id, how: str, revision=None, **extra) -> None:
        collection_id = none_if_missing(collection_id) or self.collection_of.get(dataset_id)
        if collection_id:
            self.collection_of.setdefault(dataset_id, collection_id)
        key = (dataset_id, none_if_missing(branch))
        seen = self.info.setdefault(key, {"collection_id": None, "collection_version_id": key[1],
                                          "dataset_version_id": None, "attribution": how, "migration_revision_id": None})
        seen["collection_id"] = seen["collection_id"] or collection_id
        seen["dataset_version_id"] = seen["dataset_version_id"] or none_if_missing(dataset_version_id)
        seen["migration_revision_id"] = seen["migration_revision_id"] or none_if_missing(revision)
        seen.update(extra)


def dataset_rollup(stage: str, attempt: str, jobs: DataFrame[EnrichedJobs], executions: DataFrame[SfnExecutions],
                   outputs: DataFrame[StepOutputs], ended: bool, aborted: bool = False,
                   now: datetime | None = None) -> DataFrame[DatasetRollup]:
    """One row per dataset and collection version gathered that the attempt set out to migrate, skipped, or
    touched; none is dropped: a job of the attempt whose dataset no source names is a row
    `unattributed:<version>`."""
    # "now" is AWS's, as the jobs were fetched: never the local clock
    now = now or (jobs["observed_at"].max() if not jobs.empty else None) or utcnow()
    if jobs.empty and (outputs.empty or not outputs["kind"].isin(["listed_dataset", "skipped_dataset"]).any()):
        return empty_frame(DatasetRollup)
    jobs = _attributed_jobs(jobs[_ROLLUP_COLUMNS], executions)
    # the jobs may be a snapshot from before the attempt ended: then it has not ended for them
    ended = ended and not jobs["status"].isin(_ACTIVE).any()
    branches, datasets = _Branches.of_outputs(outputs), _Datasets()
    _note_listed(datasets, outputs, branches)
    dataset_jobs = _branched_dataset_jobs(jobs, executions, datasets, branches)
    _note_dataset_jobs(datasets, dataset_jobs)
    _note_skipped(datasets, outputs, jobs, branches)
    rows = _rows(datasets.info, _jobs_by_dataset(dataset_jobs),
                 _ingestions(executions, datasets.collection_of, branches), _collection_jobs(jobs, branches),
                 _verdicts(outputs, jobs), ended, aborted, pd.Timestamp(now).value // 1000)
    if not rows:  # jobs, but none of a dataset yet (gather_collections, or an attempt that died there)
        return empty_frame(DatasetRollup)
    return _rollup_frame(stage, attempt, rows)


def _attributed_jobs(jobs: DataFrame[EnrichedJobs], executions: DataFrame[SfnExecutions]) -> pd.DataFrame:
    """The attempt's own jobs, each with the DATASET_ID it works for (`resolved_dataset_id`)."""
    jobs = attempt_jobs(jobs, executions)
    return jobs.assign(resolved_dataset_id=resolve_dataset_ids(jobs, executions)) if not jobs.empty else \
        jobs.assign(resolved_dataset_id=pd.Series(dtype=object))


def _note_listed(datasets: _Datasets, outputs: DataFrame[StepOutputs], branches: _Branches) -> None:
    """The datasets collection_migrate listed, each under the version gathered its migration revision belongs to."""
    if outputs.empty:
        return
    for r in row_dicts(outputs[outputs["kind"] == "listed_dataset"]):
        branch = r["collection_version_id"] or branches.branch(r["collection_id"], r.get("migration_revision_id"))
        datasets.note(r["dataset_id"], r["collection_id"], branch, r["dataset_version_id"], "listed",
                      r.get("migration_revision_id"))


def _job_revisions(dataset_jobs: pd.DataFrame, executions: DataFrame[SfnExecutions]) -> pd.Series:
    """Every dataset job's migration revision: its own COLLECTION_VERSION_ID (dataset_migration's), else its new
    version's (ingestion jobs'; cxg carries no collection version at all), else whatever version it names."""
    revision_of_version = {}
    if not executions.empty:
        # each new version's migration revision (its dataset_migration's COLLECTION_VERSION_ID)
        known = executions.dropna(subset=["new_dataset_version_id", "collection_version_id"])
        revision_of_version = dict(zip(known["new_dataset_version_id"], known["collection_version_id"]))
    revisions = dataset_jobs["dataset_version_id"].map(revision_of_version)
    if "collection_version_id" in dataset_jobs:
        own = dataset_jobs["collection_version_id"].where(dataset_jobs["step"] == Step.DATASET_MIGRATION.value)
        revisions = own.where(own.notna(), revisions)
        revisions = revisions.where(revisions.notna(), dataset_jobs["collection_version_id"])
    return revisions


def _branched_dataset_jobs(jobs: pd.DataFrame, executions: DataFrame[SfnExecutions], datasets: _Datasets,
                           branches: _Branches) -> pd.DataFrame:
    """The jobs of a dataset step whose dataset is known, each with its migration `revision` and the version
    gathered it works on (`branch`); a job naming no collection is its dataset's (learnt from any source)."""
    dataset_jobs = jobs[jobs["resolved_dataset_id"].notna() & jobs["step"].isin([s.value for s in DATASET_STEPS])]
    revisions = _job_revisions(dataset_jobs, executions)
    for d, c in zip(dataset_jobs["resolved_dataset_id"], dataset_jobs["collection_id"]):
        if none_if_missing(c):
            datasets.collection_of.setdefault(d, c)
    collection_ids = dataset_jobs["collection_id"].where(dataset_jobs["collection_id"].notna(),
                                                         dataset_jobs["resolved_dataset_id"].map(
                                                             lambda d: datasets.collection_of.get(d)))
    return dataset_jobs.assign(branch=[branches.branch(c, r) for c, r in zip(collection_ids, revisions)],
                               revision=revisions)


def _note_dataset_jobs(datasets: _Datasets, dataset_jobs: pd.DataFrame) -> None:
    """The datasets the jobs name: dataset_migration's environment first, then every job's new version."""
    for r in row_dicts(dataset_jobs[dataset_jobs["step"] == Step.DATASET_MIGRATION.value]):
        datasets.note(r["resolved_dataset_id"], r["collection_id"], r["branch"], r["dataset_version_id"], "job_env",
                      r["revision"])
    for dataset_id, branch, revision in zip(dataset_jobs["resolved_dataset_id"], dataset_jobs["branch"],
                                            dataset_jobs["revision"]):
        datasets.note(dataset_id, None, branch, None, "unattributed" if dataset_id.startswith(UNATTRIBUTED) else "version",
                      revision)


def _note_skipped(datasets: _Datasets, outputs: DataFrame[StepOutputs], jobs: pd.DataFrame, branches: _Branches) -> None:
    """The datasets the cleanup step skipped (already on the latest schema)."""
    if outputs.empty:
        return
    collection_of_version = {v: c for v, c in zip(jobs["collection_version_id"], jobs["collection_id"])
                             if none_if_missing(v) and none_if_missing(c)}
    for r in row_dicts(outputs[outputs["kind"] == "skipped_dataset"]):
        collection = r["collection_id"] or collection_of_version.get(r["collection_version_id"])
        datasets.note(r["dataset_id"], collection, branches.branch(collection, r["collection_version_id"]),
                      r["dataset_version_id"], "listed", skipped=True)


@dataclass
class _Ingestions:
    """Per (DATASET_ID, version gathered), its latest ingestion's new version, status and, failed, (error, state,
    cause)."""

    new_versions: dict[tuple, str] = field(default_factory=dict)
    status: dict[tuple, str] = field(default_factory=dict)
    failure: dict[tuple, tuple] = field(default_factory=dict)


def _ingestions(executions: DataFrame[SfnExecutions], collection_of: dict[str, str], branches: _Branches) -> _Ingestions:
    found = _Ingestions()
    if executions.empty:
        return found
    # a redriven iteration starts another ingestion of the dataset: the latest one speaks for it
    known = executions.dropna(subset=["dataset_id", "new_dataset_version_id"]).sort_values("start_at", na_position="last")
    read_failures = "failure_error" in known
    for r in row_dicts(known):
        key = (r["dataset_id"], branches.branch(collection_of.get(r["dataset_id"]), r["collection_version_id"]))
        found.new_versions[key] = r["new_dataset_version_id"]
        if none_if_missing(r["status"]):
            found.status[key] = r["status"]
        if read_failures and none_if_missing(r["failure_error"]):
            found.failure[key] = (r["failure_error"], none_if_missing(r["failure_state"]),
                                  none_if_missing(r.get("failure_cause")))
    return found


def _collection_jobs(jobs: pd.DataFrame, branches: _Branches) -> dict[tuple, dict]:
    """{(COLLECTION_ID, version gathered): its latest collection_migration job}."""
    return {(r["collection_id"], branches.branch(r["collection_id"], r["collection_version_id"])): r
            for r in row_dicts(jobs[jobs["step"] == Step.COLLECTION_MIGRATION.value].sort_values("created_at"))}


def failed_collection_migrations(jobs: pd.DataFrame | None, collections: pd.DataFrame | None = None) -> set[tuple]:
    """(COLLECTION_ID, version gathered) of each collection whose latest collection_migration job failed, as
    collection_rollup's `collection_migration_status` says it: from `collections` (that frame) when given, else
    from the jobs (each job's COLLECTION_VERSION_ID is the version gathered)."""
    if collections is not None and not collections.empty:
        bad = collections[collections["collection_migration_status"] == JobStatus.FAILED.value]
        return set(zip(bad["collection_id"], bad["collection_version_id"].map(none_if_missing)))
    if jobs is None or jobs.empty:
        return set()
    latest = _collection_jobs(jobs, _Branches({}, {}))
    return {k for k, j in latest.items() if none_if_missing(k[0]) and j["status"] == JobStatus.FAILED.value}


def _jobs_by_dataset(dataset_jobs: pd.DataFrame) -> dict[tuple, list[dict]]:
    """{(DATASET_ID, version gathered): its jobs as plain records, oldest first, times in epoch microseconds}."""
    grouped: dict[tuple, list[dict]] = {}
    ordered = dataset_jobs.sort_values(["created_at", "job_id"])
    for dataset_id, branch, record in zip(ordered["resolved_dataset_id"], ordered["branch"],
                                          row_dicts(ordered[_ROW_INPUTS], times="us")):
        grouped.setdefault((dataset_id, none_if_missing(branch)), []).append(record)
    return grouped


def _rows(info: dict[tuple, dict], grouped: dict[tuple, list[dict]], ingestions: _Ingestions,
          collection_jobs: dict[tuple, dict], verdicts: dict, ended: bool, aborted: bool, now_us: int) -> list[dict]:
    """A row per dataset found; one the cleanup skipped is skipped only when no job of it ran."""
    rows = []
    for key, meta in info.items():
        dataset_id = key[0]
        skipped = bool(meta.pop("skipped", False)) and not grouped.get(key)
        meta = {**meta, "new_dataset_version_id": ingestions.new_versions.get(key), "skipped": skipped}
        revision = meta.pop("migration_revision_id")
        row = _dataset_row(dataset_id, grouped.get(key, []), meta,
                           collection_jobs.get((meta.get("collection_id"), key[1])), ended, aborted, now_us,
                           ingestions.status.get(key), _verdict_of(verdicts, dataset_id, revision),
                           ingestions.failure.get(key))
        row.pop("skipped", None)
        row["migration_revision_id"] = None if skipped else revision
        rows.append(row)
    return rows


def _rollup_frame(stage: str, attempt: str, rows: list[dict]) -> DataFrame[DatasetRollup]:
    """The rows as the dataset_rollup frame: times as UTC, the attempt alone its own campaign until
    monitor/attempts/campaigns.py reads the others."""
    df = pd.DataFrame(rows)
    df["started_at"], df["finished_at"] = epoch_to_utc(df["started_at"], "us"), epoch_to_utc(df["finished_at"], "us")
    df.insert(0, "attempt", attempt)
    df.insert(0, "stage", stage)
    df = df.assign(campaign_state=df["state"], campaign_attempt=attempt, campaign=attempt)
    return validate(DatasetRollup, df.sort_values(["collection_version_id", "dataset_id"], na_position="last"))


def _verdicts(outputs: pd.DataFrame, jobs: pd.DataFrame) -> dict[str, list[tuple[str | None, dict]]]:
    """{DATASET_ID: [(the revision it was said of, production's verdict, its message and the cleanup step that gave
    it)]}: a dataset gathered twice is cleaned up once per revision. A verdict read from the report's `Report` names
    no cleanup job: its step is the attempt's cleanup step."""
    if outputs.empty or "verdict" not in outputs or not (outputs["kind"] == "verdict").any():
        return {}
    step_of_job = dict(zip(jobs["job_id"], jobs["step"])) if not jobs.empty else {}
    cleanup = sorted({s for s in step_of_job.values() if s in _CLEANUP_STEPS}) or [Step.COLLECTION_CLEANUP.value]
    out: dict[str, list[tuple[str | None, dict]]] = {}
    for r in row_dicts(outputs[outputs["kind"] == "verdict"]):
        step = step_of_job.get(r["job_id"])
        revision = none_if_missing(r["collection_version_id"])
        said = out.setdefault(r["dataset_id"], [])
        if all(cv != revision for cv, _ in said):
            said.append((revision, {"verdict": r["verdict"], "message": none_if_missing(r["verdict_message"]),
                                    "step": step if step in _CLEANUP_STEPS else cleanup[0]}))
    return out


def _verdict_of(verdicts: dict, dataset_id: str, revision: str | None) -> dict | None:
    """The verdict said of this branch (its revision); one said of no revision, or of a dataset whose revision is
    unknown, speaks for it too."""
    said = verdicts.get(dataset_id, ())
    return next((v for cv, v in said if cv == revision), None) or \
        next((v for cv, v in said if cv is None or revision is None), None)


_CLEANUP_STEPS = {Step.COLLECTION_CLEANUP.value, Step.COLLECTION_PUBLISH.value}


def collection_rollup(datasets: pd.DataFrame, jobs: pd.DataFrame, outputs: pd.DataFrame | None = None,
                      child_failures: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per collection and version gathered (gathered, migrated or seen in a dataset): datasets by state, the
    outcome of its collection_migration, and whether it can publish (every dataset it set out to migrate
    succeeded). A collection whose migration failed lists no dataset: nothing in AWS names them."""
    ids: dict[tuple, None] = {}
    for cid, versions in gathered_versions(outputs).items():
        ids.update(dict.fromkeys((cid, v) for v in versions))
    revisions, gathered = revision_index(outputs), gathered_versions(outputs)
    latest = {key: job for key, job in _collection_jobs(jobs, _Branches(revisions, gathered)).items()
              if none_if_missing(key[0])} if not jobs.empty else {}
    status = {key: job["status"] for key, job in latest.items()}
    ids.update(dict.fromkeys(k for k in latest if k not in ids))
    known = datasets.dropna(subset=["collection_id"]) if not datasets.empty else datasets
    versions_of: dict[str, set] = {}
    for cid, cvid in ids:
        versions_of.setdefault(cid, set()).add(cvid)
    keys = []
    for cid, cvid in (zip(known["collection_id"], known["collection_version_id"]) if not known.empty else []):
        cvid = none_if_missing(cvid)
        if cvid is None and len(versions_of.get(cid, ())) == 1:  # a dataset whose version no source gave
            cvid = next(iter(versions_of[cid]))
        keys.append((cid, cvid))
        ids.setdefault((cid, cvid), None)
    died = {}
    if child_failures is not None and not child_failures.empty:
        # a collection's own child: its input names the collection, not a dataset
        own = child_failures[(child_failures["kind"] == "child") & child_failures["dataset_id"].isna()
                             & child_failures["collection_id"].notna()]
        for r in row_dicts(own):
            key = (r["collection_id"], branch_of(r["collection_id"], r["collection_version_id"], revisions, gathered))
            died[key] = f"{r['error'] or 'failed'} in {r['failed_state'] or 'an unknown state'}"
            ids.setdefault(key, None)
    if not ids:
        return empty_frame(CollectionRollup)
    stage = datasets["stage"].iloc[0] if not datasets.empty else jobs["stage"].iloc[0] if not jobs.empty else outputs["stage"].iloc[0]
    attempt = datasets["attempt"].iloc[0] if not datasets.empty else jobs["attempt"].iloc[0] if not jobs.empty else outputs["attempt"].iloc[0]
    counts = Counter((k, s) for k, s in zip(keys, known["state"])) if not known.empty else Counter()
    # production's cleanup raised an error for these datasets: it publishes nothing of their revision
    flagged = Counter(k for k, v in zip(keys, known["production_verdict"]) if none_if_missing(v)) \
        if not known.empty and "production_verdict" in known else Counter()
    revision_of = {gathered: revision for revision, gathered in revisions.items()}
    rows = []
    for key in ids:
        cid, cvid = key
        per_state = {s.value: counts[(key, s.value)] for s in DatasetState}
        total = sum(per_state.values())
        migrating = total - per_state[DatasetState.SKIPPED.value]
        # production publishes only an auto revision of a published collection (a private one is migrated in
        # place), only when its cleanup raised no error (publish_and_cleanup @ 001730b8) and every dataset is on
        # the latest schema and processed (publish_revisions): an unknown revision is not counted on
        revision = revision_of.get(cvid)
        rows.append({"stage": stage, "attempt": attempt, "collection_id": cid, "collection_version_id": cvid,
                     "datasets": total, **per_state, "collection_migration_status": status.get(key),
                     "can_publish": status.get(key) == JobStatus.SUCCEEDED.value and key not in died
                     and revision is not None and revision != cvid and not flagged[key]
                     and per_state[DatasetState.SUCCEEDED.value] == migrating, "execution_error": died.get(key),
                     **_collection_cause(latest.get(key))})
    return validate(CollectionRollup, pd.DataFrame(rows).sort_values(["collection_id", "collection_version_id"]))


def _collection_cause(job: dict | None) -> dict:
    """The collection_migration cause columns of a collection row: its latest job's, when that job failed."""
    failed = _not_started(job) if job is not None else {}
    return {"collection_migration_error_category": failed.get("error_category"),
            "collection_migration_error_signature": failed.get("error_signature")}


def _distinct_values(column: pd.Series, limit: int = 10) -> str | None:
    """The values behind one signature's placeholders across its jobs: one validator rule, the term ids it
    rejected."""
    seen = dict.fromkeys(v.strip() for cell in column.dropna() for v in str(cell).split(", ") if v.strip())
    listed = list(seen)[:limit]
    return ", ".join(listed) + (f" … (+{len(seen) - limit})" if len(seen) > limit else "") if listed else None


def _verdict_signatures(datasets: pd.DataFrame | None) -> list[dict]:
    """The causes of the datasets production's verdict alone failed (no job of theirs did): one row per cause at
    the cleanup step; `jobs` 0, as for every cause no failed job carries (`datasets` counts them)."""
    if datasets is None or datasets.empty or "production_verdict" not in datasets:
        return []
    alone = datasets[(datasets["state"] == DatasetState.FAILED.value) & datasets["production_verdict"].notna()
                     & datasets["failing_step"].isin(list(_CLEANUP_STEPS))]
    rows = []
    for (sig, step), d in alone.groupby(["error_signature", "failing_step"]):
        rows.append({"stage": d["stage"].iloc[0], "attempt": d["attempt"].iloc[0], "error_signature": sig,
                     "error_category": d["error_category"].iloc[0], "error_kind": ErrorKind.RUNTIME.value
                     if d["error_category"].iloc[0] in (ErrorCategory.APPLICATION, ErrorCategory.VALIDATION)
                     else ErrorKind.UNKNOWN.value,
                     "step": step, "jobs": 0, "datasets": len(d), "first_seen": d["finished_at"].min(),
                     "last_seen": d["finished_at"].max(), "example_datasets": ",".join(d["dataset_id"][:EXAMPLES]),
                     "examples": None, "error_evidence": f"production's cleanup records: {d['production_verdict'].iloc[0]}"})
    return rows


def _history_signatures(datasets: pd.DataFrame | None, carried: set[tuple] = frozenset()) -> list[dict]:
    """The causes read from ingestion histories (a task past its TimeoutSeconds, a job's failure its description
    says before the job is listed failed): no failed job of the dataset is listed, so unless another dataset's job
    carries the same cause at the same step (`carried`: (signature, step) of the failed jobs), no job row carries
    them; `jobs` 0 (`datasets` counts them)."""
    if datasets is None or datasets.empty:
        return []
    failed = datasets[(datasets["state"] == DatasetState.FAILED.value) & datasets["failing_step"].isin(_INGESTION_STEPS)
                      & datasets["error_signature"].notna()]
    signature = failed["error_signature"].astype(str)
    uncarried = pd.Series([pair not in carried for pair in zip(signature, failed["failing_step"])], index=failed.index,
                          dtype=bool)
    # a child execution's own error (States.Runtime ...) is _execution_signatures'
    read = failed[uncarried & ~signature.str.startswith("States.")]
    rows = []
    for (sig, step), d in read.groupby(["error_signature", "failing_step"]):
        category = d["error_category"].iloc[0]
        rows.append({"stage": d["stage"].iloc[0], "attempt": d["attempt"].iloc[0], "error_signature": sig,
                     "error_category": category, "error_kind": ERROR_KIND[ErrorCategory(category)].value,
                     "step": step, "jobs": 0, "datasets": len(d), "first_seen": d["finished_at"].min(),
                     "last_seen": d["finished_at"].max(), "example_datasets": ",".join(d["dataset_id"][:EXAMPLES]),
                     "examples": None, "error_evidence": "the ingestion execution's history"})
    return rows


def error_signatures(jobs: pd.DataFrame, executions: pd.DataFrame, datasets: pd.DataFrame | None = None) -> pd.DataFrame:
    """Failed jobs grouped by signature: one row per cause, with counts and example datasets. With the
    dataset rollup, a failed collection_migration counts the datasets it kept from starting."""
    jobs = attempt_jobs(jobs, executions)
    failed = jobs[jobs["status"] == JobStatus.FAILED.value] if not jobs.empty else jobs
    carried = set(zip(failed["error_signature"], failed["step"])) if not failed.empty else set()
    rows = _verdict_signatures(datasets) + _history_signatures(datasets, carried)
    if failed.empty:
        base = validate(ErrorSignatures, pd.DataFrame(rows)) if rows else empty_frame(ErrorSignatures)
        more = _execution_signatures(datasets, set(zip(base["error_signature"], base["step"])), jobs)
        both = pd.concat([base, more], ignore_index=True) if not more.empty else base
        return validate(ErrorSignatures, both.sort_values(["jobs", "error_signature"], ascending=[False, True]))
    failed = failed.assign(resolved_dataset_id=resolve_dataset_ids(failed, executions))
    blamed: dict[tuple, list[str]] = {}
    if datasets is not None and not datasets.empty:
        for (sig, step), d in datasets.dropna(subset=["error_signature"]).groupby(["error_signature", "failing_step"]):
            blamed[(sig, step)] = list(d["dataset_id"])
    for (sig, step), g in failed.groupby(["error_signature", "step"], dropna=False):
        affected = list(dict.fromkeys([*g["resolved_dataset_id"].dropna(), *blamed.get((sig, step), [])]))
        examples = affected[:EXAMPLES]
        rows.append({
            "stage": g["stage"].iloc[0], "attempt": g["attempt"].iloc[0],
            "error_signature": sig, "error_category": g["error_category"].iloc[0], "error_kind": g["error_kind"].iloc[0],
            "step": step, "jobs": len(g), "datasets": len(affected),
            "first_seen": g["stopped_at"].min(), "last_seen": g["stopped_at"].max(),
            "example_datasets": ",".join(examples) or None,
            "examples": _distinct_values(g["error_values"]),
            "error_evidence": next(iter(g["error_evidence"].dropna()), None),
        })
    from_jobs = validate(ErrorSignatures, pd.DataFrame(rows))
    more = _execution_signatures(datasets, set(zip(from_jobs["error_signature"], from_jobs["step"])), jobs)
    both = pd.concat([from_jobs, more], ignore_index=True) if not more.empty else from_jobs
    return validate(ErrorSignatures, both.sort_values(["jobs", "error_signature"], ascending=[False, True]))


def _execution_signatures(datasets: pd.DataFrame | None, seen: set, jobs: pd.DataFrame) -> pd.DataFrame:
    """Causes of failed datasets no failed job carries: Step Functions failed them itself (a child execution or the
    migration execution that died: child_failures), one row per cause with no job."""
    if datasets is None or datasets.empty:
        return empty_frame(ErrorSignatures)
    failed = datasets[(datasets["state"] == DatasetState.FAILED.value) & datasets["error_signature"].notna()
                      & datasets["failing_step"].notna()]
    unseen = pd.Series([(s, st) not in seen for s, st in zip(failed["error_signature"], failed["failing_step"])],
                       index=failed.index, dtype=bool)
    failed = failed[unseen & failed["error_signature"].astype(str).str.startswith("States.")]
    if failed.empty:
        return empty_frame(ErrorSignatures)
    rows = []
    for (sig, step), g in failed.groupby(["error_signature", "failing_step"]):
        category = g["error_category"].iloc[0]
        rows.append({"stage": g["stage"].iloc[0], "attempt": g["attempt"].iloc[0], "error_signature": sig,
                     "error_category": category, "error_kind": ERROR_KIND[ErrorCategory(category)].value,
                     "step": step, "jobs": 0, "datasets": g["dataset_id"].nunique(),
                     "first_seen": g["finished_at"].min(), "last_seen": g["finished_at"].max(),
                     "example_datasets": ",".join(list(dict.fromkeys(g["dataset_id"]))[:EXAMPLES]),
                     "examples": None, "error_evidence": "Step Functions: the execution's error and cause"})
    return validate(ErrorSignatures, pd.DataFrame(rows))
