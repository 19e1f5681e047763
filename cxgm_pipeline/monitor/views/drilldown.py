"""One dataset across attempts: its outcome in each, its jobs (status, duration, the log excerpt of a failure)
and its ingestion execution. Behind `cxgm describe dataset ID` and the report's failed-datasets table.

A dataset's jobs are found as the rollup finds them: by DATASET_ID in their environment, else through the new
version its dataset_migration made (ingestion jobs carry only that version)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.monitor.frames.columns_missing import none_if_missing
from cxgm_pipeline.monitor.frames.rollups import attempt_jobs, resolve_dataset_ids
from cxgm_pipeline.vocabulary import DatasetState, JobStatus

EXCERPT_CHARS = 400
JOB_COLUMNS = ["step", "job_id", "status", "created_at", "duration_s", "attempts", "error_category", "excerpt"]
EXECUTION_COLUMNS = ["execution_name", "status", "start_at", "stop_at", "duration_s", "new_dataset_version_id"]


@dataclass(frozen=True)
class DatasetInAttempt:
    stage: str
    attempt: str
    row: dict  # its dataset_rollup row
    jobs: pd.DataFrame  # JOB_COLUMNS, oldest first
    executions: pd.DataFrame  # EXECUTION_COLUMNS

    @property
    def label(self) -> str:
        return f"{self.stage}/{self.attempt}"

    @property
    def branch(self) -> str | None:
        """The collection version gathered this row is of (a dataset of a collection gathered twice has two)."""
        return none_if_missing(self.row.get("collection_version_id"))


def excerpt(job: dict) -> str | None:
    """What a failed job's log says: its last exception, else its last ERROR lines, else Batch's reason."""
    for column in ("last_exception", "error_lines", "container_reason", "status_reason"):
        text = none_if_missing(job.get(column))
        if text:
            text = str(text).strip()
            return text if len(text) <= EXCERPT_CHARS else "..." + text[-EXCERPT_CHARS:]
    return None


def dataset_jobs(dataset_id: str, jobs: pd.DataFrame, executions: pd.DataFrame) -> pd.DataFrame:
    """The dataset's jobs in one attempt (JOB_COLUMNS), oldest first; `excerpt` only for failed jobs."""
    if jobs is None or jobs.empty:
        return pd.DataFrame(columns=JOB_COLUMNS)
    own = attempt_jobs(jobs, executions)
    own = own[resolve_dataset_ids(own, executions) == dataset_id].sort_values(["created_at", "job_id"])
    records = own.to_dict("records")
    out = pd.DataFrame(records, columns=[c for c in JOB_COLUMNS if c != "excerpt"])
    out["excerpt"] = [excerpt(j) if j["status"] == JobStatus.FAILED.value else None for j in records]
    # the migration revision each job worked in: its own COLLECTION_VERSION_ID, else (cxg) its new version's
    revision_of_version = {} if executions is None or executions.empty else dict(
        zip(executions["new_dataset_version_id"], executions["collection_version_id"]))
    out["revision"] = [none_if_missing(j.get("collection_version_id")) or revision_of_version.get(j.get("dataset_version_id"))
                       for j in records]
    return out


def dataset_executions(dataset_id: str, executions: pd.DataFrame) -> pd.DataFrame:
    if executions is None or executions.empty:
        return pd.DataFrame(columns=EXECUTION_COLUMNS)
    return executions.loc[executions["dataset_id"] == dataset_id, EXECUTION_COLUMNS].reset_index(drop=True)


def dataset_in_attempt(dataset_id: str, stage: str, attempt: str, frames: dict[str, pd.DataFrame]) -> DatasetInAttempt | None:
    """`frames`: the attempt's dataset_rollup, enriched_jobs, sfn_executions. None: the attempt has no such
    dataset. Of a dataset gathered twice, its first branch (`dataset_branches` gives each)."""
    found = dataset_branches(dataset_id, stage, attempt, frames)
    return found[0] if found else None


def dataset_branches(dataset_id: str, stage: str, attempt: str, frames: dict[str, pd.DataFrame]) -> list[DatasetInAttempt]:
    """The dataset in one attempt, once per collection version gathered (two when a curator's open revision made
    its collection gathered twice), each with the jobs and ingestion of its own migration revision."""
    rollup = frames.get(Frame.dataset_rollup)
    if rollup is None or rollup.empty or dataset_id not in set(rollup["dataset_id"]):
        return []
    rows = rollup[rollup["dataset_id"] == dataset_id].to_dict("records")
    executions = frames.get(Frame.sfn_executions)
    executions = executions if executions is not None else pd.DataFrame()
    jobs, runs = dataset_jobs(dataset_id, frames.get(Frame.enriched_jobs), executions), dataset_executions(dataset_id, executions)
    if len(rows) == 1:
        return [DatasetInAttempt(stage, attempt, rows[0], jobs, runs)]
    revision_of_version = {} if executions.empty else dict(zip(executions["new_dataset_version_id"],
                                                               executions["collection_version_id"]))
    out = []
    for row in rows:
        revision = none_if_missing(row.get("migration_revision_id"))
        own = jobs[jobs["revision"] == revision] if revision is not None else jobs.iloc[0:0]
        mine = runs[runs["new_dataset_version_id"].map(revision_of_version) == revision] if revision is not None else runs.iloc[0:0]
        out.append(DatasetInAttempt(stage, attempt, row, own.reset_index(drop=True), mine.reset_index(drop=True)))
    return out


def failed_datasets(rollup: pd.DataFrame, jobs: pd.DataFrame, executions: pd.DataFrame, top: int) -> pd.DataFrame:
    """`top` failed datasets with their failing job and its log excerpt, one of each cause first (the most
    frequent first), then the rest: the report's drill-down."""
    columns = ["dataset_id", "failing_step", "error_category", "job_id", "duration_s", "excerpt"]
    failed = rollup[rollup["state"] == DatasetState.FAILED.value] if not rollup.empty else rollup
    if failed.empty:
        return pd.DataFrame(columns=columns)
    cause = failed["error_signature"].fillna("-")
    failed = failed.assign(_n=cause.map(cause.value_counts()), _first=~cause.duplicated())
    failed = failed.sort_values(["_first", "_n", "dataset_id"], ascending=[False, False, True]).head(top)
    own = attempt_jobs(jobs, executions) if not jobs.empty else jobs
    if not own.empty:
        own = own[own["status"] == JobStatus.FAILED.value]
        own = own.assign(resolved_dataset_id=resolve_dataset_ids(own, executions)).sort_values("created_at")
    rows = []
    for r in failed.to_dict("records"):
        mine = own[(own["resolved_dataset_id"] == r["dataset_id"]) & (own["step"] == r["failing_step"])] \
            if not own.empty else own
        revision = none_if_missing(r.get("migration_revision_id"))
        if len(mine) > 1 and revision is not None and (mine["collection_version_id"] == revision).any():
            mine = mine[mine["collection_version_id"] == revision]  # a dataset gathered twice: its own branch's job
        job = mine.iloc[-1].to_dict() if not mine.empty else {}
        rows.append({"dataset_id": r["dataset_id"], "failing_step": r["failing_step"],
                     "error_category": r["error_category"], "job_id": job.get("job_id"),
                     "duration_s": job.get("duration_s"), "excerpt": excerpt(job) if job else r["error_signature"]})
    return pd.DataFrame(rows, columns=columns)
