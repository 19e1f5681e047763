"""`cxgm-emulator start` as a user runs it: the default scenario in its own process, read with plain boto3,
compared with the truth file; Ctrl-C stops it cleanly."""

import signal
import sys
from collections import Counter
from pathlib import Path

from cxgm_emulator.truth import load_truth
from tests.conftest import start_emulator_process
from tests.emulator.aws import client, executions, job_ids, state_machine_arns


def test_default_scenario_over_http(tmp_path):
    script = Path(sys.executable).parent / "cxgm-emulator"
    emu = start_emulator_process(tmp_path, scenario="default", seed=0, command=[str(script)])
    try:
        env = emu.wait_ready(timeout=120)
        assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert env["CXGM_CONFIG"].endswith("emulator.toml")
        truth = load_truth(emu.truth_file)
        batch, sfn = client("batch", env), client("stepfunctions", env)
        for stage in ("dev", "prod"):
            queue = f"schema_migration-{stage}"
            ids = job_ids(batch, queue)
            expected = [j for m in truth["migrations"] if m["stage"] == stage for j in m["jobs"]]
            assert len(ids) == len(expected) > 8000 * (2 if stage == "dev" else 1) * 0.9
            sample = batch.describe_jobs(jobs=ids[:100])["jobs"]
            by_id = {j["job_id"]: j for j in expected}
            assert Counter(j["status"] for j in sample) == Counter(by_id[j["jobId"]]["status"] for j in sample)
            assert Counter(j["jobName"] for j in sample) == Counter(by_id[j["jobId"]]["job_name"] for j in sample)
        datasets = {d["dataset_id"] for m in truth["migrations"] for d in m["datasets"]}
        assert len(datasets) == 2000
        # Batch kills a job at its timeout (cxg, validate_anndata: 4 h): no attempt runs past it (a job of one
        # attempt: the truth times a job from its first start to its last stop)
        timed = [j for m in truth["migrations"] for j in m["jobs"] if j["step"] in ("cxg", "validate_anndata")
                 and j["started_at"] and j["stopped_at"] and j["attempts"] == 1]
        assert timed and max(j["stopped_at"] - j["started_at"] for j in timed) <= 4 * 3600
        arn = state_machine_arns(sfn)["dp-prod-prodstack-sfn"]
        listed = executions(sfn, stateMachineArn=arn)
        assert len(listed) == next(m for m in truth["migrations"] if m["stage"] == "prod")["ingestion_executions"]
    finally:
        code = emu.stop(signal.SIGINT)  # Ctrl-C
    output = emu.output()
    assert code == 0, output
    assert "emulator stopped" in output
    assert "Traceback" not in output
    assert emu.truth_file.exists()
