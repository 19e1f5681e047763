import pandas as pd
from dagster import AssetExecutionContext, asset
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.assets.partition_context import attempt_metadata, resolve_attempt
from cxgm_pipeline.monitor.executions import fetch_sfn_executions
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import FetchStats, StepFunctionsResource
from cxgm_pipeline.schemas import SfnExecutions


@asset(partitions_def=migration_partitions, dagster_type=pandera_schema_to_dagster_type(SfnExecutions),
       kinds={"aws", "pandas"})
def sfn_executions(context: AssetExecutionContext, step_outputs: pd.DataFrame, sfn: StepFunctionsResource) -> pd.DataFrame:
    """Each new dataset version of the attempt with its ingestion execution (name, status, times)."""
    stats = FetchStats()
    stage, _, attempt = resolve_attempt(context, sfn, stats)
    executions = fetch_sfn_executions(stage, attempt, step_outputs, sfn, stats)
    meta = {**attempt_metadata(attempt, stats), "new_versions": len(executions)}
    if not executions.empty:
        meta["executions_started"] = int(executions["execution_arn"].notna().sum())
        meta.update({f"attributed_by_{k}": int(v) for k, v in executions["attribution"].value_counts().items()})
    context.add_output_metadata(meta)
    return executions
