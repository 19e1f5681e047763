import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from cxgm_pipeline.assets.partition_context import partition
from cxgm_pipeline.monitor.report import attempt_figures, attempt_markdown, data_uri, write_report
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.frame_store import FrameStoreResource


@asset(partitions_def=migration_partitions, kinds={"matplotlib", "markdown"})
def migration_report(context: AssetExecutionContext, enriched_jobs: pd.DataFrame, dataset_rollup: pd.DataFrame,
                     error_signatures: pd.DataFrame, store: FrameStoreResource) -> MaterializeResult:
    """The report people read: job status counts, durations, dataset states, top errors, re-run list."""
    stage, attempt = partition(context)
    figures = attempt_figures(enriched_jobs, dataset_rollup)

    def markdown(images: dict[str, str]) -> str:
        return attempt_markdown(stage, attempt, enriched_jobs, dataset_rollup, error_signatures, images)

    index = write_report(store.report_dir(stage, attempt), markdown, figures, f"cxgm {stage} {attempt}")
    return MaterializeResult(metadata={
        "report": MetadataValue.path(str(index)),
        "summary": MetadataValue.md(markdown({name: data_uri(png) for name, png in figures.items()})),
    })
