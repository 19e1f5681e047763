"""The answer a person looks for first, in one line, and an attempt's health: the same words on the report,
the rollup's metadata, the alerts and `cxgm attempts`.

    running - 1,545 of ~2,035 (76%) ended - 23 failed - ETA 20:51 UTC (15:17-21:37) - data from 2026-11-25 12:04 UTC
    finished with failures - 1,954 of 1,962 (99%) ended - 111 failed - 2 collections failed before listing their
        datasets (8 datasets) - 554 still on the old schema in the portal - data from 2026-12-06 06:32 UTC

The total is the expected one (listed datasets plus an estimate of those not listed yet, marked `~`), the
percentage counts ended datasets (succeeded or failed), the ETA and the data's moment are AWS's time (the
frames' `observed_at`), never this machine's. A collection whose collection_migration failed never named its
datasets (collection_migrate names them in the answer it did not give): the line says so, with the datasets the
portal lists of it, counted in the total as never started (`FailedCollections`). Dagster-free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pandas as pd

from cxgm_pipeline.monitor.frames.rollups import one_row_per_dataset
from cxgm_pipeline.vocabulary import AttemptOutcome, DatasetState

SEP = " - "
# A cell of a stage the attempt never ran in: the discovery sensor materializes it as explicit empty frames.
PLACEHOLDER = "not run in this stage: a placeholder with no data"
PLACEHOLDER_HEALTH = "none to judge: a placeholder, the attempt never ran in this stage"


@dataclass(frozen=True)
class FailedCollections:
    """Collections whose collection_migration failed before naming their datasets, and how many datasets the
    portal lists of them (portal_state's rows no AWS source names; None: the portal was not read): one wording for
    the answer line and the health, on every page."""

    collections: int
    datasets: int | None
    unknown: str = "the portal not read"  # why `datasets` is None
    # their datasets an earlier attempt of the campaign migrated (a re-run's failure that left them no work): not
    # left behind, so said apart, or "(0 datasets)" reads as a failure that lost datasets nobody can name
    earlier: int = 0

    def text(self) -> str:
        n = self.collections
        head = f"{n:,} collection{'s' if n != 1 else ''} failed before listing {'their' if n != 1 else 'its'} datasets"
        if self.datasets is None:
            return f"{head} (how many: {self.unknown})"
        if self.earlier and not self.datasets:
            return (f"{head} (none left: {'their' if n != 1 else 'its'} {self.earlier:,} dataset"
                    f"{'s were' if self.earlier != 1 else ' was'} migrated earlier)")
        more = f"; {self.earlier:,} more migrated earlier" if self.earlier else ""
        return f"{head} ({self.datasets:,} dataset{'s' if self.datasets != 1 else ''}{more})"


def failed_collections(jobs: pd.DataFrame | None = None, rollup: pd.DataFrame | None = None,
                       portal: pd.DataFrame | None = None,
                       collections: pd.DataFrame | None = None) -> FailedCollections | None:
    """The attempt's collections whose latest collection_migration job failed (from its `collections`, the
    collection_rollup, else its enriched `jobs`) and the datasets `portal` (portal_state) lists of them that no row
    of `rollup` has; None when no collection failed so. Without `portal` (dataset_rollup's metadata is built before
    the portal is read) the count is migration_report's."""
    from cxgm_pipeline.monitor.frames.portal_state import portal_checked
    from cxgm_pipeline.monitor.frames.rollups import failed_collection_migrations

    failed = failed_collection_migrations(jobs, collections)
    if not failed:
        return None
    if portal is None:
        return FailedCollections(len(failed), None, "on migration_report")
    if not portal_checked(portal):
        return FailedCollections(len(failed), None)
    return FailedCollections(len(failed), named_by_the_portal(portal, rollup),
                             earlier=migrated_earlier({cid for cid, _ in failed}, rollup))


def migrated_earlier(collection_ids: set, rollup: pd.DataFrame | None) -> int:
    """Datasets of these collections this attempt skipped because an earlier attempt of its campaign migrated them
    (dataset_rollup's `campaign_state`, monitor/attempts/campaigns.py)."""
    if rollup is None or rollup.empty or "campaign_state" not in rollup:
        return 0
    rows = one_row_per_dataset(rollup)
    return int((rows["collection_id"].isin(collection_ids) & (rows["state"] == DatasetState.SKIPPED.value)
                & (rows["campaign_state"] == DatasetState.SUCCEEDED.value)).sum())


