"""How far a running attempt has got and when it will end: done / failed / running / remaining over time,
throughput per hour, and an ETA with its range.

A migration's end is set by its slowest datasets (a few giant ones run for hours after the bulk is done),
so the ETA is the latest of the unfinished datasets' predicted ends, not remaining / rate:
- a running dataset ends at its start plus a duration drawn from the datasets that ran LONGER than it has
  run so far (this attempt's ended ones, and the rehearsal's, the same attempt key in another stage, scaled by
  how much slower this stage runs the same datasets); one the rehearsal ran to the end gets its own duration
  there, scaled;
- datasets not started yet start at the observed start rate, then take a duration of that sample;
- the range: the optimistic end uses the rehearsal's fast ratio (10th percentile) and the lower quartile, the
  pessimistic one its slow ratio (90th percentile) and the longest duration seen; the likely one the medians.

Everything takes `now` as a parameter: for a running attempt it is AWS's time (the Date of its answers, kept
as the jobs' `observed_at`), never this machine's: `observed_now` reads it from the frames.
Dagster-free: the report, `cxgm attempts` and the alerts share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.monitor.frames.rollups import one_row_per_dataset
from cxgm_pipeline.vocabulary import ACTIVE_DATASET_STATES, DatasetState

if TYPE_CHECKING:
    from cxgm_pipeline.monitor.attempts.listing import Attempt
    from cxgm_pipeline.monitor.store.frames import FrameStoreOps

ENDED = (DatasetState.SUCCEEDED.value, DatasetState.FAILED.value)
ACTIVE = tuple(s.value for s in ACTIVE_DATASET_STATES)
RATE_WINDOW = pd.Timedelta(hours=3)  # throughput is measured over the last 3 hours (or since the start)
MIN_MATCHED = 10  # datasets ended in both stages before their ratio is trusted
ASSUMED_RATIO = (0.5, 1.0, 2.0)  # fast, typical, slow: without a rehearsal, this stage may run 2x either way
CURVE_POINTS = 48


@dataclass(frozen=True)
class Rehearsal:
    """The same attempt key in another stage, ended (dev's rehearsal of a prod run): its dataset_rollup."""

    label: str  # e.g. dev:ATTEMPT_2
    rollup: pd.DataFrame
    start: pd.Timestamp
    stop: pd.Timestamp | None = None


@dataclass(frozen=True)
class Eta:
    low: pd.Timestamp
    likely: pd.Timestamp
    high: pd.Timestamp
    basis: str  # what the estimate stands on, in a line
    # no rehearsal to scale from: early on, the datasets ended so far are the quick ones, so the range is rough
    rough: bool = False

    @property
    def caveat(self) -> str:
        """What every page appends to a rough ETA ("" for another)."""
        return "rough: no rehearsal to scale from" if self.rough else ""

    def text(self, now: pd.Timestamp) -> str:
        def rel(t: pd.Timestamp) -> str:
            return _hours(max((t - now).total_seconds(), 0.0) / 3600)

        return (f"ETA {self.likely:%Y-%m-%d %H:%M} UTC (in {rel(self.likely)}; range {self.low:%m-%d %H:%M} to "
                f"{self.high:%m-%d %H:%M}, {rel(self.low)} to {rel(self.high)})"
                + (f"; {self.caveat}" if self.rough else ""))


@dataclass(frozen=True)
class Progress:
    stage: str
    attempt: str
    now: pd.Timestamp
    ended: bool
    done: int  # succeeded
    failed: int
    running: int  # running or waiting for a job to start
    remaining: int  # listed, not started
    unlisted: int  # estimated datasets of collections that have not listed theirs yet
    skipped: int
    rate_per_h: float  # datasets ended per hour over the last RATE_WINDOW (or since the start)
    curve: pd.DataFrame  # at, done, failed, running, remaining
    eta: Eta | None
    why_no_eta: str | None = None
    rehearsal: Rehearsal | None = None
    # datasets the portal names of collections whose collection_migration failed before listing them: never
    # started and never will (`answer.named_by_the_portal`); in the expected total, as on the answer line
    never_listed: int = 0

    @property
    def total(self) -> int:
        """The datasets listed, skipped ones out."""
        return self.done + self.failed + self.running + self.remaining

    @property
    def expected(self) -> int:
        """The total every page gives: listed, plus the estimate of those not listed yet, plus those the portal
        alone names (`answer.how_far`)."""
        return self.total + self.unlisted + self.never_listed

    def line(self) -> str:
        """One line for a terminal or an alert; its total is the answer line's."""
        # `running` counts the pending too: said so, or "91 running" contradicts the summary's "87 running · 4 pending"
        # remaining: those listed and not started, and the estimate of those not listed yet (as `cxgm attempts`)
        head = (f"{self.done:,} done, {self.failed:,} failed, {self.running:,} running or pending, "
                + (f"~{self.remaining + self.unlisted:,} remaining (~{self.unlisted:,} of them not listed yet)"
                   if self.unlisted else f"{self.remaining:,} remaining")
                + (f", {self.never_listed:,} never listed (their collection failed)" if self.never_listed else "")
                + f" of {'~' if self.unlisted else ''}{self.expected:,}")
        if self.ended:
            return head + "; ended"
        eta = self.eta.text(self.now) if self.eta else f"no ETA: {self.why_no_eta}"
        return f"{head}; {self.rate_per_h:.1f} ended/h over the last {RATE_WINDOW.total_seconds() / 3600:.0f} h; {eta}"


def _hours(h: float) -> str:
    return f"{h:.1f} h" if h < 48 else f"{h / 24:.1f} d"


def observed_now(*frames: pd.DataFrame) -> pd.Timestamp | None:
    """AWS's clock when the frames were fetched: the jobs' `observed_at` (the Date of AWS's answers); from a
    dataset_rollup alone, the moment its unfinished datasets were timed to (their start plus their duration so
    far); else the newest timestamp the frames hold, a lower bound."""
    given = [f for f in frames if f is not None and not f.empty]
    observed = [f["observed_at"].max() for f in given if "observed_at" in f.columns]
    if observed:
        return pd.Timestamp(max(observed))
    timed = []
    for f in given:
        if {"started_at", "finished_at", "total_duration_s"} <= set(f.columns):
            open_ = f[f["finished_at"].isna() & f["started_at"].notna() & f["total_duration_s"].notna()]
            if not open_.empty:
                timed.append((open_["started_at"] + pd.to_timedelta(open_["total_duration_s"], unit="s")).max())
    if timed:
        return pd.Timestamp(max(timed))
    stamps = [f[c].max() for f in given for c in f.columns if isinstance(f[c].dtype, pd.DatetimeTZDtype)]
    stamps = [t for t in stamps if not pd.isna(t)]
    return pd.Timestamp(max(stamps)) if stamps else None


def _ended_at(rollup: pd.DataFrame, now: pd.Timestamp) -> pd.Series:
    """When each dataset ended (NaT: not yet); a failed one whose sibling job still runs ended when it failed,
    which the rollup does not keep: `now` stands for it."""
    ended = rollup["state"].isin(ENDED)
    finished = pd.to_datetime(rollup["finished_at"], utc=True)
    return finished.where(finished.notna(), pd.Timestamp(now)).where(ended)


def progress_curve(rollup: pd.DataFrame, now: pd.Timestamp, start: pd.Timestamp | None = None,
                   points: int = CURVE_POINTS) -> pd.DataFrame:
    """done / failed / running / remaining at `points` moments from the start to now (the last row is now and
    equals the rollup's counts)."""
    columns = ["at", "done", "failed", "running", "remaining"]
    listed = rollup[rollup["state"] != DatasetState.SKIPPED.value] if not rollup.empty else rollup
    if listed.empty:
        return pd.DataFrame(columns=columns)
    now = pd.Timestamp(now)
    first = listed["started_at"].min()
    start = pd.Timestamp(start) if start is not None else (first if not pd.isna(first) else now)
    moments = pd.date_range(min(start, now), now, periods=points) if now > start else pd.DatetimeIndex([now])
    ended_at = pd.to_datetime(_ended_at(listed, now), utc=True)
    started_at = pd.to_datetime(listed["started_at"], utc=True)
    succeeded = listed["state"] == DatasetState.SUCCEEDED.value
    rows = []
    for at in moments:
        over = ended_at.notna() & (ended_at <= at)
        began = started_at.notna() & (started_at <= at)
        done, failed = int((over & succeeded).sum()), int((over & ~succeeded).sum())
        running = int((began & ~over).sum())
        rows.append({"at": at, "done": done, "failed": failed, "running": running,
                     "remaining": len(listed) - done - failed - running})
    return pd.DataFrame(rows, columns=columns)


def _rate(times: pd.Series, now: pd.Timestamp, start: pd.Timestamp) -> tuple[float, int, float]:
    """(per hour, events, window hours) of the events in the last RATE_WINDOW (or since the start)."""
    begin = max(now - RATE_WINDOW, start)
    hours = max((now - begin).total_seconds() / 3600, 1 / 60)
    events = int(((times > begin) & (times <= now)).sum())
    return events / hours, events, hours


def _ratios(rollup: pd.DataFrame, rehearsal: Rehearsal | None) -> tuple[tuple[float, float, float], str]:
    """How much slower this stage runs the datasets both ran to success: 10th, 50th, 90th percentile."""
    if rehearsal is None or rehearsal.rollup.empty:
        # a rehearsal that ran but is not rolled up yet is not looked for (only stored rollups are): say both
        return ASSUMED_RATIO, "no rehearsal rolled up yet (same key, another stage): durations assumed 0.5-2x"
    cols = ["dataset_id", "total_duration_s"]
    ok = DatasetState.SUCCEEDED.value
    rollup, rehearsed = one_row_per_dataset(rollup), one_row_per_dataset(rehearsal.rollup)  # a dataset gathered twice: one
    both = pd.merge(rollup.loc[rollup["state"] == ok, cols], rehearsed.loc[rehearsed["state"] == ok, cols],
                    on="dataset_id", suffixes=("", "_rehearsal"))
    both = both[(both["total_duration_s_rehearsal"] > 0) & both["total_duration_s"].notna()]
    if len(both) < MIN_MATCHED:
        return ASSUMED_RATIO, f"{len(both)} datasets ended in both {rehearsal.label} and here: ratio assumed 0.5-2x"
    r = both["total_duration_s"] / both["total_duration_s_rehearsal"]
    q = tuple(float(x) for x in r.quantile([0.1, 0.5, 0.9]))
    return q, f"{len(both)} datasets ran in both: {rehearsal.label} x{q[1]:.2f} (x{q[0]:.2f}-x{q[2]:.2f})"


# The three ends of the range: (name, quantile of the longer durations a running dataset gets, factor of its own
# elapsed time when no dataset ran longer, quantile of the durations the last dataset to start gets)
BOUNDS = (("low", 0.25, 1.0, 0.5), ("likely", 0.5, 1.25, None), ("high", 1.0, 2.0, 1.0))


def _ended_durations(rollup: pd.DataFrame) -> np.ndarray:
    ended = rollup["state"].isin(ENDED) & rollup["finished_at"].notna()
    return rollup.loc[ended, "total_duration_s"].dropna().to_numpy(dtype=float)


def estimate_end(rollup: pd.DataFrame, now: pd.Timestamp, start: pd.Timestamp, rehearsal: Rehearsal | None = None,
                 unlisted: int = 0) -> tuple[Eta | None, str | None]:
    """(Eta, None), or (None, why not). See the module's docstring for the method."""
    now = pd.Timestamp(now)
    states = rollup["state"]
    running = rollup[states.isin(ACTIVE) & rollup["started_at"].notna()]
    waiting = int((states == DatasetState.NOT_STARTED.value).sum()
                  + (states.isin(ACTIVE) & rollup["started_at"].isna()).sum()) + unlisted
    if running.empty and not waiting:
        return None, "nothing left to run"
    ratios, ratio_basis = _ratios(rollup, rehearsal)
    ratio = dict(zip((b[0] for b in BOUNDS), ratios))
    rehearsed_rollup = one_row_per_dataset(rehearsal.rollup) if rehearsal is not None else rollup.iloc[0:0]
    before = _ended_durations(rehearsed_rollup)
    samples = {name: np.concatenate([_ended_durations(rollup), before * ratio[name]]) for name, *_ in BOUNDS}
    if not len(samples["likely"]):
        return None, "no dataset has ended yet here or in a rehearsal"
    good = rehearsed_rollup[(rehearsed_rollup["state"] == DatasetState.SUCCEEDED.value)
                            & rehearsed_rollup["total_duration_s"].notna()]
    rehearsed = dict(zip(good["dataset_id"], good["total_duration_s"]))
    ends: dict[str, list[pd.Timestamp]] = {name: [] for name, *_ in BOUNDS}
    for dataset_id, began in zip(running["dataset_id"], running["started_at"]):
        elapsed = (now - began).total_seconds()
        for name, pick, beyond, _ in BOUNDS:
            if dataset_id in rehearsed:  # it ran to the end in the rehearsal: its own duration there, scaled
                duration = rehearsed[dataset_id] * ratio[name]
            else:
                longer = samples[name][samples[name] > elapsed]
                duration = float(np.quantile(longer, pick)) if len(longer) else elapsed * beyond
            ends[name].append(began + pd.Timedelta(seconds=max(duration, elapsed)))
    basis = [ratio_basis, f"{len(running)} running"]
    if waiting:
        first = rollup["started_at"].min()
        rate, events, hours = _rate(rollup["started_at"].dropna(), now, first if not pd.isna(first) else now)
        if not events:
            return None, f"{waiting} datasets wait and none started in the last {hours:.1f} h"
        spread = 2 * math.sqrt(events) / hours  # ~95% of a Poisson count's range
        drain = {"low": waiting / (rate + spread), "likely": waiting / rate,
                 "high": waiting / max(rate - spread, rate / 4)}
        for name, _, _, last in BOUNDS:  # likely: the expected longest of `waiting` durations
            duration = float(np.quantile(samples[name], last if last is not None else 1 - 1 / (waiting + 1)))
            ends[name].append(now + pd.Timedelta(hours=drain[name]) + pd.Timedelta(seconds=duration))
        basis.append(f"{waiting} to start at {rate:.0f}/h")
    closing = pd.Timedelta(0)
    if rehearsal is not None and rehearsal.stop is not None and not rehearsal.rollup.empty:
        last = rehearsal.rollup["finished_at"].max()
        if not pd.isna(last) and rehearsal.stop > last:
            closing = rehearsal.stop - last  # cleanup and report after the last dataset
    low, likely, high = (max(ends[k]) + closing for k in ("low", "likely", "high"))
    return Eta(min(low, likely), likely, max(high, likely), "; ".join(basis),
               rough=rehearsal is None or rehearsal.rollup.empty), None


def unlisted_datasets(collections: pd.DataFrame | None, rollup: pd.DataFrame) -> int:
    """Datasets of gathered collections whose collection_migration has not named theirs yet, estimated at the
    mean of the collections that have."""
    if collections is None or collections.empty:
        return 0
    pending = collections["collection_migration_status"].isna() | ~collections["collection_migration_status"].isin(
        ["SUCCEEDED", "FAILED"])
    listed = collections[~pending & (collections["collection_migration_status"] == "SUCCEEDED")]
    if not pending.any() or listed.empty:
        return 0
    return int(round(pending.sum() * listed["datasets"].mean()))


def unlisted_while_running(attempt, rollup: pd.DataFrame, enriched_jobs: pd.DataFrame, step_outputs: pd.DataFrame,
                           child_failures: pd.DataFrame) -> int:
    """`unlisted_datasets` of a running attempt from its frames (0 once it ended: what it listed is all): every
    page's total counts them, or one page's "35 of ~129 (27%)" contradicts another's "35 of ~1,624 (2%)"."""
    if attempt is None or attempt.ended or rollup.empty:
        return 0
    from cxgm_pipeline.monitor.frames.rollups import collection_rollup

    return unlisted_datasets(collection_rollup(rollup, enriched_jobs, step_outputs, child_failures), rollup)


def attempt_progress(stage: str, attempt: str, rollup: pd.DataFrame, now: pd.Timestamp | None = None,
                     start: pd.Timestamp | None = None, ended: bool = False, rehearsal: Rehearsal | None = None,
                     collections: pd.DataFrame | None = None, portal: pd.DataFrame | None = None) -> Progress | None:
    """The progress view of one attempt (None while it has no dataset). `now`: AWS's time of the frames (None:
    their newest timestamp); `start`: the attempt's start; `collections`: its collection_rollup (estimates the
    datasets not listed yet); `portal`: its portal_state (the datasets only the portal names)."""
    from cxgm_pipeline.monitor.views.answer import named_by_the_portal

    now = pd.Timestamp(now) if now is not None else observed_now(rollup)
    if rollup.empty or now is None:
        return None
    # counted and plotted as datasets: one row each (a dataset gathered twice has a row per branch); the ETA waits
    # for every branch's jobs
    datasets = one_row_per_dataset(rollup)
    counts = datasets["state"].value_counts()
    first = rollup["started_at"].min()
    start = pd.Timestamp(start) if start is not None else (first if not pd.isna(first) else now)
    rate, _, _ = _rate(_ended_at(datasets, now).dropna(), now, start)
    unlisted = 0 if ended else unlisted_datasets(collections, rollup)
    eta, why = (None, "ended") if ended else estimate_end(rollup, now, start, rehearsal, unlisted)
    return Progress(
        stage, attempt, now, ended,
        done=int(counts.get(DatasetState.SUCCEEDED.value, 0)), failed=int(counts.get(DatasetState.FAILED.value, 0)),
        running=int(counts.get(DatasetState.RUNNING.value, 0) + counts.get(DatasetState.PENDING.value, 0)),
        remaining=int(counts.get(DatasetState.NOT_STARTED.value, 0)), unlisted=unlisted,
        skipped=int(counts.get(DatasetState.SKIPPED.value, 0)), rate_per_h=rate,
        curve=progress_curve(datasets, now, start), eta=eta, why_no_eta=why, rehearsal=rehearsal,
        never_listed=named_by_the_portal(portal, rollup))


def rehearsal_curve(rehearsal: Rehearsal, points: int = CURVE_POINTS) -> pd.DataFrame:
    """The rehearsal's share of datasets ended against hours since its start: how its tail went."""
    r = one_row_per_dataset(rehearsal.rollup)
    ended = r.loc[r["state"].isin(ENDED), "finished_at"].dropna().sort_values()
    listed = int((r["state"] != DatasetState.SKIPPED.value).sum())
    if ended.empty or not listed:
        return pd.DataFrame(columns=["hours", "share_ended"])
    hours = (ended - rehearsal.start).dt.total_seconds() / 3600
    grid = np.linspace(0, hours.max(), points)
    return pd.DataFrame({"hours": grid, "share_ended": np.searchsorted(hours.to_numpy(), grid, side="right") / listed})


def rehearsal_of(attempt: "Attempt", candidates: "list[Attempt]", store: "FrameStoreOps",
                 frame: str = Frame.dataset_rollup) -> "Attempt | None":
    """The attempt that rehearsed `attempt`: the same key in another stage, started before it, ended, with `frame`
    stored (the first such in `candidates`' order, e.g. dev before staging)."""
    for other in candidates:
        if (other.key == attempt.key and other.stage != attempt.stage and other.ended and other.start < attempt.start
                and store.exists(frame, other.stage, other.key)):
            return other
    return None


def find_rehearsal(attempt: "Attempt", candidates: "list[Attempt]", store: "FrameStoreOps") -> Rehearsal | None:
    """`rehearsal_of` with its dataset_rollup, for the ETA."""
    other = rehearsal_of(attempt, candidates, store)
    if other is None:
        return None
    return Rehearsal(str(other.ref), store.read(Frame.dataset_rollup, other.stage, other.key), pd.Timestamp(other.start),
                     pd.Timestamp(other.stop))


def stored_rehearsal(stage: str, key: str, stages: list[str], store: "FrameStoreOps") -> Rehearsal | None:
    """The rehearsal of an ended attempt, for its completion plot alone (an ended one has no ETA, and its report is
    not worth a listing of the other stages): the same key rolled up in an earlier stage, from the store; its start
    is its first dataset's (the listing has the execution's, a gather earlier)."""
    from cxgm_pipeline.monitor.views.deltas import rehearsal_of_key

    other = rehearsal_of_key(stage, key, stages, store)
    if other is None:
        return None
    rollup = store.read(Frame.dataset_rollup, other, key)
    if rollup.empty or pd.isna(first := rollup["started_at"].min()):
        return None
    last = rollup["finished_at"].max()
    return Rehearsal(f"{other}:{key}", rollup, pd.Timestamp(first), None if pd.isna(last) else pd.Timestamp(last))


def stored_progress(attempt: "Attempt", store: "FrameStoreOps", candidates: "list[Attempt]" = (),
                    rollup: pd.DataFrame | None = None, now: pd.Timestamp | None = None,
                    portal: pd.DataFrame | None = None) -> Progress | None:
    """The progress of an attempt from its stored frames (None: no dataset yet); `rollup`, `portal` given:
    those instead of the stored ones (a fresh fetch)."""
    if rollup is None:
        if not store.exists(Frame.dataset_rollup, attempt.stage, attempt.key):
            return None
        rollup = store.read(Frame.dataset_rollup, attempt.stage, attempt.key)
    collections = (store.read(Frame.collection_rollup, attempt.stage, attempt.key)
                   if store.exists(Frame.collection_rollup, attempt.stage, attempt.key) else None)
    if portal is None and store.exists(Frame.portal_state, attempt.stage, attempt.key):
        portal = store.read(Frame.portal_state, attempt.stage, attempt.key)
    rehearsal = None if attempt.ended else find_rehearsal(attempt, list(candidates), store)
    return attempt_progress(attempt.stage, attempt.key, rollup, now, pd.Timestamp(attempt.start), attempt.ended,
                            rehearsal, collections, portal)
