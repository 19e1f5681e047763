"""An attempt's outcome from its frames, where its execution's status hides a failure."""

from datetime import datetime, timezone

import pandas as pd
import pytest

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.attempts.outcome import attempt_outcome, stored_outcome, tolerance_exceeded, with_outcome
from cxgm_pipeline.vocabulary import AttemptOutcome, AttemptState

pytestmark = pytest.mark.unit


def _runs(**values):
    row = {"kind": "map_run", "state_name": "SpanCollections", "status": "SUCCEEDED", "items_failed": 0,
           "items_total": 10, "tolerated_failure_percentage": 20.0}
    return pd.DataFrame([{**row, **values}])


def test_a_span_collections_run_past_its_tolerance_is_a_breach():
    assert not tolerance_exceeded(_runs())
    assert not tolerance_exceeded(_runs(items_failed=2))  # 20% is tolerated
    assert tolerance_exceeded(_runs(items_failed=3))
    assert tolerance_exceeded(_runs(status="FAILED"))
    assert not tolerance_exceeded(_runs(state_name="SpanDatasets", status="FAILED"))


def _attempt(state):
    t = datetime(2026, 11, 1, tzinfo=timezone.utc)
    return Attempt("dev", "A", None, ("x",), ("arn",), t, t, state)


def _jobs(*rows):
    return pd.DataFrame([{"step": s, "status": st, "created_at": i, "collection_id": "c", "collection_version_id": "v"}
                         for i, (s, st) in enumerate(rows)])


def test_an_outcome_is_not_the_execution_status():
    rollup = pd.DataFrame({"state": ["succeeded", "skipped"]})
    ok = _attempt(AttemptState.SUCCEEDED)
    assert attempt_outcome(ok, _jobs(("gather_collections", "FAILED")), rollup.iloc[0:0]) is AttemptOutcome.FAILED_IN_GATHER
    # DISTRIBUTED retries a failed task once: the latest gather decides
    assert attempt_outcome(ok, _jobs(("gather_collections", "FAILED"), ("gather_collections", "SUCCEEDED")),
                           rollup) is AttemptOutcome.SUCCEEDED
    assert attempt_outcome(ok, _jobs(("gather_collections", "SUCCEEDED")), rollup,
                           _runs(status="FAILED")) is AttemptOutcome.TOLERANCE_EXCEEDED
    assert attempt_outcome(ok, _jobs(("gather_collections", "SUCCEEDED"), ("collection_migration", "FAILED")),
                           rollup) is AttemptOutcome.FINISHED_WITH_FAILURES
    assert attempt_outcome(ok, _jobs(("gather_collections", "SUCCEEDED")),
                           pd.DataFrame({"state": ["failed"]})) is AttemptOutcome.FINISHED_WITH_FAILURES
    assert attempt_outcome(ok, None, rollup) is AttemptOutcome.UNKNOWN
    assert attempt_outcome(_attempt(AttemptState.FAILED), None, None) is AttemptOutcome.FAILED


def test_an_execution_that_ended_badly_is_its_own_outcome():
    assert attempt_outcome(_attempt(AttemptState.ABORTED), None, None) == AttemptOutcome.ABORTED
    assert attempt_outcome(_attempt(AttemptState.RUNNING), None, None) == AttemptOutcome.RUNNING
    assert attempt_outcome(_attempt(AttemptState.SUCCEEDED), None, None) == AttemptOutcome.UNKNOWN, "frames not read"


def test_a_retried_collection_migration_is_judged_by_its_latest_job():
    retried = _jobs(("collection_migration", "FAILED"), ("collection_migration", "SUCCEEDED"))
    done = pd.DataFrame({"state": ["succeeded", "skipped"]})
    assert attempt_outcome(_attempt(AttemptState.SUCCEEDED), retried, done) == AttemptOutcome.SUCCEEDED


def test_the_outcome_from_stored_frames_reads_what_is_there():
    class Store:
        frames = {("migration_jobs", "dev", "A"): _jobs(("gather_collections", "FAILED"))}

        def exists(self, name, stage, key):
            return (name, stage, key) in self.frames

        def read(self, name, stage, key):
            return self.frames[(name, stage, key)]

    assert stored_outcome(_attempt(AttemptState.SUCCEEDED), Store()) == AttemptOutcome.FAILED_IN_GATHER.value
    assert with_outcome(_attempt(AttemptState.SUCCEEDED), {}).outcome == AttemptOutcome.UNKNOWN.value
