"""Running jobs are timed to AWS's clock (its answers' Date header), never the local one: against the
emulator, whose simulated clock is hours behind the wall while a migration runs, the local clock made cxg jobs
"run" past their own timeout."""

import time

import pandas as pd

from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.session import MonitorSession
from tests.conftest import migration


def test_running_jobs_are_timed_to_aws_clock(clock, truth):
    prod = migration(truth, "prod", live=True)
    moment = prod["start"] + (prod["stop"] - prod["start"]) * 0.4
    clock.set(moment)
    assert time.time() - moment > 3600  # the test means something only if the two clocks differ
    session = MonitorSession(stats=FetchStats())
    frames = session.fetch("prod", session.resolve("prod", prod["attempt_key"]), ("migration_jobs", "dataset_rollup"))
    jobs = frames["migration_jobs"]
    observed = jobs["observed_at"].iloc[0].timestamp()
    assert abs(observed - moment) < 5, (observed, moment)
    running = jobs[jobs["status"] == "RUNNING"]
    assert not running.empty
    limit = (pd.Timestamp(moment, unit="s", tz="UTC") - running["started_at"]).dt.total_seconds() + 5
    assert (running["duration_s"] <= limit).all()
    truth_running = {j["job_id"]: j for j in prod["jobs"] if j["started_at"] and j["started_at"] <= moment
                     and (j["stopped_at"] or 1e12) > moment}
    for job_id, seconds in zip(running["job_id"], running["duration_s"]):
        if job_id in truth_running:  # a retried job restarts: its latest attempt's start is what Batch shows
            assert seconds <= moment - truth_running[job_id]["started_at"] + 5
