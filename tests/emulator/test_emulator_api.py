"""What the scenario says is what boto3 reads over HTTP (the in-process emulator: DISTRIBUTED Maps, new input)."""

import json
import re
import subprocess
import sys
from collections import Counter

import pytest

from cxgm_emulator.failures import Fault
from cxgm_emulator.plan import build_world
from cxgm_emulator.scenarios import get_scenario
from cxgm_emulator.stages import load_stages
from portal_shapes import S3_PREFIX, STEP_NAME_OF_JOB
from tests.conftest import migration
from tests.emulator.aws import all_jobs, client, env_of, executions, state_machine_arns


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_job_counts_per_name_and_status_match_truth(emulator, truth, stage):
    expected = Counter((j["job_name"], j["status"]) for m in truth["migrations"] if m["stage"] == stage for j in m["jobs"])
    got = Counter((j["jobName"], j["status"]) for j in all_jobs(emulator, f"schema_migration-{stage}"))
    assert got == expected
    assert {name for name, _ in got} >= {"gather_collections", "collection_migration", "dataset_migration",
                                          "Collection_cleanup", "report", "validate_anndata", "add_labels", "cxg"}


def test_environments_as_production_sets_them(emulator, truth):
    jobs = all_jobs(emulator, "schema_migration-dev")
    by_name = {}
    for j in jobs:
        by_name.setdefault(j["jobName"], []).append(env_of(j))
    assert all(set(e) == {"STEP_NAME", "DATASET_VERSION_ID"} for e in by_name["cxg"])
    assert all("TASK_TOKEN" in e and "DATASET_ID" in e for e in by_name["dataset_migration"])
    assert all(e["STEP_NAME"] == STEP_NAME_OF_JOB[name] for name, envs in by_name.items() for e in envs)
    # ingestion jobs carry the *new* version made by dataset_migration
    old = {e["DATASET_VERSION_ID"] for e in by_name["dataset_migration"]}
    assert not old & {e["DATASET_VERSION_ID"] for e in by_name["validate_anndata"]}
    assert not any("MIGRATION_ATTEMPT" in e for envs in by_name.values() for e in envs)


def test_failed_jobs_show_their_cause(emulator, truth):
    jobs = {j["jobId"]: j for j in all_jobs(emulator, "schema_migration-prod")}
    for t in migration(truth, "prod")["jobs"]:
        job = jobs[t["job_id"]]
        if t["error_category"] == Fault.OUT_OF_MEMORY:  # killed by the kernel (137), or a MemoryError raised (1)
            assert job["container"]["exitCode"] in (137, 1)
            if job["container"].get("reason"):
                assert job["container"]["reason"].startswith("OutOfMemoryError") and job["container"]["exitCode"] == 137
        if t["error_category"] == Fault.CONTAINER_IMAGE:  # Batch: "Task failed to start", the container says why
            assert job["statusReason"] == "Task failed to start"
            assert job["container"]["reason"].startswith("CannotPullContainerError")
            assert "startedAt" not in job and "logStreamName" not in job["container"]
        assert len(job["attempts"]) == t["attempts"]


def test_jobs_step_functions_stopped_say_so_in_its_words(emulator, truth):
    """An abort, a failed Map Run or a Parallel's failed branch: Step Functions terminates the .sync task's job
    with its own reason (stackoverflow.com/questions/45596276), never an operator's wording in a run nobody
    stopped."""
    from cxgm_pipeline.monitor.classify.classifier import diagnose

    stopped = re.compile(r"^The Task state in AWS Step Functions execution \[arn:aws:states:[^\]]+\] which was "
                         r"managing this resource was aborted$")
    seen = 0
    for stage in ("dev", "prod"):
        jobs = {j["jobId"]: j for j in all_jobs(emulator, f"schema_migration-{stage}")}
        for m in truth["migrations"]:
            if m["stage"] != stage:
                continue
            for t in m["jobs"]:
                if t["error_category"] == Fault.CANCELLED and t["job_id"] in jobs:
                    reason = jobs[t["job_id"]]["statusReason"]
                    assert stopped.match(reason), reason
                    assert diagnose(reason, None, None).category == "cancelled"
                    seen += 1
    assert seen


def test_logs_mix_json_and_runtime_lines(emulator, truth):
    logs = client("logs", emulator)
    jobs = [j for j in all_jobs(emulator, "schema_migration-dev")
            if j["status"] == "FAILED" and j["container"].get("logStreamName")]
    messages = []
    for j in jobs:
        group = j["container"]["logConfiguration"]["options"]["awslogs-group"]
        try:
            events = logs.get_log_events(logGroupName=group, logStreamName=j["container"]["logStreamName"],
                                         startFromHead=True)["events"]
        except logs.exceptions.ResourceNotFoundException:
            continue  # expired: the truth file says which
        messages += [e["message"] for e in events]
    assert any(m.startswith("{") and '"levelname": "ERROR"' in m for m in messages)
    assert any(m.startswith("Traceback") for m in messages)
    assert any("exc_info" in m for m in messages)
    expired = [j for m in truth["migrations"] for j in m["jobs"] if j["logs_expired"]]
    assert expired, "the untagged attempt has expired logs"


