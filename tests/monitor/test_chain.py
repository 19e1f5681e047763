"""The chain's declaration and what a refresh starts from."""

import pandas as pd

from cxgm_pipeline.monitor.chain import CHAIN, stored_previous
from cxgm_pipeline.monitor.store.frames import FrameStore
from cxgm_pipeline.schemas import MigrationJobs


def _jobs_observed_at(when: str) -> pd.DataFrame:
    columns = list(MigrationJobs.to_schema().columns)
    return pd.DataFrame([{c: None for c in columns} | {"observed_at": pd.Timestamp(when, tz="UTC")}])


def test_a_refresh_starts_from_the_stored_incremental_frames_only(tmp_path):
    store = FrameStore(str(tmp_path))
    store.write(_jobs_observed_at("2026-12-01 10:00"), "migration_jobs", "prod", "A")
    store.write(pd.DataFrame({"x": [1]}), "dataset_rollup", "prod", "A")  # computed, never a refresh's start
    previous = stored_previous(store, "prod", "A", now=pd.Timestamp("2026-12-01 11:00", tz="UTC"))
    assert set(previous) == {"migration_jobs"}
    assert stored_previous(store, "prod", "other") == {}


def test_frames_observed_after_aws_now_are_not_a_start(tmp_path):
    store = FrameStore(str(tmp_path))
    store.write(_jobs_observed_at("2026-12-01 10:00"), "migration_jobs", "prod", "A")
    assert stored_previous(store, "prod", "A", now=pd.Timestamp("2026-12-01 09:00", tz="UTC")) == {}


def test_a_frame_an_older_cxgm_wrote_is_rebuilt_whole(tmp_path):
    store = FrameStore(str(tmp_path))
    store.write(_jobs_observed_at("2026-12-01 10:00").drop(columns=["log_stream"]), "migration_jobs", "prod", "A")
    assert stored_previous(store, "prod", "A") == {}


def test_the_incremental_frames_are_those_that_read_a_remote_source():
    assert {s.name for s in CHAIN if s.incremental} == {
        "migration_jobs", "enriched_jobs", "output_records", "step_outputs", "sfn_executions", "child_failures",
        "portal_state"}
