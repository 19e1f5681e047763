"""Compares two (stage, attempt) partitions of dataset_rollup. Unpartitioned on purpose: one comparison,
configured at launch (default: the latest dev attempt against the latest prod attempt), and the UI shows
which two partitions it compared in its metadata."""

import pandas as pd
from dagster import AssetDep, AssetExecutionContext, Config, MetadataValue, asset
from dagster_pandera import pandera_schema_to_dagster_type
from pydantic import Field

from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.attempts.listing import list_attempts_stored
from cxgm_pipeline.monitor.attempts.campaigns import campaign_view, stored_members
from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.monitor.views.deltas import duration_deltas as build_duration_deltas
from cxgm_pipeline.assets.reports.ui_metadata import report_and_plots
from cxgm_pipeline.monitor.report import links
from cxgm_pipeline.monitor.views.deltas import (SIGNATURE_CHANGES, causes_diff_markdown, outcome_changes, outcome_changes_markdown,
                                                 stored_signature_diff)
from cxgm_pipeline.monitor.report.document import (UI_PREFIX, delta_figures, markdown_table, signature_diff_section,
                                                   write_narrow_copies, write_report)
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.schemas import DatasetRollup, DurationDeltas, empty_frame, validate
from cxgm_pipeline.sensors.views_follow_rollups import rollups_read


class CompareConfig(Config):
    base: str = Field(default="dev:latest", description="STAGE:ATTEMPT, or STAGE:latest (the attempt keyed as the other "
                                                         "side's when it is rolled up: its rehearsal)")
    other: str = Field(default="prod:latest", description="STAGE:ATTEMPT, or STAGE:latest")
    top: int = Field(default=50, description="Datasets shown in the delta plots")


class NothingToCompare(ValueError):
    """A side named `STAGE:latest` has no rolled-up attempt yet (prod before its first refresh, say)."""


def resolve_partition(spec: str, store: FrameStoreResource, sfn: StepFunctionsResource,
                      like: str | None = None) -> AttemptRef:
    """'dev:ATTEMPT_2' as is; 'dev:latest' = the attempt keyed `like` (the other side's: prod's ATTEMPT_2 is
    rehearsed as dev's ATTEMPT_2) once its rollup is materialized (until then there is nothing to compare: another
    attempt of dev, a smoke test or an aborted one, would be compared in its place); with no such attempt in dev,
    the most recent attempt of dev that has one."""
    ref = AttemptRef.parse(spec)
    if not ref.is_latest:
        return ref
    stage = ref.stage
    stored = set(store.attempts(Frame.dataset_rollup, stage))
    if like is not None and like in stored:
        return AttemptRef(stage, like)
    listed = list_attempts_stored(stage, sfn, store)
    if like is not None and any(a.key == like for a in listed):
        raise NothingToCompare(f"{stage}:{like} (the rehearsal of the same key) is not rolled up yet; the discovery "
                               f"sensor materializes it, and this comparison follows")
    for candidate in reversed(listed):
        if candidate.key in stored:
            return candidate.ref
    raise NothingToCompare(f"no materialized dataset_rollup for any attempt of {stage!r} yet; the discovery sensor "
                           f"materializes each attempt it finds, and this comparison follows "
                           f"(stored: {', '.join(sorted(stored)) or 'none'})")


def compare(base: str, other: str, store: FrameStoreResource,
            sfn: StepFunctionsResource) -> tuple[str, str, pd.DataFrame, bool]:
    """(base label, other label, deltas, whether the other still runs) of two stored rollups, each in its
    campaign's view (a re-run and the execution it continues are one side: each dataset as the attempt that
    decided it left it)."""
    o = resolve_partition(other, store, sfn)
    b = resolve_partition(base, store, sfn, like=o.key)
    base_df = validate(DatasetRollup, campaign_view(stored_members(store, b.stage, b.key)))
    other_df = validate(DatasetRollup, campaign_view(stored_members(store, o.stage, o.key)))
    running = other_running(o, store, sfn)
    return str(b), str(o), build_duration_deltas(str(b), base_df, str(o), other_df, running), running


def other_running(ref: AttemptRef, store: FrameStoreResource, sfn: StepFunctionsResource) -> bool:
    """Whether AWS still runs the attempt (what it lacks may be ahead of it); unknown to AWS counts as ended."""
    return any(a.key == ref.key and not a.ended for a in list_attempts_stored(ref.stage, sfn, store))


@asset(deps=[AssetDep(Frame.dataset_rollup), AssetDep(Frame.error_signatures)],
       dagster_type=pandera_schema_to_dagster_type(DurationDeltas), kinds={"pandas", "matplotlib"})
def duration_deltas(context: AssetExecutionContext, config: CompareConfig, store: FrameStoreResource,
                    sfn: StepFunctionsResource) -> pd.DataFrame:
    """Per dataset and step: duration in each of two partitions and the delta; datasets whose outcome differs."""
    as_of = rollups_read(context.instance)  # before reading: a rollup landing meanwhile makes this run stale
    try:
        base, other, deltas, running = compare(config.base, config.other, store, sfn)
    except NothingToCompare as waiting:
        # views_follow_rollups runs this as soon as any rollup exists: before the other stage has one, the run
        # says what it waits for (an empty comparison), instead of failing
        context.log.info(f"nothing to compare yet: {waiting}")
        context.add_output_metadata({"base": config.base, "other": config.other, "waiting": str(waiting),
                                     **as_of})
        return empty_frame(DurationDeltas)
    changes = outcome_changes(deltas)
    causes = stored_signature_diff(base, other, store, running)
    figures, narrow = delta_figures(deltas, config.top)
    name = links.comparison_name(base, other)
    folder = store.root() / "reports" / "compare" / name

    def markdown(images: dict[str, str]) -> str:
        lines = [f"# {other} compared with {base}", "", f"{len(changes)} datasets changed outcome.", ""]
        lines += [signature_diff_section(causes)]
        lines += [f"![{n}]({u})\n" for n, u in images.items()]
        lines += ["## Datasets whose outcome changed", markdown_table(changes, list(changes.columns))]
        return "\n".join(lines)

    write_report(folder, markdown, figures, f"cxgm {base} vs {other}")
    # the outcome-change bars' long labels do not fit a narrow copy, and the outcome_changes list says the same
    narrow.pop("outcome_changes.png", None)
    write_narrow_copies(folder, narrow)
    counts = changes["outcome_change"].value_counts().to_dict() if not changes.empty else {}
    cause_counts = causes["change"].value_counts().to_dict() if not causes.empty else {}
    # every value narrow enough for the pane at 1,280 px and short enough to render inline: lists that wrap,
    # plots in their narrow copies; the full tables are the HTML report's
    # the outcome names alone as keys: the longest key sets the key column's width (Overview's pane is 672 px)
    meta = {"base": base, "other": other, **{str(k): int(v) for k, v in counts.items()},
            **{f"causes_{k}": int(cause_counts.get(k, 0)) for k in SIGNATURE_CHANGES},
            "causes_diff": MetadataValue.md(causes_diff_markdown(causes)),
            "outcome_changes": MetadataValue.md(outcome_changes_markdown(changes)),
            **report_and_plots(folder, {n: figures[n] for n in narrow}, lambda file: links.served("compare", name, file),
                               UI_PREFIX),
            **as_of}  # what it was read from, after what it says
    context.add_output_metadata(meta)
    return deltas
