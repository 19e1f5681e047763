"""migration_jobs' pure helpers on hand-written job shapes as production submits them: which jobs of the shared
queue are an attempt's, a job's row, its timing, and where a refresh relists."""

from datetime import datetime, timezone

import pandas as pd
import pytest

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.frames.migration_jobs import (
    RELIST_MARGIN,
    ROW_COLUMNS,
    _summary_state,
    belongs_to,
    job_record,
    job_row,
    relist_from,
    timed,
)
from cxgm_pipeline.vocabulary import AttemptState

pytestmark = pytest.mark.unit

ATTEMPT = Attempt(stage="prod", key="untagged-20261201T0000", tag=None, execution_names=("exec-1",),
                  execution_arns=("arn:aws:states:us-west-2:1:execution:m:exec-1",),
                  start=datetime(2026, 12, 1, tzinfo=timezone.utc), stop=None, state=AttemptState.RUNNING)


def _job(name: str, env: dict[str, str]) -> dict:
    return {"jobId": name + "-id", "jobName": name, "status": "SUCCEEDED", "createdAt": 1_764_547_200_000,
            "jobQueue": "arn:aws:batch:us-west-2:1:job-queue/schema_migration-prod",
            "container": {"environment": [{"name": k, "value": v} for k, v in env.items()]}}


def test_admin_jobs_in_the_queue_are_not_the_attempts():
    # scripts/cxg_admin_scripts/rollback.py @ 804d469: jobName rollback_{time}, ROLLBACK_TYPE and ENTITY_LIST only
    rollback = job_row(_job("rollback_1764547300", {"ROLLBACK_TYPE": "private_dataset_list", "ENTITY_LIST": "a,b"}),
                       "prod", ATTEMPT.key)
    publish = job_row(_job("publish-revisions", {"DEPLOYMENT_STAGE": "prod"}), "prod", ATTEMPT.key)
    assert not belongs_to(rollback, ATTEMPT)
    assert not belongs_to(publish, ATTEMPT)


def test_migration_jobs_by_execution_and_ingestion_jobs_by_window():
    mine = job_row(_job("dataset_migration", {"STEP_NAME": "dataset_migrate", "EXECUTION_ID": "exec-1",
                                              "DATASET_ID": "d1"}), "prod", ATTEMPT.key)
    other = job_row(_job("dataset_migration", {"STEP_NAME": "dataset_migrate", "EXECUTION_ID": "exec-0"}),
                    "prod", ATTEMPT.key)
    # sfn/main.tf: ingestion jobs carry DATASET_VERSION_ID and STEP_NAME, no EXECUTION_ID
    ingestion = job_row(_job("cxg", {"STEP_NAME": "cxg", "DATASET_VERSION_ID": "v2"}), "prod", ATTEMPT.key)
    assert belongs_to(mine, ATTEMPT) and not belongs_to(other, ATTEMPT)
    assert belongs_to(ingestion, ATTEMPT)


def test_ingestion_jobs_of_the_older_machine_carry_version_ids_under_the_old_names():
    # sfn/main.tf IN-1/IN-2: DATASET_ID / COLLECTION_ID hold the versions the migration passed
    row = job_row(_job("cxg", {"DATASET_ID": "v-new", "COLLECTION_ID": "cv-1"}), "prod", ATTEMPT.key)
    assert (row["dataset_id"], row["dataset_version_id"]) == (None, "v-new")
    assert (row["collection_id"], row["collection_version_id"]) == (None, "cv-1")
    migrating = job_row(_job("dataset_migration", {"MIGRATE": "true", "DATASET_ID": "d1"}), "prod", ATTEMPT.key)
    assert migrating["dataset_id"] == "d1", "a migration job's DATASET_ID is the dataset's"
    assert row["queue"] == "schema_migration-prod" and row["step"] == "cxg"


