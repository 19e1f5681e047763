"""Campaigns: executions of one stage that continue one another, and each dataset's outcome across them.

Production re-runs its migration when an execution ends without success: the schema 4.0.0 migration hit Step
Functions' 25,000-event history quota and "was temporarily resolved by triggering a re-run" (single-cell-data-portal
issue #6541). The trigger (`.github/workflows/schema-migration.yml`) passes `{"auto_publish": "True"}` only, so the
re-run has no tag and its own key (its start minute); collection_migrate drops the datasets the first execution
already migrated, which the cleanup step logs as "skipping dataset". Read as two attempts, the first keeps failed or
never-started datasets the second migrated and the second shows most of the corpus skipped.

A later attempt continues an earlier one of its stage when
- the earlier one ended without success (its execution FAILED, was ABORTED or TIMED_OUT), and
- the later one is the next attempt of the stage, started after the earlier one ended, and
- the later one skipped as already current at least one dataset the earlier one migrated: the evidence that it
  ran on what the earlier one left (nothing else in AWS links them: no name, no tag, a new execution ARN).
The attempts linked this way, oldest first, are a campaign; an attempt no other continues is a campaign of one.

A dataset's campaign outcome (`campaign_state`, `campaign_attempt`): the latest attempt of the campaign that
processed it decides (its state there); a row skipped or never started decides nothing, so a dataset the re-run
skipped because an earlier attempt migrated it is `succeeded`, from that attempt. A dataset no attempt processed
keeps the latest attempt's state (skipped everywhere: `skipped`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.vocabulary import AttemptState, DatasetState

# execution outcomes after which production starts the migration again
ENDED_WITHOUT_SUCCESS = frozenset({AttemptState.FAILED, AttemptState.ABORTED, AttemptState.TIMED_OUT})
_UNDECIDED = frozenset({DatasetState.SKIPPED.value, DatasetState.NOT_STARTED.value})
CAMPAIGN_COLUMNS = ("campaign_state", "campaign_attempt", "campaign")


def may_continue(earlier: Attempt, later: Attempt) -> bool:
    """What AWS alone says: `later` may be a re-run of `earlier` (the rollups must still show the evidence)."""
    return (earlier.stage == later.stage and earlier.ended and earlier.state in ENDED_WITHOUT_SUCCESS
            and not earlier.window_only and not later.window_only and later.start >= earlier.stop)


def continues(earlier_rollup: pd.DataFrame | None, later_rollup: pd.DataFrame | None) -> bool:
    """The later attempt skipped as current a dataset the earlier one migrated."""
    if earlier_rollup is None or later_rollup is None or earlier_rollup.empty or later_rollup.empty:
        return False
    migrated = set(earlier_rollup.loc[earlier_rollup["state"] == DatasetState.SUCCEEDED.value, "dataset_id"])
    skipped = set(later_rollup.loc[later_rollup["state"] == DatasetState.SKIPPED.value, "dataset_id"])
    return bool(migrated & skipped)


@dataclass
class CampaignSource:
    """How a builder finds an attempt's campaign: the stage's attempts (oldest first) and any attempt's dataset
    rollup (None when there is none to read). The CLI fetches what its store lacks; Dagster reads the frame store
    and learns the rest when the other partition materializes (sensors/campaign_views.py)."""

    attempts_of: Callable[[str], list[Attempt]]
    rollup_of: Callable[[Attempt], pd.DataFrame | None]
    _rollups: dict = field(default_factory=dict)
    _members: dict = field(default_factory=dict)
    _around: dict = field(default_factory=dict)

    def _rollup(self, attempt: Attempt) -> pd.DataFrame | None:
        if attempt.key not in self._rollups:
            self._rollups[attempt.key] = self.rollup_of(attempt)
        return self._rollups[attempt.key]

    def members(self, attempt: Attempt, own: pd.DataFrame) -> list[tuple[Attempt, pd.DataFrame]]:
        """The campaign of `attempt` (whose rollup is `own`), oldest first, each with its rollup."""
        if attempt.key in self._members:
            return self._members[attempt.key]
        self._rollups[attempt.key] = own
        if attempt.window_only:
            return [(attempt, own)]
        found = [a for a in self.attempts_of(attempt.stage)]
        index = next((i for i, a in enumerate(found) if a.key == attempt.key), None)
        if index is None:
            return [(attempt, own)]
        found[index] = attempt
        first = last = index
        while first > 0 and may_continue(found[first - 1], found[first]) \
                and continues(self._rollup(found[first - 1]), self._rollup(found[first])):
            first -= 1
        while last + 1 < len(found) and may_continue(found[last], found[last + 1]) \
                and continues(self._rollup(found[last]), self._rollup(found[last + 1])):
            last += 1
        members = [(a, self._rollup(a)) for a in found[first:last + 1]]
        # the campaign and the attempts AWS says may join it at either end (their rollups, or None: not there yet)
        around = [*found[first - 1:first][:1 if first and may_continue(found[first - 1], found[first]) else 0],
                  *found[first:last + 1],
                  *found[last + 1:last + 2][:1 if last + 1 < len(found) and may_continue(found[last], found[last + 1]) else 0]]
        for a, _ in members:
            self._members[a.key] = members
            self._around[a.key] = [(b, self._rollup(b)) for b in around]
        return members

    def neighbourhood(self, attempt: Attempt, own: pd.DataFrame) -> list[tuple[str, pd.DataFrame | None]]:
        """The campaign and the attempts that may join it: what its view depends on (same for every member)."""
        self.members(attempt, own)
        return [(a.key, r) for a, r in self._around.get(attempt.key, [(attempt, own)])]


def decide(members: list[tuple[str, pd.DataFrame]]) -> dict[str, tuple[str, str]]:
    """{dataset_id: (campaign_state, campaign_attempt)} over the campaign's rollups (key, rollup), oldest first."""
    decided: dict[str, tuple[str, str]] = {}
    fallback: dict[str, tuple[str, str]] = {}
    for key, rollup in members:  # oldest first: a later attempt's row overwrites an earlier one
        if rollup is None or rollup.empty:
            continue
        for dataset_id, state in zip(rollup["dataset_id"], rollup["state"]):
            if state in _UNDECIDED:
                fallback[dataset_id] = (state, key)
            else:
                decided[dataset_id] = (state, key)
    return {**fallback, **decided}


