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
