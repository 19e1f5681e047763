"""Every variant of production's shapes, over HTTP with boto3: INLINE or DISTRIBUTED Maps, old or new ingestion
input. Each variant's emulator runs in its own process (`emulator_variant`)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from portal_shapes import (
    INGESTION_FAIL_CAUSE,
    INGESTION_FAIL_STATE,
    INGESTION_NAME_RE,
    LOG_OUTPUT_MESSAGE,
    S3_PREFIX,
    STARTED_BY_FIELD,
    STEP_NAME_OF_JOB,
    ingestion_input_versions,
)
from tests.conftest import VARIANTS
from tests.emulator.aws import all_jobs, client, env_of, executions, history, state_machine_arns

STAGES = ("dev", "staging", "prod")
MIGRATION_JOBS = {"gather_collections", "collection_migration", "dataset_migration", "Collection_publish",
                  "Collection_cleanup", "report"}
INPUT_KEYS = {"new": {"manifest", "dataset_version_id", "collection_version_id"},
              "old": {"url", "dataset_id", "collection_id"}}


@pytest.fixture(params=VARIANTS, ids=["-".join(v) for v in VARIANTS])
def variant(request, emulator_variant):
    map_mode, ingestion_input = request.param
    env, truth = emulator_variant(map_mode, ingestion_input)
    return map_mode, ingestion_input, env, truth


def _jobs(env, truth) -> tuple[list[dict], dict[str, dict], dict[str, dict]]:
    """Every job of both stages, and per job id its truth row and its migration."""
    jobs = [j for stage in STAGES for j in all_jobs(env, f"schema_migration-{stage}")]
    rows = {j["job_id"]: j for m in truth["migrations"] for j in m["jobs"]}
    of = {j["job_id"]: m for m in truth["migrations"] for j in m["jobs"]}
    return jobs, rows, of


def test_jobs_and_environments_as_production(variant):
    map_mode, _, env, truth = variant
    jobs, rows, of = _jobs(env, truth)
    assert Counter((j["jobName"], j["status"]) for j in jobs) == Counter((r["job_name"], r["status"]) for r in rows.values())
    names = {j["jobName"] for j in jobs}
    end_job, other = ("Collection_publish", "Collection_cleanup") if map_mode == "inline" else ("Collection_cleanup", "Collection_publish")
    assert end_job in names and other not in names
    assert names >= {"gather_collections", "collection_migration", "dataset_migration", "report", "validate_anndata",
                     "validate_atac", "add_labels", "cxg"}
    truth_versions = {d["dataset_id"]: d for m in truth["migrations"] for d in m["datasets"]}
    for job in jobs:
        e = env_of(job)
        assert e["STEP_NAME"] == STEP_NAME_OF_JOB[job["jobName"]]
        assert "MIGRATION_ATTEMPT" not in e
        if job["jobName"] in MIGRATION_JOBS:
            assert e["EXECUTION_ID"] == of[job["jobId"]]["execution_name"]
            assert e["MIGRATE"] == "True" and e["TASK_TOKEN"]
        else:
            assert "EXECUTION_ID" not in e and "MIGRATE" not in e
        if job["jobName"] == "dataset_migration":
            assert {"DATASET_ID", "DATASET_VERSION_ID", "COLLECTION_ID", "COLLECTION_VERSION_ID"} <= set(e)
            assert e["DATASET_VERSION_ID"] == truth_versions[e["DATASET_ID"]]["dataset_version_id"]  # the OLD one
            assert e["COLLECTION_ID"] == rows[job["jobId"]]["collection_id"]
        if job["jobName"] == "gather_collections":
            assert ("LIMIT_MIGRATION" in e) == (map_mode == "distributed")
            assert ("AUTO_PUBLISH" in e) == (map_mode == "inline")


def test_ingestion_executions_as_production(variant):
    _, ingestion_input, env, truth = variant
    sfn = client("stepfunctions", env)
    arns = state_machine_arns(sfn)
    for m in truth["migrations"]:
        listed = [e for e in executions(sfn, stateMachineArn=arns[m["ingestion_state_machine"]])
                  if m["start"] <= e["startDate"].timestamp() <= m["stop"]]
        assert len(listed) == m["ingestion_executions"]
        new_versions = {d["new_dataset_version_id"] for d in m["datasets"] if d["new_dataset_version_id"]}
        failed = 0
        for e in listed:
            match = INGESTION_NAME_RE.match(e["name"])
            assert match and match["epoch"], e["name"]
            described = sfn.describe_execution(executionArn=e["executionArn"])
            payload = json.loads(described["input"])
            assert set(payload) == INPUT_KEYS[ingestion_input] | {STARTED_BY_FIELD, "job_queue"}
            version, _ = ingestion_input_versions(payload)
            # an ingestion a failed execution stopped: a redrive ran its dataset again, with another version
            assert version == match["version"] and (version in new_versions or described["status"] == "ABORTED")
            if described["status"] == "FAILED":
                failed += 1
                assert described["cause"] == INGESTION_FAIL_CAUSE and "error" not in described
                entered = [ev["stateEnteredEventDetails"]["name"] for ev in history(sfn, e["executionArn"])
                           if ev["type"] == "FailStateEntered"]
                assert entered == [INGESTION_FAIL_STATE]
        if m["stage"] == "prod":
            assert failed, "the live migration has failed ingestions"


def test_output_records_name_the_new_version(variant):
    _, _, env, truth = variant
    m = next(m for m in truth["migrations"] if m["stage"] == "prod")
    new = {d["dataset_id"]: d["new_dataset_version_id"] for d in m["datasets"]}
    jobs = {j["jobId"]: j for j in all_jobs(env, "schema_migration-prod")}
    logs = client("logs", env)
    checked = 0
    for row in m["jobs"]:
        if row["job_name"] != "dataset_migration" or row["status"] != "SUCCEEDED" or row["logs_expired"]:
            continue
        container = jobs[row["job_id"]]["container"]
        events = logs.get_log_events(logGroupName=container["logConfiguration"]["options"]["awslogs-group"],
                                     logStreamName=container["logStreamName"], startFromHead=True)["events"]
        records = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
        outputs = [r for r in records if r["message"] == LOG_OUTPUT_MESSAGE]
        assert len(outputs) == 1 and "response" in outputs[0]
        assert outputs[0]["response"]["dataset_version_id"] == new[row["dataset_id"]]
        checked += 1
    assert checked > 10


def test_migration_histories_and_map_runs(variant):
    map_mode, _, env, truth = variant
    sfn = client("stepfunctions", env)
    arns = state_machine_arns(sfn)
    m = next(m for m in truth["migrations"] if m["stage"] == "prod")
    events = history(sfn, m["execution_arn"])
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["previousEventId"] < e["id"] for e in events)
    entered = {e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "TaskStateEntered"}
    plain = executions(sfn, stateMachineArn=arns[m["migration_state_machine"]])
    assert all("/" not in e["executionArn"].rsplit(":", 2)[-2] for e in plain)  # no Map Run children
    assert {e["name"] for e in plain} == {x["execution_name"] for x in truth["migrations"] if x["stage"] == "prod"}
    runs = sfn.list_map_runs(executionArn=m["execution_arn"])["mapRuns"]
    if map_mode == "inline":
        assert entered >= {"GatherCollections", "CollectionMigration", "DatasetMigration", "StepFunctionsStartExecution",
                           "CollectionPublish", "report"}
        outputs = [json.loads(e["taskSucceededEventDetails"]["output"]) for e in events if e["type"] == "TaskSucceeded"]
        assert any(isinstance(o, dict) and "sfn_name" in o for o in outputs)
        assert {"MapStateEntered", "MapIterationStarted", "MapIterationSucceeded"} <= {e["type"] for e in events}
        assert runs == [] and m["map_runs"] == 0 and m["child_executions"] == 0
        return
    assert entered == {"GatherCollections", "report"}
    assert len(runs) == 1 and m["map_runs"] > 1
    run = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert run["status"] == "SUCCEEDED" and run["itemCounts"]["total"] == len(m["collections"])
    children = executions(sfn, mapRunArn=runs[0]["mapRunArn"])
    assert len(children) == len(m["collections"])
    assert {json.loads(sfn.describe_execution(executionArn=c["executionArn"])["input"])["collection_id"]
            for c in children} == {c["collection_id"] for c in m["collections"]}
    assert not {c["executionArn"] for c in children} & {e["executionArn"] for e in plain}
    nested, grandchildren = 0, 0
    for child in children:
        sub = sfn.list_map_runs(executionArn=child["executionArn"])["mapRuns"]
        assert all(r["mapRunArn"].split(":")[-2].endswith("/SpanDatasets") for r in sub)
        nested += len(sub)
        for r in sub:
            grandchildren += len(executions(sfn, mapRunArn=r["mapRunArn"]))
        names = {e["stateEnteredEventDetails"]["name"] for e in history(sfn, child["executionArn"])
                 if e["type"] == "TaskStateEntered"}
        assert names >= {"CollectionMigration", "CollectionCleanup"}
    with_datasets = [c for c in m["collections"] if c["migration_status"] == "SUCCEEDED" and c["datasets"]]
    assert nested == len(with_datasets) == m["map_runs"] - 1
    assert grandchildren == sum(c["datasets"] for c in with_datasets)
    assert 1 + len(children) + grandchildren == 1 + m["child_executions"]


def test_s3_files_gone_after_a_finished_attempt_kept_after_an_abort(variant):
    _, _, env, truth = variant
    s3 = client("s3", env)
    statuses = set()
    for m in truth["migrations"]:
        prefix = S3_PREFIX.format(execution=m["execution_name"])
        count = s3.list_objects_v2(Bucket=m["artifact_bucket"], Prefix=prefix)["KeyCount"]
        statuses.add(m["status"])
        if m["status"] in ("ABORTED", "FAILED"):  # stopped before its report step (an abort, the history quota)
            assert count > 0, m["attempt_key"]
        else:  # a redriven execution's report step ran after the redrive
            assert count == 0, m["attempt_key"]
    assert statuses == {"ABORTED", "FAILED", "SUCCEEDED"}


def test_status_endpoint_matches_truth(variant):
    import urllib.request

    map_mode, ingestion_input, env, truth = variant
    with urllib.request.urlopen(env["AWS_ENDPOINT_URL"] + "/_cxgm/status", timeout=5) as response:
        status = json.loads(response.read())
    assert (status["map_mode"], status["ingestion_input"]) == (map_mode, ingestion_input)
    assert [m["status"] for m in status["migrations"]] == [m["status"] for m in truth["migrations"]]
    assert all((m["map_mode"], m["ingestion_input"]) == (map_mode, ingestion_input) for m in truth["migrations"])


def test_children_that_die_and_a_tolerance_breach_as_step_functions_shows_them(variant):
    """DIES: States.Runtime after dataset_migration answered fails the dataset's SpanDatasets child (DISTRIBUTED; its
    Map Run tolerates 100% and succeeds) or the whole execution (INLINE); SpanCollections children failing with
    States.DataLimitExceeded past its 20% fail its Map Run, and the execution still SUCCEEDS through report."""
    map_mode, _, env, truth = variant
    m = next(m for m in truth["migrations"] if m["attempt_key"] == "DIES")
    sfn = client("stepfunctions", env)
    described = sfn.describe_execution(executionArn=m["execution_arn"])
    if map_mode == "inline":
        assert described["status"] == "FAILED" and described["error"] == "States.Runtime"
        assert "'StepFunctionsStartExecution'" in described["cause"] and '"dataset_id"' in described["cause"]
        assert sfn.list_map_runs(executionArn=m["execution_arn"])["mapRuns"] == []
        return
    assert described["status"] == "SUCCEEDED"
    [span] = sfn.list_map_runs(executionArn=m["execution_arn"])["mapRuns"]
    run = sfn.describe_map_run(mapRunArn=span["mapRunArn"])
    counts = run["itemCounts"]
    assert run["status"] == "FAILED" and run["toleratedFailurePercentage"] == 20.0
    assert counts["failed"] * 100 / counts["total"] > 20 and counts["failed"] + counts["succeeded"] + counts["aborted"] == counts["total"]
    failed = executions(sfn, mapRunArn=span["mapRunArn"], statusFilter="FAILED")
    assert len(failed) == counts["failed"]
    errors = {sfn.describe_execution(executionArn=c["executionArn"])["error"] for c in failed}
    assert errors == {"States.DataLimitExceeded"}
    runtime = []
    for child in executions(sfn, mapRunArn=span["mapRunArn"]):
        for nested in sfn.list_map_runs(executionArn=child["executionArn"])["mapRuns"]:
            runtime += executions(sfn, mapRunArn=nested["mapRunArn"], statusFilter="FAILED")
            assert sfn.describe_map_run(mapRunArn=nested["mapRunArn"])["status"] in ("SUCCEEDED", "ABORTED")
    assert runtime, "a dataset's child died"
    for c in runtime:
        d = sfn.describe_execution(executionArn=c["executionArn"])
        assert d["error"] == "States.Runtime" and "$.result." in d["cause"]
        assert json.loads(d["input"])["dataset_id"]  # the child's input names its dataset
