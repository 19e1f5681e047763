import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, asset
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.assets.partition_context import resolve_attempt
from cxgm_pipeline.monitor.rerun import rerun_manifest as build_rerun_manifest
from cxgm_pipeline.monitor.rerun import write_manifest
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.schemas import RerunManifest


@asset(partitions_def=migration_partitions, dagster_type=pandera_schema_to_dagster_type(RerunManifest),
       kinds={"pandas", "csv"})
def rerun_manifest(context: AssetExecutionContext, dataset_rollup: pd.DataFrame, sfn: StepFunctionsResource,
                   store: FrameStoreResource) -> pd.DataFrame:
    """The datasets to re-run, with collection, failing step and cause; also written as CSV and JSON."""
    stage, key, attempt = resolve_attempt(context, sfn)
    manifest = build_rerun_manifest(dataset_rollup, ended=bool(attempt and attempt.ended))
    folder = store.report_dir(stage, key)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("rerun.csv", "rerun.json"):
        write_manifest(manifest, folder / name)
    context.add_output_metadata({"datasets": len(manifest), "csv": MetadataValue.path(str(folder / "rerun.csv"))})
    return manifest
