"""Attribution from production's shapes, on hand-written events shaped like production's (no emulator):
the `output` log record, an INLINE history's TaskSucceeded -> TaskSubmitted chain, empty attempts."""

import json
from datetime import datetime, timezone

import pandas as pd

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.frames.attempt_rollup import attempt_summary
from cxgm_pipeline.monitor.frames.step_outputs import _Collected, _task_answers
from cxgm_pipeline.monitor.frames.rollups import collection_rollup, dataset_rollup
from cxgm_pipeline.schemas import EnrichedJobs, SfnExecutions, StepOutputs, empty_frame
from cxgm_pipeline.vocabulary import AttemptState

NEW = "0b3c3e0c-2f5a-4c1e-9a57-7f0f6f0a1b2c"
RESPONSE = {"collection_version_id": "c1", "dataset_version_id": NEW, "uri": "s3://b/old/migrated.h5ad",
            "sfn_name": f"migrate_{NEW}_1731900000", "execution_id": "e1"}


def _event(i, prev, kind, key, details):
    return {"id": i, "previousEventId": prev, "type": kind, "timestamp": datetime.now(timezone.utc), key: details}


def test_inline_history_ties_each_answer_to_its_job_through_the_iteration_chain():
    # two Map iterations interleaved, as AWS writes them: each TaskSucceeded's previousEventId chain leads to
    # its own TaskSubmitted, never to the other iteration's
    batch = {"resourceType": "batch", "resource": "submitJob.sync"}
    events = [
        _event(1, 0, "TaskStateEntered", "stateEnteredEventDetails", {"name": "DatasetMigration", "input": "{}"}),
        _event(2, 0, "TaskStateEntered", "stateEnteredEventDetails", {"name": "DatasetMigration", "input": "{}"}),
        _event(3, 1, "TaskScheduled", "taskScheduledEventDetails", {**batch, "parameters": "{}"}),
        _event(4, 2, "TaskScheduled", "taskScheduledEventDetails", {**batch, "parameters": "{}"}),
        _event(5, 3, "TaskStarted", "taskStartedEventDetails", batch),
        _event(6, 5, "TaskSubmitted", "taskSubmittedEventDetails", {**batch, "output": json.dumps({"JobId": "job-a"})}),
        _event(7, 4, "TaskStarted", "taskStartedEventDetails", batch),
        _event(8, 7, "TaskSubmitted", "taskSubmittedEventDetails", {**batch, "output": json.dumps({"JobId": "job-b"})}),
        _event(9, 8, "TaskSucceeded", "taskSucceededEventDetails", {**batch, "output": json.dumps({**RESPONSE, "dataset_version_id": "v-b"})}),
        _event(10, 6, "TaskSucceeded", "taskSucceededEventDetails", {**batch, "output": json.dumps(RESPONSE)}),
    ]
    found = _Collected()
    _task_answers(events, found, "history")
    assert found.answers["job-a"][0]["dataset_version_id"] == NEW
    assert found.answers["job-b"][0]["dataset_version_id"] == "v-b"


def _attempt(ended=True) -> Attempt:
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    return Attempt("dev", "untagged-20261101T0000", None, ("e1",), ("arn:e1",), start,
                   start if ended else None, AttemptState.SUCCEEDED if ended else AttemptState.RUNNING)


def test_an_attempt_with_no_job_yet_rolls_up_to_explicit_empty_frames():
    jobs, executions, outputs = empty_frame(EnrichedJobs), empty_frame(SfnExecutions), empty_frame(StepOutputs)
    datasets = dataset_rollup("dev", "k", jobs, executions, outputs, ended=False)
    assert datasets.empty and list(datasets.columns)
    assert collection_rollup(datasets, jobs, outputs).empty
    assert attempt_summary(_attempt(ended=False), jobs, datasets).startswith("no job yet")


def test_an_attempt_that_died_in_gather_collections_says_why_in_one_line():
    row = {c: None for c in EnrichedJobs.to_schema().columns}
    row.update(stage="dev", attempt="k", job_id="j", job_name="gather_collections", step="gather_collections",
               status="FAILED", status_reason="Essential container in task exited", attempts=1, queue="q",
               created_at=pd.Timestamp("2026-11-01", tz="UTC"), log_status="fetched", log_lines=3, app_lines=3,
               runtime_lines=0, error_signature="OperationalError: connection to server failed: Connection timed out")
    jobs = pd.DataFrame([row])
    line = attempt_summary(_attempt(), jobs, empty_frame(EnrichedJobs).iloc[0:0])
    assert line == "failed in gather_collections: OperationalError: connection to server failed: Connection timed out"


