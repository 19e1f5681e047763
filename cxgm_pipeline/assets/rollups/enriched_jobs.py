import pandas as pd
from dagster import AssetExecutionContext, asset
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.monitor.enrich import enrich_jobs
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import CloudWatchLogsResource, FetchStats
from cxgm_pipeline.schemas import EnrichedJobs


@asset(partitions_def=migration_partitions, dagster_type=pandera_schema_to_dagster_type(EnrichedJobs),
       kinds={"aws", "pandas"})
def enriched_jobs(context: AssetExecutionContext, migration_jobs: pd.DataFrame, logs: CloudWatchLogsResource) -> pd.DataFrame:
    """migration_jobs plus the failed and running jobs' logs: errors, last exception, category, signature."""
    stats = FetchStats()
    enriched = enrich_jobs(migration_jobs, logs, stats)
    meta = {"aws_calls": stats.calls, "log_events_read": stats.items}
    if not enriched.empty:
        meta.update({f"log_{k}": int(v) for k, v in enriched["log_status"].value_counts().items()})
        meta.update({f"failed_{k}": int(v) for k, v in enriched["error_category"].value_counts().items()})
    context.add_output_metadata(meta)
    return enriched
