"""dataset_rollup's answering steps on small hand-made jobs and frames: which state a dataset is in and why, its
durations, times and retries, which version gathered each job works on, and how the sources' datasets merge."""

import json
import pandas as pd
import pytest

from cxgm_pipeline.monitor.frames.rollups import (
    UNATTRIBUTED,
    _Branches,
    _Datasets,
    _ingestions,
    _job_revisions,
    _job_state,
    _jobs_row,
    _not_started,
    _retries,
    _rows,
    _step_durations,
    _timing,
    _with_execution_failure,
    _with_verdict,
    attempt_jobs,
    branch_of,
    gathered_versions,
    one_row_per_dataset,
    resolve_dataset_ids,
    revision_index,
    verdict_cause,
)

pytestmark = pytest.mark.unit

S = 1_000_000  # a second in epoch microseconds
NOW = 10_000 * S


def job(step, status="SUCCEEDED", created=0, started=None, stopped=None, duration=None, attempts=1,
        category=None, signature=None):
    """A job record as a dataset's row reads it (times in epoch microseconds)."""
    return {"resolved_dataset_id": "d1", "step": step, "status": status, "created_at": created * S,
            "started_at": None if started is None else started * S, "stopped_at": None if stopped is None else stopped * S,
            "duration_s": duration, "attempts": attempts, "error_category": category, "error_signature": signature}


# --- one dataset's row ------------------------------------------------------------------------------------------

def test_a_failed_dataset_is_charged_to_the_first_job_to_stop():
    jobs = [job("dataset_migration", created=0, stopped=10),
            job("validate_anndata", "FAILED", created=20, stopped=50, category="validation", signature="v: bad"),
            job("validate_atac", "FAILED", created=20, stopped=40, category="out_of_memory", signature="oom")]
    assert _job_state(jobs, [], True, False, NOW, None) == {
        "state": "failed", "failing_step": "validate_atac", "error_category": "out_of_memory", "error_signature": "oom"}


def test_two_jobs_stopped_at_once_fail_the_dataset_at_the_first_step_in_the_machines_order():
    jobs = [job("validate_atac", "FAILED", created=20, stopped=40, signature="b"),
            job("validate_anndata", "FAILED", created=20, stopped=40, signature="a")]
    assert _job_state(jobs, [], True, False, NOW, None)["failing_step"] == "validate_anndata"


def test_a_retried_step_is_judged_by_its_latest_job():
    jobs = [job("cxg", "FAILED", created=0, stopped=5), job("cxg", "SUCCEEDED", created=10, stopped=20)]
    assert _job_state(jobs, [], True, False, NOW, None) == {"state": "succeeded"}


@pytest.mark.parametrize("jobs,active,ended,aborted,status,expected", [
    ([job("cxg", "RUNNING", started=5)], True, False, False, None, {"state": "running"}),
    ([job("cxg", "RUNNABLE")], True, False, False, None, {"state": "pending"}),
    ([job("dataset_migration", stopped=5)], False, False, False, None, {"state": "running"}),
    ([job("dataset_migration", stopped=5)], False, True, False, None, {"state": "failed", "error_category": "unknown"}),
    ([job("dataset_migration", stopped=5)], False, True, True, None, {"state": "failed", "error_category": "cancelled"}),
    ([job("add_labels", stopped=5)], False, False, False, "TIMED_OUT",
     {"state": "failed", "error_category": "timeout", "error_signature": "ingestion execution TIMED_OUT"}),
], ids=["running", "pending", "between-steps", "ended-under-it", "aborted-under-it", "execution-timed-out"])
def test_the_state_of_a_dataset_with_no_failed_job(jobs, active, ended, aborted, status, expected):
    assert _job_state(jobs, jobs if active else [], ended, aborted, NOW, status) == expected


def test_a_dataset_with_no_job_is_not_started_and_says_when_its_collection_failed():
    assert _not_started(None) == {"state": "not_started"}
    assert _not_started({"status": "SUCCEEDED", "error_category": None, "error_signature": None}) == {"state": "not_started"}
    failed = {"status": "FAILED", "error_category": "application", "error_signature": "application: boom"}
    assert _not_started(failed) == {"state": "not_started", "failing_step": "collection_migration",
                                    "error_category": "application", "error_signature": "application: boom"}


