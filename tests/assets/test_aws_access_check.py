"""The `aws_access` asset check (cxgm doctor for the partition's stage) passes on the healthy emulator and fails,
naming the fix, when a configured name is wrong."""

import os
from pathlib import Path

from dagster import DagsterInstance, MultiPartitionKey, materialize

from cxgm_pipeline.assets.chain import CHAIN_ASSETS
from cxgm_pipeline.assets.checks import aws_access
from cxgm_pipeline.definitions import build_resources
from cxgm_pipeline.monitor.store.frames import FrameStore
from cxgm_pipeline.partitions import ATTEMPTS


def run_check(tmp_path: Path) -> dict:
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, ["ATTEMPT_2"])
    result = materialize([CHAIN_ASSETS["migration_jobs"], aws_access],
                         partition_key=MultiPartitionKey({"stage": "prod", "attempt": "ATTEMPT_2"}),
                         resources=build_resources("local", str(tmp_path / "data")), instance=instance)
    (evaluation,) = result.get_asset_check_evaluations()
    return {"passed": evaluation.passed, **{k: v.value for k, v in evaluation.metadata.items()}}


def test_passes_on_the_healthy_emulator(emulator, tmp_path):
    found = run_check(tmp_path)
    assert found["passed"] and found["failed"] == 0 and found["checks"] >= 19


def test_fails_on_a_wrong_log_group_and_says_which_key_to_fix(emulator, tmp_path, monkeypatch):
    """The jobs are listed all the same (they need no log group): the check is what says the name is wrong, even
    right after a passing diagnosis (made for the configuration before), and on every run until it is fixed."""
    assert run_check(tmp_path)["passed"]
    base = Path(os.environ["CXGM_CONFIG"]).read_text()
    config = tmp_path / "stages.toml"
    config.write_text(base.replace('ingestion_log_group = "/dp/{stage}/{stack}/upload"',
                                   'ingestion_log_group = "/dp/{stage}/{stack}/ingestion"'))
    monkeypatch.setenv("CXGM_CONFIG", str(config))
    found = run_check(tmp_path)
    assert not found["passed"] and found["failed"] == 1
    assert "log group /dp/prod/prodstack/ingestion" in found["problems"]
    assert "`ingestion_log_group`" in found["problems"]
    failing = FrameStore(str(tmp_path / "data")).read("aws_access", "prod")["checked_at"].max()
    assert not run_check(tmp_path)["passed"]
    assert FrameStore(str(tmp_path / "data")).read("aws_access", "prod")["checked_at"].max() > failing


def test_a_passing_diagnosis_stands_for_an_hour(emulator, tmp_path, monkeypatch):
    """~17 calls: not made again by every refresh of a running attempt."""
    store = FrameStore(str(tmp_path / "data"))
    first = run_check(tmp_path)
    made = store.read("aws_access", "prod")["checked_at"].max()
    again = run_check(tmp_path)
    assert again == first and store.read("aws_access", "prod")["checked_at"].max() == made
    monkeypatch.setenv("CXGM_ACCESS_RECHECK_SECONDS", "0")
    assert run_check(tmp_path)["passed"]
    assert store.read("aws_access", "prod")["checked_at"].max() > made


def test_a_wrong_queue_fails_the_jobs_with_the_fix(emulator, tmp_path, monkeypatch):
    """Batch refuses ListJobs on a queue it does not know: one line naming the fix, not a traceback."""
    base = Path(os.environ["CXGM_CONFIG"]).read_text()
    config = tmp_path / "stages.toml"
    config.write_text(base.replace('queue = "schema_migration-{stage}"', 'queue = "dp-{stage}-{stack}-schema-migration"'))
    monkeypatch.setenv("CXGM_CONFIG", str(config))
    from typer.testing import CliRunner

    from cxgm_pipeline.cli import app

    monkeypatch.setenv("CXGM_DATA", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["describe", "jobs", "--env", "prod", "--tag", "ATTEMPT_2", "--refresh"])
    assert result.exit_code == 1, result.output
    assert "cxgm doctor --env prod" in result.output and "Traceback" not in result.output
