import pandas as pd
from dagster import AssetExecutionContext, asset
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.assets.partition_context import attempt_metadata, resolve_attempt
from cxgm_pipeline.monitor.corpus import attempt_summary, roll_up_attempt
from cxgm_pipeline.monitor.rollups import UNATTRIBUTED
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import FetchStats, StepFunctionsResource
from cxgm_pipeline.schemas import DatasetRollup, empty_frame


@asset(partitions_def=migration_partitions, dagster_type=pandera_schema_to_dagster_type(DatasetRollup),
       kinds={"pandas"})
def dataset_rollup(context: AssetExecutionContext, enriched_jobs: pd.DataFrame, sfn_executions: pd.DataFrame,
                   step_outputs: pd.DataFrame, sfn: StepFunctionsResource) -> pd.DataFrame:
    """One row per dataset the attempt set out to migrate: state, steps, failing step and cause, durations, retries."""
    stats = FetchStats()
    stage, key, attempt = resolve_attempt(context, sfn, stats)
    if attempt is None:
        rollup = empty_frame(DatasetRollup)
    else:
        rollup = roll_up_attempt(stage, attempt, enriched_jobs, sfn_executions, step_outputs)
    states = rollup["state"].value_counts().to_dict() if not rollup.empty else {}
    meta = {**attempt_metadata(attempt, stats), "datasets": len(rollup), **{f"datasets_{k}": int(v) for k, v in states.items()},
            "unattributed": int(rollup["dataset_id"].str.startswith(UNATTRIBUTED).sum()) if not rollup.empty else 0}
    summary = attempt_summary(attempt, enriched_jobs, rollup)
    if summary:
        meta["why_empty"] = summary
        context.log.info(f"{stage}/{key}: {summary}")
    context.add_output_metadata(meta)
    return rollup
