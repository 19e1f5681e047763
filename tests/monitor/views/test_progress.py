"""Progress and ETA on a small hand-made rollup (tests/emulator/ and tests/cli/ hold them to the truth)."""

import pandas as pd
import pytest

from cxgm_pipeline.monitor.views.progress import (
    Rehearsal,
    attempt_progress,
    estimate_end,
    observed_now,
    progress_curve,
    rehearsal_of,
    unlisted_datasets,
)

pytestmark = pytest.mark.unit

T0 = pd.Timestamp("2026-12-01 00:00", tz="UTC")
H = pd.Timedelta(hours=1)


def _rollup(rows):
    """rows: (state, started hours after T0 or None, finished hours after T0 or None)."""
    return pd.DataFrame({
        "dataset_id": [f"d{i}" for i in range(len(rows))], "state": [r[0] for r in rows],
        "started_at": pd.to_datetime([T0 + r[1] * H if r[1] is not None else None for r in rows], utc=True),
        "finished_at": pd.to_datetime([T0 + r[2] * H if r[2] is not None else None for r in rows], utc=True),
        "total_duration_s": [((r[2] - r[1]) * 3600.0) if r[2] is not None else (5 - r[1]) * 3600.0 if r[1] is not None
                             else None for r in rows]})


# at 5 h: two done, one failed, one running since 4 h, one not started, one skipped
ROLLUP = _rollup([("succeeded", 0, 1), ("succeeded", 1, 2), ("failed", 2, 3), ("running", 4, None),
                  ("not_started", None, None), ("skipped", None, None)])
NOW = T0 + 5 * H


def test_now_is_when_the_unfinished_datasets_were_timed_to():
    assert observed_now(ROLLUP) == NOW
    assert observed_now(pd.DataFrame({"observed_at": [T0, T0 + H]}), ROLLUP) == T0 + H, "the jobs' clock first"
    assert observed_now(ROLLUP[ROLLUP["state"] != "running"]) == T0 + 3 * H, "else the newest time held"
    assert observed_now(ROLLUP.iloc[0:0]) is None


def test_the_curve_ends_at_the_rollups_counts():
    curve = progress_curve(ROLLUP, NOW, T0, points=6)
    assert list(curve["at"]) == [T0 + i * H for i in range(6)]
    assert curve.iloc[-1][["done", "failed", "running", "remaining"]].tolist() == [2, 1, 1, 1]
    assert curve.iloc[0][["done", "running", "remaining"]].tolist() == [0, 1, 4]


def test_a_running_attempts_progress_counts_and_estimates_its_end():
    progress = attempt_progress("prod", "A", ROLLUP, NOW, T0)
    assert (progress.done, progress.failed, progress.running, progress.remaining, progress.skipped) == (2, 1, 1, 1, 1)
    assert progress.total == 5 and progress.now == NOW
    assert progress.rate_per_h == pytest.approx(1 / 3), "one ended in the last three hours (after 2 h, up to 5 h)"
    assert progress.eta is not None and progress.eta.low <= progress.eta.likely <= progress.eta.high
    assert progress.line().startswith("2 done, 1 failed, 1 running or pending, 1 remaining of 5; 0.3 ended/h over the last 3 h; ETA ")


def test_an_ended_attempt_has_no_eta_and_no_dataset_no_progress():
    progress = attempt_progress("prod", "A", ROLLUP, NOW, T0, ended=True)
    assert progress.eta is None and progress.line().endswith("; ended")
    assert attempt_progress("prod", "A", ROLLUP.iloc[0:0], NOW) is None


def test_no_eta_until_a_dataset_ended_or_while_nothing_runs():
    nothing_ended = _rollup([("running", 4, None), ("not_started", None, None)])
    assert estimate_end(nothing_ended, NOW, T0) == (None, "no dataset has ended yet here or in a rehearsal")
    all_done = _rollup([("succeeded", 0, 1)])
    assert estimate_end(all_done, NOW, T0) == (None, "nothing left to run")