def test_older_ingestion_jobs_carry_version_ids_under_dataset_id():
    """sfn/main.tf IN-2: ingestion jobs get DATASET_ID / COLLECTION_ID, which hold the migration's VERSION ids."""
    from cxgm_pipeline.monitor.frames.migration_jobs import job_row

    job = {"jobId": "j", "jobName": "cxg", "status": "SUCCEEDED", "createdAt": 1_700_000_000_000, "jobQueue": "q",
           "container": {"environment": [{"name": "DATASET_ID", "value": NEW}, {"name": "STEP_NAME", "value": "cxg"},
                                         {"name": "COLLECTION_ID", "value": "cv1"}]}}
    row = job_row(job, "dev", "k")
    assert (row["dataset_id"], row["dataset_version_id"], row["collection_version_id"]) == (None, NEW, "cv1")
    migration = {**job, "jobName": "dataset_migration", "container": {"environment": [
        {"name": "DATASET_ID", "value": "d1"}, {"name": "MIGRATE", "value": "True"}, {"name": "TASK_TOKEN", "value": "secret"}]}}
    row = job_row(migration, "dev", "k")
    assert row["dataset_id"] == "d1" and row["step"] == "dataset_migration" and "secret" not in str(row)


def test_aws_giving_up_or_denying_is_one_actionable_line():
    import botocore.exceptions
    import pytest

    from cxgm_pipeline.monitor.aws.clients import AwsAccessError, StepFunctions

    api = StepFunctions(max_attempts=10)

    def fail(code, status=400):
        def call():
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": code, "Message": "Rate exceeded"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                "GetExecutionHistory")
        return call

    with pytest.raises(AwsAccessError, match="GetExecutionHistory for stage 'dev' still failed after 10 attempts"):
        api.call("dev", fail("ThrottlingException"))
    with pytest.raises(AwsAccessError, match="still failed"):
        api.call("dev", fail("Whatever", 503))
    with pytest.raises(AwsAccessError, match="denied for stage 'dev'.*docs/security.md"):
        api.call("dev", fail("AccessDeniedException"))
    with pytest.raises(botocore.exceptions.ClientError):  # a request error stays for the caller to handle
        api.call("dev", fail("ResourceNotFoundException"))


def test_older_ingestion_machines_validation_counts_as_validate_anndata():
    from portal_shapes import step_of

    assert step_of("download-validate", "download-validate") == "validate_anndata"  # IN-1
    assert step_of("download", "validate") == "validate_anndata"  # IN-2/3: the Validate state's JobName is "download"
    assert step_of("download", "download") is None and step_of("seurat", "seurat") is None
    assert step_of("Collection_cleanup", "collection_cleanup") == "collection_cleanup"
    assert step_of("collection_publish", None) == "collection_publish"  # SM-A/B spell it lower-case


# --- the history fallback, against the emulator over HTTP -------------------------------------------------------

def _api_calls(monkeypatch):
    """AWS calls by operation, as botocore makes them."""
    from collections import Counter

    import botocore.client

    calls: Counter = Counter()
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        calls[operation_name] += 1
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


