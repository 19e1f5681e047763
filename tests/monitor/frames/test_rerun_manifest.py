"""The re-run manifest on a hand-made rollup: failed datasets, and once the attempt ended the never started."""

import json

import pandas as pd
import pytest

from cxgm_pipeline.monitor.frames.rerun_manifest import COLUMNS, rerun_manifest, write_manifest

pytestmark = pytest.mark.unit


def _rollup(attempt, states):
    return pd.DataFrame({"stage": "prod", "attempt": attempt, "dataset_id": [f"d{i}" for i in range(len(states))],
                         "dataset_version_id": None, "collection_id": "c1", "collection_version_id": "v1",
                         "state": states, "failing_step": [("cxg" if s == "failed" else None) for s in states],
                         "error_category": None, "error_signature": None, "migration_revision_id": None})


ROLLUP = _rollup("A", ["failed", "succeeded", "not_started", "skipped", "failed"])


def test_a_running_attempt_lists_its_failed_datasets_only():
    manifest = rerun_manifest(ROLLUP, ended=False)
    assert list(manifest["dataset_id"]) == ["d0", "d4"] and list(manifest.columns) == [*COLUMNS, "campaign_attempt"]
    assert set(manifest["campaign_attempt"]) == {"A"}


def test_an_ended_attempt_lists_the_never_started_too_failed_first():
    manifest = rerun_manifest(ROLLUP, ended=True)
    assert list(zip(manifest["state"], manifest["dataset_id"])) == [("failed", "d0"), ("failed", "d4"),
                                                                      ("not_started", "d2")]


def test_a_campaigns_later_attempt_that_migrated_a_dataset_takes_it_off_the_list():
    rerun = _rollup("B", ["skipped", "succeeded", "succeeded", "skipped", "failed"])
    manifest = rerun_manifest(ROLLUP, ended=True, members=[("A", ROLLUP), ("B", rerun)])
    # d2 never started here and the re-run migrated it; d0 failed here and the re-run skipped it; d4 failed in both
    assert list(zip(manifest["dataset_id"], manifest["campaign_attempt"])) == [("d0", "A"), ("d4", "B")]
    assert set(manifest["attempt"]) == {"A"}, "the list is still this attempt's"


def test_no_dataset_is_an_empty_manifest():
    assert rerun_manifest(ROLLUP.iloc[0:0], ended=True).empty


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_the_manifest_is_written_by_the_files_extension(tmp_path, suffix):
    path = tmp_path / f"rerun.{suffix}"
    write_manifest(rerun_manifest(ROLLUP, ended=True), path)
    text = path.read_text()
    ids = [r["dataset_id"] for r in json.loads(text)] if suffix == "json" else list(pd.read_csv(path)["dataset_id"])
    assert ids == ["d0", "d4", "d2"]


def test_each_dataset_says_how_to_re_run_it_as_the_report_splits_it(tmp_path):
    """rerun.csv carries the split the report shows ("N re-run as is · M fix first"): one decision for both."""
    from cxgm_pipeline.monitor.views.failures import rerun_markdown

    rollup = ROLLUP.assign(error_category=["out_of_memory", None, None, None, "validation"])
    manifest = rerun_manifest(rollup, ended=True)
    assert list(zip(manifest["dataset_id"], manifest["rerun_as"], manifest["rerun_hint"])) == [
        ("d0", "as_is", "with more memory"), ("d4", "fix_first", "fix the data or code"), ("d2", "as_is", None)]
    # the failures by category count 2 failed: the split says what else it holds (the datasets never started)
    assert "**2 re-run as is** · **1 fix first** (of 2 failed + 1 never started; all in rerun.csv)" in \
        rerun_markdown(manifest)
    assert "(of 2; all in rerun.csv)" in rerun_markdown(rerun_manifest(rollup, ended=False))
    write_manifest(manifest, tmp_path / "rerun.csv")
    assert list(pd.read_csv(tmp_path / "rerun.csv")["rerun_as"]) == ["as_is", "fix_first", "as_is"]


