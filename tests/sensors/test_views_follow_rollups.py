"""attempt_states and duration_deltas refresh after any dataset_rollup partition does (issue: a view that
read the rollups without depending on them ended stale)."""

from dagster import AssetKey, AssetMaterialization, DagsterInstance, MultiPartitionKey, evaluate_automation_conditions

from cxgm_pipeline.definitions import defs
from cxgm_pipeline.partitions import ATTEMPTS
from cxgm_pipeline.sensors.views_follow_rollups import VIEWS


def requested(result) -> set[str]:
    return {key.to_user_string() for key in (AssetKey(v) for v in VIEWS) if result.get_num_requested(key)}


def test_views_refresh_after_any_rollup_partition():
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, ["ATTEMPT_2"])
    first = evaluate_automation_conditions(defs=defs, instance=instance)
    for view in VIEWS:  # pretend the views were materialized once
        instance.report_runless_asset_event(AssetMaterialization(asset_key=view))
    quiet = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert requested(quiet) == set()
    # one cell of one stage refreshed (the other stages' cells never materialized: they must not block)
    instance.report_runless_asset_event(AssetMaterialization(
        asset_key="dataset_rollup", partition=MultiPartitionKey({"stage": "prod", "attempt": "ATTEMPT_2"})))
    after = evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
    assert requested(after) == set(VIEWS)
    again = evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
    assert requested(again) == set()  # once per refresh, not on every tick
