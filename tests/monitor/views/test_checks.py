"""The runbook's checks on small hand-made frames: accounting, new versions, the jobs' and executions' views."""

import pandas as pd
import pytest

from cxgm_pipeline.monitor.views.checks import accounting, succeeded_without_new_version, view_mismatches

pytestmark = pytest.mark.unit

NEW = "0b3c3e0c-2f5a-4c1e-9a57-7f0f6f0a1b2c"


def _rollup(rows):
    base = {c: None for c in ("stage", "attempt", "collection_id", "state")}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_accounting_check_fails_on_missing_duplicated_and_unattributed_rows():
    outputs = pd.DataFrame([{"kind": "listed_dataset", "dataset_id": "d1"}, {"kind": "listed_dataset", "dataset_id": "d2"},
                            {"kind": "skipped_dataset", "dataset_id": "d3"}])
    good = _rollup([{"dataset_id": "d1"}, {"dataset_id": "d2"}, {"dataset_id": "d3"}])
    assert not any(accounting(good, outputs).values())
    bad = _rollup([{"dataset_id": "d1"}, {"dataset_id": "d1"}, {"dataset_id": f"unattributed:{NEW}"}])
    found = accounting(bad, outputs)
    assert found == {"missing": ["d2", "d3"], "duplicated": ["d1"], "unattributed": [f"unattributed:{NEW}"]}


def test_a_dataset_gathered_twice_is_one_row_per_version_not_a_duplicate():
    outputs = pd.DataFrame([{"kind": "listed_dataset", "dataset_id": "d1"}])
    twice = _rollup([{"dataset_id": "d1", "collection_version_id": "v1"},
                     {"dataset_id": "d1", "collection_version_id": "v2"}])
    assert accounting(twice, outputs)["duplicated"] == []
    assert accounting(_rollup([{"dataset_id": "d1", "collection_version_id": "v1"}] * 2), outputs)["duplicated"] == ["d1"]


def test_succeeded_datasets_without_their_new_version_are_listed():
    rollup = _rollup([{"dataset_id": "d1", "state": "succeeded", "new_dataset_version_id": "n1"},
                      {"dataset_id": "d2", "state": "succeeded", "new_dataset_version_id": None},
                      {"dataset_id": "d3", "state": "failed", "new_dataset_version_id": None}])
    succeeded, lacking = succeeded_without_new_version(rollup)
    assert succeeded == 2 and list(lacking) == ["d2"]


def test_views_disagree_only_on_ended_executions():
    t = pd.Timestamp("2026-11-01 12:00", tz="UTC")
    executions = pd.DataFrame([{"dataset_id": "d1", "status": "SUCCEEDED", "stop_at": t - pd.Timedelta(hours=1)},
                               {"dataset_id": "d2", "status": "FAILED", "stop_at": t - pd.Timedelta(hours=1)},
                               {"dataset_id": "d3", "status": "RUNNING", "stop_at": None},
                               {"dataset_id": "d4", "status": "SUCCEEDED", "stop_at": t - pd.Timedelta(minutes=2)}])
    agree = _rollup([{"dataset_id": "d1", "state": "succeeded"}, {"dataset_id": "d2", "state": "failed"},
                     {"dataset_id": "d3", "state": "failed"}, {"dataset_id": "d4", "state": "succeeded"}])
    mismatches, in_flight = view_mismatches(executions, agree, t)
    assert mismatches.empty and in_flight == 0  # a running execution lags its failed job: not a mismatch
    disagree = _rollup([{"dataset_id": "d1", "state": "failed"}, {"dataset_id": "d2", "state": "succeeded"},
                        {"dataset_id": "d3", "state": "running"}, {"dataset_id": "d4", "state": "running"}])
    mismatches, in_flight = view_mismatches(executions, disagree, t)
    # d4 ended 2 minutes before the jobs were read: in flight, not a disagreement
    assert set(mismatches["dataset_id"]) == {"d1", "d2"} and in_flight == 1
    # with no observation time, every ended execution is judged
    assert set(view_mismatches(executions, disagree)[0]["dataset_id"]) == {"d1", "d2", "d4"}


def test_a_dataset_failed_by_productions_verdict_alone_agrees_with_its_succeeded_execution():
    executions = pd.DataFrame([{"dataset_id": "d1", "status": "SUCCEEDED", "stop_at": None}])
    rollup = _rollup([{"dataset_id": "d1", "state": "failed", "production_verdict": "rolled_back",
                       "failing_step": "collection_cleanup"}])
    assert view_mismatches(executions, rollup)[0].empty
    by_its_jobs = rollup.assign(production_verdict=None, failing_step="cxg")
    assert list(view_mismatches(executions, by_its_jobs)[0]["problem"]) == [
        "execution succeeded but the dataset's jobs did not"]