def test_durations_sum_a_steps_retries_and_leave_out_other_steps():
    jobs = [job("cxg", duration=10.0), job("cxg", duration=2.5), job("add_labels", duration=None),
            job("collection_migration", duration=99.0)]
    assert _step_durations(jobs) == {"cxg_s": 12.5}


def test_a_dataset_finishes_at_its_last_stop_once_nothing_runs():
    jobs = [job("dataset_migration", created=100, stopped=160), job("cxg", created=200, stopped=400)]
    assert _timing(jobs, "succeeded", [], NOW) == {"started_at": 100 * S, "finished_at": 400 * S,
                                                   "total_duration_s": 300.0}
    running = _timing(jobs, "running", [jobs[1]], NOW)
    assert running["finished_at"] is None and running["total_duration_s"] == (NOW - 100 * S) / 1e6


def test_retries_count_batchs_attempts_and_step_functions_repeats():
    jobs = [job("cxg", attempts=3), job("cxg", attempts=1), job("add_labels", attempts=1)]
    assert _retries(jobs) == 2 + 1


def test_the_execution_history_names_the_cause_the_jobs_did_not():
    row = {"state": "failed", "error_signature": "ingestion execution FAILED", "error_category": "unknown",
           "failing_step": None}
    out = _with_execution_failure(dict(row), "FAILED", ("States.Timeout", "Cxg"))
    assert out == {"state": "failed", "error_category": "timeout", "failing_step": "cxg",
                   "error_signature": "ingestion execution FAILED: States.Timeout in Cxg"}
    assert _with_execution_failure(dict(row), "FAILED", None) == row
    jobs_said = {**row, "error_signature": "oom"}
    assert _with_execution_failure(dict(jobs_said), "FAILED", ("States.Timeout", "Cxg")) == jobs_said


def _batch_cause(exit_code: int, reason: str | None = None) -> str:
    """A failed batch:submitJob.sync task's cause as Step Functions gives it: the job's description."""
    return json.dumps({"JobId": "5ce9a71e", "JobName": "validate_anndata", "Status": "FAILED",
                       "StatusReason": "Essential container in task exited",
                       "Container": {"ExitCode": exit_code, **({"Reason": reason} if reason else {})}})


def test_a_failed_validation_task_is_what_its_jobs_description_says_else_provisional_until_the_attempt_ends():
    """sfn/main.tf @ 0032817: ValidateAnndata's job failed, the execution failed at once, and the jobs were listed
    before it did: the history gives States.TaskFailed and the job's description. Exit 1 says nothing (the
    validator's findings end so): `pending_logs` while the attempt runs, `application` (a TaskFailed with nothing
    better, as the classifier and docs/classification.md say) once it ended. A container's reason decides now."""
    row = {"state": "failed", "error_signature": "ingestion execution FAILED", "error_category": "unknown",
           "failing_step": None}
    exited = ("States.TaskFailed", "ValidateAnndata", _batch_cause(1))
    waiting = _with_execution_failure(dict(row), "FAILED", exited, ended=False)
    assert (waiting["error_category"], waiting["failing_step"], waiting["error_signature"]) == (
        "pending_logs", "validate_anndata", "ingestion execution FAILED: States.TaskFailed in ValidateAnndata")
    assert _with_execution_failure(dict(row), "FAILED", exited, ended=True)["error_category"] == "application"
    oom = ("States.TaskFailed", "ValidateAnndata", _batch_cause(137, "OutOfMemoryError: Container killed due to memory usage"))
    killed = _with_execution_failure(dict(row), "FAILED", oom, ended=False)
    assert (killed["error_category"], killed["error_signature"]) == (
        "out_of_memory", "out_of_memory: OutOfMemoryError: Container killed due to memory usage")
    # a failure of a Lambda or of no task has no job whose log would tell more
    lambda_failed = _with_execution_failure(dict(row), "FAILED", ("Lambda.Unknown", None, None), ended=False)
    assert lambda_failed["error_category"] == "unknown"


