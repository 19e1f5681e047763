"""Outcome changes between two attempts' rollups, for every pair of dataset states."""

import itertools

import pandas as pd

from cxgm_pipeline.monitor.views.deltas import duration_deltas
from cxgm_pipeline.vocabulary import DATASET_STEPS, DatasetState

UNFINISHED = {"running", "pending", "not_started"}


def _rollup(states: dict[str, str]) -> pd.DataFrame:
    rows = []
    for dataset_id, state in states.items():
        failed = state == "failed"
        rows.append({"dataset_id": dataset_id, "collection_id": "c1", "state": state,
                     "failing_step": "cxg" if failed else None, "error_category": "out_of_memory" if failed else None,
                     **{f"{s.value}_s": 10.0 for s in DATASET_STEPS}})
    return pd.DataFrame(rows)


def test_each_pair_of_states_gets_its_outcome():
    states = [s.value for s in DatasetState]
    pairs = {f"d{i}": pair for i, pair in enumerate(itertools.product(states, states))}
    deltas = duration_deltas("dev", _rollup({d: b for d, (b, _) in pairs.items()}),
                             "prod", _rollup({d: o for d, (_, o) in pairs.items()}))
    outcome = deltas.drop_duplicates("dataset_id").set_index("dataset_id")["outcome_change"]
    for dataset_id, (base, other) in pairs.items():
        if base == other:
            expected = "same"
        elif base in UNFINISHED or other in UNFINISHED:
            expected = "pending"  # one side has no outcome yet, whichever unfinished state it is in
        elif (base, other) == ("succeeded", "failed"):
            expected = "succeeded_to_failed"
        elif (base, other) == ("failed", "succeeded"):
            expected = "failed_to_succeeded"
        else:
            expected = "other_change"
        assert outcome[dataset_id] == expected, (base, other)
    assert outcome[next(d for d, p in pairs.items() if p == ("succeeded", "pending"))] == "pending"


def test_a_dataset_on_one_side_only():
    deltas = duration_deltas("dev", _rollup({"a": "succeeded"}), "prod", _rollup({"b": "failed"}))
    outcome = deltas.drop_duplicates("dataset_id").set_index("dataset_id")["outcome_change"]
    assert outcome.to_dict() == {"a": "only_in_base", "b": "only_in_other"}
    failed = deltas[deltas["dataset_id"] == "b"].iloc[0]
    assert failed["other_cause"] == "cxg: out_of_memory" and pd.isna(failed["base_cause"])


def test_outcome_changes_list_the_fixes_before_the_datasets_one_side_has_not_listed():
    """While prod runs, most datasets are only in dev so far: the two fixes come before them, not after."""
    from cxgm_pipeline.monitor.views.deltas import outcome_changes_markdown

    changes = pd.DataFrame({
        "dataset_id": ["a-only", "b-only", "c-fixed", "d-broke"],
        "outcome_change": ["only_in_base", "only_in_base", "failed_to_succeeded", "succeeded_to_failed"],
        "base_cause": [None, None, "cxg: out_of_memory", None], "other_cause": [None, None, None, "cxg: storage"]})
    md = outcome_changes_markdown(changes)
    assert md.index("d-broke") < md.index("c-fixed") < md.index("a-only"), md


def test_while_the_other_side_runs_what_it_lacks_is_not_reached_yet_not_gone():
    """Mid-run, prod has not listed most of dev's datasets nor met most of dev's causes: they are not changes."""
    from cxgm_pipeline.monitor.views.deltas import causes_diff_markdown, outcome_changes, signature_diff

    base, other = _rollup({"a": "succeeded", "b": "failed"}), _rollup({"b": "failed"})
    running = duration_deltas("dev", base, "prod", other, other_running=True)
    assert running.drop_duplicates("dataset_id").set_index("dataset_id")["outcome_change"]["a"] == "not_reached"
    assert outcome_changes(running).empty
    ended = duration_deltas("dev", base, "prod", other)
    assert list(outcome_changes(ended)["dataset_id"]) == ["a"]
    dev = pd.DataFrame({"error_signature": ["x", "y"], "error_category": ["storage", "timeout"], "step": ["cxg"] * 2,
                        "jobs": [2, 1], "datasets": [2, 1]})
    prod = dev.iloc[:1]
    assert set(signature_diff("dev", dev, "prod", prod, other_running=True)["change"]) == {"both", "not_seen_yet"}
    assert set(signature_diff("dev", dev, "prod", prod)["change"]) == {"both", "vanished"}
    text = causes_diff_markdown(signature_diff("dev", dev, "prod", prod, other_running=True))
    assert "**0 gone**" in text and "1 not seen yet" in text


def test_a_running_attempts_rehearsal_line_gives_the_answer_lines_expected_total():
    """While prod runs, '8 failed of 354 so far' beside the answer line's '~2,052' read as two totals: the line
    takes the progress's expected total (datasets not listed yet included), marked as an estimate."""
    from types import SimpleNamespace

    from cxgm_pipeline.monitor.views.deltas import rehearsal_markdown

    rollup = pd.DataFrame({"dataset_id": ["a", "b", "c"], "state": ["failed", "succeeded", "running"]})
    rehearsed = pd.DataFrame({"dataset_id": ["a", "b", "c", "d"], "state": ["failed", "failed", "succeeded", "skipped"]})
    progress = SimpleNamespace(done=1, failed=1, running=1, remaining=0, total=3, unlisted=40, never_listed=0)
    line = rehearsal_markdown("prod:A", rollup, "dev:A", rehearsed, True, "http://ui/assets/duration_deltas",
                              progress=progress)
    assert line.startswith("prod:A: **1 failed** of ~43 so far; its rehearsal dev:A: 2 failed of 3."), line
    ended = rehearsal_markdown("prod:A", rollup, "dev:A", rehearsed, False, "http://ui/assets/duration_deltas")
    assert ended.startswith("prod:A: **1 failed** of 3; its rehearsal"), ended


def test_in_both_counts_the_datasets_each_side_failed_by_a_cause_not_those_it_touched():
    """The finished alert's "In both: 32 causes, 194 -> 132 datasets" exceeded dev's 171 failed datasets and
    counted `cancelled`, which failed no prod dataset: a cause's datasets are every one it touched."""
    from cxgm_pipeline.monitor.views.deltas import signature_diff, signature_diff_lines, with_failed

    def signatures(touched: dict[str, int]) -> pd.DataFrame:
        return pd.DataFrame({"error_signature": list(touched), "error_category": ["application", "cancelled"],
                             "step": ["cxg"] * 2, "jobs": list(touched.values()), "datasets": list(touched.values())})

    def rollup(failed: int, total: int) -> pd.DataFrame:
        return pd.DataFrame({"dataset_id": [f"d{i}" for i in range(total)],
                             "state": ["failed"] * failed + ["succeeded"] * (total - failed),
                             "error_signature": ["app: boom"] * failed + [None] * (total - failed),
                             "error_category": ["application"] * failed + [None] * (total - failed),
                             "failing_step": ["cxg"] * failed + [None] * (total - failed)})

    diff = signature_diff("dev", signatures({"app: boom": 5, "cancelled: sibling": 4}),
                          "prod", signatures({"app: boom": 4, "cancelled: sibling": 3}))
    counted = with_failed(diff, rollup(3, 6), rollup(2, 6))
    assert signature_diff_lines(counted)[-1] == "In both: 1 cause that failed datasets, 3 -> 2 failed datasets"
    assert "touched" in signature_diff_lines(diff)[-1], "without the rollups, it says what it counts"
