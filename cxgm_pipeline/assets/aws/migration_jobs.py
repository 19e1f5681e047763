import pandas as pd
from dagster import AssetExecutionContext, asset
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.assets.partition_context import attempt_metadata, resolve_attempt
from cxgm_pipeline.monitor.jobs import fetch_migration_jobs
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import BatchResource, FetchStats, StepFunctionsResource
from cxgm_pipeline.schemas import MigrationJobs


@asset(partitions_def=migration_partitions, dagster_type=pandera_schema_to_dagster_type(MigrationJobs),
       kinds={"aws", "pandas"})
def migration_jobs(context: AssetExecutionContext, batch: BatchResource, sfn: StepFunctionsResource) -> pd.DataFrame:
    """Every Batch job of the attempt (migration and ingestion), one row each; TASK_TOKEN never stored."""
    stats = FetchStats()
    stage, _, attempt = resolve_attempt(context, sfn, stats)
    jobs = fetch_migration_jobs(stage, attempt, batch, stats)
    by_status = jobs["status"].value_counts().to_dict() if not jobs.empty else {}
    context.add_output_metadata({**attempt_metadata(attempt, stats), **{f"jobs_{k.lower()}": int(v) for k, v in by_status.items()}})
    return jobs
