"""Fetch-and-rollup benchmark of one attempt of the default scenario (~2,000 datasets, ~8,500 jobs).

Runs the emulator in this process, then each stage of the chain, printing wall time and AWS calls.
Optional: --latency-ms adds per-call latency (real AWS adds tens of ms), --quotas applies AWS's default
per-API rates. Numbers go in the README; tests never assert timings.

    .venv/bin/python bench/fetch_bench.py [--scenario default] [--latency-ms 30] [--quotas]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--quotas", action="store_true")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--attempt", default="ATTEMPT_2")
    args = parser.parse_args()

    from cxgm_emulator.server import Emulator, EmulatorOptions
    from cxgm_emulator.throttling import AWS_DEFAULT_QUOTAS, Injection

    injection = Injection(latency_ms=args.latency_ms, quotas=dict(AWS_DEFAULT_QUOTAS) if args.quotas else {})
    began = time.perf_counter()
    emu = Emulator(EmulatorOptions(scenario=args.scenario, clock="end", injection=injection,
                                   truth_path=Path(tempfile.mkdtemp()) / "truth.json")).start()
    seeded = time.perf_counter() - began
    os.environ.update(emu.env())

    from cxgm_pipeline.monitor.attempts import find_attempt
    from cxgm_pipeline.monitor.enrich import enrich_jobs
    from cxgm_pipeline.monitor.executions import fetch_sfn_executions
    from cxgm_pipeline.monitor.jobs import fetch_migration_jobs
    from cxgm_pipeline.monitor.outputs import collect_outputs
    from cxgm_pipeline.monitor.rollups import dataset_rollup
    from cxgm_pipeline.resources.aws import (ArtifactsResource, BatchResource, CloudWatchLogsResource, FetchStats,
                                             StepFunctionsResource)

    sfn = StepFunctionsResource()
    rows = [("emulator start (seed + install)", seeded, 0, 0)]

    def measure(label, fn):
        stats = FetchStats()
        t = time.perf_counter()
        out = fn(stats)
        rows.append((label, time.perf_counter() - t, stats.calls, stats.items))
        return out

    attempt = measure("attempt lookup", lambda s: find_attempt(args.stage, args.attempt, sfn, s))
    jobs = measure("migration_jobs", lambda s: fetch_migration_jobs(args.stage, attempt, BatchResource(), s))
    outputs = measure("step_outputs (output log records, 100 streams a call)", lambda s: collect_outputs(
        args.stage, attempt, jobs, CloudWatchLogsResource(), sfn, ArtifactsResource(), s))
    execs = measure("sfn_executions (ListExecutions pages)", lambda s: fetch_sfn_executions(args.stage, attempt, outputs, sfn, s))
    enriched = measure("enriched_jobs", lambda s: enrich_jobs(jobs, CloudWatchLogsResource(), s))
    rollup = measure("dataset_rollup", lambda s: dataset_rollup(args.stage, attempt.key, enriched, execs, outputs, attempt.ended))
    emu.stop()
    print(f"scenario {args.scenario}, {args.stage}/{args.attempt}: {len(jobs)} jobs, {len(execs)} executions, "
          f"{len(rollup)} datasets; latency {args.latency_ms} ms; quotas {'on' if args.quotas else 'off'}")
    print(f"| step | seconds | AWS calls | items |\n|---|---|---|---|")
    for label, seconds, calls, items in rows:
        print(f"| {label} | {seconds:.2f} | {calls} | {items} |")
    print(f"peak RSS (emulator and client in one process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
