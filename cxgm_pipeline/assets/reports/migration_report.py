"""The report of one attempt in the Dagster UI: key numbers and links first, then the plots (see ui_metadata)."""

from dataclasses import replace

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from cxgm_pipeline.assets.partition_context import partition, resolve_attempt
from cxgm_pipeline.assets.reports.ui_metadata import report_and_plots
from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.monitor.report import links
from cxgm_pipeline.monitor.report.links import REPORT_ASSET
from cxgm_pipeline.config import get_config
from cxgm_pipeline.monitor.views.answer import attempt_answer, breakable
from cxgm_pipeline.monitor.views.deltas import (rehearsal_listed, rehearsal_markdown, rehearsal_of_key,
                                                rehearsal_waiting_markdown)
from cxgm_pipeline.monitor.views.failures import failures_markdown, rerun_markdown, top_failed_markdown
from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.attempts.listing import rehearsal_candidates
from cxgm_pipeline.monitor.views.progress import observed_now, stored_progress, stored_rehearsal
from cxgm_pipeline.monitor.report.document import UI_PREFIX, AttemptReport, key_numbers, key_numbers_markdown, write_attempt_report
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource


def report_metadata(r: AttemptReport, figures: dict[str, bytes], folder) -> dict:
    """The metadata of one materialization, in the order the UI lists it: numbers and links, plots, counts."""
    html, csv = links.report_file(r.ref), links.report_file(r.ref, "rerun.csv")
    # a placeholder's zeros would read as an attempt that migrated nothing
    summary = key_numbers_markdown(r) if not r.placeholder else "No data: the attempt never ran in this stage."
    if html:
        summary += f"\n\n[HTML report]({html}) · [re-run list (CSV)]({csv})"
    meta = {"summary": MetadataValue.md(summary),
            **report_and_plots(folder, figures, lambda name: links.report_file(r.ref, name), UI_PREFIX)}
    meta.update(key_numbers(r))
    return meta


def rehearsal_line(stage: str, attempt: str, rollup: pd.DataFrame, portal: pd.DataFrame, store: FrameStoreResource,
                   running: bool, progress=None) -> str | None:
    """How the attempt differs from its rehearsal (the same key in an earlier stage), with links to the
    comparison; while the rehearsal is not rolled up, that it exists; None: no earlier stage ran the key.
    `progress`: the attempt's, for the answer line's expected total while it runs."""
    stages = get_config().stage_names
    rehearsal = rehearsal_of_key(stage, attempt, stages, store)
    if rehearsal is None:
        waiting = rehearsal_listed(stage, attempt, stages, store)
        return rehearsal_waiting_markdown(f"{stage}:{attempt}", f"{waiting}:{attempt}") if waiting else None
    base, other = f"{rehearsal}:{attempt}", f"{stage}:{attempt}"
    name = links.comparison_name(base, other)
    compared = (store.root() / "reports" / "compare" / name / "index.html").exists()
    rehearsal_portal = (store.read(Frame.portal_state, rehearsal, attempt)
                        if store.exists(Frame.portal_state, rehearsal, attempt) else None)
    # the progress read the same rollup for its ETA or its completion plot
    known = progress.rehearsal if progress is not None else None
    if known is not None and known.label == base:
        rehearsed = known.rollup
    else:
        rehearsed = store.read(Frame.dataset_rollup, rehearsal, attempt)
    return rehearsal_markdown(other, rollup, base, rehearsed, running,
                              f"{links.ui_url()}/assets/duration_deltas",
                              links.served("compare", name, "index.html") if compared else None,
                              portal, rehearsal_portal, progress)