def named_by_the_portal(portal: pd.DataFrame | None, rollup: pd.DataFrame | None) -> int:
    """Datasets of portal_state no row of the rollup has: those the portal lists of a collection whose
    collection_migration failed before naming them (portal_state adds no other), never started."""
    from cxgm_pipeline.monitor.frames.portal_state import named_by_portal_alone

    if portal is None or portal.empty:
        return 0
    return int(named_by_portal_alone(portal, rollup)["dataset_id"].nunique())


@dataclass(frozen=True)
class Health:
    """How an attempt stands, from its state and its rollup: `level` ok / warn / error, `reason` in words
    (empty when ok, but for a placeholder, which says it is one)."""

    level: str
    reason: str

    @property
    def healthy(self) -> bool:
        return self.level == "ok"


def attempt_health(state: str | None, rollup: pd.DataFrame | None, why_empty: str | None = None,
                   outcome: str | None = None, collections: FailedCollections | None = None) -> Health:
    """The one place an attempt's health is judged: its state (`AttemptState` value, None: never ran here),
    its outcome (`AttemptOutcome` value, when known: monitor/attempts/outcome.py), its rollup's failed datasets and, with
    no dataset, why (`corpus.attempt_summary`); `collections`: its collections that failed before listing their
    datasets (`failed_collections`), said after the rest (a warning at least). An execution that SUCCEEDED but
    died in gather_collections or passed its SpanCollections tolerance (production's Catch goes on to report) is an
    error, not a success."""
    health = _health(state, rollup, why_empty, outcome)
    if collections is None or health.reason in (PLACEHOLDER_HEALTH,) or why_empty and why_empty.startswith("failed in "):
        return health
    if health.healthy:
        verb = "ended" if state != "running" else "running"
        return Health("warn", f"{verb} with {collections.text()}")
    return Health(health.level, f"{health.reason}; {collections.text()}")


def _health(state: str | None, rollup: pd.DataFrame | None, why_empty: str | None, outcome: str | None) -> Health:
    if state is None or why_empty == "not run in this stage":
        return Health("ok", PLACEHOLDER_HEALTH)
    failed = int((one_row_per_dataset(rollup)["state"] == DatasetState.FAILED.value).sum()) \
        if rollup is not None and not rollup.empty else 0
    n_failed = f"{failed:,} dataset{'s' if failed != 1 else ''} failed"
    if why_empty and why_empty.startswith("failed in "):
        return Health("error", why_empty)
    if outcome == AttemptOutcome.TOLERANCE_EXCEEDED.value:
        return Health("error", "its SpanCollections Map Run passed its failure tolerance (the execution went on to "
                               "report)" + (f", {n_failed}" if failed else ""))
    if state in ("failed", "timed_out"):
        return Health("error", f"the execution {state.replace('_', ' ')}" + (f", {n_failed}" if failed else ""))
    if state == "aborted":
        return Health("error", "aborted" + (f" with {n_failed}" if failed else ""))
    if failed:
        verb = "ended" if state != "running" else "running"
        return Health("warn", f"{verb} with {failed:,} failed dataset{'s' if failed != 1 else ''}")
    if state != "running" and why_empty:
        return Health("warn", why_empty)
    return Health("ok", "")


def _short(why: str) -> str:
    """'failed in gather_collections: application: sqlalchemy...' -> 'failed in gather_collections (application)':
    the line stays one line; the whole cause is in the health's reason and the report."""
    where, _, rest = why.partition(": ")
    category = rest.split(": ", 1)[0] if rest else ""
    return f"{where} ({category})" if category and " " not in category else where


def _eta(likely: pd.Timestamp, low: pd.Timestamp, high: pd.Timestamp, now: pd.Timestamp | None) -> str:
    """`ETA 20:51 UTC (15:17-21:37)` when all three fall on `now`'s day; else each with its date and the range
    joined by "to": a hyphen between `20:37` and `12-06 11:31` reads as one garbled time."""
    ends = [pd.Timestamp(t) for t in (likely, low, high)]
    if now is not None and all(t.date() == pd.Timestamp(now).date() for t in ends):
        return f"ETA {ends[0]:%H:%M} UTC ({ends[1]:%H:%M}-{ends[2]:%H:%M})"
    return f"ETA {ends[0]:%m-%d %H:%M} UTC ({ends[1]:%m-%d %H:%M} to {ends[2]:%m-%d %H:%M})"


