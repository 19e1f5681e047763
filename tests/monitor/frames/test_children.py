"""child_failures and an attempt's outcome on small frames: the causes Step Functions writes, the step a failed state
is charged to, a tolerance breach, and outcomes the execution's status hides."""

from datetime import datetime, timezone

import pandas as pd

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.frames.child_failures import _state_map, error_signature, failing_step
from cxgm_pipeline.monitor.attempts.outcome import attempt_outcome, tolerance_exceeded
from cxgm_pipeline.vocabulary import AttemptOutcome, AttemptState

RUNTIME = ("An error occurred while executing the state 'StepFunctionsStartExecution' (entered at the event id #7). "
           "The JSONPath '$.result.manifest' specified for the field 'manifest.$' could not be found in the input "
           "'{\"dataset_id\": \"d1\", \"result\": {\"uri\": \"s3://x\"}}'")


def test_a_runtime_error_is_charged_to_the_answer_it_could_not_read():
    assert failing_step("StepFunctionsStartExecution", "SpanDatasets") == "dataset_migration"
    assert failing_step("CollectionCleanup", "SpanCollections") == "collection_cleanup"
    assert failing_step("SpanDatasets", "SpanCollections") == "collection_migration"
    assert failing_step(None, "SpanDatasets") == "dataset_migration"
    signature = error_signature("States.Runtime", "StepFunctionsStartExecution", RUNTIME)
    assert signature == ("States.Runtime in StepFunctionsStartExecution: The JSONPath '$.result.manifest' specified "
                         "for the field 'manifest.$' could not be found in the input")
    assert "d1" not in signature and "#7" not in signature  # alike failures group


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


def test_the_map_state_of_a_run_or_child_is_the_last_label_of_its_arn():
    base = "arn:aws:states:us-west-2:123456789012"
    assert _state_map(f"{base}:mapRun:dp-dev-devstack-schema-migration-sfn/SpanCollections:0f1e") == "SpanCollections"
    assert _state_map(f"{base}:execution:dp-dev-devstack-schema-migration-sfn/SpanDatasets:abc") == "SpanDatasets"
    assert _state_map(f"{base}:mapRun:sm/SpanCollections:0f1e/SpanDatasets:99") == "SpanDatasets"
    assert _state_map(f"{base}:execution:dp-dev-devstack-schema-migration-sfn:abc") is None
    assert _state_map(None) is None
