import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from cxgm_pipeline.assets.partition_context import partition, resolve_attempt
from cxgm_pipeline.config import get_config
from cxgm_pipeline.monitor.attempts import list_all_attempts
from cxgm_pipeline.monitor.progress import observed_now, stored_progress
from cxgm_pipeline.monitor.report import (
    attempt_figures,
    attempt_markdown,
    data_uri,
    failed_datasets_section,
    progress_figures,
    progress_section,
    write_report,
)
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource


@asset(partitions_def=migration_partitions, kinds={"matplotlib", "markdown"})
def migration_report(context: AssetExecutionContext, enriched_jobs: pd.DataFrame, dataset_rollup: pd.DataFrame,
                     error_signatures: pd.DataFrame, sfn_executions: pd.DataFrame, store: FrameStoreResource,
                     sfn: StepFunctionsResource) -> MaterializeResult:
    """The report people read: progress and ETA, job status counts, durations, dataset states, top errors, the
    failed datasets in detail, re-run list."""
    stage, attempt = partition(context)
    _, _, found = resolve_attempt(context, sfn)
    progress = None
    if found is not None:  # a running attempt's ETA reads its rehearsal: the same key in another stage
        candidates = [] if found.ended else list_all_attempts(sfn, get_config().stage_names, context.log)
        progress = stored_progress(found, store, candidates, rollup=dataset_rollup,
                                   now=observed_now(enriched_jobs, dataset_rollup))
    figures = {**progress_figures(progress), **attempt_figures(enriched_jobs, dataset_rollup)}

    def markdown(images: dict[str, str]) -> str:
        sections = (progress_section(progress, images),
                    failed_datasets_section(stage, attempt, dataset_rollup, enriched_jobs, sfn_executions))
        return attempt_markdown(stage, attempt, enriched_jobs, dataset_rollup, error_signatures, images, sections)

    index = write_report(store.report_dir(stage, attempt), markdown, figures, f"cxgm {stage} {attempt}")
    meta = {"report": MetadataValue.path(str(index)),
            "summary": MetadataValue.md(markdown({name: data_uri(png) for name, png in figures.items()}))}
    if progress is not None:
        meta["progress"] = progress.line()
    return MaterializeResult(metadata=meta)