def test_a_rehearsal_says_how_long_a_running_dataset_takes():
    rehearsed = _rollup([("succeeded", 0, 2), ("succeeded", 0, 1), ("succeeded", 0, 1)]).assign(
        dataset_id=["d3", "x1", "x2"])
    rehearsal = Rehearsal("dev:A", rehearsed, T0)
    running = _rollup([("succeeded", 0, 1), ("running", 4, None)])
    eta, why = estimate_end(running, NOW, T0, rehearsal)
    assert why is None and "no rehearsal" not in eta.basis and not eta.rough
    assert T0 + 4 * H + pd.Timedelta(hours=2) * 0.5 <= eta.likely <= T0 + 4 * H + pd.Timedelta(hours=2) * 2


def test_collections_not_listed_yet_are_estimated_at_the_listed_ones_mean():
    collections = pd.DataFrame({"collection_migration_status": ["SUCCEEDED", "SUCCEEDED", None, "RUNNING"],
                                "datasets": [4, 6, 0, 0]})
    assert unlisted_datasets(collections, ROLLUP) == 10
    assert unlisted_datasets(collections.iloc[:2], ROLLUP) == 0 and unlisted_datasets(None, ROLLUP) == 0
    # the line's remaining counts them, as `cxgm attempts`' remaining column does, and its total is the answer line's
    progress = attempt_progress("prod", "A", ROLLUP, now=NOW, collections=collections)
    assert progress.line().startswith("2 done, 1 failed, 1 running or pending, ~11 remaining (~10 of them not listed "
                                      "yet) of ~15; "), progress.line()


def test_the_rehearsal_is_the_same_key_ended_earlier_in_another_stage():
    from datetime import datetime, timezone

    from cxgm_pipeline.monitor.attempts.listing import Attempt
    from cxgm_pipeline.vocabulary import AttemptState

    def attempt(stage, key, day, stop=True):
        start = datetime(2026, 12, day, tzinfo=timezone.utc)
        return Attempt(stage, key, key, (), (), start, start if stop else None,
                       AttemptState.SUCCEEDED if stop else AttemptState.RUNNING)

    class Store:
        def exists(self, frame, stage, key):
            return stage != "staging"

    prod = attempt("prod", "A", 5, stop=False)
    candidates = [attempt("staging", "A", 2), attempt("dev", "B", 1), attempt("dev", "A", 6), attempt("dev", "A", 1)]
    assert rehearsal_of(prod, candidates, Store()) is candidates[3], "stored, the same key, ended before it started"
    assert rehearsal_of(prod, candidates[:3], Store()) is None


def test_an_ended_attempts_completion_plot_keeps_its_rehearsals_curve(tmp_path):
    """At the end the plot showed 'this attempt' alone, where the report promises its rehearsal's beside it: an
    ended attempt's rehearsal is read from the store (same key, an earlier stage), for the plot only."""
    from dataclasses import replace

    from cxgm_pipeline.monitor.attempts.ref import AttemptRef
    from cxgm_pipeline.monitor.report.document import AttemptReport, progress_figure
    from cxgm_pipeline.monitor.store.frames import FrameStore
    from cxgm_pipeline.monitor.views.progress import stored_rehearsal

    store = FrameStore(str(tmp_path))
    assert stored_rehearsal("prod", "A", ["dev", "prod"], store) is None
    rehearsed = _rollup([("succeeded", 1, 2), ("failed", 2, 4), ("skipped", None, None)])
    store.write(rehearsed, "dataset_rollup", "dev", "A")
    rehearsal = stored_rehearsal("prod", "A", ["dev", "prod"], store)
    assert (rehearsal.label, rehearsal.start, rehearsal.stop) == ("dev:A", T0 + H, T0 + 4 * H)
    assert stored_rehearsal("dev", "A", ["dev", "prod"], store) is None, "nothing before dev"
    ended = _rollup([("succeeded", 0, 1), ("failed", 1, 3)])
    progress = replace(attempt_progress("prod", "A", ended, now=T0 + 3 * H, start=T0, ended=True), rehearsal=rehearsal)
    figure = progress_figure(AttemptReport(AttemptRef("prod", "A"), {}, progress))
    labels = [t.get_text() for ax in figure.axes for legend in [ax.get_legend()] if legend for t in legend.get_texts()]
    assert any("dev:A" in label for label in labels), labels
