"""An attempt's outcome (vocabulary.AttemptOutcome): what it achieved, read from its frames, since its execution's
status hides the two failures production's Catch sends to `report` (a failed gather_collections, a SpanCollections
Map Run past its tolerance), which end SUCCEEDED."""

from __future__ import annotations

import dataclasses

import pandas as pd

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.vocabulary import (
    AttemptOutcome,
    AttemptState,
    DatasetState,
    JobStatus,
    Step,
)

_OF_STATE = {AttemptState.RUNNING: AttemptOutcome.RUNNING, AttemptState.DISCOVERED: AttemptOutcome.RUNNING,
             AttemptState.FAILED: AttemptOutcome.FAILED, AttemptState.ABORTED: AttemptOutcome.ABORTED,
             AttemptState.TIMED_OUT: AttemptOutcome.TIMED_OUT}
# the Map state whose run, past its ToleratedFailurePercentage, fails and is caught into `report` (main.tf @ 00e5dcc)
SPAN_COLLECTIONS = "SpanCollections"


def tolerance_exceeded(child_failures: pd.DataFrame | None) -> bool:
    """A SpanCollections Map Run that failed (DescribeMapRun status FAILED; States.ExceedToleratedFailureThreshold),
    or whose failed items are past its tolerance."""
    if child_failures is None or child_failures.empty:
        return False
    runs = child_failures[(child_failures["kind"] == "map_run") & (child_failures["state_name"] == SPAN_COLLECTIONS)]
    for status, failed, total, tolerated in zip(runs["status"], runs["items_failed"], runs["items_total"],
                                                runs["tolerated_failure_percentage"]):
        if status == "FAILED":
            return True
        if pd.notna(failed) and pd.notna(total) and total and pd.notna(tolerated) and failed * 100 / total > tolerated:
            return True
    return False


def attempt_outcome(attempt: Attempt, jobs: pd.DataFrame | None, rollup: pd.DataFrame | None,
                    child_failures: pd.DataFrame | None = None) -> AttemptOutcome:
    """`jobs`: the attempt's migration_jobs or enriched_jobs (None: not read); `rollup`: its dataset_rollup."""
    if attempt.state in _OF_STATE:
        return _OF_STATE[attempt.state]
    if jobs is None:
        return AttemptOutcome.UNKNOWN
    gather = jobs[jobs["step"] == Step.GATHER_COLLECTIONS.value].sort_values("created_at") if not jobs.empty else jobs
    if not gather.empty and gather.iloc[-1]["status"] == JobStatus.FAILED.value:
        return AttemptOutcome.FAILED_IN_GATHER
    if tolerance_exceeded(child_failures):
        return AttemptOutcome.TOLERANCE_EXCEEDED
    failed_collections = not jobs.empty and (
        jobs[jobs["step"] == Step.COLLECTION_MIGRATION.value].sort_values("created_at")
        .drop_duplicates(["collection_id", "collection_version_id"], keep="last")["status"] == JobStatus.FAILED.value).any()
    unfinished = rollup is not None and not rollup.empty and rollup["state"].isin(
        [DatasetState.FAILED.value, DatasetState.NOT_STARTED.value, DatasetState.RUNNING.value,
         DatasetState.PENDING.value]).any()
    return AttemptOutcome.FINISHED_WITH_FAILURES if failed_collections or unfinished else AttemptOutcome.SUCCEEDED


def with_outcome(attempt: Attempt, frames: dict[str, pd.DataFrame]) -> Attempt:
    """The attempt with its outcome, from whichever of its frames are at hand."""
    jobs = frames.get(Frame.enriched_jobs, frames.get(Frame.migration_jobs))
    outcome = attempt_outcome(attempt, jobs, frames.get(Frame.dataset_rollup), frames.get(Frame.child_failures))
    return dataclasses.replace(attempt, outcome=outcome.value)


def stored_outcome(attempt: Attempt, store) -> str:
    """The outcome from the attempt's stored frames (a frame store: `exists`/`read`)."""
    frames = {name: store.read(name, attempt.stage, attempt.key)
              for name in (Frame.migration_jobs, Frame.dataset_rollup, Frame.child_failures)
              if store.exists(name, attempt.stage, attempt.key)}
    return with_outcome(attempt, frames).outcome