@dataclass(frozen=True)
class HowFar:
    """How far an attempt is, as every page counts it: datasets ended (succeeded or failed) of the expected total
    (`approx`: an estimate, while it runs or some are not listed yet), and failed."""

    ended: int
    total: int
    failed: int
    approx: bool
    # datasets exist beyond `total` that nothing read yet names (collections that failed before naming theirs,
    # the portal not read): the total is a floor, and no share is given, as it would read 100% of a part
    uncounted: bool = False

    def text(self, pct: bool = False) -> str:
        """`1,545 of ~2,035 ended`; `pct`: with the share, rounded down so that 100% means every one ended."""
        if self.uncounted:
            return f"{self.ended:,} of {self.total:,}+ ended"
        share = f" ({100 * self.ended // self.total}%)" if pct and self.total else ""
        return f"{self.ended:,} of {'~' if self.approx else ''}{self.total:,}{share} ended"


def eta_phrase(progress) -> str | None:
    """`ETA 20:51 UTC (15:17-21:37)` of a running attempt's `Progress`, as its answer line says it; None without one."""
    if progress is None or progress.ended or progress.eta is None:
        return None
    return _eta(progress.eta.likely, progress.eta.low, progress.eta.high, progress.now) + (
        ", rough" if progress.eta.rough else "")


def how_far(state: str | None, rollup: pd.DataFrame | None, progress=None, unlisted: int = 0,
            never_started: int = 0) -> HowFar:
    """The counts of `answer_line` (its arguments alike): from `progress` when given, else from `rollup`, a
    dataset gathered twice (a row per branch) once, in the state of the branch the published corpus moves with;
    `never_started`: datasets the portal alone names, of collections whose migration failed
    (`FailedCollections.datasets`), in the total (they will not start)."""
    if progress is not None:
        ended, failed = progress.done + progress.failed, progress.failed
        total, unlisted = progress.total + progress.unlisted, progress.unlisted
        # the progress read the same portal_state: its count, once
        never_started = progress.never_listed or never_started
    elif rollup is None or rollup.empty:
        ended = failed = 0
        total = unlisted
    else:
        datasets = one_row_per_dataset(rollup)
        listed = datasets[datasets["state"] != DatasetState.SKIPPED.value]
        failed = int((listed["state"] == DatasetState.FAILED.value).sum())
        ended = int(listed["state"].isin([DatasetState.SUCCEEDED.value, DatasetState.FAILED.value]).sum())
        total = len(listed) + unlisted
    return HowFar(ended, total + never_started, failed, bool(unlisted) or state == "running")


def answer_line(state: str | None, rollup: pd.DataFrame | None, progress=None, why_empty: str | None = None,
                with_eta: bool = True, now: pd.Timestamp | None = None, unlisted: int = 0,
                ended_at: pd.Timestamp | None = None, old_schema: int | None = None,
                outcome: str | None = None, collections: FailedCollections | None = None,
                partial: str | None = None) -> str:
    """State, ended of the expected total (%), failed, ETA with its range, the data's moment. `progress`: the
    attempt's `monitor.progress.Progress` (None: no dataset yet, or not computed: then counted from `rollup`);
    `with_eta=False` where the ETA is not computed (it needs the rehearsal): the line says where it is; `now`:
    AWS's time the frames were read (`progress.observed_now` of the jobs and the rollup; default: the
    progress's, else the rollup's alone, a lower bound); `unlisted`: without `progress`, its estimate of the
    datasets not listed yet (`progress.unlisted_datasets`), so the total is the one migration_report gives;
    `ended_at`: the attempt's end as AWS says it now, for stored counts that may predate it; `old_schema`: of an
    ended attempt, the datasets the portal still serves on the old schema (None: the portal not read); `outcome`:
    its `AttemptOutcome` value when known, which leads when its SUCCEEDED execution hides a failed attempt;
    `collections`: its collections that failed before listing their datasets (`failed_collections`); `partial`:
    why the counts are not the attempt's yet (`step_outputs.histories_reading`), said right after the state."""
    if state is None or why_empty == "not run in this stage":
        return PLACEHOLDER
    health = attempt_health(state, rollup, why_empty)
    head = state.replace("_", " ")
    if health.level == "error" and why_empty and why_empty.startswith("failed in "):
        head = f"{head} execution, but the attempt {_short(why_empty)}"
    if progress is None and (rollup is None or rollup.empty):
        said = health.level == "error" and why_empty and why_empty.startswith("failed in ")
        return SEP.join([head, "no dataset migrated" if said or not why_empty else f"no dataset: {why_empty}",
                         *([collections.text()] if collections else [])])
    if now is None and progress is not None:
        now = progress.now
    elif now is None:
        from cxgm_pipeline.monitor.views.progress import observed_now

        now = observed_now(rollup)
    counts = how_far(state, rollup, progress, unlisted, collections.datasets or 0 if collections else 0)
    if collections is not None and collections.datasets is None:
        counts = replace(counts, uncounted=True)
    if state == "succeeded" and outcome == AttemptOutcome.TOLERANCE_EXCEEDED.value:
        # production's Catch sent the failed Map Run to `report`: the check and attempt_states say the same
        head = "succeeded execution, but the attempt exceeded its failure tolerance"
    elif state == "succeeded" and (counts.failed or collections):
        # the execution succeeded; the migration did not, for these datasets: the line leads with the result
        head = "finished with failures"
    parts = [head, *([partial] if partial else []), counts.text(pct=True), f"{counts.failed:,} failed"]
    if collections:
        parts.append(collections.text())
    if state == "running":
        if not with_eta:
            parts.append("ETA on migration_report")
        elif progress is not None and progress.eta is not None:
            e = progress.eta
            parts.append(_eta(e.likely, e.low, e.high, now) + (f", {e.caveat}" if e.rough else ""))
        elif progress is not None:
            parts.append(f"no ETA: {progress.why_no_eta}")
    elif old_schema:  # what a finished migration leaves undone is what the portal still serves
        parts.append(f"{old_schema:,} still on the old schema in the portal")
    if now is not None:
        data = f"data from {pd.Timestamp(now):%Y-%m-%d %H:%M} UTC"
        if ended_at is not None and pd.Timestamp(now) < pd.Timestamp(ended_at):
            # the state is AWS's present, the counts an older moment: say so rather than mix the two silently
            data += f", before its end at {pd.Timestamp(ended_at):%Y-%m-%d %H:%M} UTC: --refresh reads the rest"
        parts.append(data)
    return SEP.join(parts)