def test_one_missing_answer_on_a_distributed_refresh_costs_a_handful_of_calls(emulator, truth, clock, tmp_path,
                                                                                monkeypatch):
    """A dataset_migration that answered after the sweep passed, its stream unreadable too: the refresh finds its
    answer in its own child's history, at most 10 calls more than the same refresh without the gap; once its
    answer is kept, no history is read again."""
    from cxgm_pipeline.monitor.aws.clients import FetchStats, LogsApi
    from cxgm_pipeline.monitor.frames.budget import Budget
    from cxgm_pipeline.monitor.frames.step_outputs import collect_outputs
    from cxgm_pipeline.monitor.session import MonitorSession
    from cxgm_pipeline.monitor.store.frames import FrameStore
    from tests.conftest import migration

    prod = migration(truth, "prod", live=True)
    session = MonitorSession(store=FrameStore(str(tmp_path)))
    ends = sorted(j["stopped_at"] for j in prod["jobs"] if j["step"] == "dataset_migration"
                  and j["status"] == "SUCCEEDED")
    clock.set(ends[len(ends) // 2] - 1)
    before = session.frames("prod", prod["attempt_key"], refresh=True).frames
    clock.set(ends[len(ends) // 2] + 60)
    attempt = session.resolve("prod", prod["attempt_key"])
    now = session.fetch("prod", attempt, ("migration_jobs", "output_records"), before)
    jobs, records = now["migration_jobs"], now["output_records"]
    answered = set(before["step_outputs"]["job_id"].dropna())
    fresh = jobs[(jobs["step"] == "dataset_migration") & (jobs["status"] == "SUCCEEDED") & ~jobs["job_id"].isin(answered)
                 & jobs["log_stream"].isin(set(records["log_stream"]))]
    assert not fresh.empty, "the window holds datasets that answered since the last refresh"
    gap = fresh.iloc[0]
    hidden = records[records["log_stream"] != gap["log_stream"]]
    read_streams = LogsApi.filter_streams

    def expired(self, stage, group, streams, *args, **kwargs):  # its stream is gone too: only the history is left
        return [e for e in read_streams(self, stage, group, streams, *args, **kwargs)
                if e.get("logStreamName") != gap["log_stream"]]

    monkeypatch.setattr(LogsApi, "filter_streams", expired)
    calls = _api_calls(monkeypatch)

    def refresh(recs):
        stats = FetchStats()
        calls.clear()
        out = collect_outputs("prod", attempt, jobs, recs, session.logs, session.sfn, session.artifacts, stats,
                              before["step_outputs"], Budget())
        return out, stats.calls, dict(calls)

    _, plain, _ = refresh(records)
    outputs, with_gap, by_api = refresh(hidden)
    row = outputs[(outputs["kind"] == "dataset_version") & (outputs["job_id"] == gap["job_id"])]
    truth_new = {d["dataset_id"]: d["new_dataset_version_id"] for d in prod["datasets"]}
    assert list(row["source"]) == ["map_run"] and list(row["new_dataset_version_id"]) == [truth_new[gap["dataset_id"]]]
    assert with_gap - plain <= 10, (plain, with_gap, by_api)
    # the next refresh keeps the answer read: no history again, even with the record still missing
    _, again, by_api = refresh_from(outputs, hidden, attempt, jobs, session, calls)
    assert "GetExecutionHistory" not in by_api and again <= plain, by_api


def refresh_from(previous, records, attempt, jobs, session, calls):
    from cxgm_pipeline.monitor.aws.clients import FetchStats
    from cxgm_pipeline.monitor.frames.budget import Budget
    from cxgm_pipeline.monitor.frames.step_outputs import collect_outputs

    stats = FetchStats()
    calls.clear()
    out = collect_outputs(attempt.stage, attempt, jobs, records, session.logs, session.sfn, session.artifacts, stats,
                          previous, Budget())
    return out, stats.calls, dict(calls)


def test_an_attempt_whose_logs_expired_is_useful_at_once_and_filled_build_by_build(emulator, truth, tmp_path,
                                                                                   monkeypatch):
    """A budget of a few calls a build: the first build already rolls up every dataset from the jobs, holds those
    whose answer is not read yet as pending (never failed or succeeded on a guess) and says "reading histories,
    N of M"; later builds read on from what is kept, and end with every row as the truth has it; then a build
    reads no history at all."""
    from cxgm_pipeline.monitor.frames.step_outputs import NOT_READ_YET, history_progress, outputs_summary
    from cxgm_pipeline.monitor.session import MonitorSession
    from cxgm_pipeline.monitor.views.answer import attempt_answer
    from cxgm_pipeline.monitor.store.frames import FrameStore

    m = next(m for m in truth["migrations"] if any(j["logs_expired"] for j in m["jobs"]))
    truth_rows = {d["dataset_id"]: d for d in m["datasets"]}
    monkeypatch.setenv("CXGM_HISTORY_CALLS", "8")
    session = MonitorSession(store=FrameStore(str(tmp_path)))
    progress = []
    for _ in range(40):
        result = session.frames(m["stage"], m["attempt_key"], refresh=True)
        frames = result.frames
        outputs, rollup = frames["step_outputs"], frames["dataset_rollup"]
        read, of = history_progress(outputs)
        progress.append((read, of))
        # the answer line says its counts are partial while answers are left, right after the state; then not
        answer, _ = attempt_answer(result.attempt, rollup, frames["enriched_jobs"], outputs=outputs)
        marker = f" - partial: reading execution histories ({read:,} of {of:,} answers), the counts will change - "
        assert (marker in answer) == (read < of) and ("partial" in answer) == (read < of), answer
        held = rollup[rollup["error_signature"] == NOT_READ_YET]
        assert (held["state"] == "pending").all()
        for row in rollup[rollup["error_signature"] != NOT_READ_YET].itertuples():
            if row.dataset_id in truth_rows and not row.dataset_id.startswith("unattributed:"):
                assert row.state == truth_rows[row.dataset_id]["state"], row
        if read == of:
            break
        assert outputs_summary(outputs)["histories"] == f"reading histories, {read} of {of}"
    assert progress[0][0] < progress[0][1], progress  # the first build left some for later
    assert progress[-1][0] == progress[-1][1] > 0, progress
    assert [r for r, _ in progress] == sorted(r for r, _ in progress)
    got = dict(zip(rollup["dataset_id"], rollup["new_dataset_version_id"]))
    assert all(got.get(d) == t["new_dataset_version_id"] for d, t in truth_rows.items() if t["new_dataset_version_id"])
    assert not rollup["dataset_id"].str.startswith("unattributed:").any()
    calls = _api_calls(monkeypatch)
    session.frames(m["stage"], m["attempt_key"], refresh=True)
    assert "GetExecutionHistory" not in calls, dict(calls)
