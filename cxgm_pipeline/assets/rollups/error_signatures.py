import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.monitor.rollups import error_signatures as build_error_signatures
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.schemas import ErrorSignatures


@asset(partitions_def=migration_partitions, dagster_type=pandera_schema_to_dagster_type(ErrorSignatures),
       kinds={"pandas"})
def error_signatures(context: AssetExecutionContext, enriched_jobs: pd.DataFrame, sfn_executions: pd.DataFrame,
                     dataset_rollup: pd.DataFrame) -> pd.DataFrame:
    """Failures grouped by cause: 300 failures with one cause are one row with a count."""
    signatures = build_error_signatures(enriched_jobs, sfn_executions, dataset_rollup)
    top = signatures.head(10)[["jobs", "step", "error_signature"]] if not signatures.empty else signatures
    context.add_output_metadata({"signatures": len(signatures),
                                 "top": MetadataValue.md(top.to_markdown(index=False) if not top.empty else "_no failures_")})
    return signatures
