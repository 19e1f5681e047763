"""`cxgm doctor` against the emulated account: healthy, then each staged failure (a wrong name, a denied action,
expired credentials, an SSO session never logged in), each named with its fix; and the refusals the emulator
stages are shaped as AWS's, so botocore reads them as it reads AWS's."""

import os
import time
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from typer.testing import CliRunner

from cxgm_emulator.process import control
from cxgm_pipeline.cli import app
from cxgm_pipeline.monitor.aws.doctor import FAIL, OK, WARN, diagnose, skew_status
from tests.conftest import free_port

runner = CliRunner()
POLICY = ["states:ListExecutions", "states:DescribeExecution", "states:GetExecutionHistory",
          "states:ListMapRuns", "batch:ListJobs", "batch:DescribeJobs", "logs:FilterLogEvents", "logs:GetLogEvents",
          "s3:GetObject"]


@pytest.fixture
def access(emulator):
    """Stages refusals on the emulator (POST /_cxgm/access) and clears them after the test."""
    def stage(**body):
        return control(emulator.endpoint_url, "access", {"clear": True, **body})

    yield stage
    control(emulator.endpoint_url, "access", {"clear": True})


def doctor(*args: str):
    result = runner.invoke(app, ["doctor", *args], env={"COLUMNS": "250"})
    return result.exit_code, result.output


def by_what(diagnosis) -> dict:
    return {c.what: c for c in diagnosis.checks}


def config_over_emulator(tmp_path: Path, monkeypatch, **replace: str) -> None:
    """CXGM_CONFIG = the emulator's names with some replaced (whole `key = value` lines of its [defaults])."""
    text = Path(os.environ["CXGM_CONFIG"]).read_text()
    for key, value in replace.items():
        lines = [line for line in text.splitlines() if line.startswith(f"{key} = ")]
        assert lines, f"{key} is not in the emulator's [defaults]"
        text = text.replace(lines[0], f'{key} = "{value}"')
    path = tmp_path / "stages.toml"
    path.write_text(text)
    monkeypatch.setenv("CXGM_CONFIG", str(path))


def test_healthy_emulator_passes_with_a_line_per_thing_read(emulator, access):
    code, output = doctor("--env", "prod")
    assert code == 0, output
    found = by_what(diagnose("prod"))
    for what in ("credentials (the default credential chain)", "region", "clock",
                 "state machine dp-prod-prodstack-schema-migration-sfn", "state machine dp-prod-prodstack-sfn",
                 "queue schema_migration-prod", "log group /dp/prod/prodstack/schema-migration-batch",
                 "log group /dp/prod/prodstack/upload", "artifact bucket corpora-artifacts-prod",
                 *(f"action {a}" for a in POLICY)):
        assert found[what].status == OK, found[what]
        assert what in output
    assert "account 123456789012" in found["credentials (the default credential chain)"].detail
    assert "not AWS" in found["clock"].detail  # the emulator's clock is simulated: its skew is no fault


def test_wrong_names_fail_with_the_key_to_fix(emulator, access, tmp_path, monkeypatch):
    # the names an older stages.toml had: a job definition's name for the queue, another log group, another machine
    config_over_emulator(tmp_path, monkeypatch, queue="dp-{stage}-{stack}-schema-migration",
                         ingestion_log_group="/dp/{stage}/{stack}/ingestion",
                         migration_sfn="dp-{stage}-{stack}-migration-sfn")
    code, output = doctor("--env", "prod")
    assert code == 1, output
    found = by_what(diagnose("prod"))
    queue = found["queue dp-prod-prodstack-schema-migration"]
    assert queue.status == FAIL and "no such job queue" in queue.detail and "schema_migration-prod" in queue.detail
    assert "`queue`" in queue.fix
    group = found["log group /dp/prod/prodstack/ingestion"]
    assert group.status == FAIL and "`ingestion_log_group`" in group.fix
    machine = found["state machine dp-prod-prodstack-migration-sfn"]
    assert machine.status == FAIL and "`migration_sfn`" in machine.fix
    assert "dp-prod-prodstack-schema-migration-sfn" in machine.detail  # the name it likely meant
    assert found["state machine dp-prod-prodstack-sfn"].status == OK
    assert found["log group /dp/prod/prodstack/schema-migration-batch"].status == OK
    for line in ("FAIL queue dp-prod-prodstack-schema-migration", "fix: fix `queue` of stage prod"):
        assert line in output


