"""Each moto patch still takes effect (moto is pinned; an upgrade that breaks one fails here),
and quotas answer like AWS."""

import botocore.config
import pytest
from botocore.exceptions import ClientError

from cxgm_emulator import moto_patches
from cxgm_emulator.server import Emulator, EmulatorOptions
from tests.conftest import migration
from tests.emulator.aws import client, executions, state_machine_arns

PATCHES = ["batch.list_jobs", "batch.listjobs.pagination", "batch.describe_jobs", "sfn.list_executions",
           "sfn.describe_execution", "sfn.get_execution_history", "sfn.get_execution_history.pagination",
           "sfn.list_map_runs", "sfn.describe_map_run", "sfn.list_executions.map_run",
           "sfn.describe_execution.map_run_arn", "sfn.describe_execution.redrive", "sfn.list_executions.redrive_filter",
           "logs.filter_log_events.pattern",
           "moto_server.backend_for_host.cached", "responses.enrich_response.xml_only"]


def test_all_patches_applied(emulator):
    assert moto_patches.APPLIED == PATCHES


def test_list_jobs_pages_and_filters(emulator, truth):
    batch = client("batch", emulator)
    page = batch.list_jobs(jobQueue="schema_migration-dev", maxResults=10,
                           filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}])
    assert len(page["jobSummaryList"]) == 10 and page["nextToken"]
    m = migration(truth, "dev", "ATTEMPT_2")
    after = [{"name": "AFTER_CREATED_AT", "values": [str(int(m["start"] * 1000))]}]
    listed = [j for p in batch.get_paginator("list_jobs").paginate(jobQueue="schema_migration-dev",
                                                                  filters=after) for j in p["jobSummaryList"]
              if j["createdAt"] <= int(m["stop"] * 1000)]
    assert len(listed) == len(m["jobs"])
    assert len({j["jobId"] for j in listed}) == len(listed), "a page repeats no job of the one before"
    order = [(j["createdAt"], j["jobId"]) for j in listed]
    assert order == sorted(order, reverse=True), "newest first, as AWS lists"
    # a small first page, then the default size from its token, continue exactly where it ended
    first = batch.list_jobs(jobQueue="schema_migration-dev", maxResults=7, filters=after)
    rest = batch.list_jobs(jobQueue="schema_migration-dev", filters=after, nextToken=first["nextToken"])
    assert [j["jobId"] for j in first["jobSummaryList"] + rest["jobSummaryList"]] == \
        [j["jobId"] for j in batch.list_jobs(jobQueue="schema_migration-dev", filters=after,
                                             maxResults=7 + len(rest["jobSummaryList"]))["jobSummaryList"]]
    with pytest.raises(batch.exceptions.ClientException, match="Only one filter"):  # as AWS says
        batch.list_jobs(jobQueue="schema_migration-dev",
                        filters=[*after, {"name": "BEFORE_CREATED_AT", "values": [str(int(m["stop"] * 1000))]}])
    named = batch.list_jobs(jobQueue="schema_migration-dev",
                            filters=[{"name": "JOB_NAME", "values": ["Collection_cleanup"]}])["jobSummaryList"]
    assert named and {j["jobName"] for j in named} == {"Collection_cleanup"}
    # no filter and no status: RUNNING only (nothing runs once every migration is over)
    assert batch.list_jobs(jobQueue="schema_migration-dev")["jobSummaryList"] == []


def test_describe_jobs_limits_and_fields(emulator, truth):
    batch = client("batch", emulator)
    ids = [j["job_id"] for m in truth["migrations"] for j in m["jobs"]]
    with pytest.raises(ClientError):
        batch.describe_jobs(jobs=ids[:101])
    failed = next(j["job_id"] for m in truth["migrations"] for j in m["jobs"] if j["error_category"] == "out_of_memory")
    first = batch.describe_jobs(jobs=[failed])["jobs"][0]
    second = batch.describe_jobs(jobs=[failed])["jobs"][0]
    assert first["container"]["exitCode"] == 137 and "reason" in first["container"]
    assert first["container"]["environment"] == second["container"]["environment"]  # not mutated per call


def test_history_pagination(emulator):
    sfn = client("stepfunctions", emulator)
    arn = state_machine_arns(sfn)["dp-prod-prodstack-schema-migration-sfn"]
    execution = sfn.list_executions(stateMachineArn=arn)["executions"][0]["executionArn"]
    page = sfn.get_execution_history(executionArn=execution, maxResults=5)
    assert len(page["events"]) == 5 and page["nextToken"]
    newest = sfn.get_execution_history(executionArn=execution, maxResults=1, reverseOrder=True)["events"][0]
    assert newest["type"] == "ExecutionSucceeded"


