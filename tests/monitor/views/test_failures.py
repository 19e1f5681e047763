"""Failures by category x step, the top failed datasets and the split re-run list, against the emulator's truth."""

from collections import Counter

import pandas as pd
import pytest

from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.views.failures import (
    FIX_FIRST, INLINE_LIMIT, RERUN_AS_IS, by_category, by_category_and_step, failures_markdown, rerun_action,
    rerun_markdown, rerun_split, top_failed, top_failed_markdown)
from cxgm_pipeline.monitor.session import MonitorSession
from cxgm_pipeline.schemas import DatasetRollup, RerunManifest, empty_frame
from cxgm_pipeline.monitor.frames.rollups import one_row_per_dataset
from tests.conftest import observable, once_each


@pytest.fixture(scope="module")
def ended(emulator, truth):
    """(truth migration, rollup, rerun manifest) of every attempt with failed datasets."""
    session = MonitorSession(stats=FetchStats())
    out = []
    for m in truth["migrations"]:
        if not any(d["state"] == "failed" for d in observable(m)):
            continue
        attempt = session.resolve(m["stage"], m["attempt_key"])
        frames = session.fetch(m["stage"], attempt, ("dataset_rollup", "rerun_manifest"))
        out.append((m, frames["dataset_rollup"], frames["rerun_manifest"]))
    assert len(out) >= 2
    return out


def test_categories_and_steps_count_the_truths_failed_datasets(ended):
    for m, rollup, _ in ended:
        failed = [d for d in once_each(observable(m)) if d["state"] == "failed"]
        expected = Counter(d["error_category"] or "unknown" for d in failed)
        got = by_category(rollup)
        assert dict(zip(got["error_category"], got["datasets"])) == dict(expected)
        assert got["datasets"].is_monotonic_decreasing  # the biggest cause first
        cells = by_category_and_step(rollup)
        assert dict(zip(zip(cells["error_category"], cells["step"]), cells["datasets"])) == dict(
            Counter((d["error_category"] or "unknown", d["failing_step"] or "-") for d in failed))
        for row in cells.itertuples():  # the example is a dataset of that cell
            example = row.example.split(":", 1)[0]
            assert any(d["dataset_id"] == example and d["error_category"] == row.error_category for d in failed)


def test_the_biggest_category_heads_the_page_whatever_its_signatures(ended):
    for _m, rollup, _ in ended:
        text = failures_markdown(rollup)
        assert len(text) < INLINE_LIMIT, "the UI inlines Markdown under 1,000 characters only"
        biggest = by_category(rollup).iloc[0]
        once = one_row_per_dataset(rollup)  # a dataset gathered twice is one failed dataset, or none
        assert text.startswith(f"**{int((once['state'] == 'failed').sum()):,} failed datasets**: "
                               f"{biggest['error_category']} {biggest['datasets']}")
        top = top_failed(rollup, 10)
        assert top["error_category"].iloc[0] == biggest["error_category"]
        shown = top.head(once.loc[once["state"] == "failed", "error_category"].fillna("unknown").nunique())
        assert shown["error_category"].is_unique  # one per category first
        assert len(top_failed_markdown(rollup)) < INLINE_LIMIT