def test_denied_actions_fail_naming_the_action_to_grant(emulator, access):
    access(deny=["states:GetExecutionHistory", "logs:FilterLogEvents"])
    code, output = doctor("--env", "dev")
    assert code == 1, output
    found = by_what(diagnose("dev"))
    for action in ("states:GetExecutionHistory", "logs:FilterLogEvents"):
        check = found[f"action {action}"]
        assert check.status == FAIL and "not authorized" in check.detail
        assert check.fix.startswith(f"grant {action} ")
        assert f"fix: grant {action} " in output
    allowed = [a for a in POLICY if a not in ("states:GetExecutionHistory", "logs:FilterLogEvents")]
    assert all(found[f"action {a}"].status == OK for a in allowed)


def test_names_are_still_checked_without_the_doctors_own_actions(emulator, access):
    """DescribeStateMachine, DescribeLogGroups, DescribeJobQueues and s3:ListBucket are not in cxgm's own policy:
    without them the names are checked with the actions that are, or marked unconfirmed (WARN), never FAIL."""
    access(deny=["states:DescribeStateMachine", "logs:DescribeLogGroups", "batch:DescribeJobQueues", "s3:ListBucket"])
    code, output = doctor("--env", "dev")
    assert code == 0, output
    found = by_what(diagnose("dev"))
    assert found["state machine dp-dev-devstack-sfn"].status == OK
    assert "ListExecutions" in found["state machine dp-dev-devstack-sfn"].detail
    assert found["log group /dp/dev/devstack/upload"].status == OK
    assert found["queue schema_migration-dev"].status == WARN
    assert "batch:DescribeJobQueues" in found["queue schema_migration-dev"].fix
    assert found["artifact bucket corpora-artifacts-dev"].status == WARN
    assert found["action s3:GetObject"].status == OK  # NoSuchKey: the key is missing, the action allowed


def test_expired_credentials_fail_first_with_the_fix(emulator, access, tmp_path, monkeypatch):
    access(expired=True)
    code, output = doctor("--env", "dev")
    assert code == 1
    found = diagnose("dev")
    assert [c.status for c in found.checks] == [OK, FAIL]  # configuration, then credentials: nothing else tried
    assert "ExpiredToken" in found.checks[1].detail and "credentials" in found.checks[1].fix
    # with a profile, the fix names it
    config = tmp_path / "stages.toml"
    config.write_text(Path(os.environ["CXGM_CONFIG"]).read_text().replace(
        '[stages.dev]\nprofile = ""', '[stages.dev]\nprofile = "single-cell-dev"'))
    aws_config = tmp_path / "aws_config"
    aws_config.write_text("[profile single-cell-dev]\nregion = us-west-2\naws_access_key_id = testing\n"
                          "aws_secret_access_key = testing\n")
    monkeypatch.setenv("CXGM_CONFIG", str(config))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    assert "`aws sso login --profile single-cell-dev`" in diagnose("dev").checks[1].fix


