"""Jobs the sensors and schedules launch: the partitioned chain of one (stage, attempt), and the comparison."""

from dagster import AssetSelection, define_asset_job

from cxgm_pipeline.partitions import migration_partitions

ATTEMPT_CHAIN = AssetSelection.groups("aws", "rollups") | AssetSelection.assets("migration_report")

refresh_attempt_job = define_asset_job(
    "refresh_attempt", selection=ATTEMPT_CHAIN, partitions_def=migration_partitions,
    description="Fetch and roll up one (stage, attempt): jobs, executions, logs, datasets, report.")
compare_job = define_asset_job("compare_dev_prod", selection=AssetSelection.assets("duration_deltas"),
                               description="Latest dev attempt vs latest prod attempt (configurable).")
