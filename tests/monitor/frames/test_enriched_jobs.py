"""A job's log and classification columns, and which previous enrichment a refresh reuses (hand-made jobs)."""

import pandas as pd
import pytest

from cxgm_pipeline.monitor.frames.enriched_jobs import _ENRICHED, _reusable, _running_logs_due, enrich_row

pytestmark = pytest.mark.unit

T = pd.Timestamp("2026-12-01 12:00", tz="UTC")


def test_the_log_status_says_why_no_log_was_read():
    job = {"status": "SUCCEEDED", "log_stream": "s/1"}
    assert enrich_row(job, None, fetched=False)["log_status"] == "not_fetched"
    assert enrich_row({**job, "log_stream": None}, None, fetched=True)["log_status"] == "no_stream"
    assert enrich_row(job, None, fetched=True)["log_status"] == "missing"
    assert enrich_row(job, None, fetched=True)["error_category"] is None, "a job that succeeded has no cause"


def test_a_failed_jobs_log_is_read_and_classified():
    events = [{"timestamp": 1, "message": "loading dataset"},
              {"timestamp": 2, "message": "MemoryError: Unable to allocate 3.2 GiB"}]
    out = enrich_row({"status": "FAILED", "log_stream": "s/1", "status_reason": None,
                      "container_reason": "OutOfMemoryError: Container killed due to memory usage"}, events, fetched=True)
    assert out["log_status"] == "fetched" and out["log_lines"] == 2
    assert out["error_category"] == "out_of_memory" and out["error_signature"]


def _jobs(*rows):
    return pd.DataFrame([{"job_id": j, "status": s, "log_stream": "s/" + j, "observed_at": T} for j, s in rows])


def _previous(*rows, read_at=T - pd.Timedelta(minutes=5)):
    return _jobs(*rows).assign(**{**dict.fromkeys(_ENRICHED), "log_status": "fetched", "log_read_at": read_at,
                                 "log_lines": 7})


def test_running_logs_are_due_once_per_interval():
    assert _running_logs_due(_jobs(("a", "RUNNING")), None, 600)
    assert not _running_logs_due(_jobs(("a", "RUNNING")), _previous(("a", "RUNNING")), 600)
    assert _running_logs_due(_jobs(("a", "RUNNING")), _previous(("a", "RUNNING")), 300)
    assert _running_logs_due(_jobs(("a", "RUNNING")), _previous(("a", "SUCCEEDED")), 600), "none read while running"


def test_an_ended_jobs_enrichment_is_reused_while_its_status_holds():
    jobs = _jobs(("ended", "FAILED"), ("changed", "FAILED"), ("running", "RUNNING"), ("new", "RUNNING"))
    previous = _previous(("ended", "FAILED"), ("changed", "RUNNING"), ("running", "RUNNING"))
    assert list(_reusable(jobs, previous, running_due=False)["_reuse"]) == [True, False, True, False]
    assert list(_reusable(jobs, previous, running_due=True)["_reuse"]) == [True, False, False, False]
    assert not _reusable(jobs, None, running_due=False)["_reuse"].any()
    assert _reusable(jobs, previous, running_due=False)["log_lines"].tolist()[:3] == [7, 7, 7], "its columns come along"
