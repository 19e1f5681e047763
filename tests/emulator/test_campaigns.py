"""staging's campaign as boto3 reads it (the in-process emulator: DISTRIBUTED Maps, new input): an execution failed
at the history quota that Step Functions will not redrive, the untagged re-run the workflow starts, and a failed
execution redriven under its ARN (DescribeExecution's redrive fields, the ExecutionRedriven event, ListExecutions'
redriveFilter), before and after the redrive."""

import json

import pytest
from botocore.exceptions import ClientError

from tests.conftest import migration
from tests.emulator.aws import client, executions, history, state_machine_arns


def _staging(truth) -> tuple[dict, dict, dict]:
    first, rerun, redriven = [m for m in truth["migrations"] if m["stage"] == "staging"]
    return first, rerun, redriven


def test_the_history_quota_fails_the_execution_and_forbids_a_redrive(emulator, truth):
    first, rerun, _ = _staging(truth)
    sfn = client("stepfunctions", emulator)
    described = sfn.describe_execution(executionArn=first["execution_arn"])
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime"
    assert "maximum number of history events (25000)" in described["cause"]
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["redriveStatusReason"] == "Execution history event limit exceeded."
    assert described["redriveCount"] == 0
    events = history(sfn, first["execution_arn"])
    assert events[-1]["type"] == "ExecutionFailed"
    # the re-run: the workflow's input only, no tag; it skips what the first execution migrated
    again = sfn.describe_execution(executionArn=rerun["execution_arn"])
    assert json.loads(again["input"]) == {"auto_publish": "True"} and rerun["tag"] is None
    migrated = {d["dataset_id"] for d in first["datasets"] if d["state"] == "succeeded"}
    skipped = {d["dataset_id"] for d in rerun["datasets"] if d["state"] == "skipped"}
    assert migrated and migrated <= skipped


def test_a_redriven_execution_keeps_its_arn_and_says_so(emulator, truth, clock):
    _, _, redriven = _staging(truth)
    sfn = client("stepfunctions", emulator)
    arn = redriven["execution_arn"]
    machine = state_machine_arns(sfn)[redriven["migration_state_machine"]]
    redrive = redriven["redrive"]
    clock.set(redrive["first_stop"] + 60)  # failed, not redriven yet
    failed = sfn.describe_execution(executionArn=arn)
    assert failed["status"] == "FAILED" and failed["error"] == "States.Runtime"
    assert failed["redriveStatus"] == "REDRIVABLE" and failed["redriveCount"] == 0 and "redriveDate" not in failed
    assert history(sfn, arn)[-1]["type"] == "ExecutionFailed"
    assert arn not in {e["executionArn"] for e in executions(sfn, stateMachineArn=machine, redriveFilter="REDRIVEN")}
    clock.set(redrive["at"] + 60)  # redriven: RUNNING again under the same ARN
    running = sfn.describe_execution(executionArn=arn)
    assert running["status"] == "RUNNING" and "stopDate" not in running
    assert running["redriveCount"] == 1 and running["redriveDate"].timestamp() == pytest.approx(redrive["at"], abs=1)
    assert running["redriveStatus"] == "NOT_REDRIVABLE"
    types = [e["type"] for e in history(sfn, arn)]
    assert types.index("ExecutionRedriven") == types.index("ExecutionFailed") + 1
    redriven_event = next(e for e in history(sfn, arn) if e["type"] == "ExecutionRedriven")
    assert redriven_event["executionRedrivenEventDetails"] == {"redriveCount": 1}
    clock.set(truth["end"] + 30)
    done = sfn.describe_execution(executionArn=arn)
    assert done["status"] == "SUCCEEDED" and done["redriveCount"] == 1
    listed = executions(sfn, stateMachineArn=machine, redriveFilter="REDRIVEN")
    assert [e["executionArn"] for e in listed] == [arn] and listed[0]["redriveCount"] == 1
    assert arn not in {e["executionArn"] for e in executions(sfn, stateMachineArn=machine, redriveFilter="NOT_REDRIVEN")}
    # its jobs after the redrive carry the same EXECUTION_ID: one attempt
    assert history(sfn, arn)[-1]["type"] == "ExecutionSucceeded"


def test_only_the_unfinished_iterations_run_again(emulator, truth):
    """A dataset whose ingestion had ended before the failure is not migrated again; those stopped or never started
    ran after the redrive, under the same execution."""
    _, _, redriven = _staging(truth)
    at, again = redriven["redrive"]["first_stop"], redriven["redrive"]["at"]
    ingested_before = {j["dataset_id"] for j in redriven["jobs"]
                       if j["step"] == "cxg" and j["status"] == "SUCCEEDED" and j["stopped_at"] < at}
    migrated_after = {j["dataset_id"] for j in redriven["jobs"] if j["step"] == "dataset_migration" and j["created_at"] > again}
    assert ingested_before and migrated_after
    assert not ingested_before & migrated_after
    assert not any(j["created_at"] > at for j in redriven["jobs"] if j["step"] == "gather_collections")
    assert sum(j["step"] == "report" for j in redriven["jobs"]) == 1  # the report step ran once, after the redrive


def test_an_unknown_redrive_filter_is_refused(emulator, truth):
    sfn = client("stepfunctions", emulator)
    machine = state_machine_arns(sfn)[migration(truth, "prod")["migration_state_machine"]]
    with pytest.raises(ClientError):
        sfn.list_executions(stateMachineArn=machine, redriveFilter="SOMETIMES")
