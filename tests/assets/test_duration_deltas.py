"""The dev-vs-prod comparison asset: it waits for a stage with no rollup, then compares the latest attempts."""

import re

from dagster import DagsterInstance, materialize

from cxgm_pipeline.definitions import build_resources
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from tests.conftest import migration, observable
from tests.dagster_chain import DELTAS, PARTITIONED


def test_duration_deltas_wait_for_a_stage_with_no_rollup(emulator, tmp_path):
    """The views sensor runs the comparison as soon as any rollup exists (dev's, long before prod's first): the
    run succeeds, empty, and says what it waits for; it does not fail."""
    resources = build_resources("local", str(tmp_path / "data"))
    result = materialize([*PARTITIONED, *DELTAS], selection=["duration_deltas"], resources=resources,
                         instance=DagsterInstance.ephemeral())
    assert result.success
    meta = result.asset_materializations_for_node("duration_deltas")[0].metadata
    assert "no materialized dataset_rollup for any attempt of 'prod' yet" in meta["waiting"].value
    assert FrameStoreResource(base_path=str(tmp_path / "data")).read("duration_deltas").empty


def test_duration_deltas_compare_latest_dev_with_latest_prod(chain, truth):
    deltas = chain["store"].read("duration_deltas")
    assert set(deltas["base"]) == {"dev:ATTEMPT_2"} and set(deltas["other"]) == {"prod:ATTEMPT_2"}
    dev = {d["dataset_id"]: d["state"] for d in observable(migration(truth, "dev", "ATTEMPT_2"))}
    prod = {d["dataset_id"]: d["state"] for d in observable(migration(truth, "prod"))}
    expected = {i for i in dev if dev[i] == "succeeded" and prod.get(i) == "failed"}
    got = set(deltas.loc[deltas["outcome_change"] == "succeeded_to_failed", "dataset_id"])
    assert got == expected
    cxg = deltas[(deltas["step"] == "cxg") & deltas["delta_s"].notna()]
    assert len(cxg) > 0 and (cxg["delta_s"] == cxg["other_duration_s"] - cxg["base_duration_s"]).all()
    # the causes of failure on each side: every one counted once, as new, vanished or in both
    meta = chain["deltas"].asset_materializations_for_node("duration_deltas")[0].metadata
    causes = {(r["error_signature"], r["error_category"]) for stage in ("dev", "prod")
              for r in chain["store"].read("error_signatures", stage, "ATTEMPT_2").to_dict("records")}
    assert sum(meta[f"causes_{k}"].value for k in ("new", "vanished", "both")) == len(causes)
    assert "Causes of failure" in next((chain["data"] / "reports" / "compare").glob("*/index.md")).read_text()
    # a cause or a duration missing on one side is an empty cell, never "nan"
    # narrow and inline in the metadata pane (lists that wrap, under 1,000 characters); whole in the report
    changes = meta["outcome_changes"].md_str
    assert "succeeded → failed" in changes and not re.search(r"\b(nan|NaN|None|NaT)\b", changes)
    for name in ("outcome_changes", "causes_diff"):
        assert len(meta[name].md_str) < 1000 and "|" not in meta[name].md_str, name
    index = next((chain["data"] / "reports" / "compare").glob("*/index.md")).read_text()
    cells = {c.strip() for line in index.splitlines() if line.startswith("|") for c in line.split("|")}
    assert "succeeded\\_to\\_failed" in cells and not {"nan", "NaN", "None", "NaT"} & cells


def test_dev_latest_is_the_other_sides_rehearsal_when_it_is_rolled_up(chain):
    """prod's ATTEMPT_2 is compared with dev's ATTEMPT_2, not with whatever dev ran last (a smoke test, EDGES)."""
    from cxgm_pipeline.assets.reports.duration_deltas import resolve_partition
    from cxgm_pipeline.resources.aws import StepFunctionsResource

    store, sfn = chain["store"], StepFunctionsResource()
    stored = set(store.attempts("dataset_rollup", "dev"))
    assert "ATTEMPT_2" in stored and len(stored) > 1
    assert resolve_partition("dev:latest", store, sfn, like="ATTEMPT_2").key == "ATTEMPT_2"
    latest = resolve_partition("dev:latest", store, sfn)
    assert resolve_partition("dev:latest", store, sfn, like="NOT_ROLLED_UP").key == latest.key
    others = stored - {"ATTEMPT_2"}
    assert resolve_partition("dev:latest", store, sfn, like=min(others)).key == min(others)


def test_dev_latest_waits_for_the_rehearsal_rather_than_compare_another_attempt(chain, tmp_path):
    """Before dev's ATTEMPT_2 is rolled up, prod's ATTEMPT_2 is compared with nothing (the run says what it waits
    for), not with the smoke test or the aborted attempt that were rolled up first."""
    import pytest

    from cxgm_pipeline.assets.reports.duration_deltas import NothingToCompare, resolve_partition
    from cxgm_pipeline.monitor.store.frames import FrameStore
    from cxgm_pipeline.resources.aws import StepFunctionsResource

    early = FrameStore(str(tmp_path))
    for key in set(chain["store"].attempts("dataset_rollup", "dev")) - {"ATTEMPT_2"}:
        early.write(chain["store"].read("dataset_rollup", "dev", key), "dataset_rollup", "dev", key)
    with pytest.raises(NothingToCompare, match="dev:ATTEMPT_2 .* is not rolled up yet"):
        resolve_partition("dev:latest", early, StepFunctionsResource(), like="ATTEMPT_2")
