"""monitor/attempts/campaigns.py on small frames: which attempts continue one another, and each dataset's campaign outcome."""

from datetime import UTC, datetime, timedelta

import pandas as pd

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.attempts.campaigns import (
    CampaignSource,
    campaign_view,
    continues,
    decide,
    fingerprint,
    may_continue,
    views_to_refresh,
    with_campaign,
)
from cxgm_pipeline.vocabulary import AttemptState

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def attempt(key: str, day: int, state: AttemptState, hours: float = 10, stage: str = "prod") -> Attempt:
    start = T0 + timedelta(days=day)
    stop = None if state is AttemptState.RUNNING else start + timedelta(hours=hours)
    return Attempt(stage, key, None, (key,), (f"arn:{key}",), start, stop, state)


def rollup(key: str, states: dict[str, str], step_s: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame({"stage": "prod", "attempt": key, "dataset_id": list(states), "state": list(states.values()),
                         "cxg_s": step_s, "started_at": T0})


A = rollup("A", {"d1": "succeeded", "d2": "failed", "d3": "not_started", "d4": "skipped", "d5": "succeeded"}, 1.0)
B = rollup("B", {"d1": "skipped", "d2": "succeeded", "d3": "failed", "d4": "skipped", "d5": "skipped"}, 2.0)


def test_a_re_run_continues_only_after_a_failure_and_with_evidence():
    a, b = attempt("A", 0, AttemptState.FAILED), attempt("B", 1, AttemptState.SUCCEEDED)
    assert may_continue(a, b) and continues(A, B)
    assert not may_continue(attempt("A", 0, AttemptState.SUCCEEDED), b)  # ended well: a new attempt
    assert not may_continue(a, attempt("B", 0, AttemptState.SUCCEEDED))  # started before A ended
    assert not may_continue(attempt("A", 0, AttemptState.RUNNING), b)
    assert not may_continue(a, attempt("B", 1, AttemptState.SUCCEEDED, stage="dev"))
    # nothing A migrated is skipped by B: B migrated it all again, it is not a continuation
    assert not continues(A, rollup("B", {"d1": "succeeded", "d4": "skipped"}))
    assert not continues(A, None) and not continues(None, B)


def test_the_latest_attempt_that_processed_a_dataset_decides():
    decided = decide([("A", A), ("B", B)])
    assert decided == {"d1": ("succeeded", "A"),  # skipped by the re-run because A migrated it
                       "d2": ("succeeded", "B"),  # A failed it, B migrated it
                       "d3": ("failed", "B"),  # never started in A, failed in B
                       "d4": ("skipped", "B"),  # current all along
                       "d5": ("succeeded", "A")}
    out = with_campaign(A, "A", [("A", A), ("B", B)])
    assert list(out["campaign_state"]) == ["succeeded", "succeeded", "failed", "skipped", "succeeded"]
    assert list(out["campaign_attempt"]) == ["A", "B", "B", "B", "A"] and set(out["campaign"]) == {"A"}
    alone = with_campaign(A, "A", [("A", A)])
    assert (alone["campaign_state"] == alone["state"]).all() and set(alone["campaign_attempt"]) == {"A"}


def test_the_campaign_view_takes_each_row_from_the_attempt_that_decided():
    view = campaign_view([("A", with_campaign(A, "A", [("A", A), ("B", B)])),
                          ("B", with_campaign(B, "B", [("A", A), ("B", B)]))]).set_index("dataset_id")
    assert view["state"].to_dict() == {"d1": "succeeded", "d2": "succeeded", "d3": "failed", "d4": "skipped",
                                       "d5": "succeeded"}
    assert view["cxg_s"].to_dict() == {"d1": 1.0, "d2": 2.0, "d3": 2.0, "d4": 2.0, "d5": 1.0}  # the decider's durations
    assert list(campaign_view([("A", A), ("B", B)], {"d2"})["dataset_id"]) == ["d2"]


def test_members_walk_both_ways_and_stop_at_a_success():
    attempts = [attempt("Z", -3, AttemptState.SUCCEEDED), attempt("A", 0, AttemptState.FAILED),
                attempt("B", 1, AttemptState.SUCCEEDED), attempt("C", 3, AttemptState.FAILED)]
    rollups = {"Z": rollup("Z", {"d1": "succeeded"}), "A": A, "B": B,
               "C": rollup("C", {"d1": "skipped", "d2": "skipped"})}
    reads = []

    def rollup_of(a: Attempt):
        reads.append(a.key)
        return rollups[a.key]

    source = CampaignSource(lambda stage: attempts, rollup_of)
    members = source.members(attempts[2], B)
    assert [a.key for a, _ in members] == ["A", "B"]  # Z ended well; C follows B, which ended well
    assert source.members(attempts[1], A) is members and reads == ["A"]  # asked once, answered from memory
    assert [a.key for a, _ in CampaignSource(lambda s: attempts, rollup_of).members(attempts[3], rollups["C"])] == ["C"]


def test_a_changed_outcome_refreshes_the_other_members_once():
    members = [("A", A), ("B", B)]
    fp = fingerprint(members)
    assert fp == fingerprint([("A", with_campaign(A, "A", members)), ("B", B)])  # its own campaign columns: same
    assert fp != fingerprint([("A", A), ("B", rollup("B", {"d1": "skipped"}))])
    assert fp != fingerprint([("A", A), ("B", None)])  # not materialized yet
    # B built with A there: A's view, built before B, is stale; once A's is re-built with the same outcomes, nothing
    assert views_to_refresh("B", "A,B", "", fp, {"A": "old", "B": fp}.get) == ["A"]
    assert views_to_refresh("B", "A,B", "", fp, {"A": fp, "B": fp}.get) == []
    # A built while B was missing: once B exists A's own view is stale; before, nothing to do
    assert views_to_refresh("A", "A,B", "B", "x", {"A": "x", "B": fp}.get) == ["A"]
    assert views_to_refresh("A", "A,B", "B", "x", {"A": "x"}.get) == []
    assert views_to_refresh("B", "A,B", "", fp, {"B": fp}.get) == []  # A's first run will read B itself
    assert views_to_refresh("A", "A", "", fp, lambda k: None) == []
