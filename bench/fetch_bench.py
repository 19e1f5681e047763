"""Benchmark of the commands people run on one attempt, against the emulator with AWS's latency and per-API quotas
if asked (`--latency-ms 40 --quotas`): the default scenario (2,000 datasets, ~10,000 jobs) or 10x it (`--scenario
corpus10x`: 20,000 datasets, ~100,000 jobs; `--map-mode inline` for the other shape of production's Maps).

Phases, each a command in its own process (its own peak RSS), with wall seconds, calls per API, throttled calls and
the quota lower bound (the least time its calls could take at the APIs' rates): the old notebook helpers' pattern,
`cxgm describe datasets --refresh` on the ended attempt (first, then again with its frames stored), one Dagster run
of the partition's whole chain, then on the running attempt a first fetch halfway and a refresh once 1% more of its
jobs ended, from the CLI and from Dagster alike. It ends with the issue's targets, met or not. Numbers go in the
README; tests never assert timings.

    .venv/bin/python bench/fetch_bench.py [--scenario default] [--latency-ms 40] [--quotas] [--skip-old]
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cxgm_emulator.process import spawn


class RemoteEmulator:
    """The emulator in its own process, as AWS is remote: in one process its CPU would compete with the
    client's for the interpreter lock, and the benchmark would measure the emulator."""

    def __init__(self, scenario: str, latency_ms: float, quotas: bool, map_mode: str = "distributed"):
        self.process = spawn(Path(tempfile.mkdtemp()), "--at-end", "--latency-ms", str(latency_ms), "--map-mode",
                             map_mode, *(["--quotas"] if quotas else []), scenario=scenario)
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
    parser.add_argument("--scenario", default="default", help="default (2,000 datasets), corpus5x, corpus10x")
    parser.add_argument("--map-mode", default="distributed", choices=["distributed", "inline"])
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--quotas", action="store_true")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--attempt", default="ATTEMPT_2")
    parser.add_argument("--skip-old", action="store_true", help="Skip the old helpers' pattern (slow under quotas)")
    parser.add_argument("--first-fetch-only", action="store_true",
                        help="Only the CLI's first fetch of the ended attempt and the same command again")
    parser.add_argument("--dagster-run", metavar="DATA", help=argparse.SUPPRESS)  # the child process's phase
    args = parser.parse_args()
    if args.dagster_run:
        dagster_run(args.stage, args.attempt, args.dagster_run)
        return

    from cxgm_emulator.throttling import AWS_DEFAULT_QUOTAS

    began = time.perf_counter()
    emu = RemoteEmulator(args.scenario, args.latency_ms, args.quotas, args.map_mode)
    seeded = time.perf_counter() - began
    env = {**os.environ, **emu.env()}
    if not args.quotas:
        env["CXGM_AWS_RATES"] = "off"  # nothing to pace against
    os.environ.update(env)
    work = Path(tempfile.mkdtemp(prefix="cxgm-bench-"))
    rows: list[dict] = []

    def measure(label: str, fn) -> dict:
        before = emu.control()
        t = time.perf_counter()
        out = fn() or {}
        wall = time.perf_counter() - t
        after = emu.control()
        calls = {k: v - before["calls"].get(k, 0) for k, v in after["calls"].items() if v - before["calls"].get(k, 0)}
        thr = sum(v - before["throttled"].get(k, 0) for k, v in after["throttled"].items())
        bound = max([max(0.0, (n - AWS_DEFAULT_QUOTAS[a][1]) / AWS_DEFAULT_QUOTAS[a][0])
                     for a, n in calls.items() if a in AWS_DEFAULT_QUOTAS] or [0.0]) if args.quotas else 0.0
        row = {"label": label, "wall": wall, "calls": sum(calls.values()), "throttled": thr, "bound": bound,
               "by_api": calls, "rss_mb": out.get("rss_mb"), "portal_s": out.get("portal_s")}
        rows.append(row)
        return row

    def cli(data: str) -> dict:
        """The command people run, in its own process (its own peak RSS): stored frames in `data`."""
        return child([str(Path(sys.executable).parent / "cxgm"), "describe", "datasets", "--env", args.stage, "--tag",
                      args.attempt, "--refresh", "--out", str(work / "datasets.parquet")], {**env, "CXGM_DATA": data})

    def dagster(data: str) -> dict:
        out = child([sys.executable, __file__, "--dagster-run", data, "--stage", args.stage, "--attempt",
                     args.attempt], env)
        line = next((x for x in out["stdout"].splitlines() if x.startswith("STEPS ")), "STEPS {}")
        out["portal_s"] = json.loads(line[len("STEPS "):]).get("portal_state", 0.0)
        return out

    prod = next(m for m in emu.truth["migrations"] if m["live"])
    if not args.skip_old:
        measure("old helpers' pattern (sequential; one history per execution)", lambda: old_helpers(args.stage, prod))
    first = measure("`cxgm describe datasets --refresh`, first fetch (ended attempt)", lambda: cli(str(work / "a")))
    ended = measure("the same command again (frames stored, attempt ended)", lambda: cli(str(work / "a")))
    if not args.first_fetch_only:
        run = measure("one Dagster run of the whole chain, checks, plots, report (own process)",
                      lambda: dagster(str(work / "b")))
        # a running attempt: when half of its jobs have ended, then when 1% more have (the span's long tail makes
        # "1% of the time" a moment where nothing moves)
        ends = sorted(j["stopped_at"] for j in prod["jobs"] if j.get("stopped_at"))
        emu.control({"set": ends[len(ends) // 2]})
        cli_half = measure("`cxgm describe datasets --refresh`, running attempt halfway (first fetch)",
                           lambda: cli(str(work / "c")))
        dagster_half = measure("Dagster run, running attempt halfway (first)", lambda: dagster(str(work / "d")))
        emu.control({"set": ends[int(len(ends) * 0.51)]})
        cli_refresh = measure("`cxgm describe datasets --refresh`, 1% more jobs ended", lambda: cli(str(work / "c")))
        dagster_refresh = measure("Dagster run, 1% more jobs ended (second materialization)",
                                  lambda: dagster(str(work / "d")))

    jobs = len(prod["jobs"])
    print(f"scenario {args.scenario} ({args.map_mode} Maps), {args.stage}/{args.attempt}: {jobs} jobs, "
          f"{len(prod['datasets'])} datasets; latency {args.latency_ms} ms; quotas {'on' if args.quotas else 'off'}; "
          f"emulator (own process) seeded in {seeded:.1f} s")
    print("| phase | seconds | AWS calls | throttled | quota lower bound (s) | wall / bound | peak RSS (MB) | calls by API |\n"
          "|---|---|---|---|---|---|---|---|")
    for r in rows:
        top = ", ".join(f"{a} {n}" for a, n in sorted(r["by_api"].items(), key=lambda x: -x[1]))
        ratio = f"{r['wall'] / r['bound']:.2f}" if r["bound"] else "-"
        print(f"| {r['label']} | {r['wall']:.1f} | {r['calls']} | {r['throttled']} | {r['bound']:.1f} | {ratio} | "
              f"{r['rss_mb'] if r['rss_mb'] is not None else '-'} | {top} |")
    # issue 24 sets the wall and memory targets at 10,000 and 20,000 datasets; at 2,000 a command's start (imports,
    # ~2 s) weighs against a 3 s bound, and only the refresh's targets are set
    at_scale = len(prod["datasets"]) >= 10_000

    def scaled(met: bool) -> bool | None:
        return met if at_scale else None

    def share(part: dict, whole: dict) -> str:
        return f"{part['calls']} of {whole['calls']} ({100 * part['calls'] / max(whole['calls'], 1):.1f}%)"

    checks = [
        ("first fetch <= 2x its quota lower bound" + ("" if at_scale else " (set at 10,000+ datasets)"),
         scaled(not args.quotas or first["wall"] <= 2 * max(first["bound"], 0.1)),
         f"{first['wall']:.1f} s vs bound {first['bound']:.1f} s"),
        ("--refresh of an ended attempt with stored frames <= 5 calls", ended["calls"] <= 5, f"{ended['calls']}"),
    ]
    if args.first_fetch_only:
        checks.append(("peak RSS < 1 GB (CLI)", first["rss_mb"] < 1024, f"CLI {first['rss_mb']} MB"))
    else:
        checks += [
            ("one Dagster run <= 2x the CLI's first fetch" + ("" if at_scale else " (set at 10,000+ datasets)"),
             scaled(run["wall"] <= 2 * first["wall"]),
             f"{run['wall']:.1f} s vs {first['wall']:.1f} s"),
            ("the same, less portal_state (the public Curation API, paced at $CXGM_PORTAL_RATE)",
             scaled(run["wall"] - (run["portal_s"] or 0) <= 2 * first["wall"]),
             f"{run['wall'] - (run['portal_s'] or 0):.1f} s vs {first['wall']:.1f} s (portal_state {run['portal_s'] or 0:.1f} s)"),
            ("peak RSS < 1 GB (CLI), < 1.5 GB (Dagster run)",
             max(first["rss_mb"], cli_half["rss_mb"], cli_refresh["rss_mb"]) < 1024
             and max(run["rss_mb"], dagster_half["rss_mb"], dagster_refresh["rss_mb"]) < 1536,
             f"CLI {max(first['rss_mb'], cli_half['rss_mb'], cli_refresh['rss_mb'])} MB, Dagster "
             f"{max(run['rss_mb'], dagster_half['rss_mb'], dagster_refresh['rss_mb'])} MB"),
            # the refresh's own attempt, read the same way: the ended attempt's first fetch reads no S3 item list (its
            # report step deleted them), which a running attempt's answered collections each cost
            ("refresh at 1% <= 5% of the same attempt's first fetch (CLI)", cli_refresh["calls"] <= 0.05 * cli_half["calls"],
             share(cli_refresh, cli_half)),
            ("refresh at 1% <= 5% of the same attempt's first fetch (Dagster)",
             dagster_refresh["calls"] <= 0.05 * dagster_half["calls"], share(dagster_refresh, dagster_half)),
            ("for reference, not a target: against the ended attempt's first fetch (CLI, Dagster), which reads no S3 "
             "item list", None,
             f"{share(cli_refresh, first)}, {share(dagster_refresh, run)}"),
        ]
    print("\n| target | met | measured |\n|---|---|---|")
    for label, met, measured in checks:
        shown = "-" if met is None else "yes" if met else "NO"
        print(f"| {label} | {shown} | {measured} |")


def child(command: list[str], env: dict[str, str]) -> dict:
    """Runs one command to its end and reads its own peak RSS (os.wait4); fails loudly with its stderr."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[:6])} failed ({proc.returncode}):\n{stderr[-4000:]}")
    return {"rss_mb": usage.ru_maxrss // 1024, "stdout": stdout, "stderr": stderr}


def dagster_run(stage: str, attempt: str, data: str) -> None:
    """The partition's assets and checks, materialized in-process on an ephemeral instance (what a run worker
    does) over the frames stored in `data`: a second run refreshes from them."""
    from dagster import DagsterInstance, MultiPartitionKey, materialize

    from cxgm_pipeline.assets.checks import ALL_CHECKS
    from cxgm_pipeline.definitions import all_assets, build_resources
    from cxgm_pipeline.partitions import ATTEMPTS

    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, [attempt])
    result = materialize([*(a for a in all_assets if a.partitions_def is not None), *ALL_CHECKS],
                         partition_key=MultiPartitionKey({"stage": stage, "attempt": attempt}),
                         resources=build_resources("local", data), instance=instance, raise_on_error=False)
    if not result.success:
        raise SystemExit("the Dagster run failed")
    # the steps' own seconds, for the parent to say where the run's time went (the portal's paced reads are
    # politeness to a public API, not AWS's quotas)
    steps = {s.step_key: round(s.end_time - s.start_time, 1)
             for s in instance.get_run_step_stats(result.run_id) if s.end_time and s.start_time}
    print("STEPS " + json.dumps(steps))


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