def test_rerun_split_infrastructure_as_is_validation_and_application_fix_first(ended):
    for m, _, manifest in ended:
        if any(d.get("campaign_attempt") not in (None, m["attempt_key"]) for d in observable(m)):
            continue  # part of a campaign: its re-run list is the campaign's view (tests/cli/test_campaigns.py)
        split = rerun_split(manifest)
        assert split["datasets"].sum() == len(manifest)
        failed = [d for d in observable(m) if d["state"] == "failed"]
        as_is = sum(d["error_category"] in ("host_terminated", "throttled", "out_of_memory", "timeout", "storage",
                                            "container_image", "resource_init", "cancelled") for d in failed)
        as_is += sum(d["state"] == "not_started" for d in observable(m))
        assert split.loc[split["action"] == RERUN_AS_IS, "datasets"].sum() == as_is
        assert (manifest["rerun_as"] == "as_is").sum() == as_is, "rerun.csv splits it as the page does"
        fix = split[split["action"] == FIX_FIRST]
        assert set(fix["error_category"]) <= {"validation", "application", "unknown"}
        text = rerun_markdown(manifest)
        assert len(text) < INLINE_LIMIT and f"**{as_is:,} re-run as is**" in text
        if "out_of_memory" in set(split["error_category"]):
            assert "with more memory" in text
        assert "(as is)" not in text, "the action says it already"
    assert rerun_action("validation") == FIX_FIRST and rerun_action("host_terminated") == RERUN_AS_IS
    assert rerun_action(None, "not_started") == RERUN_AS_IS


def test_long_tables_are_cut_to_fit_and_say_so():
    n = 120
    rollup = empty_frame(DatasetRollup).reindex(range(n)).assign(
        dataset_id=[f"dataset-{i:04}" for i in range(n)], state="failed",
        failing_step=[["cxg", "validate_anndata", "add_labels", "dataset_migration"][i % 4] for i in range(n)],
        error_category=[["validation", "out_of_memory", "application", "timeout", "host_terminated"][i % 5]
                        for i in range(n)],
        error_signature=[f"cause number {i} " + "x" * 80 for i in range(n)])
    text = failures_markdown(rollup)
    assert len(text) < INLINE_LIMIT and "more in the HTML report" in text
    assert empty_frame(RerunManifest).pipe(rerun_markdown) == "Nothing to re-run."
    assert failures_markdown(empty_frame(DatasetRollup)) == "No failed dataset."
    assert isinstance(by_category(rollup), pd.DataFrame)
    top = top_failed_markdown(rollup)  # its heading counts the lines it shows, the rest said to be elsewhere
    shown = top.count("\n- ")
    assert top.startswith(f"{shown} of 120 failed datasets") and f"_+{10 - shown} more in the HTML report_" in top


def test_a_top_failed_cause_is_escaped_once():
    """Escaped twice, the pane would show `out\\_of\\_memory` and `&amp;amp;`, backslashes and all."""
    from cxgm_pipeline.monitor.views.failures import top_failed_markdown

    rollup = pd.DataFrame({"dataset_id": ["0b20fea6-1111-2222-3333-444455556666"], "state": ["failed"],
                           "failing_step": ["cxg"], "error_category": ["out_of_memory"],
                           "error_signature": ["out_of_memory: numpy.core._exceptions & more"]})
    md = top_failed_markdown(rollup)
    assert "\\\\" not in md and "&amp;amp;" not in md, md
    assert "0b20fea6…" in md


def test_a_cause_is_shown_whole_up_to_100_characters_its_long_words_breakable():
    """The pane's lists wrap: a cause cut at 40 characters said little; a long word breaks, never scrolls."""
    cause = "application: TypeError: Can't implicitly convert non-string objects to strings in add_labels.py"
    path = "storage: OSError: No space left on device: '/mnt/scratch/migration/dataset/raw.h5ad'"
    rollup = pd.DataFrame({"dataset_id": ["0b20fea6-1111-2222-3333-444455556666", "1c20fea6-1111-2222-3333-444455556666"],
                           "state": "failed", "failing_step": ["add_labels", "cxg"],
                           "error_category": ["application", "storage"], "error_signature": [cause, path]})
    for text in (failures_markdown(rollup), top_failed_markdown(rollup)):
        assert "convert non-string objects to strings in add" in text and "…:" in text and "…\n" not in text, text
        assert "scratch/\u200b" in text, "a path longer than the pane gets break points"
    long = rollup.assign(error_signature="x " * 80)
    assert "…" in top_failed(long)["cause"].iloc[0], "past 100 characters a cause is still cut"
