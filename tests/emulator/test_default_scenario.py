"""`cxgm emulator start` as a user runs it: the default scenario in its own process, read with plain boto3,
compared with the truth file; Ctrl-C stops it cleanly."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import boto3

from cxgm_pipeline.emulator.truth import load_truth


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_default_scenario_over_http(tmp_path):
    port, env_file, truth_file = free_port(), tmp_path / "emu.env", tmp_path / "truth.json"
    cxgm = Path(sys.executable).parent / "cxgm"
    proc = subprocess.Popen([str(cxgm), "emulator", "start", "--scenario", "default", "--at-end", "--port", str(port),
                             "--truth", str(truth_file), "--env-file", str(env_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 90
        while not env_file.exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.time() < deadline, "emulator not ready within 90 s"
            time.sleep(0.5)
        env = dict(line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines())
        assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"
        kw = {"region_name": "us-west-2", "endpoint_url": env["AWS_ENDPOINT_URL"],
              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        truth = load_truth(truth_file)
        batch, sfn = boto3.client("batch", **kw), boto3.client("stepfunctions", **kw)
        for stage in ("dev", "prod"):
            ids = [j["jobId"] for p in batch.get_paginator("list_jobs").paginate(
                jobQueue=f"dp-{stage}-{stage}stack-schema-migration",
                filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}]) for j in p["jobSummaryList"]]
            expected = [j for m in truth["migrations"] if m["stage"] == stage for j in m["jobs"]]
            assert len(ids) == len(expected) > 8000 * (2 if stage == "dev" else 1) * 0.9
            sample = batch.describe_jobs(jobs=ids[:100])["jobs"]
            by_id = {j["job_id"]: j for j in expected}
            assert Counter(j["status"] for j in sample) == Counter(by_id[j["jobId"]]["status"] for j in sample)
        datasets = {d["dataset_id"] for m in truth["migrations"] for d in m["datasets"]}
        assert len(datasets) == 2000
        arn = next(s["stateMachineArn"] for s in sfn.list_state_machines()["stateMachines"] if s["name"] == "dp-prod-prodstack-sfn")
        listed = [e for p in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn) for e in p["executions"]]
        assert len(listed) == next(m for m in truth["migrations"] if m["stage"] == "prod")["ingestion_executions"]
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "emulator stopped" in output
    assert "Traceback" not in output
    assert os.path.exists(truth_file)