def test_productions_verdict_fails_a_dataset_every_job_of_which_succeeded():
    verdict = {"verdict": "rolled_back", "message": None, "step": "collection_cleanup"}
    out = _with_verdict({"state": "succeeded", "failing_step": None}, verdict)
    assert out["state"] == "failed" and out["failing_step"] == "collection_cleanup"
    assert out["production_verdict"] == "rolled_back" and out["error_category"] == "application"
    assert out["error_signature"].startswith("application: rolled back by the cleanup step")
    failed = _with_verdict({"state": "failed", "failing_step": "cxg"}, verdict)
    assert failed["failing_step"] == "cxg" and failed["production_verdict"] == "rolled_back"
    assert _with_verdict({"state": "succeeded"}, None) == {"state": "succeeded", "production_verdict": None,
                                                          "production_message": None}


def test_a_verdicts_message_is_read_as_a_log_is():
    assert verdict_cause("not_latest_schema", "something odd happened\nsecond line") == (
        "application", "application: something odd happened")
    assert verdict_cause("rolled_back", None)[1].startswith("application: rolled back")


def test_a_rows_columns_keep_their_order_whatever_the_state():
    info = {"collection_id": "c1", "collection_version_id": "v1", "dataset_version_id": "dv1",
            "attribution": "listed", "new_dataset_version_id": None, "skipped": False}
    failed = _jobs_row("d1", [job("cxg", "FAILED", stopped=5, signature="x")], info, None, True, False, NOW)
    skipped = _jobs_row("d1", [], {**info, "skipped": True}, None, True, False, NOW)
    assert list(failed) == list(skipped) and list(failed)[-1] == "state"
    assert skipped["state"] == "skipped" and skipped["jobs"] == 0


# --- which version gathered a job works on ----------------------------------------------------------------------

OUTPUTS = pd.DataFrame([
    {"kind": "collection", "collection_id": "c1", "collection_version_id": "pub", "migration_revision_id": None},
    {"kind": "collection", "collection_id": "c1", "collection_version_id": "open", "migration_revision_id": None},
    {"kind": "collection", "collection_id": "c2", "collection_version_id": "only", "migration_revision_id": None},
    {"kind": "migration_revision", "collection_id": "c1", "collection_version_id": "pub", "migration_revision_id": "rev"},
])


def test_a_collection_gathered_twice_keeps_its_versions_apart():
    branches = _Branches.of_outputs(OUTPUTS)
    assert gathered_versions(OUTPUTS) == {"c1": ["pub", "open"], "c2": ["only"]}
    assert revision_index(OUTPUTS) == {"rev": "pub"}
    assert branches.branch("c1", "rev") == "pub", "the migration revision goes back to the published version"
    assert branches.branch("c1", "open") == "open", "an unpublished version is migrated in place"
    assert branches.branch("c2", "whatever") == "only", "a collection gathered once is its one version"
    assert branches.branch("c1", None) is None and branch_of("c9", "x", {}, {}) == "x"


def test_a_jobs_revision_is_its_own_else_its_new_versions():
    jobs = pd.DataFrame({"step": ["dataset_migration", "cxg", "add_labels"],
                         "collection_version_id": ["rev", None, None],
                         "dataset_version_id": ["old", "new1", "new2"]})
    executions = pd.DataFrame({"new_dataset_version_id": ["new1"], "collection_version_id": ["rev"]})
    assert _job_revisions(jobs, executions).tolist() == ["rev", "rev", None]


def test_each_job_names_the_dataset_its_environment_or_its_new_version_gives():
    jobs = pd.DataFrame({"step": ["dataset_migration", "cxg", "cxg", "cxg"], "dataset_id": ["d1", None, None, None],
                         "dataset_version_id": ["old", "n1", "n2", "other-upload"]})
    executions = pd.DataFrame({"new_dataset_version_id": ["n1", "n2"], "dataset_id": ["d1", None]})
    own = attempt_jobs(jobs, executions)
    assert own["dataset_version_id"].tolist() == ["old", "n1", "n2"], "another upload's ingestion is not the attempt's"
    assert resolve_dataset_ids(own, executions).tolist() == ["d1", "d1", f"{UNATTRIBUTED}n2"]