def attempt_answer(attempt, rollup: pd.DataFrame | None, jobs: pd.DataFrame | None = None, progress=None,
                   with_eta: bool = True, unlisted: int = 0, portal: pd.DataFrame | None = None,
                   child_failures: pd.DataFrame | None = None,
                   portal_before: pd.DataFrame | None = None,
                   outputs: pd.DataFrame | None = None) -> tuple[str, Health]:
    """(answer line, health) of an `attempts.Attempt` (None: not run in this stage) from its rollup and, to say
    why it has no dataset, its enriched_jobs; `portal`: its portal_state, for what an ended one left on the old
    schema; `child_failures`: for its outcome (a Map Run past its tolerance), unless the attempt carries it;
    `portal_before`: without `portal` (the rollup's metadata is built before the portal is read), the last run's
    portal_state, for the datasets of collections that failed before naming them (they do not change); `outputs`:
    its step_outputs, whose answers not read yet make the counts partial (the line says so)."""
    from cxgm_pipeline.monitor.attempts.outcome import attempt_outcome
    from cxgm_pipeline.monitor.frames.attempt_rollup import attempt_summary
    from cxgm_pipeline.monitor.frames.portal_state import portal_reading
    from cxgm_pipeline.monitor.frames.step_outputs import histories_reading
    from cxgm_pipeline.monitor.views.progress import observed_now

    if attempt is None:
        return answer_line(None, rollup), attempt_health(None, rollup)
    why, now = None, None
    if jobs is not None and rollup is not None:
        why = attempt_summary(attempt, jobs, rollup)
        now = observed_now(jobs, rollup)  # the jobs' observed_at: the same moment on every page
    state = attempt.state.value
    reading = portal_reading(portal)  # the portal read after a later attempt started is not this one's result
    old_schema = reading.old_schema if reading.own else None
    outcome = getattr(attempt, "outcome", None)
    if outcome is None and jobs is not None:  # the same rule as attempt_states' and the health check's
        outcome = attempt_outcome(attempt, jobs, rollup, child_failures).value
    collections = failed_collections(jobs, rollup, portal if portal is not None else portal_before)
    return answer_line(state, rollup, progress, why, with_eta, now, unlisted, old_schema=old_schema,
                       outcome=outcome, collections=collections, partial=histories_reading(outputs)), \
        attempt_health(state, rollup, why, outcome, collections)


_LONG_WORD = re.compile(r"\S{25,}")
_BREAK_AFTER = re.compile(r"([./:,_\-=])")


def breakable(text: str) -> str:
    """`text` with a zero-width space after the punctuation of its long words (a host name, a path): a narrow
    pane wraps it there instead of scrolling sideways; what is read and copied is the same text."""
    return _LONG_WORD.sub(lambda m: _BREAK_AFTER.sub("\\1\u200b", m.group(0)), text)
