"""attempt_states and duration_deltas run again whenever a rollup newer than the one they read exists, including
one that landed while they ran."""

import re
from datetime import datetime, timezone

from dagster import (
    AssetMaterialization,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    MultiPartitionKey,
    build_sensor_context,
)
from dagster._core.utils import make_new_run_id

from cxgm_pipeline.partitions import ATTEMPTS
from cxgm_pipeline.sensors.views_follow_rollups import (
    AS_OF,
    AS_OF_SHOWN,
    VIEWS,
    newest_rollup,
    rollups_read,
    views_follow_rollups_sensor,
)


def tick(instance: DagsterInstance) -> set[str]:
    with build_sensor_context(instance=instance) as context:
        result = views_follow_rollups_sensor(context)
    return {r.run_key.split(":")[0] for r in result.run_requests}


def rollup(instance: DagsterInstance, stage: str, attempt: str) -> None:
    instance.report_runless_asset_event(AssetMaterialization(
        asset_key="dataset_rollup", partition=MultiPartitionKey({"stage": stage, "attempt": attempt})))


def views_read(instance: DagsterInstance, as_of: int) -> None:
    for view in VIEWS:
        instance.report_runless_asset_event(AssetMaterialization(asset_key=view, metadata={AS_OF: as_of}))


def test_views_refresh_after_any_rollup_partition():
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, ["ATTEMPT_2"])
    assert tick(instance) == set()  # no rollup yet: nothing to show
    rollup(instance, "prod", "ATTEMPT_2")  # one cell of one stage (the others never materialized: no wait)
    assert tick(instance) == set(VIEWS)
    views_read(instance, newest_rollup(instance))
    assert tick(instance) == set()  # once per refresh, not on every tick


def test_a_rollup_refreshed_while_a_view_ran_is_not_lost():
    """The view's run reads the rollups, then a rollup lands, then the run ends: the view is stale and runs again
    (the aborted dev attempt's overview read '0 datasets' for minutes after its rollup had 1,974)."""
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, ["ATTEMPT_2", "untagged-1"])
    rollup(instance, "prod", "ATTEMPT_2")
    assert tick(instance) == set(VIEWS)
    read = newest_rollup(instance)
    rollup(instance, "dev", "untagged-1")  # lands while the views' run works from what it read
    views_read(instance, read)
    assert tick(instance) == set(VIEWS), "a view older than a rollup it reads is refreshed"
    views_read(instance, newest_rollup(instance))
    assert tick(instance) == set()


def test_a_view_run_under_way_holds_the_next_back():
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, ["ATTEMPT_2"])
    rollup(instance, "prod", "ATTEMPT_2")
    instance.add_run(DagsterRun(job_name="attempts_overview", run_id=make_new_run_id(),
                                status=DagsterRunStatus.STARTED))
    assert tick(instance) == {"duration_deltas"}


def test_a_view_says_when_the_rollup_it_read_up_to_was_materialized():
    """A storage id alone tells a person nothing: beside it, the UTC time and partition of that rollup; the
    metadata a view writes is what the sensor compares."""
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, ["ATTEMPT_2"])
    assert rollups_read(instance) == {AS_OF_SHOWN: "no dataset_rollup materialized yet", AS_OF: 0}
    rollup(instance, "prod", "ATTEMPT_2")
    read = rollups_read(instance)
    assert read[AS_OF] == newest_rollup(instance) > 0
    shown = re.fullmatch(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC \(dataset_rollup ATTEMPT_2\|prod\)", read[AS_OF_SHOWN])
    assert shown, read[AS_OF_SHOWN]
    at = datetime.strptime(shown.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - at).total_seconds()) < 60
    for view in VIEWS:
        instance.report_runless_asset_event(AssetMaterialization(asset_key=view, metadata=read))
    assert tick(instance) == set()
