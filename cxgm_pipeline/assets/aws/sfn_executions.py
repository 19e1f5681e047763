import pandas as pd
from dagster import AssetExecutionContext, asset
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.assets.partition_context import attempt_metadata, resolve_attempt
from cxgm_pipeline.monitor.executions import fetch_sfn_executions
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import FetchStats, StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.schemas import SfnExecutions


@asset(partitions_def=migration_partitions, dagster_type=pandera_schema_to_dagster_type(SfnExecutions),
       kinds={"aws", "pandas"})
def sfn_executions(context: AssetExecutionContext, sfn: StepFunctionsResource, store: FrameStoreResource) -> pd.DataFrame:
    """Ingestion executions of the attempt with per-step timings and the old -> new dataset version mapping.
    Incremental: executions that had ended at the last materialization are not fetched again."""
    stats = FetchStats()
    stage, key, attempt = resolve_attempt(context, sfn, stats)
    previous = store.read("sfn_executions", stage, key) if store.exists("sfn_executions", stage, key) else None
    executions = fetch_sfn_executions(stage, attempt, sfn, stats, previous=previous)
    context.add_output_metadata({**attempt_metadata(attempt, stats), "executions": len(executions),
                                 "mapped_datasets": int(executions["dataset_id"].notna().sum()) if not executions.empty else 0})
    return executions
