"""The report of one attempt in the Dagster UI: key numbers and links first, then the plots (see ui_metadata)."""

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from cxgm_pipeline.assets.partition_context import partition
from cxgm_pipeline.monitor import links
from cxgm_pipeline.monitor.attempt_ref import AttemptRef
from cxgm_pipeline.assets.reports.ui_metadata import report_and_plots
from cxgm_pipeline.monitor.report import AttemptReport, key_numbers, key_numbers_markdown, write_attempt_report
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.frame_store import FrameStoreResource


def report_metadata(r: AttemptReport, figures: dict[str, bytes], folder) -> dict:
    """The metadata of one materialization, in the order the UI lists it: numbers and links, plots, counts."""
    html, csv = links.report_file(r.ref), links.report_file(r.ref, "rerun.csv")
    summary = key_numbers_markdown(r)
    if html:
        summary += f"\n\n[HTML report]({html}) · [re-run list (CSV)]({csv})"
    meta = {"summary": MetadataValue.md(summary),
            **report_and_plots(folder, figures, lambda name: links.report_file(r.ref, name))}
    meta.update(key_numbers(r))
    return meta


@asset(partitions_def=migration_partitions, kinds={"matplotlib", "markdown"})
def migration_report(context: AssetExecutionContext, enriched_jobs: pd.DataFrame, dataset_rollup: pd.DataFrame,
                     error_signatures: pd.DataFrame, rerun_manifest: pd.DataFrame,
                     store: FrameStoreResource) -> MaterializeResult:
    """The report people read: key numbers, plots (dataset states, jobs by step and status, durations), top
    errors, the datasets to re-run; also as HTML with rerun.csv/json."""
    stage, attempt = partition(context)
    ref = AttemptRef(stage, attempt)
    r = AttemptReport(ref, {"enriched_jobs": enriched_jobs, "dataset_rollup": dataset_rollup,
                            "error_signatures": error_signatures, "rerun_manifest": rerun_manifest})
    folder = store.report_dir(stage, attempt)
    figures = write_attempt_report(folder, r, {"this partition in Dagster": links.partition_page(ref)})
    return MaterializeResult(metadata=report_metadata(r, figures, folder))