@asset(partitions_def=migration_partitions, kinds={"matplotlib", "markdown"})
def migration_report(context: AssetExecutionContext, enriched_jobs: pd.DataFrame, dataset_rollup: pd.DataFrame,
                     error_signatures: pd.DataFrame, rerun_manifest: pd.DataFrame, sfn_executions: pd.DataFrame,
                     store: FrameStoreResource, sfn: StepFunctionsResource,
                     portal_state: pd.DataFrame) -> MaterializeResult:
    """The report people read: key numbers, plots (dataset states, jobs by step and status, durations, progress),
    progress and ETA, what the portal serves, top errors, the failed datasets in detail, the datasets to re-run;
    also as HTML with rerun.csv/json."""
    stage, attempt = partition(context)
    ref = AttemptRef(stage, attempt)
    _, _, found = resolve_attempt(context, sfn)
    progress = None
    if found is not None:  # a running attempt's ETA reads its rehearsal: the same key in another stage
        candidates = rehearsal_candidates(sfn, stage, not found.ended, context.log, store=store, keys={attempt})
        progress = stored_progress(found, store, candidates, rollup=dataset_rollup,
                                   now=observed_now(enriched_jobs, dataset_rollup), portal=portal_state)
        if progress is not None and progress.ended and progress.rehearsal is None:
            # its completion plot beside its rehearsal's, as while it ran
            progress = replace(progress, rehearsal=stored_rehearsal(stage, attempt, get_config().stage_names, store))
    failures = store.read(Frame.child_failures, stage, attempt) if store.exists(Frame.child_failures, stage, attempt) \
        else None  # the outcome's (a Map Run past its tolerance), as the health check reads it
    outputs = store.read(Frame.step_outputs, stage, attempt, columns=["kind", "source", "job_id"]) \
        if store.exists(Frame.step_outputs, stage, attempt) else None  # answers not read yet: the counts are partial
    answer, health = attempt_answer(found, dataset_rollup, enriched_jobs, progress, portal=portal_state,
                                    child_failures=failures, outputs=outputs)
    compared = None if found is None else rehearsal_line(stage, attempt, dataset_rollup, portal_state, store,
                                                          not found.ended, progress)
    r = AttemptReport(ref, {Frame.enriched_jobs: enriched_jobs, Frame.dataset_rollup: dataset_rollup,
                            Frame.error_signatures: error_signatures, Frame.rerun_manifest: rerun_manifest,
                            Frame.sfn_executions: sfn_executions, Frame.portal_state: portal_state}, progress, answer,
                      compared)
    folder = store.report_dir(stage, attempt)
    # rerun.csv/json: the rerun_manifest asset (an input of this one) has written them into this folder
    figures = write_attempt_report(folder, r, {"this partition in Dagster": links.partition_page(ref)},
                                   published=False)
    # the answer first: the UI lists metadata in this order, and a person reads the first line
    meta = {"answer": MetadataValue.md(f"**{answer}**"),
            "health": breakable(health.reason) or "no failure",
            # the one grid coloured by each attempt's health: this asset's own partitions are green once written
            "health_grid": MetadataValue.md(f"[every attempt]({links.health_grid(REPORT_ASSET)})")}
    if not r.placeholder:  # "no failed dataset, nothing to re-run" of a placeholder reads as a clean attempt
        # failures inside Dagster, each short enough for the UI to render inline; an attempt that died before
        # listing a dataset failed none, and "No failed dataset." would read as a clean one
        failed = (failures_markdown(dataset_rollup) if not dataset_rollup.empty or health.healthy
                  else f"No dataset listed: {breakable(health.reason)}")
        meta.update({"failures": MetadataValue.md(failed),
                     "top_failed": MetadataValue.md(top_failed_markdown(dataset_rollup)),
                     "rerun": MetadataValue.md(rerun_markdown(rerun_manifest))})
    if compared is not None and not r.placeholder:  # how prod differs from dev, from the page a person lands on
        meta["rehearsal"] = MetadataValue.md(compared)
    meta.update(report_metadata(r, figures, folder))
    if progress is not None:
        meta["progress"] = progress.line()
    if not portal_state.empty:
        from cxgm_pipeline.monitor.frames.portal_state import portal_markdown

        meta["portal"] = MetadataValue.md(portal_markdown(portal_state))
    return MaterializeResult(metadata=meta)
