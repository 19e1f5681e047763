"""Every count said to be of datasets counts each dataset once: a dataset of a collection gathered twice (a
curator's open revision and its published version) is two rows of dataset_rollup, one per branch, and one
dataset, in the state of the published version's branch (`one_row_per_dataset`)."""

import pandas as pd
import pytest

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.report.document import AttemptReport, _failed_in_detail, key_numbers
from cxgm_pipeline.monitor.views.alerts import evaluate, failure_counts
from cxgm_pipeline.monitor.views.answer import answer_line, attempt_health
from cxgm_pipeline.monitor.views.attempt_states import attempt_states
from cxgm_pipeline.monitor.views.failures import by_category, failures_markdown
from cxgm_pipeline.monitor.views.progress import attempt_progress
from cxgm_pipeline.vocabulary import AttemptState

pytestmark = pytest.mark.unit

T0 = pd.Timestamp("2026-11-20 00:00", tz="UTC")


def _rollup() -> pd.DataFrame:
    """d1 gathered twice: its open revision (migrated in place) failed, its published version succeeded; d2
    succeeded, d3 failed, d4 was skipped. Four datasets, five rows."""
    rows = [("d1", "open", "open", "failed"), ("d1", "pub", "rev", "succeeded"), ("d2", "pub", "rev", "succeeded"),
            ("d3", "pub", "rev", "failed"), ("d4", "pub", None, "skipped")]
    failed = [s == "failed" for *_, s in rows]
    return pd.DataFrame({
        "stage": "dev", "attempt": "A", "dataset_id": [r[0] for r in rows], "collection_id": "c1",
        "collection_version_id": [r[1] for r in rows], "migration_revision_id": [r[2] for r in rows],
        "state": [r[3] for r in rows], "dataset_version_id": "v0", "new_dataset_version_id": None,
        "failing_step": ["cxg" if f else None for f in failed],
        "error_category": ["validation" if f else None for f in failed],
        "error_signature": ["validation: x" if f else None for f in failed],
        "started_at": [T0 + pd.Timedelta(hours=i) for i in range(len(rows))],
        "finished_at": [T0 + pd.Timedelta(hours=i, minutes=30) for i in range(len(rows))],
        "total_duration_s": 1800.0, "retries": 0, "jobs": 1})


def _attempt() -> Attempt:
    return Attempt("dev", "A", "A", ("A-exec",), ("arn:A",), T0.to_pydatetime(),
                   (T0 + pd.Timedelta(hours=9)).to_pydatetime(), AttemptState.ABORTED)


def test_a_dataset_gathered_twice_is_counted_once_in_its_published_branchs_state():
    rollup = _rollup()
    assert len(rollup) == 5 and rollup["dataset_id"].nunique() == 4
    # the answer line, the health, the progress: three listed datasets (d4 skipped), two succeeded, one failed
    assert "3 of 3 (100%) ended - 1 failed" in answer_line("aborted", rollup), answer_line("aborted", rollup)
    assert attempt_health("aborted", rollup).reason == "aborted with 1 dataset failed"
    p = attempt_progress("dev", "A", rollup, now=T0 + pd.Timedelta(hours=9), start=T0, ended=True)
    assert (p.done, p.failed, p.running, p.remaining, p.skipped, p.total) == (2, 1, 0, 0, 1, 3)
    assert p.curve.iloc[-1][["done", "failed", "running", "remaining"]].tolist() == [2, 1, 0, 0]
    assert "3 of 3 (100%) ended - 1 failed" in answer_line("aborted", rollup, p)
    # `cxgm attempts` and the attempt_states view
    [row] = attempt_states([_attempt()], {("dev", "A"): rollup}).to_dict("records")
    assert (row["datasets"], row["succeeded"], row["failed"], row["skipped"]) == (4, 2, 1, 1)
    # the report's key numbers and its failed datasets; the failure rate of the check and the alerts
    report = AttemptReport(AttemptRef("dev", "A"), {"dataset_rollup": rollup, "rerun_manifest": rollup.iloc[0:0],
                                                    "enriched_jobs": pd.DataFrame(columns=["status"]),
                                                    "sfn_executions": pd.DataFrame()})
    numbers = key_numbers(report)
    assert (numbers["datasets"], numbers["datasets_succeeded"], numbers["datasets_failed"]) == (4, 2, 1)
    assert _failed_in_detail(report).startswith("1 of 1 failed datasets")
    assert failure_counts(rollup) == (1, 3)
    assert by_category(rollup)["datasets"].tolist() == [1]
    assert failures_markdown(rollup).startswith("**1 failed datasets**")
    [finished] = [a for a in evaluate("dev", "A", rollup, pd.DataFrame(columns=["error_signature", "error_category",
                                                                                 "step", "jobs"]),
                                      rollup.iloc[0:0], True, 0.5, {"failure_rate"}) if a.kind == "finished"]
    assert "Datasets: failed 1, skipped 1, succeeded 2" in finished.body
    assert finished.standing.how_far.text() == "3 of 3 ended" and finished.standing.how_far.failed == 1
