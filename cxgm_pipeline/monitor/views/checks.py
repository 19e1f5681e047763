"""What a release runbook verifies on one attempt's frames once it ran: every dataset accounted for once, a new
version for every success, and the jobs' view agreeing with the executions'. Plain functions the Dagster asset
checks (assets/checks.py) report; the failure rate is monitor/views/alerts.py's `failure_counts`."""

from __future__ import annotations

import pandas as pd

from cxgm_pipeline.monitor.frames.columns_missing import none_if_missing
from cxgm_pipeline.monitor.frames.columns_rows import row_dicts
from cxgm_pipeline.monitor.frames.rollups import UNATTRIBUTED
from cxgm_pipeline.vocabulary import DatasetState, Step


def accounting(dataset_rollup: pd.DataFrame, step_outputs: pd.DataFrame) -> dict:
    """Datasets the steps named (listed by their collection, skipped at cleanup, or migrated) that the rollup
    lacks or counts twice, and rows no source ties to a dataset."""
    named = set()
    if not step_outputs.empty:
        named = set(step_outputs.loc[step_outputs["kind"].isin(["listed_dataset", "skipped_dataset", "dataset_version"]),
                                     "dataset_id"].dropna())
    ids = dataset_rollup["dataset_id"]
    # a dataset of a collection gathered twice has a row per version gathered: counted twice is one key twice
    key = [c for c in ("dataset_id", "collection_version_id") if c in dataset_rollup]
    twice = dataset_rollup.duplicated(key) if not dataset_rollup.empty else ids.duplicated()
    return {"missing": sorted(named - set(ids)), "duplicated": sorted(ids[twice].unique()),
            "unattributed": sorted(ids[ids.str.startswith(UNATTRIBUTED)]) if not ids.empty else []}


def succeeded_without_new_version(dataset_rollup: pd.DataFrame) -> tuple[int, pd.Series]:
    """(how many datasets succeeded, the ids of those lacking the new dataset version their migration created)."""
    done = dataset_rollup[dataset_rollup["state"] == DatasetState.SUCCEEDED.value]
    return len(done), done.loc[done["new_dataset_version_id"].isna(), "dataset_id"]


# An execution ends seconds to minutes after its last job: one that ended this close to the moment the jobs were
# read is still in flight for the jobs' view, not a disagreement.
IN_FLIGHT_GRACE = pd.Timedelta(minutes=10)
_MISMATCH_COLUMNS = ["dataset_id", "execution_status", "dataset_state", "problem"]


def view_mismatches(executions: pd.DataFrame, datasets: pd.DataFrame,
                    jobs_observed_at: pd.Timestamp | None = None) -> tuple[pd.DataFrame, int]:
    """(datasets whose ingestion execution has ENDED with an outcome their Batch jobs contradict, how many were
    only in flight). A running execution is never a mismatch, nor one that ended within IN_FLIGHT_GRACE of
    `jobs_observed_at` (AWS's clock when the jobs were read): the two views lag each other while a migration runs."""
    if executions.empty or datasets.empty:
        return pd.DataFrame(columns=_MISMATCH_COLUMNS), 0
    view = datasets["state"]
    if "production_verdict" in datasets:
        # failed by production's verdict alone (at the cleanup step): its jobs and its ingestion succeeded
        alone = datasets["production_verdict"].notna() & datasets["failing_step"].isin(
            [Step.COLLECTION_CLEANUP.value, Step.COLLECTION_PUBLISH.value])
        view = view.mask(alone, DatasetState.SUCCEEDED.value)
    state = dict(zip(datasets["dataset_id"], view))
    # a dataset gathered twice has an ingestion per branch: each is held to its own branch (the new version's)
    branch_state = dict(zip(datasets["new_dataset_version_id"], view)) if "new_dataset_version_id" in datasets else {}
    rows, in_flight = [], 0
    for ex in row_dicts(executions.dropna(subset=["status", "dataset_id"])):
        got = branch_state.get(ex.get("new_dataset_version_id")) or state.get(ex["dataset_id"])
        problem = None
        if ex["status"] == "SUCCEEDED" and got != DatasetState.SUCCEEDED.value:
            problem = "execution succeeded but the dataset's jobs did not"
        elif ex["status"] in ("FAILED", "TIMED_OUT", "ABORTED") and got == DatasetState.SUCCEEDED.value:
            problem = "execution failed but every job of the dataset succeeded"
        if problem and jobs_observed_at is not None and none_if_missing(ex["stop_at"]) is not None \
                and ex["stop_at"] > jobs_observed_at - IN_FLIGHT_GRACE:
            in_flight += 1
            continue
        if problem:
            rows.append({"dataset_id": ex["dataset_id"], "execution_status": ex["status"], "dataset_state": got,
                         "problem": problem})
    return pd.DataFrame(rows, columns=_MISMATCH_COLUMNS), in_flight
