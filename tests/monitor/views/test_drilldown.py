"""One dataset's jobs and failures, on hand-made jobs, executions and rollups."""

import pandas as pd
import pytest

from cxgm_pipeline.monitor.views.drilldown import (
    EXCERPT_CHARS,
    dataset_branches,
    dataset_jobs,
    excerpt,
    failed_datasets,
)

pytestmark = pytest.mark.unit

T = pd.Timestamp("2026-12-01", tz="UTC")


def _job(job_id, step, status, minutes, dataset_id=None, version=None, collection_version=None, **more):
    return {"job_id": job_id, "step": step, "status": status, "created_at": T + pd.Timedelta(minutes=minutes),
            "duration_s": 60.0, "attempts": 1, "error_category": more.pop("error_category", None),
            "dataset_id": dataset_id, "dataset_version_id": version, "collection_version_id": collection_version,
            "last_exception": None, "error_lines": None, "container_reason": None, "status_reason": None, **more}


JOBS = pd.DataFrame([
    _job("j1", "dataset_migration", "SUCCEEDED", 0, "d1", "old1", "rev"),
    _job("j2", "cxg", "FAILED", 5, version="n1", error_category="out_of_memory", last_exception="MemoryError"),
    _job("j3", "dataset_migration", "SUCCEEDED", 1, "d2", "old2", "rev"),
    _job("j4", "cxg", "SUCCEEDED", 6, version="other-upload"),
])
EXECUTIONS = pd.DataFrame({"dataset_id": ["d1"], "new_dataset_version_id": ["n1"], "collection_version_id": ["rev"],
                           "execution_name": ["ingest-n1"], "status": ["FAILED"], "start_at": [T], "stop_at": [T],
                           "duration_s": [60.0]})


def test_the_excerpt_is_the_last_exception_else_the_error_lines_else_batchs_reason():
    assert excerpt({"last_exception": "MemoryError", "error_lines": "ERROR x"}) == "MemoryError"
    assert excerpt({"last_exception": None, "error_lines": " ERROR x \n", "status_reason": "y"}) == "ERROR x"
    assert excerpt({"status_reason": "Essential container exited"}) == "Essential container exited"
    assert excerpt({}) is None
    long = excerpt({"last_exception": "x" * (EXCERPT_CHARS + 10) + "END"})
    assert long.startswith("...") and long.endswith("END") and len(long) == EXCERPT_CHARS + 3


def test_a_datasets_jobs_are_found_through_its_new_version_oldest_first():
    jobs = dataset_jobs("d1", JOBS, EXECUTIONS)
    assert list(jobs["job_id"]) == ["j1", "j2"], "another dataset's and another upload's jobs are not its"
    assert list(jobs["excerpt"]) == [None, "MemoryError"], "an excerpt for a failed job only"
    assert list(jobs["revision"]) == ["rev", "rev"], "cxg's revision is its new version's"
    assert dataset_jobs("d1", pd.DataFrame(), EXECUTIONS).empty


def test_the_failed_datasets_table_shows_each_failing_job():
    rollup = pd.DataFrame({"dataset_id": ["d1", "d2", "d3"], "state": ["failed", "succeeded", "failed"],
                           "failing_step": ["cxg", None, "collection_migration"],
                           "error_category": ["out_of_memory", None, "application"],
                           "error_signature": ["oom", None, "app: boom"], "migration_revision_id": ["rev", "rev", None]})
    table = failed_datasets(rollup, JOBS, EXECUTIONS, top=5)
    assert list(table["dataset_id"]) == ["d1", "d3"]
    assert table.iloc[0][["job_id", "excerpt"]].tolist() == ["j2", "MemoryError"]
    assert table.iloc[1]["job_id"] is None and table.iloc[1]["excerpt"] == "app: boom", "no job: its signature"
    assert len(failed_datasets(rollup, JOBS, EXECUTIONS, top=1)) == 1


def test_a_dataset_gathered_twice_is_two_branches_each_with_its_own_jobs():
    rollup = pd.DataFrame({"dataset_id": ["d1", "d1"], "collection_version_id": ["pub", "open"],
                           "migration_revision_id": ["rev", "open"], "state": ["failed", "succeeded"]})
    frames = {"dataset_rollup": rollup, "enriched_jobs": JOBS, "sfn_executions": EXECUTIONS}
    published, in_place = dataset_branches("d1", "prod", "A", frames)
    assert (published.branch, in_place.branch) == ("pub", "open") and published.label == "prod/A"
    assert list(published.jobs["job_id"]) == ["j1", "j2"] and in_place.jobs.empty
    assert list(published.executions["execution_name"]) == ["ingest-n1"] and in_place.executions.empty
    assert dataset_branches("d9", "prod", "A", frames) == []