def test_the_latest_ingestion_of_a_dataset_speaks_for_it():
    t = pd.Timestamp("2026-12-01", tz="UTC")
    executions = pd.DataFrame({"dataset_id": ["d1", "d1", "d2"], "new_dataset_version_id": ["n1", "n1b", "n2"],
                               "collection_version_id": ["only", "only", "only"], "status": ["FAILED", "SUCCEEDED", None],
                               "start_at": [t, t + pd.Timedelta(hours=1), t], "failure_error": ["States.Timeout", None, None],
                               "failure_state": ["Cxg", None, None]})
    found = _ingestions(executions, {"d1": "c2", "d2": "c2"}, _Branches.of_outputs(OUTPUTS))
    assert found.new_versions == {("d1", "only"): "n1b", ("d2", "only"): "n2"}
    assert found.status == {("d1", "only"): "SUCCEEDED"}
    assert found.failure == {("d1", "only"): ("States.Timeout", "Cxg", None)}, "a redrive's success keeps the read cause"


# --- the datasets found, and their rows ---------------------------------------------------------------------------

def test_sources_fill_in_what_the_first_did_not_say():
    datasets = _Datasets()
    datasets.note("d1", "c1", "v1", None, "listed")
    datasets.note("d1", None, "v1", "dv1", "job_env", "rev")
    datasets.note("d2", None, None, None, "version")
    assert datasets.info[("d1", "v1")] == {"collection_id": "c1", "collection_version_id": "v1",
                                           "dataset_version_id": "dv1", "attribution": "listed",
                                           "migration_revision_id": "rev"}
    assert list(datasets.info) == [("d1", "v1"), ("d2", None)] and datasets.collection_of == {"d1": "c1"}


def test_a_skipped_dataset_with_jobs_of_its_own_is_rolled_up_from_them():
    info = {("d1", "v1"): {"collection_id": "c1", "collection_version_id": "v1", "dataset_version_id": None,
                           "attribution": "listed", "migration_revision_id": "rev", "skipped": True},
            ("d2", "v1"): {"collection_id": "c1", "collection_version_id": "v1", "dataset_version_id": None,
                           "attribution": "listed", "migration_revision_id": "rev", "skipped": True}}
    grouped = {("d2", "v1"): [job("cxg", stopped=5, created=1)]}
    rows = _rows(info, grouped, _ingestions(pd.DataFrame(), {}, _Branches({}, {})), {}, {}, True, False, NOW)
    assert [(r["dataset_id"], r["state"], r["migration_revision_id"]) for r in rows] == [
        ("d1", "skipped", None), ("d2", "succeeded", "rev")]
    assert "skipped" not in rows[0]


def test_one_row_per_dataset_keeps_the_published_versions_branch():
    rollup = pd.DataFrame({"dataset_id": ["d1", "d1", "d2"], "collection_version_id": ["open", "pub", "pub"],
                           "migration_revision_id": ["open", "rev", "rev"], "state": ["failed", "succeeded", "failed"]})
    assert one_row_per_dataset(rollup)[["dataset_id", "collection_version_id"]].values.tolist() == [
        ["d1", "pub"], ["d2", "pub"]]
    once = rollup.iloc[1:]
    assert one_row_per_dataset(once) is once, "no dataset gathered twice: the rollup as it is"


def test_a_collection_says_why_its_collection_migration_failed():
    """collection_rollup carries its latest collection_migration job's cause: the datasets such a collection never
    named (the portal's listing names them) take it, as a known dataset of that collection does (_not_started)."""
    from cxgm_pipeline.monitor.frames.rollups import collection_rollup
    from cxgm_pipeline.schemas import DatasetRollup, empty_frame

    jobs = pd.DataFrame({"stage": "prod", "attempt": "A", "step": "collection_migration",
                         "status": ["FAILED", "FAILED", "FAILED", "SUCCEEDED"], "collection_id": ["c1", "c1", "c2", "c2"],
                         "collection_version_id": ["v1", "v1", "v2", "v2"],
                         "created_at": pd.to_datetime([1, 2, 3, 4], unit="s", utc=True),
                         "error_category": ["out_of_memory", "application", "storage", None],
                         "error_signature": ["oom", "application: boom", "storage: s3", None]})
    rows = collection_rollup(empty_frame(DatasetRollup), jobs).set_index("collection_id")
    assert rows.loc["c1", ["collection_migration_status", "collection_migration_error_category",
                           "collection_migration_error_signature"]].tolist() == ["FAILED", "application", "application: boom"]
    # c2's retry succeeded: no cause
    assert rows.loc["c2", "collection_migration_status"] == "SUCCEEDED"
    assert rows.loc["c2", ["collection_migration_error_category", "collection_migration_error_signature"]].isna().all()