def with_campaign(rollup: pd.DataFrame, key: str, members: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The rollup with its campaign columns appended: `campaign_state`, `campaign_attempt`, and `campaign` (the key
    of the campaign's first attempt, which names it)."""
    members = members or [(key, rollup)]
    campaign = members[0][0]
    if len(members) == 1:  # alone: each row (a dataset gathered twice is two) is its own outcome
        states = [(s, key) for s in rollup["state"]]
    else:
        decided = decide(members)
        states = [decided.get(d, (s, key)) for d, s in zip(rollup["dataset_id"], rollup["state"])]
    out = rollup.drop(columns=[c for c in CAMPAIGN_COLUMNS if c in rollup.columns])
    return out.assign(campaign_state=pd.Series([s for s, _ in states], index=rollup.index, dtype=object),
                      campaign_attempt=pd.Series([a for _, a in states], index=rollup.index, dtype=object),
                      campaign=campaign)


def campaign_view(members: list[tuple[str, pd.DataFrame]], datasets: set[str] | None = None) -> pd.DataFrame:
    """One row per dataset of the campaign: the row of the attempt that decides it, with `state` its campaign state
    (durations, failing step and cause are that attempt's). `datasets`: only these."""
    frames = [r.assign(_from=key) for key, r in members if r is not None and not r.empty]
    if not frames:
        return members[-1][1] if members else pd.DataFrame()
    decided = decide(members)
    rows = pd.concat(frames, ignore_index=True)
    keep = [decided[d][1] == k for d, k in zip(rows["dataset_id"], rows["_from"])]
    view = rows[keep].drop_duplicates("dataset_id", keep="last").drop(columns="_from")
    if datasets is not None:
        view = view[view["dataset_id"].isin(datasets)]
    if "campaign_state" in view.columns:
        view = view.assign(state=view["campaign_state"])
    return view.reset_index(drop=True)


def fingerprint(members: list[tuple[str, pd.DataFrame | None]]) -> str:
    """Changes when the attempts a view depends on or their own outcomes change (not their campaign columns), so a
    member's view is refreshed once per change, never in a loop. An attempt not materialized yet (None) counts."""
    parts = []
    for key, rollup in members:
        counts = rollup["state"].value_counts().sort_index().to_dict() if rollup is not None and not rollup.empty else {}
        parts.append(f"{key}:{'missing' if rollup is None else sorted(counts.items())}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def stored_members(store, stage: str, key: str) -> list[tuple[str, pd.DataFrame]]:
    """The campaign of a stored rollup, from the frame store alone: the stored rollups of the stage that name the
    same campaign (oldest first, by their first dataset start; a campaign's key is its first attempt's)."""
    own = store.read(Frame.dataset_rollup, stage, key)
    campaign = own["campaign"].iloc[0] if "campaign" in own.columns and not own.empty else key
    members = [(key, own)]
    for other in store.attempts(Frame.dataset_rollup, stage):
        if other == key:
            continue
        rollup = store.read(Frame.dataset_rollup, stage, other)
        if "campaign" in rollup.columns and not rollup.empty and rollup["campaign"].iloc[0] == campaign:
            members.append((other, rollup))
    def order(member: tuple[str, pd.DataFrame]):
        first = member[1]["started_at"].min() if not member[1].empty else None
        return (member[0] != campaign, pd.Timestamp.max.tz_localize("UTC") if first is None or pd.isna(first) else first)

    return sorted(members, key=order)


def views_to_refresh(key: str, neighbours: str, missing: str, fingerprint_: str,
                     latest_fingerprint_of: Callable[[str], str | None]) -> list[str]:
    """The attempts whose stored campaign view is stale after `key`'s rollup was built with `neighbours` (the
    attempts its view depends on, comma-joined), of which `missing` were not materialized then, and saw
    `fingerprint_`. `latest_fingerprint_of(other)`: the fingerprint of `other`'s latest rollup (None: none yet).
    - an attempt missing then and materialized since: `key`'s own view is stale (two rollups built side by side
      miss one another; whichever is read first, both are caught up);
    - with nothing missing, every other neighbour whose latest view saw another fingerprint."""
    if any(m and latest_fingerprint_of(m) is not None for m in missing.split(",")):
        return [key]
    if missing:
        return []
    return [other for other in neighbours.split(",") if other and other != key
            and latest_fingerprint_of(other) not in (None, fingerprint_)]