def test_map_runs_and_their_children(emulator, truth):
    """moto 5.2.5 answers ListMapRuns with [] and DescribeMapRun with {}, knows no mapRunArn in ListExecutions
    and rejects child execution ARNs: each fails here if its patch stops taking effect."""
    sfn = client("stepfunctions", emulator)
    m = migration(truth, "prod")
    runs = sfn.list_map_runs(executionArn=m["execution_arn"])["mapRuns"]
    assert len(runs) == 1 and runs[0]["executionArn"] == m["execution_arn"]
    run = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    assert run["status"] == "SUCCEEDED" and run["maxConcurrency"] == 10 and run["toleratedFailurePercentage"] == 20
    assert run["itemCounts"]["total"] == run["itemCounts"]["succeeded"] == len(m["collections"])
    assert run["executionCounts"] == run["itemCounts"]
    page = sfn.list_executions(mapRunArn=run["mapRunArn"], maxResults=5)
    assert len(page["executions"]) == 5 and page["nextToken"]
    children = executions(sfn, mapRunArn=run["mapRunArn"])
    assert len(children) == len(m["collections"]) == len({c["executionArn"] for c in children})
    assert executions(sfn, mapRunArn=run["mapRunArn"], statusFilter="FAILED") == []
    child = sfn.describe_execution(executionArn=children[0]["executionArn"])
    assert child["mapRunArn"] == run["mapRunArn"] and child["status"] == "SUCCEEDED"
    assert sfn.get_execution_history(executionArn=children[0]["executionArn"])["events"][0]["type"] == "ExecutionStarted"
    with pytest.raises(ClientError, match="ResourceNotFound"):
        sfn.describe_map_run(mapRunArn=run["mapRunArn"] + "0")


def test_quota_answers_throttling_exception(emulator):
    logs = client("logs", emulator, botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}))
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


def test_boto3_retries_absorb_injected_server_errors(emulator, truth):
    """botocore's retries absorb 5xx answers: the listing is the same as without them."""
    batch = client("batch", emulator, botocore.config.Config(retries={"max_attempts": 10, "mode": "standard"}))
    expected = {j["job_id"] for m in truth["migrations"] if m["stage"] == "dev" for j in m["jobs"]}
    before = dict(emulator.middleware.counts)
    emulator.middleware.injection.error_rate = 0.3
    try:
        ids = [j["jobId"] for page in batch.get_paginator("list_jobs").paginate(
            jobQueue="schema_migration-dev", filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}],
            PaginationConfig={"PageSize": 50}) for j in page["jobSummaryList"]]
    finally:
        emulator.middleware.injection.error_rate = 0.0
    calls = sum(emulator.middleware.counts.values()) - sum(before.values())
    assert set(ids) == expected and len(ids) == len(expected)
    assert calls > len(expected) / 50 + 1  # some calls were answered with errors and retried


@pytest.mark.parametrize(("pattern", "message", "expected"), [
    ('?"output" ?"Response"', '{"message": "output", "response": {}}', True),
    ('?"output" ?"Response"', '{"message": "Starting"}', False),
    ('"skipping dataset"', '{"message": "skipping dataset", "dataset_id": "d"}', True),
    ("ERROR Traceback", "ERROR: Traceback (most recent call last)", True),
    ("ERROR Traceback", "ERROR: nothing", False),
    ("ERROR -retrying", "ERROR: retrying in 3 s", False),
    ("", "anything", True),
    ('{ $.message = "output" }', "anything", True),  # JSON patterns: moto's match-all
])
def test_filter_pattern_terms(pattern, message, expected):
    """CloudWatch's unstructured filter patterns (moto matched every event for `?` OR patterns)."""
    assert moto_patches.term_matcher(pattern)(message) is expected


def test_filter_log_events_or_pattern_over_http(emulator, truth):
    logs = client("logs", emulator)
    group = "/dp/prod/prodstack/schema-migration-batch"
    events = [e for p in logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, filterPattern='?"output" ?"skipping dataset"') for e in p["events"]]
    assert events and all('"output"' in e["message"] or "skipping dataset" in e["message"] for e in events)


@pytest.mark.parametrize("environ,action", [
    ({"HTTP_X_AMZ_TARGET": "AWSStepFunctions.ListExecutions", "REQUEST_METHOD": "POST"}, "ListExecutions"),
    ({"PATH_INFO": "/v1/describejobs", "REQUEST_METHOD": "POST"}, "DescribeJobs"),
    ({"PATH_INFO": "/bucket/key", "REQUEST_METHOD": "GET",
      "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=K/20261206/us-west-2/s3/aws4_request, SignedHeaders=host"},
     "GetObject"),
    ({"PATH_INFO": "/", "REQUEST_METHOD": "POST",
      "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=K/20261206/us-west-2/sts/aws4_request, SignedHeaders=host"},
     "sts POST"),
    ({"PATH_INFO": "/bucket", "REQUEST_METHOD": "HEAD",
      "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=K/20261206/us-west-2/s3/aws4_request, SignedHeaders=host"},
     "s3 HEAD")])
def test_every_call_is_counted_under_a_name(environ, action):
    """The benchmark's calls by API: a query-protocol call (STS) names its service rather than nothing."""
    from cxgm_emulator.throttling import action_of

    assert action_of(environ) == action