def test_executions_and_histories(emulator, truth):
    sfn = client("stepfunctions", emulator)
    arns = state_machine_arns(sfn)
    listed = executions(sfn, stateMachineArn=arns["dp-dev-devstack-schema-migration-sfn"])
    dev = [m for m in truth["migrations"] if m["stage"] == "dev"]
    assert sorted((e["name"], e["status"]) for e in listed) == sorted((m["execution_name"], m["status"]) for m in dev)
    assert sorted(e["status"] for e in listed) == ["ABORTED", *["SUCCEEDED"] * 5]
    ingestion = executions(sfn, stateMachineArn=arns["dp-prod-prodstack-sfn"])
    assert len(ingestion) == migration(truth, "prod")["ingestion_executions"]
    m = migration(truth, "prod")
    events = [ev for p in sfn.get_paginator("get_execution_history").paginate(
        executionArn=m["execution_arn"], maxResults=7) for ev in p["events"]]
    assert [ev["id"] for ev in events] == list(range(1, len(events) + 1))
    assert all(ev["previousEventId"] < ev["id"] for ev in events)
    assert any('"JobId"' in ev["taskSubmittedEventDetails"]["output"] for ev in events if ev["type"] == "TaskSubmitted")
    assert "MapRunStarted" in {ev["type"] for ev in events}
    assert all(set(ev) == {"timestamp", "type", "id", "previousEventId"} for ev in events if ev["type"] == "MapRunSucceeded")


def test_status_endpoint_shows_each_attempt_as_it_ended(emulator, clock, truth):
    """`cxgm-emulator status` showed NOT_STARTED for every attempt: progress() looked executions up by name."""
    statuses = [m["status"] for m in emulator.status()["migrations"]]
    assert statuses == [m["status"] for m in truth["migrations"]]
    live = next(i for i, m in enumerate(truth["migrations"]) if m["live"])
    clock.set(migration(truth, "prod")["start"] - 60)
    assert emulator.status()["migrations"][live]["status"] == "NOT_STARTED"
    clock.set(migration(truth, "prod")["start"] + 600)
    assert emulator.status()["migrations"][live]["status"] == "RUNNING"


def test_s3_files_appear_then_the_report_deletes_them(emulator, truth):
    s3 = client("s3", emulator)
    m = migration(truth, "prod")
    prefix = S3_PREFIX.format(execution=m["execution_name"])

    def keys() -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket=m["artifact_bucket"], Prefix=prefix).get("Contents", [])]

    assert keys() == []  # the report step read, then deleted them
    report = max((j for j in m["jobs"] if j["job_name"] == "report"), key=lambda j: j["created_at"])
    before = emulator.clock.now()
    try:
        emulator.set_clock(report["created_at"])
        present = keys()
        errors = [k for k in present if "/report/errors/" in k]
        assert any(k.endswith("span_collections/collections.json") for k in present)
        failed = [d for d in m["datasets"] if d["state"] == "failed" and d["failing_step"] == "dataset_migration"]
        assert len([k for k in errors if "_" in k.rsplit("/", 1)[-1]]) == len(failed)
    finally:
        emulator.set_clock(before)
    assert keys() == []


def test_plan_is_deterministic_for_a_seed():
    stages = load_stages()
    a = build_world(get_scenario("small"), 5, 1.7e9, stages)
    b = build_world(get_scenario("small"), 5, 1.7e9, stages)
    c = build_world(get_scenario("small"), 6, 1.7e9, stages)
    ids = lambda w: [(j.job_id, j.created, j.category) for j in w.jobs()]  # noqa: E731
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)


def test_every_error_category_but_unknown_is_seeded(truth):
    seen = {j["error_category"] for m in truth["migrations"] for j in m["jobs"] if j["error_category"]}
    assert seen >= {c.value for c in Fault} - {"unknown"}
    observable = {d["error_category"] for m in truth["migrations"] for d in m["datasets"]}
    assert "unknown" in observable  # a log-only cause whose log expired


def test_truth_describes_each_migration(truth):
    m = migration(truth, "dev", "SMOKE_TEST")
    assert m["limit_migration"] == 3 and len(m["collections"]) == 3
    assert m["map_mode"] == "distributed" and m["ingestion_input"] == "new"
    assert m["map_runs"] >= 1 and m["child_executions"] >= 3
    assert {"job_name", "step", "collection_id"} <= set(m["jobs"][0])
    assert all("observable" in d for d in m["datasets"])


def test_the_emulator_imports_nothing_of_the_monitor():
    code = ("import sys, cxgm_emulator.server, cxgm_emulator.cli, cxgm_emulator.truth;"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'cxgm_pipeline');"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
    import cxgm_emulator

    for path in __import__("pathlib").Path(cxgm_emulator.__file__).parent.glob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+cxgm_pipeline", path.read_text(), re.M), path
    assert json.loads(json.dumps(load_stages()["prod"].__dict__))["artifact_bucket"] == "corpora-artifacts-prod"


def test_exported_config_names_no_profile_in_any_stage():
    """cxgm merges CXGM_CONFIG over its stages.toml, whose stage tables name AWS profiles: the emulator's file
    must clear the profile in each stage table (a [defaults] entry would lose to them)."""
    import tomllib

    from cxgm_emulator.stages import config_path

    data = tomllib.loads(config_path().read_text())
    assert data["stages"] and all(table.get("profile") == "" for table in data["stages"].values())