def test_an_sso_session_never_logged_in_says_aws_sso_login(emulator, tmp_path, monkeypatch):
    """A profile whose SSO token is not in the cache: botocore's SSOTokenLoadError, before any request."""
    config = tmp_path / "stages.toml"
    config.write_text(Path(os.environ["CXGM_CONFIG"]).read_text().replace(
        '[stages.prod]\nprofile = ""', '[stages.prod]\nprofile = "single-cell-prod"'))
    aws_config = tmp_path / "aws_config"
    aws_config.write_text("[profile single-cell-prod]\nsso_session = czi\nsso_account_id = 123456789012\n"
                          "sso_role_name = ReadOnly\nregion = us-west-2\n\n[sso-session czi]\n"
                          "sso_start_url = https://czi.awsapps.com/start\nsso_region = us-west-2\n")
    monkeypatch.setenv("CXGM_CONFIG", str(config))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws/sso/cache here
    code, output = doctor("--env", "prod")
    assert code == 1
    assert "aws sso login --profile single-cell-prod" in output


def test_an_unset_artifact_bucket_is_a_warning(emulator, access, tmp_path, monkeypatch):
    config_over_emulator(tmp_path, monkeypatch, artifact_bucket="")
    code, output = doctor("--env", "dev")
    assert code == 0, output
    check = by_what(diagnose("dev"))["artifact bucket"]
    assert check.status == WARN and check.detail.startswith("not set: one source skipped")
    assert "action s3:GetObject" not in by_what(diagnose("dev"))


def test_an_unknown_stage_is_a_usage_error(emulator):
    code, output = doctor("--env", "qa")
    assert code == 2 and "unknown stage 'qa'" in output


def test_clock_skew_thresholds():
    assert skew_status(0.4)[0] == OK and skew_status(-59)[0] == OK
    assert skew_status(90)[0] == WARN and skew_status(-90)[0] == WARN
    assert skew_status(301)[0] == FAIL and "clock" in skew_status(-400)[1]


def test_staged_refusals_are_aws_shaped(emulator, access):
    """botocore parses the emulator's refusals into the codes AWS's carry, service by service."""
    def client(service):
        return boto3.client(service, region_name="us-west-2", endpoint_url=emulator.endpoint_url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def code_of(call) -> tuple[str, int]:
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            call()
        return raised.value.response["Error"]["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]

    access(deny=["states:ListStateMachines", "logs:DescribeLogGroups", "batch:DescribeJobQueues", "s3:GetObject",
                 "s3:ListBucket"])
    assert code_of(lambda: client("stepfunctions").list_state_machines()) == ("AccessDeniedException", 400)
    assert code_of(lambda: client("logs").describe_log_groups()) == ("AccessDeniedException", 400)
    assert code_of(lambda: client("batch").describe_job_queues()) == ("AccessDeniedException", 403)
    assert code_of(lambda: client("s3").get_object(Bucket="corpora-artifacts-dev", Key="x")) == ("AccessDenied", 403)
    assert code_of(lambda: client("s3").head_bucket(Bucket="corpora-artifacts-dev")) == ("403", 403)
    client("batch").list_jobs(jobQueue="schema_migration-dev")  # not denied: answered
    access(expired=True)
    assert code_of(lambda: client("stepfunctions").list_state_machines())[0] == "ExpiredTokenException"
    assert code_of(lambda: client("batch").list_jobs(jobQueue="schema_migration-dev"))[0] == "ExpiredTokenException"
    assert code_of(lambda: client("sts").get_caller_identity())[0] == "ExpiredToken"
    assert code_of(lambda: client("s3").get_object(Bucket="corpora-artifacts-dev", Key="x"))[0] == "ExpiredToken"


def test_state_machines_unconfirmed_without_either_action(emulator, access):
    access(deny=["states:DescribeStateMachine", "states:ListExecutions"])
    found = by_what(diagnose("prod"))
    machine = found["state machine dp-prod-prodstack-sfn"]
    assert machine.status == WARN and "states:ListExecutions" in machine.fix
    assert found["action states:ListExecutions"].status == FAIL  # cxgm itself needs it: that line fails


def test_an_unreachable_endpoint_answers_in_seconds(emulator, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    found = diagnose("dev")
    assert time.monotonic() - started < 20
    assert found.checks[-1].status == FAIL and "not reachable" in found.checks[-1].detail
    assert "AWS_ENDPOINT_URL" in found.checks[-1].fix
