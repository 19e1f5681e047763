"""No silent loss, no half-written frame, one clear line: the findings of the reliability review, each held."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxgm_pipeline.monitor.store.frames import FrameStore


def test_a_write_that_fails_half_way_leaves_the_previous_frame_whole(tmp_path, monkeypatch):
    store = FrameStore(str(tmp_path))
    store.write(pd.DataFrame({"a": [1, 2, 3]}), "dataset_rollup", "dev", "k")

    def half_then_die(self, fh, **_):
        fh.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_then_die)
    with pytest.raises(OSError):
        store.write(pd.DataFrame({"a": [9]}), "dataset_rollup", "dev", "k")
    monkeypatch.undo()
    assert list(store.read("dataset_rollup", "dev", "k")["a"]) == [1, 2, 3]
    assert store.attempts("dataset_rollup", "dev") == ["k"]  # no temporary file left behind or listed


def test_no_credentials_and_no_profile_says_what_to_do():
    import botocore.exceptions

    from cxgm_pipeline.config import StageConfig
    from cxgm_pipeline.monitor.aws.clients import access_hint

    stage = StageConfig("dev", None, "us-west-2", "s", "q", "m", "i", "lm", "li", "b")
    message = str(access_hint(stage, botocore.exceptions.NoCredentialsError()))
    assert "None" not in message and "set AWS credentials" in message


def test_a_misnamed_ingestion_state_machine_is_an_error_not_empty_executions(emulator, tmp_path, monkeypatch):
    import os

    from cxgm_pipeline.cli import app

    base = open(os.environ["CXGM_CONFIG"]).read()
    config = tmp_path / "renamed.toml"
    config.write_text(base.replace("[stages.dev]", '[stages.dev]\ningestion_sfn = "dp-{stage}-{stack}-renamed-sfn"', 1))
    monkeypatch.setenv("CXGM_CONFIG", str(config))
    monkeypatch.setenv("CXGM_DATA", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["describe", "datasets", "--env", "dev", "--tag", "ATTEMPT_2", "--refresh"])
    assert result.exit_code == 1, result.output
    assert "renamed-sfn" in result.output and "does not exist" in result.output and "Traceback" not in result.output


def test_a_history_past_retention_reads_as_empty_not_a_traceback(emulator):
    """Step Functions forgets an execution 90 days after it closed: its history and Map Runs are none left."""
    from cxgm_pipeline.monitor.aws.clients import StepFunctions

    gone = "arn:aws:states:us-west-2:123456789012:execution:dp-prod-prodstack-schema-migration-sfn:expired"
    sfn = StepFunctions()
    assert sfn.history("prod", gone) == [] and sfn.map_runs("prod", gone) == []
    assert sfn.histories("prod", [gone]) == {gone: []}
