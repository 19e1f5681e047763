"""The views over every partition (attempt_states, duration_deltas) are refreshed whenever any partition of
dataset_rollup is: they read the stored rollups, so a view materialized before the last refresh would show
stale, self-contradicting numbers.

`eager` without its "no missing upstream" and "no upstream in progress" clauses: a view must not wait for cells
that never run, nor for a slow partition (an aborted attempt whose logs expired reads histories for minutes)
while the live one refreshes every minute. A run of the view itself still waits for the previous one.
"""

from dagster import AssetSelection, AutomationCondition, AutomationConditionSensorDefinition, DefaultSensorStatus

from cxgm_pipeline.config import sensor_seconds

FOLLOWS_ROLLUPS = (AutomationCondition.eager()
                   .without(~AutomationCondition.any_deps_missing())
                   .without(~AutomationCondition.any_deps_in_progress())
                   .with_label("after any dataset_rollup partition"))

VIEWS = ("attempt_states", "duration_deltas")

views_follow_rollups_sensor = AutomationConditionSensorDefinition(
    "views_follow_rollups", target=AssetSelection.assets(*VIEWS), default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=sensor_seconds())
