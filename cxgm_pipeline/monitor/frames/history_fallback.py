"""The execution histories as the answers' last source: read only for the answers the logs left missing, only the
histories that can hold them, each one once it has closed, within a budget per build.

An INLINE migration holds every answer in its own history. A DISTRIBUTED one holds each collection's answer in a
child execution of the SpanCollections Map Run, and each dataset's in a child of the SpanDatasets Map Run that the
collection's child started (schema_migration/main.tf @ 00e5dcc). A child's first state submits its Batch job, so the
child that holds a job's answer is the one that started just before the job of its step was first created (a Step
Functions retry creates the job again later; the first one dates the child). A dataset's collection child is found the
same way from its collection_migration job. So a missing answer costs a listing or two (remembered) and a history or
two, not every child of the attempt.

What was listed and read is kept as rows of step_outputs (kinds `execution`, `map_run`): a history read after its
execution closed is never read again, a Map Run listed after it closed is never listed again, and one listed while
running is listed again only when DescribeMapRun's item counts say it has children not listed yet.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.aws.clients import FetchStats, StepFunctionsApi
from cxgm_pipeline.monitor.frames.columns_missing import none_if_missing
from cxgm_pipeline.monitor.frames.budget import Budget
from cxgm_pipeline.monitor.frames.columns_rows import row_dicts
from cxgm_pipeline.vocabulary import Step

_CLOSED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "ENDED"}  # ENDED: a Map Run listed after it ended
# a child starts its first task within seconds (the emulator: 1-2 s; AWS: well under a minute even when throttled)
_CHILD_LEAD_S = 300.0
_AFTER_S = 5.0  # clocks of Batch and Step Functions are not one clock
_CHUNK = 25  # calls made side by side between two looks at the budget
SECONDS_VAR, CALLS_VAR = "CXGM_HISTORY_SECONDS", "CXGM_HISTORY_CALLS"
DEFAULT_SECONDS = 20.0


def _closed(status: str | None) -> bool:
    return bool(status) and status.split("#")[0] in _CLOSED


def history_budget() -> Budget:
    """CXGM_HISTORY_SECONDS (default 20; 0: no limit) and CXGM_HISTORY_CALLS (default none)."""
    return Budget.from_env(SECONDS_VAR, CALLS_VAR, DEFAULT_SECONDS)


class _Counting:
    """The FetchStats the fallback's calls go through: each counted for the budget and for the caller's stats."""

    def __init__(self, budget: Budget, outer: FetchStats | None):
        self.budget, self.outer = budget, outer

    def add(self, calls: int = 0, items: int = 0) -> None:
        self.budget.add(calls, items)
        if self.outer is not None:
            self.outer.add(calls=calls, items=items)


@dataclass
class Target:
    """A job whose answer is missing; `anchor`: when the first job of its step and dataset (or collection) was created,
    which is when its child execution started."""

    job_id: str
    step: str
    anchor: float  # epoch s
    owners: frozenset[str] = frozenset()  # every job of its step and dataset (or collection): the child's first is one
    # dataset level: its collection's collection_migration jobs (when the first was created, the jobs), latest first
    collections: tuple[tuple[float, frozenset[str]], ...] = ()


def _epoch(value) -> float | None:
    value = none_if_missing(value)
    return None if value is None else pd.Timestamp(value).timestamp()


def targets_of(jobs: pd.DataFrame, missing: set[str]) -> list[Target]:
    """The missing jobs with the moments their child executions started."""
    if not missing:
        return []
    rows = row_dicts(jobs[["job_id", "step", "created_at", "dataset_id", "collection_id", "collection_version_id"]])

    def key(r) -> tuple:
        return (r["step"], none_if_missing(r["dataset_id"]), none_if_missing(r["collection_id"]),
                none_if_missing(r["collection_version_id"]))

    first: dict[tuple, float] = {}
    owners: dict[tuple, set[str]] = {}
    for r in rows:
        t = _epoch(r["created_at"])
        if t is not None:
            first[key(r)] = min(first.get(key(r), t), t)
        owners.setdefault(key(r), set()).add(r["job_id"])
    collections: dict[str, list[tuple[float, frozenset[str]]]] = {}
    for k, t in first.items():
        if k[0] == Step.COLLECTION_MIGRATION.value and k[2]:
            collections.setdefault(k[2], []).append((t, frozenset(owners[k])))
    out = []
    for r in rows:
        if r["job_id"] not in missing:
            continue
        anchor = first.get(key(r), _epoch(r["created_at"]) or 0.0)
        before = sorted((c for c in collections.get(none_if_missing(r["collection_id"]) or "", []) if c[0] <= anchor),
                        key=lambda c: -c[0])
        out.append(Target(r["job_id"], r["step"], anchor, frozenset(owners[key(r)]), tuple(before)))
    return out


def first_job_id(events: list[dict]) -> str | None:
    """The Batch job an execution's first task submitted: which job's child it is."""
    import json

    for e in events:
        if e.get("type") == "TaskSubmitted":
            try:
                return (json.loads((e.get("taskSubmittedEventDetails") or {}).get("output") or "{}") or {}).get("JobId")
            except (ValueError, AttributeError):
                return None
    return None


class Histories:
    """The attempt's executions and Map Runs as known (from the last frame) and as read in this build."""

    def __init__(self, stage: str, attempt: Attempt, sfn: StepFunctionsApi, budget: Budget,
                 stats: FetchStats | None, known: pd.DataFrame | None, on_history: Callable[[list[dict], str], None]):
        self.stage, self.attempt, self.sfn, self.budget = stage, attempt, sfn, budget
        self.stats = _Counting(budget, stats)
        self.on_history = on_history  # the answers of a history read (its events, its source)
        self.executions: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        for r in row_dicts(known) if known is not None and not known.empty else []:
            row = {k: none_if_missing(r.get(k)) for k in ("execution_arn", "parent_arn", "execution_status", "read_status",
                                                          "job_id")}
            row.update({k: _epoch(r.get(k)) for k in ("started_at", "stopped_at", "read_at")})
            (self.runs if r["kind"] == "map_run" else self.executions)[row["execution_arn"]] = row
        status = f"{attempt.state.value.upper()}#{attempt.redrive_count}"
        for arn in attempt.execution_arns:
            self.executions.setdefault(arn, {"execution_arn": arn, "parent_arn": None, "read_status": None,
                                             "job_id": None, "read_at": None, "stopped_at": None,
                                             "started_at": attempt.start.timestamp()})
            self.executions[arn]["execution_status"] = status
        self.parents = list(attempt.execution_arns)
        self.no_runs: set[str] = set()
        # indexes: runs by the execution that started them, children by run, executions by their first job (a build
        # looks up hundreds of targets among thousands of children, round after round)
        self._runs_by_parent: dict[str, list[dict]] = {}
        self._children: dict[str, list[dict]] = {}
        self._by_job: dict[str, dict] = {}
        self._reindex()
        self.touched = False  # a call made: the rows are worth keeping even when no answer came of it

    # --- listing ---------------------------------------------------------------------------------------------
    def _now(self) -> float:
        return self.sfn.aws_now(self.stage).timestamp()

    def _batch(self, items: list, fn: Callable) -> list:
        """fn over the items, side by side in chunks, as long as the budget lasts; the results of those done."""
        out = []
        for i in range(0, len(items), _CHUNK):
            room = self.budget.room()
            if room == 0:
                break
            chunk = items[i : i + _CHUNK][: room if room is not None else _CHUNK]
            self.touched = True
            out.extend(zip(chunk, self.sfn.pool_map(fn, chunk)))
        return out

    def _reindex(self) -> None:
        self._runs_by_parent, self._children, self._by_job = {}, {}, {}
        for r in self.runs.values():
            self._runs_by_parent.setdefault(r["parent_arn"], []).append(r)
        for c in self.executions.values():
            if c["parent_arn"]:
                self._children.setdefault(c["parent_arn"], []).append(c)
            if c["job_id"]:
                self._by_job[c["job_id"]] = c
        for children in self._children.values():
            children.sort(key=lambda c: c.get("started_at") or 0.0)

    def runs_of(self, arns) -> list[dict]:
        return [r for a in dict.fromkeys(arns) for r in self._runs_by_parent.get(a, [])]

    def _runs_listed(self, arn: str) -> bool:
        return arn in self.no_runs or bool(self.runs_of([arn]))

    def list_runs(self, executions: list[str]) -> None:
        """ListMapRuns of the executions whose runs are not known. A run, once known, stays (each Map state of a
        machine starts one per execution; a redrive keeps it)."""
        wanted = [a for a in dict.fromkeys(executions) if not self.runs_of([a])]
        for arn, runs in self._batch(wanted, lambda a: self.sfn.map_runs(self.stage, a, self.stats)):
            if not runs:
                self.no_runs.add(arn)  # for this build: a child that started none yet may start one later
            for run in runs:
                self.runs.setdefault(run["mapRunArn"], {
                    "execution_arn": run["mapRunArn"], "parent_arn": arn, "execution_status": None, "read_status": None,
                    "job_id": None, "read_at": None, "started_at": _epoch(run.get("startDate")),
                    "stopped_at": _epoch(run.get("stopDate"))})
        self._reindex()

    def list_children(self, runs: list[dict], since: float) -> None:
        """The children of each run, unless its listing is known complete: listed after the run closed, or after
        `since` (no child a target needs can have started later); a run listed while running is asked first how
        many items it has (DescribeMapRun), and listed again only when it has more than were listed."""
        stale = [r for r in runs if not _closed(r["read_status"]) and (r["read_at"] or 0) < since]
        if not stale:
            return
        known = {r["execution_arn"]: len(self._children.get(r["execution_arn"], [])) for r in stale}
        relist = [r for r in stale if r["read_at"] is None]
        described = self._batch([r for r in stale if r["read_at"] is not None],
                                lambda r: self.sfn.describe_map_runs(self.stage, [r["execution_arn"]], self.stats)[0])
        now = self._now()
        for run, d in described:
            counts = d.get("itemCounts") or {}
            status = d.get("status")
            run["stopped_at"] = _epoch(d.get("stopDate")) or run["stopped_at"]
            if int(counts.get("total") or 0) > known[run["execution_arn"]]:
                relist.append(run)
            else:  # nothing new to list: the children known are all it has
                run["read_at"], run["read_status"], run["execution_status"] = now, status, status
        for run, children in self._batch(relist, lambda r: self.sfn.map_run_executions(self.stage, r["execution_arn"],
                                                                                        self.stats)):
            run["read_at"] = now
            for c in children:
                row = self.executions.setdefault(c["executionArn"], {
                    "execution_arn": c["executionArn"], "parent_arn": run["execution_arn"], "read_status": None,
                    "job_id": None, "read_at": None})
                row.update(execution_status=c.get("status"), started_at=_epoch(c.get("startDate")),
                           stopped_at=_epoch(c.get("stopDate")))
            # closed with every child closed: listed for good (a child a redrive re-opens re-opens its run too)
            done = all(_closed(c.get("status")) for c in children)
            run["read_status"] = run["execution_status"] = "ENDED" if done and run["stopped_at"] else "RUNNING"
        self._reindex()

    # --- reading ---------------------------------------------------------------------------------------------
    def _worth_reading(self, row: dict) -> bool:
        """Not read yet, or read before it closed (or before a redrive re-opened it)."""
        return not (_closed(row["read_status"]) and row["read_status"] == row["execution_status"])

    def read(self, arns: list[str], source: str) -> int:
        """Reads these histories (as the budget allows); their answers go to `on_history`. Returns how many."""
        rows = [self.executions[a] for a in dict.fromkeys(arns)]
        now = self._now()
        done = self._batch(rows, lambda r: self.sfn.history(self.stage, r["execution_arn"], self.stats))
        for row, events in done:
            row["read_at"], row["read_status"] = now, row["execution_status"]
            row["job_id"] = row["job_id"] or first_job_id(events)
            if row["job_id"]:
                self._by_job[row["job_id"]] = row
            self.on_history(events, source)
        return len(done)

    def candidates(self, runs: list[dict], anchor: float, owners: frozenset[str] = frozenset()) -> list[dict]:
        """The children of these runs that may hold the answer of a job first created at `anchor`: started shortly
        before it, not known to be another job's (a child is its first job's), closest first."""
        out = []
        for run in runs:
            children = self._children.get(run["execution_arn"], [])
            starts = [c.get("started_at") or 0.0 for c in children]
            lo, hi = bisect_left(starts, anchor - _CHILD_LEAD_S), bisect_right(starts, anchor + _AFTER_S)
            out.extend(c for c in children[lo:hi] if c.get("started_at") is not None
                       and (c["job_id"] is None or c["job_id"] in owners))
        return sorted(out, key=lambda c: (abs(anchor - c["started_at"]), c["execution_arn"]))

    # --- the search ------------------------------------------------------------------------------------------
    def find(self, targets: list[Target], answered: Callable[[], set[str]]) -> tuple[set[str], set[str]]:
        """Reads, round by round, the likeliest history of each target not answered yet. Returns (not read: the
        budget ran out before every history that could hold them was read; not found: every one was, in vain)."""
        pending = {t.job_id: t for t in targets}
        exhausted: set[str] = set()
        widen: dict[str, int] = {}
        self.list_runs(self.parents)
        for _ in range(50):
            done = answered()  # once a round: a set of every answer, not one per target
            pending = {k: t for k, t in pending.items() if k not in done and k not in exhausted}
            if not pending or self.budget.room() == 0:
                break
            reads: dict[str, list[str]] = {"history": [], "map_run": []}
            inline = not self.runs_of(self.parents)
            own = [t for t in pending.values() if inline or t.step == Step.GATHER_COLLECTIONS.value]
            if own:
                arns = [a for a in self.parents if self._worth_reading(self.executions[a])]
                reads["history"].extend(arns)
                exhausted.update(t.job_id for t in own if not arns)
            skip = {t.job_id for t in own}
            widened = self._plan_children([t for t in pending.values() if t.job_id not in skip], reads["map_run"],
                                          exhausted, widen)
            read = sum(self.read(arns, source) for source, arns in reads.items() if arns)
            if not read and not widened:
                break
        done = answered()
        pending = {k: t for k, t in pending.items() if k not in done and k not in exhausted}
        return set(pending), exhausted - done

    def _collection_children(self, t: Target, top_runs: list[dict], widen: int) -> tuple[list[str], bool]:
        """The SpanCollections children a dataset target's answer may be under: the one its collection's job is
        known to have run in, else those that started just before that job, closest first; `widen` more each time
        the closer ones held nothing. Returns (them, whether more are left)."""
        ranked: list[str] = []
        for anchor, owners in t.collections:
            tops = {r["execution_arn"] for r in top_runs}
            exact = [c for j in owners if (c := self._by_job.get(j)) is not None and c["parent_arn"] in tops]
            ranked.extend(c["execution_arn"] for c in exact or self.candidates(top_runs, anchor, owners))
        ranked = list(dict.fromkeys(ranked))
        return ranked[: 1 + widen], len(ranked) > 1 + widen

    def _plan_children(self, level: list[Target], reads: list[str], exhausted: set[str], widen: dict[str, int]) -> bool:
        """Lists what the Map Run targets need and picks each one's likeliest unread child. Returns whether a
        target widened its search (a next round may read what this one did not)."""
        if not level:
            return False
        top_runs = self.runs_of(self.parents)
        self.list_children(top_runs, max(t.anchor for t in level))
        datasets = [t for t in level if t.step == Step.DATASET_MIGRATION.value]
        parents_of = {t.job_id: self._collection_children(t, top_runs, widen.get(t.job_id, 0)) for t in datasets}
        # a slice of the collection children a round: reads start before every listing is made
        unlisted = list(dict.fromkeys(a for arns, _ in parents_of.values() for a in arns if not self._runs_listed(a)))
        self.list_runs(unlisted[:_CHUNK])
        inner = {r["execution_arn"]: r for arns, _ in parents_of.values() for r in self.runs_of(arns)}
        if inner:
            self.list_children(list(inner.values()), max(t.anchor for t in datasets))
        complete = self.budget.room() != 0  # every listing asked for was made
        widened = bool(unlisted)  # the next round lists the next slice
        for t in level:
            if t.job_id in parents_of and not all(self._runs_listed(a) for a in parents_of[t.job_id][0]):
                continue  # its collection child's Map Runs are in a later slice
            runs = self.runs_of(parents_of[t.job_id][0]) if t.job_id in parents_of else top_runs
            options = [c for c in self.candidates(runs, t.anchor, t.owners) if self._worth_reading(c)]
            if options:
                if options[0]["execution_arn"] not in reads:
                    reads.append(options[0]["execution_arn"])
            elif t.job_id in parents_of and parents_of[t.job_id][1]:
                widen[t.job_id] = widen.get(t.job_id, 0) + 1
                widened = True
            elif complete:
                exhausted.add(t.job_id)
        return widened

    def rows(self, stage: str, attempt_key: str) -> list[dict]:
        """The executions and Map Runs as step_outputs rows."""
        if not self.touched and not any(r["read_at"] for r in [*self.executions.values(), *self.runs.values()]):
            return []

        def ts(value):
            return None if value is None else datetime.fromtimestamp(value, tz=pd.Timestamp(0, tz="UTC").tz)

        out = []
        for kind, table in (("execution", self.executions), ("map_run", self.runs)):
            for r in table.values():
                out.append({"stage": stage, "attempt": attempt_key, "kind": kind, "source": "history",
                            "job_id": r.get("job_id"), "execution_arn": r["execution_arn"],
                            "parent_arn": r.get("parent_arn"), "execution_status": r.get("execution_status"),
                            "started_at": ts(r.get("started_at")), "stopped_at": ts(r.get("stopped_at")),
                            "read_at": ts(r.get("read_at")), "read_status": r.get("read_status")})
        return out
