"""What the scenario says is what boto3 reads over HTTP."""

from collections import Counter

import boto3
import pytest

from cxgm_pipeline.emulator.plan import build_world
from cxgm_pipeline.emulator.scenarios import get_scenario
from cxgm_pipeline.vocabulary import ErrorCategory
from tests.conftest import migration


def client(service, emulator):
    return boto3.client(service, region_name="us-west-2", endpoint_url=emulator.endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def all_jobs(emulator, queue):
    batch = client("batch", emulator)
    ids = [j["jobId"] for page in batch.get_paginator("list_jobs").paginate(
        jobQueue=queue, filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}]) for j in page["jobSummaryList"]]
    return [j for i in range(0, len(ids), 100) for j in batch.describe_jobs(jobs=ids[i : i + 100])["jobs"]]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_job_counts_per_name_and_status_match_truth(emulator, truth, stage):
    expected = Counter((j["job_name"], j["status"]) for m in truth["migrations"] if m["stage"] == stage for j in m["jobs"])
    got = Counter((j["jobName"], j["status"]) for j in all_jobs(emulator, f"dp-{stage}-{stage}stack-schema-migration"))
    assert got == expected
    assert {name for name, _ in got} >= {"gather_collections", "collection_migration", "dataset_migration",
                                          "Collection_cleanup", "report", "validate_anndata", "add_labels", "cxg"}


def test_environments_as_production_sets_them(emulator, truth):
    jobs = all_jobs(emulator, "dp-dev-devstack-schema-migration")
    env = {j["jobId"]: {e["name"]: e["value"] for e in j["container"]["environment"]} for j in jobs}
    by_name = {}
    for j in jobs:
        by_name.setdefault(j["jobName"], []).append(env[j["jobId"]])
    assert all(set(e) == {"STEP_NAME", "DATASET_VERSION_ID"} for e in by_name["cxg"])
    assert all("TASK_TOKEN" in e and "DATASET_ID" in e for e in by_name["dataset_migration"])
    # ingestion jobs carry the *new* version made by dataset_migration
    old = {e["DATASET_VERSION_ID"] for e in by_name["dataset_migration"]}
    assert not old & {e["DATASET_VERSION_ID"] for e in by_name["validate_anndata"]}
    tagged = migration(truth, "dev", "ATTEMPT_2")
    tagged_ids = {j["job_id"] for j in tagged["jobs"] if j["job_name"] != "cxg"}
    assert all(env[i].get("MIGRATION_ATTEMPT") == "ATTEMPT_2" for i in tagged_ids)


def test_failed_jobs_show_their_cause(emulator, truth):
    jobs = {j["jobId"]: j for j in all_jobs(emulator, "dp-prod-prodstack-schema-migration")}
    for t in migration(truth, "prod")["jobs"]:
        job = jobs[t["job_id"]]
        if t["error_category"] == ErrorCategory.OUT_OF_MEMORY:
            assert job["container"]["exitCode"] == 137
            assert job["container"]["reason"].startswith("OutOfMemoryError")
        if t["error_category"] == ErrorCategory.CONTAINER_IMAGE:
            assert job["statusReason"].startswith("CannotPullContainerError")
            assert "startedAt" not in job and "logStreamName" not in job["container"]
        assert len(job["attempts"]) == t["attempts"]


def test_logs_mix_json_and_runtime_lines(emulator, truth):
    logs = client("logs", emulator)
    jobs = [j for j in all_jobs(emulator, "dp-dev-devstack-schema-migration")
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
    arns = {s["name"]: s["stateMachineArn"] for s in sfn.list_state_machines()["stateMachines"]}
    migrations = sfn.list_executions(stateMachineArn=arns["dp-dev-devstack-schema-migration-sfn"])["executions"]
    assert sorted(e["status"] for e in migrations) == ["ABORTED", "SUCCEEDED"]
    ingestion = [e for p in sfn.get_paginator("list_executions").paginate(stateMachineArn=arns["dp-prod-prodstack-sfn"])
                 for e in p["executions"]]
    assert len(ingestion) == migration(truth, "prod")["ingestion_executions"]
    history = [ev for p in sfn.get_paginator("get_execution_history").paginate(
        executionArn=migrations[0]["executionArn"], maxResults=50) for ev in p["events"]]
    outputs = [ev["taskSucceededEventDetails"]["output"] for ev in history if ev["type"] == "TaskSucceeded"]
    assert any('"new_dataset_version_id"' in o for o in outputs)
    assert any('"JobId"' in ev["taskSubmittedEventDetails"]["output"] for ev in history if ev["type"] == "TaskSubmitted")


def test_error_reports_in_s3(emulator, truth):
    s3 = client("s3", emulator)
    m = migration(truth, "prod")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cellxgene-artifacts-prod",
                                                 Prefix=f"schema_migration/{m['execution_name']}/")["Contents"]]
    errors = [k for k in keys if "/report/errors/" in k]
    failed = [d for d in m["datasets"] if d["state"] == "failed"]
    assert len(errors) == len(failed) and any(k.endswith("collections.json") for k in keys)


def test_plan_is_deterministic_for_a_seed(emulator):
    stages = emulator.config.stages
    a = build_world(get_scenario("small"), 5, 1.7e9, stages)
    b = build_world(get_scenario("small"), 5, 1.7e9, stages)
    c = build_world(get_scenario("small"), 6, 1.7e9, stages)
    ids = lambda w: [(j.job_id, j.created, j.category) for j in w.jobs()]  # noqa: E731
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)


def test_every_error_category_but_unknown_is_seeded(truth):
    seen = {j["error_category"] for m in truth["migrations"] for j in m["jobs"] if j["error_category"]}
    assert seen >= {c.value for c in ErrorCategory} - {"unknown"}
    observable = {d["error_category"] for m in truth["migrations"] for d in m["datasets"]}
    assert "unknown" in observable  # a log-only cause whose log expired