def test_a_dataset_whose_cause_waits_for_its_log_does_not_guess_it():
    """pending_logs: the ingestion failed before its job's log was read; "fix the data or code" would be a guess."""
    from cxgm_pipeline.monitor.frames.rerun_manifest import rerun_as

    assert rerun_as("pending_logs") == ("fix_first", "its cause is not known yet: the next refresh reads its job's log")
    assert rerun_as("unknown") == ("fix_first", "fix the data or code")


def test_a_dataset_the_cleanup_step_rolled_back_says_what_to_look_at():
    """Every job of it succeeded: "fix the data or code" gives no clue; the cleanup's verdict and its record do."""
    from cxgm_pipeline.monitor.views.failures import rerun_markdown

    rollup = ROLLUP.assign(failing_step=["collection_cleanup", None, None, None, "cxg"],
                           error_category=["application", None, None, None, "application"],
                           production_verdict=["rolled_back", None, None, None, "rolled_back"])
    manifest = rerun_manifest(rollup, ended=False).set_index("dataset_id")
    assert manifest.loc["d0", "rerun_as"] == "fix_first"
    assert manifest.loc["d0", "rerun_hint"] == ("the cleanup step rolled it back: processing_status not SUCCESS; see "
                                                "cxgm describe dataset ID")
    assert manifest.loc["d4", "rerun_hint"] == "fix the data or code", "a job failed it first: its cause decides"
    text = rerun_markdown(manifest.reset_index())
    assert "rolled it back" in text and "fix the data or code" in text, text


def _listed(attempt, ids, category="application"):
    """portal_state.portal_listed's rows: datasets the portal alone names, of a collection whose migration failed."""
    return pd.DataFrame({"stage": "prod", "attempt": attempt, "dataset_id": ids, "dataset_version_id": "old",
                         "collection_id": "c9", "collection_version_id": "v9", "state": "not_started",
                         "failing_step": "collection_migration", "error_category": category,
                         "error_signature": f"{category}: boom", "migration_revision_id": None,
                         "campaign_state": "not_started", "campaign_attempt": attempt})


def test_the_datasets_of_a_collection_that_failed_before_listing_them_are_re_run_once_it_ended():
    listed = _listed("A", ["p1", "p2"])
    assert list(rerun_manifest(ROLLUP, ended=False, listed=listed)["dataset_id"]) == ["d0", "d4"]
    manifest = rerun_manifest(ROLLUP, ended=True, listed=listed).set_index("dataset_id")
    assert list(manifest.index) == ["d0", "d4", "d2", "p1", "p2"]
    p1 = manifest.loc["p1"]
    assert (p1["state"], p1["failing_step"], p1["error_category"], p1["collection_id"], p1["campaign_attempt"]) \
        == ("not_started", "collection_migration", "application", "c9", "A")
    # its collection's cause decides, as for a failed dataset: application needs a fix, an infrastructure cause not
    assert p1["rerun_as"] == "fix_first" and manifest.loc["d2", "rerun_as"] == "as_is"
    assert set(rerun_manifest(ROLLUP, ended=True, listed=_listed("A", ["p1"], "host_terminated"))
               .set_index("dataset_id").loc[["p1", "d2"], "rerun_as"]) == {"as_is"}
    # with no dataset AWS names at all, the portal's are the list
    assert list(rerun_manifest(ROLLUP.iloc[0:0], ended=True, listed=listed)["dataset_id"]) == ["p1", "p2"]


def test_a_campaigns_re_run_that_migrated_a_portal_listed_dataset_takes_it_off_the_list():
    rerun = pd.concat([_rollup("B", ["skipped", "succeeded", "succeeded", "skipped", "failed"]),
                       _rollup("B", ["succeeded"]).assign(dataset_id="p1", collection_id="c9", collection_version_id="v9")],
                      ignore_index=True)
    manifest = rerun_manifest(ROLLUP, ended=True, members=[("A", ROLLUP), ("B", rerun)], listed=_listed("A", ["p1", "p2"]))
    # p2: no attempt of the campaign named it; its latest did not migrate it either
    assert list(zip(manifest["dataset_id"], manifest["campaign_attempt"])) == [("d0", "A"), ("d4", "B"), ("p2", "B")]