def test_a_jobs_record_holds_its_rows_columns_in_order_and_shares_repeated_strings():
    shared: dict[str, str] = {}
    # two answers parse one value into two objects
    one, two = (job_row(_job("cxg", {"STEP_NAME": "cxg", "DATASET_VERSION_ID": "".join(["v", "2"])}), "prod",
                        ATTEMPT.key) for _ in range(2))
    version = ROW_COLUMNS.index("dataset_version_id")
    assert tuple(one) == ROW_COLUMNS and one["dataset_version_id"] is not two["dataset_version_id"]
    first, second = job_record(one, shared), job_record(two, shared)
    assert first == tuple(one.values()) == second and first[version] is second[version]


def test_a_running_job_is_timed_to_awss_clock():
    t = pd.Timestamp("2026-12-01 12:00", tz="UTC")
    jobs = pd.DataFrame({"started_at": [t - pd.Timedelta(minutes=10), t - pd.Timedelta(minutes=5), pd.NaT],
                         "stopped_at": [t - pd.Timedelta(minutes=4), pd.NaT, pd.NaT]})
    out = timed(jobs, t.to_pydatetime())
    assert out["duration_s"].tolist()[:2] == [360.0, 300.0] and pd.isna(out["duration_s"].iloc[2])
    assert (out["observed_at"] == t).all()


def test_a_refresh_relists_from_where_it_costs_fewest_calls():
    t = pd.Timestamp("2026-12-01", tz="UTC")
    few = pd.DataFrame({"created_at": [t + pd.Timedelta(minutes=i) for i in range(5)]})
    none_active = pd.Series([], dtype="datetime64[ns, UTC]")
    assert relist_from(few, none_active) == few["created_at"].iloc[-1] - RELIST_MARGIN, "from the newest job"
    # one straggler before a few jobs: one ListJobs page from the straggler covers them all
    assert relist_from(few, pd.Series([t])) == t - RELIST_MARGIN
    # before 2,500 jobs: describing the straggler by id and listing from the newest is fewer calls
    many = pd.DataFrame({"created_at": [t + pd.Timedelta(seconds=i) for i in range(2500)]})
    assert relist_from(many, pd.Series([t])) == many["created_at"].iloc[-1] - RELIST_MARGIN


def test_a_summary_compares_status_and_first_start_only():
    assert _summary_state("RUNNING", 1_764_547_200_000) == ("RUNNING", 1_764_547_200_000)
    assert _summary_state("RUNNABLE", float("nan")) == ("RUNNABLE", None) == _summary_state("RUNNABLE", 0)



def test_job_times_convert_whatever_memory_numpy_hands_out(monkeypatch):
    """Regression (a CI run): pandas' float-to-datetime path rounds an uninitialised buffer at NaN rows under
    `errstate(over="raise")`. With `np.empty` handing out huge numbers, cxgm's conversion must still be exact."""
    import numpy as np

    from cxgm_pipeline.monitor.frames.migration_jobs import rows_frame

    real_empty = np.empty

    def dirty_empty(shape, dtype=float, *args, **kwargs):
        out = real_empty(shape, dtype, *args, **kwargs)
        if np.dtype(dtype).kind == "f":
            out.fill(1e305)
        return out

    monkeypatch.setattr(np, "empty", dirty_empty)
    rows = [(1_700_000_000_123, None, None), (1_700_000_000_000, 1_700_000_060_000, None)]
    df = rows_frame(rows, ("created_at", "started_at", "stopped_at"))
    assert str(df["created_at"].dtype) == "datetime64[ns, UTC]"
    assert df["created_at"].tolist() == [pd.Timestamp("2023-11-14 22:13:20.123", tz="UTC"),
                                        pd.Timestamp("2023-11-14 22:13:20", tz="UTC")]
    assert df["started_at"].isna().tolist() == [True, False] and df["stopped_at"].isna().all()
    assert df["started_at"][1] == pd.Timestamp("2023-11-14 22:14:20", tz="UTC")
