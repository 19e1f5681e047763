"""Each moto patch still takes effect (moto is pinned; an upgrade that breaks one fails here),
and quotas answer like AWS."""

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from cxgm_pipeline.emulator import moto_patches
from cxgm_pipeline.emulator.server import Emulator, EmulatorOptions
from tests.emulator.test_emulator_api import client


def test_all_patches_applied(emulator):
    assert len(moto_patches.APPLIED) == 7


def test_list_jobs_pages_and_filters(emulator, truth):
    batch = client("batch", emulator)
    page = batch.list_jobs(jobQueue="dp-dev-devstack-schema-migration", maxResults=10,
                           filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}])
    assert len(page["jobSummaryList"]) == 10 and page["nextToken"]
    m = next(m for m in truth["migrations"] if m["stage"] == "dev" and m["attempt_key"] == "ATTEMPT_2")
    window = [{"name": "AFTER_CREATED_AT", "values": [str(int(m["start"] * 1000))]},
              {"name": "BEFORE_CREATED_AT", "values": [str(int(m["stop"] * 1000))]}]
    listed = [j for p in batch.get_paginator("list_jobs").paginate(jobQueue="dp-dev-devstack-schema-migration",
                                                                  filters=window) for j in p["jobSummaryList"]]
    assert len(listed) == len(m["jobs"])
    # no filter and no status: RUNNING only (nothing runs once every migration is over)
    assert batch.list_jobs(jobQueue="dp-dev-devstack-schema-migration")["jobSummaryList"] == []


def test_describe_jobs_limits_and_fields(emulator, truth):
    batch = client("batch", emulator)
    ids = [j["job_id"] for j in truth["migrations"][0]["jobs"]]
    with pytest.raises(ClientError):
        batch.describe_jobs(jobs=ids[:101])
    failed = next(j["job_id"] for j in truth["migrations"][1]["jobs"] if j["error_category"] == "out_of_memory")
    first = batch.describe_jobs(jobs=[failed])["jobs"][0]
    second = batch.describe_jobs(jobs=[failed])["jobs"][0]
    assert first["container"]["exitCode"] == 137 and "reason" in first["container"]
    assert first["container"]["environment"] == second["container"]["environment"]  # not mutated per call


def test_history_pagination(emulator):
    sfn = client("stepfunctions", emulator)
    arn = next(s["stateMachineArn"] for s in sfn.list_state_machines()["stateMachines"]
               if s["name"] == "dp-prod-prodstack-schema-migration-sfn")
    execution = sfn.list_executions(stateMachineArn=arn)["executions"][0]["executionArn"]
    page = sfn.get_execution_history(executionArn=execution, maxResults=5)
    assert len(page["events"]) == 5 and page["nextToken"]
    newest = sfn.get_execution_history(executionArn=execution, maxResults=1, reverseOrder=True)["events"][0]
    assert newest["type"] == "ExecutionSucceeded"


def test_quota_answers_throttling_exception(emulator):
    logs = boto3.client("logs", region_name="us-west-2", endpoint_url=emulator.endpoint_url,
                        aws_access_key_id="t", aws_secret_access_key="t",
                        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}))
    emulator.middleware.set_quotas({"FilterLogEvents": (0.2, 5)})  # a burst of 5, then slow refill
    codes = []
    try:
        for _ in range(12):
            try:
                logs.filter_log_events(logGroupName="/dp/dev/devstack/upload", limit=1)
                codes.append("ok")
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
    finally:
        emulator.middleware.set_quotas({})
    assert codes[:5] == ["ok"] * 5
    assert "ThrottlingException" in codes[5:]


def test_one_emulator_per_process(emulator, tmp_path):
    with pytest.raises(RuntimeError, match="already runs"):
        Emulator(EmulatorOptions(scenario="small", truth_path=tmp_path / "t.json")).start()


def test_fetch_survives_injected_server_errors(emulator, truth):
    """botocore's adaptive retries absorb 5xx answers: the frame is the same as without them."""
    from cxgm_pipeline.monitor.attempts import find_attempt
    from cxgm_pipeline.monitor.jobs import fetch_migration_jobs
    from cxgm_pipeline.resources.aws import BatchResource, FetchStats, StepFunctionsResource

    sfn, batch = StepFunctionsResource(), BatchResource()
    attempt = find_attempt("dev", "ATTEMPT_2", sfn)
    before = dict(emulator.middleware.counts)
    emulator.middleware.injection.error_rate = 0.3
    try:
        jobs = fetch_migration_jobs("dev", attempt, batch, FetchStats())
    finally:
        emulator.middleware.injection.error_rate = 0.0
    calls = sum(emulator.middleware.counts.values()) - sum(before.values())
    expected = next(m for m in truth["migrations"] if m["stage"] == "dev" and m["attempt_key"] == "ATTEMPT_2")["jobs"]
    assert set(jobs["job_id"]) == {j["job_id"] for j in expected}
    assert calls > len(expected) / 100 + 1  # some calls were answered with errors and retried
