"""Every attempt's state and dataset counts, on hand-made attempts and rollups."""

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.views.attempt_states import attempt_states
from cxgm_pipeline.vocabulary import AttemptState

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _attempt(stage, key, hours, state=AttemptState.SUCCEEDED, outcome=None):
    return Attempt(stage, key, key, (f"{key}-1", f"{key}-2"), (), T0 + timedelta(hours=hours),
                   T0 + timedelta(hours=hours + 1), state, outcome=outcome)


def test_counts_come_from_the_rollup_and_states_from_aws():
    attempts = [_attempt("prod", "B", 5), _attempt("dev", "A", 0, outcome="succeeded"),
                _attempt("prod", "A", 1, AttemptState.ABORTED)]
    rollup = pd.DataFrame({"dataset_id": list("abcd"), "state": ["failed", "succeeded", "succeeded", "skipped"],
                           "campaign": "A"})
    frame = attempt_states(attempts, {("prod", "A"): rollup}, {("prod", "A"): "aborted"})
    assert list(zip(frame["stage"], frame["attempt"])) == [("dev", "A"), ("prod", "A"), ("prod", "B")]
    row = frame.set_index(["stage", "attempt"]).loc[("prod", "A")]
    assert (row["state"], row["datasets"], row["failed"], row["succeeded"], row["skipped"], row["not_started"]) == (
        "aborted", 4, 1, 2, 1, 0)
    assert row["rolled_up"] and row["campaign"] == "A" and row["outcome"] == "aborted"
    assert row["executions"] == "A-1,A-2"
    unrolled = frame.set_index(["stage", "attempt"]).loc[("prod", "B")]
    assert not unrolled["rolled_up"] and unrolled["datasets"] == 0 and unrolled["campaign"] is None
    assert frame.set_index(["stage", "attempt"]).loc[("dev", "A"), "outcome"] == "succeeded", "the attempt's own"


def test_no_attempt_is_an_empty_frame_with_its_columns():
    frame = attempt_states([], {})
    assert frame.empty and {"stage", "attempt", "state", "datasets"} <= set(frame.columns)


def test_a_running_attempt_says_its_datasets_are_those_listed_so_far_and_its_state_once():
    from cxgm_pipeline.monitor.views.attempt_states import latest_markdown

    attempts = [_attempt("prod", "A", 1, AttemptState.RUNNING, outcome="running"),
                _attempt("dev", "A", 0, outcome="finished_with_failures")]
    rollup = pd.DataFrame({"dataset_id": list("abc"), "state": ["failed", "succeeded", "running"], "campaign": "A"})
    ended = pd.DataFrame({"dataset_id": list("abcd"), "state": ["failed", "succeeded", "not_started", "skipped"],
                          "campaign": "A"})
    frame = attempt_states(attempts, {("prod", "A"): rollup, ("dev", "A"): ended})
    md = latest_markdown(frame, ["dev", "prod"])
    assert "**prod** A (1 attempt): execution running; 2 of 3 listed so far ended, 1 failed" in md, md
    # the answer line's total: a skipped dataset is not one to migrate ("4 datasets" beside "2 of 3 ended")
    assert "**dev** A (1 attempt): execution succeeded, finished with failures; 2 of 3 ended, 1 failed" in md, md


def test_the_datasets_the_portal_alone_names_count_as_never_started():
    """A collection whose collection_migration failed before naming its datasets: the portal's listing names them,
    and the overview counts them as the answer line does (not started), not only the datasets AWS names."""
    rollup = pd.DataFrame({"dataset_id": ["a", "b"], "state": ["failed", "succeeded"], "campaign": "A"})
    portal = pd.DataFrame({"dataset_id": ["a", "b", "lost1", "lost2"],
                           "state": ["failed", "succeeded", "not_started", "not_started"]})
    frame = attempt_states([_attempt("prod", "A", 0)], {("prod", "A"): rollup}, None, {("prod", "A"): portal})
    row = frame.iloc[0]
    assert (row["datasets"], row["not_started"], row["failed"], row["succeeded"]) == (4, 2, 1, 1)
