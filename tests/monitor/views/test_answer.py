"""The answer line and an attempt's health, against the emulator's truth: every attempt of the small scenario
(one died in gather_collections, one was aborted, some ended with failed datasets)."""

import re

import pandas as pd
import pytest

from cxgm_pipeline.monitor.views.answer import FailedCollections, Health, answer_line, attempt_health, failed_collections
from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.frames.attempt_rollup import attempt_summary
from cxgm_pipeline.monitor.views.progress import attempt_progress
from cxgm_pipeline.monitor.session import MonitorSession
from cxgm_pipeline.schemas import DatasetRollup, empty_frame
from tests.conftest import observable, once_each

LINE = re.compile(r"^(?P<state>[a-z ]+?)(?: execution, but the attempt (?P<why>failed in \S+ \(\w+\)))? - "
                  r"(?P<ended>[\d,]+) of ~?(?P<total>[\d,]+) \((?P<pct>\d+)%\) ended - (?P<failed>[\d,]+) failed"
                  r"(?: - .*)? - data from \d{4}-\d\d-\d\d \d\d:\d\d UTC$")


def _n(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture(scope="module")
def attempts(emulator, truth):
    """Every migration of the truth, fetched: (truth migration, attempt, rollup, why_empty)."""
    session = MonitorSession(stats=FetchStats())
    out = []
    for m in truth["migrations"]:
        attempt = session.resolve(m["stage"], m["attempt_key"])
        frames = session.fetch(m["stage"], attempt, ("dataset_rollup", "enriched_jobs"))
        why = attempt_summary(attempt, frames["enriched_jobs"], frames["dataset_rollup"])
        out.append((m, attempt, frames["dataset_rollup"], why))
    return out


def test_the_line_counts_what_the_truth_says(attempts):
    seen_with_datasets = 0
    for m, attempt, rollup, why in attempts:
        progress = attempt_progress(m["stage"], m["attempt_key"], rollup, ended=attempt.ended,
                                    start=pd.Timestamp(attempt.start))
        line = answer_line(attempt.state.value, rollup, progress, why)
        datasets = [d for d in once_each(observable(m)) if d["state"] != "skipped"]
        if not datasets:
            assert "no dataset" in line and line.startswith(attempt.state.value), line
            continue
        seen_with_datasets += 1
        got = LINE.match(line)
        assert got, line
        ended = sum(d["state"] in ("succeeded", "failed") for d in datasets)
        failed = sum(d["state"] == "failed" for d in datasets)
        assert (_n(got["ended"]), _n(got["total"]), _n(got["failed"])) == (ended, len(datasets), failed), line
        assert int(got["pct"]) == 100 * ended // len(datasets)  # rounded down: 100% only once all ended
        if attempt.state.value == "succeeded":  # the execution's status, unless datasets failed: then the result
            assert line.startswith("finished with failures - " if failed else "succeeded - "), line
        # the same line without the progress (the rollup's metadata) says the same numbers
        assert answer_line(attempt.state.value, rollup, None, why).split(" - data")[0] == line.split(" - data")[0]
    assert seen_with_datasets >= 2


def test_a_gather_death_an_abort_and_failed_datasets_are_not_healthy(attempts):
    levels = {}
    for m, attempt, rollup, why in attempts:
        health = attempt_health(attempt.state.value, rollup, why)
        gather_failed = any(j["step"] == "gather_collections" and j["status"] == "FAILED" for j in m["jobs"])
        failed = sum(d["state"] == "failed" for d in once_each(observable(m)))
        if gather_failed:
            assert health.level == "error" and "gather_collections" in health.reason
            line = answer_line(attempt.state.value, rollup, None, why)
            assert "failed in gather_collections" in line.split(" - ")[0] and len(line) < 120, line
        elif m["status"] == "ABORTED":
            assert health.level == "error" and health.reason.startswith("aborted")
            if failed:
                assert f"{failed:,} dataset{'s' if failed != 1 else ''} failed" in health.reason
        elif m["status"] == "FAILED":  # staging's history-quota stop: the execution failed
            assert health.level == "error" and health.reason.startswith("the execution failed")
        elif failed:
            assert health.level == "warn" and f"{failed:,} failed dataset" in health.reason
        else:
            assert health.healthy, (m["stage"], m["attempt_key"], health)
        levels[(m["stage"], m["attempt_key"])] = health.level
    assert {"error", "warn"} <= set(levels.values()), levels
    # a SpanCollections breach ends SUCCEEDED through report: its outcome makes it an error
    breached = attempt_health("succeeded", None, None, "tolerance_exceeded")
    assert breached.level == "error" and "tolerance" in breached.reason


def test_a_placeholder_says_so():
    assert answer_line(None, empty_frame(DatasetRollup)).startswith("not run in this stage: a placeholder")
    health = attempt_health(None, None)
    assert health.healthy and "placeholder" in health.reason  # the metadata's health says so, not "no failure"


def test_an_eta_range_across_midnight_dates_each_end():
    """A range with one end on another day: both ends dated, joined by "to" (`20:37-12-06 11:31` misreads)."""
    from cxgm_pipeline.monitor.views.answer import _eta

    now = pd.Timestamp("2026-12-05 13:52", tz="UTC")
    same = _eta(now + pd.Timedelta(hours=8), now + pd.Timedelta(hours=6), now + pd.Timedelta(hours=10), now)
    assert same == "ETA 21:52 UTC (19:52-23:52)"
    across = _eta(now + pd.Timedelta(hours=17), now + pd.Timedelta(hours=6.75), now + pd.Timedelta(hours=21.65), now)
    assert across == "ETA 12-06 06:52 UTC (12-05 20:37 to 12-06 11:31)"


def test_running_line_has_the_eta_and_its_range():
    now = pd.Timestamp("2026-11-25 12:04", tz="UTC")
    rollup = empty_frame(DatasetRollup).reindex(range(40))
    ended = now - pd.Timedelta(hours=1)
    states = ["succeeded"] * 25 + ["failed"] * 5 + ["running"] * 5 + ["not_started"] * 5
    rollup = rollup.assign(dataset_id=[f"d{i}" for i in range(40)], state=states,
                           started_at=[now - pd.Timedelta(hours=3 - i / 20) if s != "not_started" else pd.NaT
                                       for i, s in enumerate(states)],
                           finished_at=[ended if s in ("succeeded", "failed") else pd.NaT for s in states],
                           total_duration_s=[3600.0 if s in ("succeeded", "failed") else 600.0 for s in states])
    for c in ("started_at", "finished_at"):
        rollup[c] = pd.to_datetime(rollup[c], utc=True)
    progress = attempt_progress("prod", "A", rollup, now=now, start=now - pd.Timedelta(hours=3))
    line = answer_line("running", rollup, progress)
    assert line.startswith("running - 30 of ~40 (75%) ended - 5 failed - ETA "), line
    assert re.search(r"ETA \d\d:\d\d UTC \(\d\d:\d\d-\d\d:\d\d\)|"
                     r"ETA \d\d-\d\d \d\d:\d\d UTC \(\d\d-\d\d \d\d:\d\d to \d\d-\d\d \d\d:\d\d\)", line), line
    assert line.endswith("data from 2026-11-25 12:04 UTC")
    assert "ETA on migration_report" in answer_line("running", rollup, None, with_eta=False)
    # no rehearsal: the datasets ended so far are the quick ones, and the line says its ETA is rough
    assert progress.eta.rough and ", rough: no rehearsal to scale from - data from" in line, line


def test_without_a_progress_the_total_counts_the_datasets_not_listed_yet():
    """dataset_rollup's line (no progress, so no ETA) counts of migration_report's total, the datasets not listed
    yet included: both pages say "35 of ~1,624 (2%)", never one of them "35 of ~129 (27%)"."""
    rollup = empty_frame(DatasetRollup).reindex(range(4)).assign(
        dataset_id=["a", "b", "c", "d"], state=["succeeded", "failed", "running", "skipped"])
    line = answer_line("running", rollup, None, with_eta=False, unlisted=97)
    assert line.startswith("running - 2 of ~100 (2%) ended - 1 failed - ETA on migration_report"), line


@pytest.mark.unit
def test_the_percentage_reaches_100_only_when_every_dataset_has_ended():
    """1,950 of 1,954 read "(100%)" while four were still running: the share is rounded down."""
    states = ["succeeded"] * 199 + ["running"]
    rollup = empty_frame(DatasetRollup).reindex(range(len(states))).assign(
        dataset_id=[f"d{i}" for i in range(len(states))], state=states)
    assert "199 of ~200 (99%) ended" in answer_line("running", rollup, None, with_eta=False)
    done = rollup.assign(state="succeeded")
    assert "200 of 200 (100%) ended" in answer_line("succeeded", done, None, with_eta=False)


@pytest.mark.unit
def test_stored_counts_older_than_the_end_say_so():
    """`cxgm attempts` joins AWS's present state with stored counts: counts from before the end are marked."""
    rollup = empty_frame(DatasetRollup).reindex(range(2)).assign(dataset_id=["a", "b"], state=["succeeded", "running"])
    now = pd.Timestamp("2026-12-06 06:32", tz="UTC")
    line = answer_line("succeeded", rollup, None, now=now, ended_at=pd.Timestamp("2026-12-06 06:38", tz="UTC"))
    assert line.endswith("data from 2026-12-06 06:32 UTC, before its end at 2026-12-06 06:38 UTC: --refresh reads the rest")
    assert answer_line("succeeded", rollup, None, now=now, ended_at=now - pd.Timedelta(minutes=1)).endswith("06:32 UTC")


@pytest.mark.unit
def test_an_ended_attempt_says_what_the_portal_still_serves_on_the_old_schema():
    """At 100% the question left is what the portal serves: the count leads, not only its own section."""
    rollup = empty_frame(DatasetRollup).reindex(range(2)).assign(dataset_id=["a", "b"], state=["succeeded", "failed"])
    now = pd.Timestamp("2026-12-06 06:32", tz="UTC")
    line = answer_line("succeeded", rollup, None, now=now, old_schema=546)
    assert " - 546 still on the old schema in the portal - data from" in line
    assert "old schema" not in answer_line("succeeded", rollup, None, now=now, old_schema=0)
    assert "old schema" not in answer_line("running", rollup, None, with_eta=False, now=now, old_schema=546)


@pytest.mark.unit
def test_a_map_run_past_its_tolerance_leads_the_line_not_finished_with_failures():
    """DIES: production's Catch sent the failed SpanCollections run to `report`, so the execution SUCCEEDED; the
    line says what the health check and attempt_states say, not "finished with failures"."""
    rollup = empty_frame(DatasetRollup).reindex(range(2)).assign(dataset_id=["a", "b"], state=["succeeded", "failed"])
    now = pd.Timestamp("2026-12-06 06:32", tz="UTC")
    line = answer_line("succeeded", rollup, None, now=now, outcome="tolerance_exceeded")
    assert line.startswith("succeeded execution, but the attempt exceeded its failure tolerance - 2 of 2 (100%)")
    assert answer_line("succeeded", rollup, None, now=now, outcome="finished_with_failures").startswith(
        "finished with failures - ")


def test_collections_that_failed_before_listing_their_datasets_have_one_wording():
    assert FailedCollections(2, 8).text() == "2 collections failed before listing their datasets (8 datasets)"
    assert FailedCollections(1, 1).text() == "1 collection failed before listing its datasets (1 dataset)"
    assert FailedCollections(3, None).text() == ("3 collections failed before listing their datasets "
                                                 "(how many: the portal not read)")


@pytest.mark.unit
def test_the_answer_line_and_the_health_say_which_collections_failed_before_listing_their_datasets():
    """The demo's prod attempt read "1,954 of 1,954 (100%) ended - 111 failed": 8 datasets of two collections whose
    collection_migration failed were in no count. The portal's datasets count in the total, never started; the
    line says so after the failed datasets, and the health warns even when no dataset failed."""
    rollup = empty_frame(DatasetRollup).reindex(range(3)).assign(
        dataset_id=["a", "b", "c"], state=["succeeded", "failed", "skipped"])
    now = pd.Timestamp("2026-12-06 06:32", tz="UTC")
    failed = FailedCollections(2, 8)
    line = answer_line("succeeded", rollup, None, now=now, old_schema=9, collections=failed)
    assert line == ("finished with failures - 2 of 10 (20%) ended - 1 failed - 2 collections failed before listing "
                    "their datasets (8 datasets) - 9 still on the old schema in the portal - data from "
                    "2026-12-06 06:32 UTC")
    clean = rollup.assign(state="succeeded")
    assert answer_line("succeeded", clean, None, now=now, collections=failed).startswith(
        "finished with failures - 3 of 11 (27%) ended - 0 failed - 2 collections failed")
    assert attempt_health("succeeded", clean, None, None, failed) == Health("warn", f"ended with {failed.text()}")
    health = attempt_health("succeeded", rollup, None, None, failed)
    assert health.level == "warn" and health.reason == f"ended with 1 failed dataset; {failed.text()}"
    assert attempt_health("succeeded", clean, None, None, None).healthy


@pytest.mark.unit
def test_failed_collections_are_read_from_the_collection_rollup_or_the_jobs():
    collections = pd.DataFrame({"collection_id": ["c1", "c2", "c3"], "collection_version_id": ["v1", "v2", None],
                                "collection_migration_status": ["FAILED", "SUCCEEDED", "FAILED"]})
    rollup = empty_frame(DatasetRollup).reindex(range(1)).assign(dataset_id=["a"], state=["succeeded"])
    portal = pd.DataFrame({"dataset_id": ["a", "x", "y"], "collection_id": ["c2", "c1", "c1"],
                           "state": ["succeeded", "not_started", "not_started"],
                           "portal_verdict": ["migrated_and_live", "published_on_old_schema", "published_on_old_schema"]})
    assert failed_collections(rollup=rollup, portal=portal, collections=collections) == FailedCollections(2, 2)
    assert failed_collections(rollup=rollup, collections=collections).text().endswith("(how many: on migration_report)")
    unread = portal.assign(portal_verdict="portal_unreachable")
    assert failed_collections(rollup=rollup, portal=unread, collections=collections) == FailedCollections(2, None)
    jobs = pd.DataFrame({"step": ["collection_migration"] * 3, "status": ["FAILED", "SUCCEEDED", "FAILED"],
                         "collection_id": ["c1", "c1", "c2"], "collection_version_id": ["v1", "v1", "v2"],
                         "created_at": pd.to_datetime([1, 2, 3], unit="s", utc=True)})
    # c1's retry succeeded: its latest job decides
    assert failed_collections(jobs, rollup, portal) == FailedCollections(1, 2)
    assert failed_collections(jobs.iloc[:2], rollup, portal) is None


@pytest.mark.unit
def test_a_total_missing_uncounted_datasets_is_a_floor_without_a_share():
    """Before the portal is read, the datasets of collections that failed before naming them are not counted: the
    line must not read 100% of the part it knows."""
    from cxgm_pipeline.monitor.views.answer import FailedCollections

    rollup = empty_frame(DatasetRollup).reindex(range(2)).assign(dataset_id=["a", "b"], state=["succeeded", "failed"])
    now = pd.Timestamp("2026-12-06 06:32", tz="UTC")
    line = answer_line("succeeded", rollup, None, now=now,
                       collections=FailedCollections(2, None, "on migration_report"))
    assert line.startswith("finished with failures - 2 of 2+ ended - 1 failed - 2 collections failed before listing "
                           "their datasets (how many: on migration_report)"), line
    assert "%" not in line
