from enum import Enum
from pathlib import Path

import typer

from cxgm_pipeline.cli.common import (
    END, ENV, FRAME_SUFFIXES, REFRESH, START, TAG, check_output, err, guarded, load_frames, show_table, write_frame)


class What(str, Enum):
    jobs = "jobs"
    executions = "executions"
    datasets = "datasets"
    collections = "collections"
    errors = "errors"
    dataset = "dataset"
    portal = "portal"


# frame, status column, step column, columns shown in the terminal
VIEWS = {
    What.jobs: ("enriched_jobs", "status", "step",
                ["job_name", "status", "duration_s", "attempts", "dataset_version_id", "error_category", "error_signature"]),
    What.executions: ("sfn_executions", "status", None,
                      ["execution_name", "status", "duration_s", "dataset_id", "new_dataset_version_id", "attribution"]),
    What.datasets: ("dataset_rollup", "state", "failing_step",
                    ["dataset_id", "collection_id", "collection_version_id", "state", "current_step", "failing_step",
                     "error_category", "retries", "campaign_state", "campaign_attempt"]),
    What.collections: ("collection_rollup", None, None,
                       ["collection_id", "collection_migration_status", "datasets", "succeeded", "failed", "running",
                        "not_started", "skipped", "can_publish"]),
    What.errors: ("error_signatures", None, "step",
                  ["jobs", "datasets", "step", "error_category", "error_signature", "examples", "error_evidence"]),
    What.portal: ("portal_state", "portal_verdict", None,
                  ["dataset_id", "collection_id", "state", "portal_verdict", "portal_schema_version", "portal_current",
                   "revision_published", "portal_why"]),
}


@guarded
def describe(
    ctx: typer.Context,
    what: What = typer.Argument(..., help="jobs | executions | datasets | collections | errors | portal | dataset ID"),
    dataset_id: str | None = typer.Argument(None, metavar="[ID]", help="With `dataset`: the DATASET_ID to follow"),
    env: str = ENV, tag: str | None = TAG, start: str | None = START, end: str | None = END,
    status: str | None = typer.Option(None, help="Keep rows with this status (jobs: FAILED…, datasets: failed…)"),
    step: str | None = typer.Option(None, help="Keep rows of this step (datasets: failing step)"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write CSV, Parquet or JSON (by extension)"),
    refresh: bool = REFRESH,
) -> None:
    """Describe an attempt: a table in the terminal, or a file with --out. `describe dataset ID`: one dataset in
    every attempt the store holds (or the one --tag names), its jobs, their log excerpts, its ingestion execution."""
    if what is What.dataset:
        if not dataset_id:
            raise ValueError("describe dataset needs a DATASET_ID: find one with `cxgm describe datasets --env STAGE "
                             "--tag ATTEMPT` (or `cxgm rerun`)")
        unused = [flag for flag, value in (("--status", status), ("--step", step), ("--start", start), ("--end", end))
                  if value]
        if unused:
            raise ValueError(f"{' and '.join(unused)}: not for `describe dataset`, which shows every job of the dataset")
        from cxgm_pipeline.cli.dataset import describe_dataset

        return describe_dataset(dataset_id, env if tag or _given(ctx, "env") else None, tag, refresh, out)
    if dataset_id:
        raise ValueError(f"{dataset_id!r}: only `describe dataset` takes an ID")
    name, status_column, step_column, shown = VIEWS[what]
    if out:
        check_output(out, FRAME_SUFFIXES)
    # the jobs too: an empty view says why from them (failed in gather_collections...), stored or fetched alike
    loaded = load_frames(env, tag, start, end, refresh, wanted=tuple(dict.fromkeys((name, "enriched_jobs"))))
    frame = loaded.frames[name]
    if name != "enriched_jobs" and frame.empty and loaded.attempt is not None:
        jobs = loaded.frames.get("enriched_jobs")
        if jobs is not None:
            from cxgm_pipeline.monitor.frames.attempt_rollup import attempt_summary

            why = attempt_summary(loaded.attempt, jobs, frame)
            if why:
                err.print(f"{env}/{loaded.key}: {why}")
    if status:
        if status_column is None:
            raise ValueError(f"--status does not apply to {what.value}")
        known = _known_statuses(what)
        if status.lower() not in {k.lower() for k in known}:
            raise ValueError(f"--status {status!r}: expected one of {', '.join(known)}")
        frame = frame[frame[status_column].astype(str).str.lower() == status.lower()]
    if step:
        if step_column is None:
            raise ValueError(f"--step does not apply to {what.value}")
        from cxgm_pipeline.vocabulary import Step

        known = sorted({s.value for s in Step} | set(frame[step_column].dropna().astype(str)))
        if step not in known:
            raise ValueError(f"--step {step!r}: expected one of {', '.join(known)}")
        frame = frame[frame[step_column] == step]
    frame = _failures_first(what, frame)
    if out:
        write_frame(frame, out)
        return
    if what is What.errors and not frame.empty:
        from cxgm_pipeline.monitor.views.failures import signatures_by_category

        categories, frame = signatures_by_category(frame)
        show_table(categories, f"causes by category of {env}/{tag or 'window'}", list(categories.columns))
    show_table(frame, f"{what.value} of {env}/{tag or 'window'}", shown)


def _failures_first(what: What, frame):
    """Datasets: failed first, then running, pending, not started, succeeded, skipped; errors: under their
    category, the biggest category first."""
    if frame.empty:
        return frame
    if what is What.datasets:
        order = {"failed": 0, "running": 1, "pending": 2, "not_started": 3, "succeeded": 4, "skipped": 5}
        return frame.assign(_o=frame["state"].map(order).fillna(9)).sort_values(
            ["_o", "failing_step", "dataset_id"], na_position="last").drop(columns="_o")
    if what is What.errors:
        from cxgm_pipeline.monitor.views.failures import signatures_by_category

        return signatures_by_category(frame)[1]
    return frame


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether an option was on the command line: --env's default (dev) should not narrow a dataset's history."""
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def _known_statuses(what: What) -> list[str]:
    from cxgm_pipeline.vocabulary import DatasetState, ExecutionStatus, JobStatus

    enum = {What.jobs: JobStatus, What.executions: ExecutionStatus, What.datasets: DatasetState}[what]
    return [e.value for e in enum]
