"""Jobs the sensors and schedules launch: one (stage, attempt)'s chain, the attempts overview, the comparison."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.partitions import migration_partitions

# Run lanes (deploy/dagster.*.yaml limits the history lane): an ended attempt's first run may read execution
# histories at 5 calls/s for minutes, and must never hold every run slot while a running attempt waits to refresh.
LIVE_RUN_TAGS = {"cxgm/lane": "live", "dagster/priority": "10"}  # a running attempt: dequeued first
HISTORY_RUN_TAGS = {"cxgm/lane": "history"}  # an ended attempt's runs
# In the history lane, a stage's newest ended attempt first: it is the rehearsal a later stage's run is compared
# with (its ETA scales from it), and the one a person opens first; the rehearsal of a running attempt before all.
NEWEST_HISTORY_RUN_TAGS = {**HISTORY_RUN_TAGS, "dagster/priority": "1"}
REHEARSAL_RUN_TAGS = {**HISTORY_RUN_TAGS, "dagster/priority": "5"}
PLACEHOLDER_RUN_TAGS = {"cxgm/lane": "placeholder", "dagster/priority": "-1"}  # a stage the attempt never ran in

ATTEMPT_CHAIN = AssetSelection.groups("aws", "rollups") | AssetSelection.assets("migration_report", Frame.rerun_manifest)

refresh_attempt_job = define_asset_job(
    "refresh_attempt", selection=ATTEMPT_CHAIN, partitions_def=migration_partitions,
    description="Fetch and roll up one (stage, attempt): jobs, executions, logs, datasets, report, re-run list.",
    # a chain, not a fan-out: one process avoids a Python start-up per step
    executor_def=in_process_executor)
overview_job = define_asset_job("attempts_overview", selection=AssetSelection.assets("attempt_states"),
                                description="Every attempt's state and dataset counts.")
compare_job = define_asset_job("compare_dev_prod", selection=AssetSelection.assets("duration_deltas"),
                               description="Latest dev attempt vs latest prod attempt (configurable).")
campaign_view_job = define_asset_job(
    # portal_state's verdicts read the campaign's outcome (a re-run's dataset its campaign migrated); an ended
    # attempt's answers read after its end are kept: the portal is not read again
    "campaign_view", selection=AssetSelection.assets(Frame.dataset_rollup, Frame.collection_rollup, Frame.error_signatures,
                                                     Frame.portal_state, Frame.rerun_manifest, "migration_report"),
    partitions_def=migration_partitions,
    description="Re-build one (stage, attempt)'s rollups from its stored frames when another attempt of its campaign "
                "changed (sensors/campaign_views.py): no AWS fetch.",
    executor_def=in_process_executor)
