"""An attempt's rollup as the asset, the CLI and notebooks call it, and the line saying why it has no dataset."""

from datetime import datetime, timezone

import pandas as pd
import pytest

import cxgm_pipeline.monitor.frames.attempt_rollup as attempt_rollup
from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.frames.attempt_rollup import attempt_summary, roll_up_attempt
from cxgm_pipeline.vocabulary import AttemptState

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
NO_DATASET = pd.DataFrame({"dataset_id": []})


def _attempt(state=AttemptState.SUCCEEDED):
    ended = state not in (AttemptState.RUNNING, AttemptState.DISCOVERED)
    return Attempt("prod", "A", "A", ("e",), ("arn:e",), T0, T0 if ended else None, state)


@pytest.mark.parametrize("state,stopped,aborted", [
    (AttemptState.SUCCEEDED, False, False), (AttemptState.SUCCEEDED, True, True), (AttemptState.ABORTED, False, True),
    (AttemptState.FAILED, False, True), (AttemptState.TIMED_OUT, False, True), (AttemptState.RUNNING, False, False)])
def test_what_stopped_the_attempts_work_counts_as_an_abort(monkeypatch, state, stopped, aborted):
    seen = {}
    monkeypatch.setattr(attempt_rollup, "dataset_rollup", lambda *a, **kw: seen.update(kw) or "rollup")
    assert roll_up_attempt("prod", _attempt(state), None, None, None, stopped=stopped) == "rollup"
    assert seen == {"ended": state != AttemptState.RUNNING, "aborted": aborted}


def _gather(status, error_signature=None, status_reason=None):
    return pd.DataFrame({"step": ["gather_collections"], "status": [status], "created_at": [T0],
                         "error_signature": [error_signature], "status_reason": [status_reason]})


def test_the_line_says_why_an_attempt_has_no_dataset():
    empty_jobs = pd.DataFrame({"step": []})
    assert attempt_summary(None, empty_jobs, NO_DATASET) == "not run in this stage"
    assert attempt_summary(_attempt(), empty_jobs, pd.DataFrame({"dataset_id": ["d1"]})) is None
    assert attempt_summary(_attempt(AttemptState.RUNNING), empty_jobs, NO_DATASET).startswith("no job yet")
    assert attempt_summary(_attempt(), empty_jobs, NO_DATASET).startswith("no job of this attempt found")
    assert attempt_summary(_attempt(), _gather("FAILED", "application: boom"), NO_DATASET) == \
        "failed in gather_collections: application: boom"
    assert attempt_summary(_attempt(), _gather("FAILED", None, "Essential container exited"), NO_DATASET) == \
        "failed in gather_collections: Essential container exited"
    assert attempt_summary(_attempt(), _gather("RUNNING"), NO_DATASET) == \
        "gather_collections is running: no collection gathered yet"
    assert attempt_summary(_attempt(), _gather("SUCCEEDED"), NO_DATASET) == \
        "gather_collections gathered no collection to migrate"
