"""Fetch benchmark of one attempt of the default scenario (~2,000 datasets, ~10,000 jobs), against the emulator
with AWS's latency and per-API quotas if asked (`--latency-ms 40 --quotas`).

Phases, each with wall seconds, calls per API, throttled calls and the quota lower bound (the least time its
calls could take at the APIs' rates): the old notebook helpers' pattern (sequential, one execution history
per ingestion execution), cxgm's first fetch, one Dagster run of the partition's whole chain (in its own process,
for its own peak RSS), and a refresh of the running attempt after ~1% of its datasets moved. Numbers go in the
README; tests never assert timings.

    .venv/bin/python bench/fetch_bench.py [--scenario default] [--latency-ms 40] [--quotas]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cxgm_emulator.process import spawn


class RemoteEmulator:
    """The emulator in its own process, as AWS is remote: in one process its CPU would compete with the
    client's for the interpreter lock, and the benchmark would measure the emulator."""

    def __init__(self, scenario: str, latency_ms: float, quotas: bool):
        self.process = spawn(Path(tempfile.mkdtemp()), "--at-end", "--latency-ms", str(latency_ms),
                             *(["--quotas"] if quotas else []), scenario=scenario)
        self.proc = self.process.proc
        atexit.register(self.process.stop)
        self.process.wait_ready(timeout=600)
        self.truth = self.process.truth()

    def env(self) -> dict[str, str]:
        return self.process.env

    def control(self, body: dict | None = None) -> dict:
        """The emulator's status, or with a body, its clock set."""
        return self.process.control("clock" if body else "status", body, timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--quotas", action="store_true")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--attempt", default="ATTEMPT_2")
    parser.add_argument("--skip-old", action="store_true", help="Skip the old helpers' pattern (slow under quotas)")
    parser.add_argument("--dagster-run", action="store_true", help=argparse.SUPPRESS)  # the child process's phase
    args = parser.parse_args()
    if args.dagster_run:
        dagster_run(args.stage, args.attempt)
        return

    from cxgm_emulator.throttling import AWS_DEFAULT_QUOTAS

    began = time.perf_counter()
    emu = RemoteEmulator(args.scenario, args.latency_ms, args.quotas)
    seeded = time.perf_counter() - began
    os.environ.update(emu.env())
    if not args.quotas:
        os.environ["CXGM_AWS_RATES"] = "off"  # nothing to pace against

    from cxgm_pipeline.monitor.aws import FetchStats
    from cxgm_pipeline.monitor.session import MonitorSession

    rows = []

    def measure(label, fn):
        before = emu.control()
        t = time.perf_counter()
        out = fn()
        wall = time.perf_counter() - t
        after = emu.control()
        calls = {k: v - before["calls"].get(k, 0) for k, v in after["calls"].items() if v - before["calls"].get(k, 0)}
        thr = sum(v - before["throttled"].get(k, 0) for k, v in after["throttled"].items())
        bound = max([max(0.0, (n - AWS_DEFAULT_QUOTAS[a][1]) / AWS_DEFAULT_QUOTAS[a][0])
                     for a, n in calls.items() if a in AWS_DEFAULT_QUOTAS] or [0.0]) if args.quotas else 0.0
        rows.append((label, wall, sum(calls.values()), thr, bound, calls))
        return out

    prod = next(m for m in emu.truth["migrations"] if m["live"])
    if not args.skip_old:
        measure("old helpers' pattern (sequential; one history per execution)", lambda: old_helpers(args.stage, prod))
    session = MonitorSession(stats=FetchStats())
    attempt = session.resolve(args.stage, args.attempt)
    frames = measure("cxgm first fetch (finished attempt)", lambda: session.fetch(args.stage, attempt))
    dagster = measure("one Dagster run of the partition's chain, checks, plots and report (own process)",
                      lambda: in_child(args.stage, args.attempt))
    # a running attempt: when half of its jobs have ended, then when 1% more have (the span's long tail makes
    # "1% of the time" a moment where nothing moves)
    ends = sorted(j["stopped_at"] for j in prod["jobs"] if j.get("stopped_at"))
    emu.control({"set": ends[len(ends) // 2]})
    running = MonitorSession(stats=FetchStats())
    attempt = running.resolve(args.stage, args.attempt)
    before = measure("cxgm first fetch (running attempt, halfway)", lambda: running.fetch(args.stage, attempt))
    emu.control({"set": ends[int(len(ends) * 0.51)]})
    attempt = running.resolve(args.stage, args.attempt)
    after = measure("cxgm refresh (~1% of datasets moved)", lambda: running.fetch(args.stage, attempt, previous=before))
    # the same refresh once the refresh interval has passed since the running jobs' logs were read: it reads them all
    os.environ["CXGM_REFRESH_SECONDS"] = "1"
    measure("the same refresh, running jobs' logs due again", lambda: running.fetch(args.stage, attempt, previous=before))
    moved = (after["dataset_rollup"].set_index("dataset_id")["state"]
             != before["dataset_rollup"].set_index("dataset_id")["state"].reindex(after["dataset_rollup"]["dataset_id"])).sum()
    print(f"scenario {args.scenario}, {args.stage}/{args.attempt}: {len(frames['migration_jobs'])} jobs, "
          f"{len(frames['dataset_rollup'])} datasets; latency {args.latency_ms} ms; quotas {'on' if args.quotas else 'off'}; "
          f"emulator (own process) seeded in {seeded:.1f} s; the refresh saw {moved} datasets change state")
    print("| phase | seconds | AWS calls | throttled | quota lower bound (s) | wall / bound | calls by API |\n"
          "|---|---|---|---|---|---|---|")
    for label, wall, calls, thr, bound, by_api in rows:
        top = ", ".join(f"{a} {n}" for a, n in sorted(by_api.items(), key=lambda x: -x[1])[:4])
        ratio = f"{wall / bound:.2f}" if bound else "-"
        print(f"| {label} | {wall:.1f} | {calls} | {thr} | {bound:.1f} | {ratio} | {top} |")
    print(f"peak RSS of the client: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB; of the Dagster "
          f"run's process: {dagster['rss_mb']} MB ({'succeeded' if dagster['success'] else 'FAILED'})")


def in_child(stage: str, attempt: str) -> dict:
    """This script again, in a child process that makes one Dagster run: its peak RSS is the run's own."""
    done = subprocess.run([sys.executable, __file__, "--dagster-run", "--stage", stage, "--attempt", attempt],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the Dagster run's process failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def dagster_run(stage: str, attempt: str) -> None:
    """The partition's assets and checks, materialized in-process on an ephemeral instance (what a run worker
    does), printing its success and peak RSS as one JSON line."""
    from dagster import DagsterInstance, MultiPartitionKey, materialize

    from cxgm_pipeline.assets.checks import ALL_CHECKS
    from cxgm_pipeline.definitions import all_assets, build_resources
    from cxgm_pipeline.partitions import ATTEMPTS

    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, [attempt])
    result = materialize([*(a for a in all_assets if a.partitions_def is not None), *ALL_CHECKS],
                         partition_key=MultiPartitionKey({"stage": stage, "attempt": attempt}),
                         resources=build_resources("local", tempfile.mkdtemp()), instance=instance, raise_on_error=False)
    print(json.dumps({"success": result.success, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))


def old_helpers(stage: str, prod) -> int:
    """What the notebook helpers did: list and describe jobs one page and batch after another, list the ingestion
    executions, then read each one's history in turn."""
    import boto3

    from cxgm_pipeline.config import get_config

    cfg = get_config().stage(stage)
    batch, sfn = boto3.client("batch", region_name=cfg.region), boto3.client("stepfunctions", region_name=cfg.region)
    ids = [j["jobId"] for page in batch.get_paginator("list_jobs").paginate(
        jobQueue=cfg.queue, filters=[{"name": "AFTER_CREATED_AT", "values": [str(int((prod["start"] - 60) * 1000))]}])
        for j in page["jobSummaryList"]]
    for i in range(0, len(ids), 100):
        batch.describe_jobs(jobs=ids[i:i + 100])
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == cfg.ingestion_sfn)
    executions = [e for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
                  for e in page["executions"] if e["startDate"].timestamp() >= prod["start"] - 60]
    for e in executions:
        sfn.get_execution_history(executionArn=e["executionArn"], maxResults=1000)
    return len(executions)


if __name__ == "__main__":
    main()
