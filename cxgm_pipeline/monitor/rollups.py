"""dataset_rollup, collection_rollup, error_signatures: the views an engineer reads during a migration.

Datasets are keyed by DATASET_ID. Ingestion jobs carry only the *new* DATASET_VERSION_ID made by
dataset_migration, so they are resolved through the version mapping of sfn_executions; without it, the
old notebook helpers counted one dataset as two.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from cxgm_pipeline.monitor.attempts import utcnow
from cxgm_pipeline.monitor.missing import none_if_missing
from cxgm_pipeline.schemas import CollectionRollup, DatasetRollup, ErrorSignatures, empty_frame, validate
from cxgm_pipeline.vocabulary import (
    DATASET_STEPS,
    ACTIVE_JOB_STATUSES,
    DatasetState,
    ErrorCategory,
    JobStatus,
    Step,
)

_ACTIVE = {s.value for s in ACTIVE_JOB_STATUSES}
_DATASET_STEP_NAMES = {s.value for s in DATASET_STEPS}
EXAMPLES = 5


def resolve_dataset_ids(jobs: pd.DataFrame, executions: pd.DataFrame) -> pd.Series:
    """DATASET_ID of every job: from its environment, else through new DATASET_VERSION_ID -> dataset."""
    mapping = {}
    if not executions.empty:
        known = executions.dropna(subset=["new_dataset_version_id", "dataset_id"])
        mapping = dict(zip(known["new_dataset_version_id"], known["dataset_id"]))
    by_version = jobs["dataset_version_id"].map(mapping)
    return jobs["dataset_id"].where(jobs["dataset_id"].notna(), by_version)


def corpus_frame(corpus: list[dict] | None) -> pd.DataFrame:
    """The corpus the migration set out to migrate (gather_collections' list), one row per dataset."""
    rows = [
        {"dataset_id": d["dataset_id"], "dataset_version_id": d.get("dataset_version_id"),
         "collection_id": c.get("collection_id"), "collection_version_id": c.get("collection_version_id")}
        for c in corpus or [] for d in c.get("datasets", [])
    ]
    return pd.DataFrame(rows, columns=["dataset_id", "dataset_version_id", "collection_id", "collection_version_id"])


def _dataset_row(dataset_id: str, jobs: list[dict], info: dict, collection_job: dict | None, ended: bool,
                 aborted: bool, now: pd.Timestamp) -> dict:
    """One dataset from its jobs (plain records, oldest first): ~10 us a dataset, not a pandas query each."""
    row = {"dataset_id": dataset_id, **info, "current_step": None, "last_step": None, "failing_step": None,
           "error_category": None, "error_signature": None, "started_at": None, "finished_at": None,
           "total_duration_s": None, "retries": 0, "jobs": len(jobs),
           **{f"{s.value}_s": None for s in DATASET_STEPS}}
    if not jobs:
        row["state"] = DatasetState.NOT_STARTED.value
        if collection_job is not None and collection_job["status"] == JobStatus.FAILED.value:
            row.update(failing_step=Step.COLLECTION_MIGRATION.value, error_category=none_if_missing(collection_job["error_category"]),
                       error_signature=none_if_missing(collection_job["error_signature"]))
        return row
    latest = {j["step"]: j for j in jobs}  # a step's outcome is its latest job
    failed = [j for j in latest.values() if j["status"] == JobStatus.FAILED.value]
    active = [j for j in jobs if j["status"] in _ACTIVE]
    row["last_step"] = jobs[-1]["step"]
    if active:
        row["current_step"] = active[-1]["step"]
    if failed:
        f = min(failed, key=lambda j: j["created_at"])
        row.update(state=DatasetState.FAILED.value, failing_step=f["step"], error_category=none_if_missing(f["error_category"]),
                   error_signature=none_if_missing(f["error_signature"]))
    elif active:
        started = any(none_if_missing(j["started_at"]) is not None for j in jobs)
        row["state"] = (DatasetState.RUNNING if started else DatasetState.PENDING).value
    elif latest.get(Step.CXG.value, {}).get("status") == JobStatus.SUCCEEDED.value:
        row["state"] = DatasetState.SUCCEEDED.value
    elif ended:
        # stopped between two steps: the attempt ended under it
        row.update(state=DatasetState.FAILED.value,
                   error_category=(ErrorCategory.CANCELLED if aborted else ErrorCategory.UNKNOWN).value)
    else:
        row["state"] = DatasetState.RUNNING.value
    steps_seen: dict[str, int] = {}
    for j in jobs:
        steps_seen[j["step"]] = steps_seen.get(j["step"], 0) + 1
        duration = none_if_missing(j["duration_s"])
        if duration is not None and j["step"] in _DATASET_STEP_NAMES:
            column = f"{j['step']}_s"
            row[column] = (row[column] or 0.0) + float(duration)
    row["started_at"] = min(j["created_at"] for j in jobs)
    if row["state"] in (DatasetState.SUCCEEDED.value, DatasetState.FAILED.value) and not active:
        stops = [none_if_missing(j["stopped_at"]) for j in jobs if none_if_missing(j["stopped_at"]) is not None]
        row["finished_at"] = max(stops) if stops else None
    end = row["finished_at"] if row["finished_at"] is not None else now
    row["total_duration_s"] = max(0.0, (end - row["started_at"]).total_seconds())
    row["retries"] = sum(max(int(j["attempts"]) - 1, 0) for j in jobs) + sum(n - 1 for n in steps_seen.values())
    return row


def dataset_rollup(stage: str, attempt: str, jobs: pd.DataFrame, executions: pd.DataFrame,
                   corpus: list[dict] | None, ended: bool, aborted: bool = False,
                   now: datetime | None = None) -> pd.DataFrame:
    """One row per dataset of the corpus (and any dataset seen in jobs but missing from the corpus list)."""
    now = now or utcnow()
    corpus_df = corpus_frame(corpus)
    if jobs.empty and corpus_df.empty:
        return empty_frame(DatasetRollup)
    jobs = jobs.assign(resolved_dataset_id=resolve_dataset_ids(jobs, executions))
    # the jobs may be a snapshot from before the attempt ended: then it has not ended for them
    ended = ended and not jobs["status"].isin(_ACTIVE).any()
    dataset_jobs = jobs[jobs["resolved_dataset_id"].notna() & jobs["step"].isin([s.value for s in DATASET_STEPS])]
    info: dict[str, dict] = {}
    for r in corpus_df.to_dict("records"):
        info.setdefault(r["dataset_id"], {k: r[k] for k in ("collection_id", "collection_version_id", "dataset_version_id")})
    migrations = dataset_jobs[dataset_jobs["step"] == Step.DATASET_MIGRATION.value]
    for r in migrations.to_dict("records"):
        seen = info.setdefault(r["resolved_dataset_id"], {})
        for k in ("collection_id", "collection_version_id", "dataset_version_id"):
            seen[k] = seen.get(k) or none_if_missing(r[k])
    for dataset_id in dataset_jobs["resolved_dataset_id"].unique():
        info.setdefault(dataset_id, {"collection_id": None, "collection_version_id": None, "dataset_version_id": None})
    new_versions = {}
    if not executions.empty:
        known = executions.dropna(subset=["dataset_id", "new_dataset_version_id"])
        new_versions = dict(zip(known["dataset_id"], known["new_dataset_version_id"]))
    collection_jobs = {
        r["collection_version_id"]: r
        for r in jobs[jobs["step"] == Step.COLLECTION_MIGRATION.value].sort_values("created_at").to_dict("records")
    }
    grouped: dict[str, list[dict]] = {}
    for record in dataset_jobs.sort_values(["created_at", "job_id"]).to_dict("records"):
        grouped.setdefault(record["resolved_dataset_id"], []).append(record)
    now_ts = pd.Timestamp(now)
    rows = []
    for dataset_id, meta in info.items():
        meta = {**meta, "new_dataset_version_id": new_versions.get(dataset_id)}
        rows.append(_dataset_row(dataset_id, grouped.get(dataset_id, []), meta,
                                 collection_jobs.get(meta.get("collection_version_id")), ended, aborted, now_ts))
    df = pd.DataFrame(rows)
    df.insert(0, "attempt", attempt)
    df.insert(0, "stage", stage)
    return validate(DatasetRollup, df.sort_values(["collection_version_id", "dataset_id"], na_position="last"))


def collection_rollup(datasets: pd.DataFrame, jobs: pd.DataFrame) -> pd.DataFrame:
    """Per collection: datasets by state, and whether it can publish (every dataset succeeded)."""
    if datasets.empty:
        return empty_frame(CollectionRollup)
    counts = (datasets.dropna(subset=["collection_version_id"])
              .pivot_table(index="collection_version_id", columns="state", values="dataset_id", aggfunc="count", fill_value=0))
    for state in DatasetState:
        if state.value not in counts:
            counts[state.value] = 0
    counts = counts.reset_index()
    ids = datasets.dropna(subset=["collection_version_id"]).groupby("collection_version_id")["collection_id"].first()
    coll_jobs = jobs[jobs["step"] == Step.COLLECTION_MIGRATION.value].sort_values("created_at")
    coll_status = coll_jobs.groupby("collection_version_id")["status"].last() if not coll_jobs.empty else pd.Series(dtype=object)
    out = pd.DataFrame({
        "stage": datasets["stage"].iloc[0], "attempt": datasets["attempt"].iloc[0],
        "collection_id": counts["collection_version_id"].map(ids),
        "collection_version_id": counts["collection_version_id"],
        "datasets": sum(counts[s.value] for s in DatasetState),
        **{s.value: counts[s.value] for s in DatasetState},
        "collection_migration_status": counts["collection_version_id"].map(coll_status),
    })
    out["can_publish"] = (out["datasets"] > 0) & (out["succeeded"] == out["datasets"])
    return validate(CollectionRollup, out.sort_values("collection_version_id"))


def error_signatures(jobs: pd.DataFrame, executions: pd.DataFrame, datasets: pd.DataFrame | None = None) -> pd.DataFrame:
    """Failed jobs grouped by signature: one row per cause, with counts and example datasets. With the
    dataset rollup, a failed collection_migration counts the datasets it kept from starting."""
    failed = jobs[jobs["status"] == JobStatus.FAILED.value] if not jobs.empty else jobs
    if failed.empty:
        return empty_frame(ErrorSignatures)
    failed = failed.assign(resolved_dataset_id=resolve_dataset_ids(failed, executions))
    rows = []
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
        })
    return validate(ErrorSignatures, pd.DataFrame(rows).sort_values(["jobs", "error_signature"], ascending=[False, True]))
