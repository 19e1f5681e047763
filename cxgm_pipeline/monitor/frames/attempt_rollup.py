"""The rollup of an attempt against what its steps said they set out to do (step_outputs): the one
implementation the asset, the CLI and notebooks share."""

from __future__ import annotations

import pandas as pd

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.frames.rollups import dataset_rollup
from cxgm_pipeline.vocabulary import AttemptState, JobStatus, Step


def roll_up_attempt(stage: str, attempt: Attempt, enriched_jobs: pd.DataFrame, executions: pd.DataFrame,
                    outputs: pd.DataFrame, stopped: bool = False) -> pd.DataFrame:
    """`stopped`: its SpanCollections Map Run failed, which stops the collections' work as an abort does."""
    # an execution that failed (history quota, States.Runtime: an error no Catch took) stopped what ran, as an
    # abort does
    return dataset_rollup(stage, attempt.key, enriched_jobs, executions, outputs, ended=attempt.ended,
                          aborted=stopped or attempt.state in (AttemptState.ABORTED, AttemptState.FAILED,
                                                               AttemptState.TIMED_OUT))


def attempt_summary(attempt: Attempt | None, jobs: pd.DataFrame, datasets: pd.DataFrame) -> str | None:
    """One line saying why an attempt has no dataset yet, or None when it has some."""
    if attempt is None:
        return "not run in this stage"
    if not datasets.empty:
        return None
    gather = jobs[jobs["step"] == Step.GATHER_COLLECTIONS.value] if not jobs.empty else jobs
    if gather.empty:
        return "no job yet: the migration has not submitted gather_collections" if not attempt.ended \
            else "no job of this attempt found in the queue (window or queue name?)"
    last = gather.sort_values("created_at").iloc[-1]
    if last["status"] == JobStatus.FAILED.value:
        why = last.get("error_signature") if "error_signature" in gather else None
        why = why if isinstance(why, str) and why else (last["status_reason"] or "no reason given")
        return f"failed in gather_collections: {why}"
    if last["status"] != JobStatus.SUCCEEDED.value:
        return f"gather_collections is {last['status'].lower()}: no collection gathered yet"
    return "gather_collections gathered no collection to migrate"
