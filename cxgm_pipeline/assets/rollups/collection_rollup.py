import pandas as pd
from dagster import AssetExecutionContext, asset
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.monitor.rollups import collection_rollup as build_collection_rollup
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.schemas import CollectionRollup


@asset(partitions_def=migration_partitions, dagster_type=pandera_schema_to_dagster_type(CollectionRollup),
       kinds={"pandas"})
def collection_rollup(context: AssetExecutionContext, dataset_rollup: pd.DataFrame, enriched_jobs: pd.DataFrame,
                      step_outputs: pd.DataFrame) -> pd.DataFrame:
    """Per collection: datasets by state, its collection_migration outcome, and whether it can publish."""
    rollup = build_collection_rollup(dataset_rollup, enriched_jobs, step_outputs)
    context.add_output_metadata({"collections": len(rollup),
                                 "can_publish": int(rollup["can_publish"].sum()) if not rollup.empty else 0})
    return rollup
