"""The expired-logs attempt of `make demo` (default scenario, DISTRIBUTED Maps, its logs 35% expired): wall time of
each Dagster run of its partition's chain, as the demo runs it (emulator in its own process, client pacing at AWS's
quotas), until the history fallback has no answer left to read; and a CLI refresh after that. Prints calls by API and
"reading histories, N of M" per run. Numbers go in docs/performance.md; tests never assert timings.

    .venv/bin/python bench/history_bench.py [--scenario default] [--latency-ms 0] [--quotas]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fetch_bench import RemoteEmulator, child  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--map-mode", default="distributed", choices=["distributed", "inline"])
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--quotas", action="store_true", help="the emulator throttles too (the demo's does not)")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    began = time.perf_counter()
    emu = RemoteEmulator(args.scenario, args.latency_ms, args.quotas, args.map_mode)
    print(f"emulator seeded in {time.perf_counter() - began:.1f} s", flush=True)
    m = next(m for m in emu.truth["migrations"] if any(j["logs_expired"] for j in m["jobs"]))
    env = {**os.environ, **emu.env()}
    env.pop("CXGM_AWS_RATES", None)  # paced at AWS's quotas, as in the demo
    env.setdefault("CXGM_PORTAL_RATE", "20")  # `make demo`'s rate for its local portal
    os.environ.update(env)
    data = tempfile.mkdtemp(prefix="cxgm-history-bench-")
    from cxgm_pipeline.monitor.frames.step_outputs import history_progress
    from cxgm_pipeline.monitor.store.frames import FrameStore

    print(f"{m['stage']}/{m['attempt_key']}: {len(m['jobs'])} jobs, {len(m['datasets'])} datasets, "
          f"{sum(j['logs_expired'] for j in m['jobs'])} jobs' logs expired")
    print("| run | seconds | AWS calls | calls by API | histories |\n|---|---|---|---|---|")
    for run in range(1, args.runs + 1):
        before = emu.control()["calls"]
        t = time.perf_counter()
        child([sys.executable, str(Path(__file__).parent / "fetch_bench.py"), "--dagster-run", data, "--stage",
               m["stage"], "--attempt", m["attempt_key"]], env)
        wall = time.perf_counter() - t
        after = emu.control()["calls"]
        calls = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
        read, of = history_progress(FrameStore(data).read("step_outputs", m["stage"], m["attempt_key"]))
        top = ", ".join(f"{a} {n}" for a, n in sorted(calls.items(), key=lambda x: -x[1]))
        print(f"| {run} | {wall:.1f} | {sum(calls.values())} | {top} | {read} of {of} |", flush=True)
        if read == of:
            break


if __name__ == "__main__":
    main()
