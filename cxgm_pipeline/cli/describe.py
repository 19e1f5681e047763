from enum import Enum
from pathlib import Path

import typer

from cxgm_pipeline.cli.common import (
    END, ENV, FRAME_SUFFIXES, REFRESH, START, TAG, check_output, console, err, guarded, load_frames, show_table,
    write_frame)
from cxgm_pipeline.monitor.chain import CHAIN, Frame, View

# each frame's view, as its FrameSpec declares it (monitor/chain.py), by the name `describe` takes
VIEWS: dict[str, tuple[str, View]] = {spec.view.what: (spec.name, spec.view) for spec in CHAIN if spec.view}


def _choices() -> list[str]:
    """The views in the chain's order, with `dataset` (one dataset across attempts: no frame of its own) after
    `errors`: the order users of `--help` and of the choices error know."""
    names = list(VIEWS)
    names.insert(names.index("errors") + 1 if "errors" in names else len(names), "dataset")
    return names


What = Enum("What", [(name, name) for name in _choices()], type=str)


@guarded
def describe(
    ctx: typer.Context,
    what: What = typer.Argument(..., help=" | ".join(VIEWS) + " | dataset ID"),
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
    name, view = VIEWS[what.value]
    if out:
        check_output(out, FRAME_SUFFIXES)
    # the jobs too: an empty view says why from them (failed in gather_collections...), stored or fetched alike
    # errors in the terminal: beside what each cause touched, the datasets it failed (the pages' count)
    rollup = (Frame.dataset_rollup,) if what is What.errors and not out else ()
    loaded = load_frames(env, tag, start, end, refresh,
                         wanted=tuple(dict.fromkeys((name, Frame.enriched_jobs, *rollup))))
    frame = loaded.frames[name]
    if name != Frame.enriched_jobs and frame.empty and loaded.attempt is not None:
        jobs = loaded.frames.get(Frame.enriched_jobs)
        if jobs is not None:
            from cxgm_pipeline.monitor.frames.attempt_rollup import attempt_summary

            why = attempt_summary(loaded.attempt, jobs, frame)
            if why:
                err.print(f"{env}/{loaded.key}: {why}")
    if status:
        if view.status is None:
            raise ValueError(f"--status does not apply to {what.value}")
        known = [e.value for e in view.statuses] if view.statuses else sorted(set(frame[view.status].dropna().astype(str)))
        if status.lower() not in {k.lower() for k in known}:
            raise ValueError(f"--status {status!r}: expected one of {', '.join(known)}")
        frame = frame[frame[view.status].astype(str).str.lower() == status.lower()]
    if step:
        if view.step is None:
            raise ValueError(f"--step does not apply to {what.value}")
        from cxgm_pipeline.vocabulary import Step

        known = sorted({s.value for s in Step} | set(frame[view.step].dropna().astype(str)))
        if step not in known:
            raise ValueError(f"--step {step!r}: expected one of {', '.join(known)}")
        frame = frame[frame[view.step] == step]
    frame = _failures_first(what, frame)
    if out:
        write_frame(frame, out)
        return
    if what is What.errors and not frame.empty:
        from cxgm_pipeline.monitor.views.failures import signatures_by_category

        categories, frame = signatures_by_category(frame)
        categories = _with_failed(categories, loaded.frames.get(Frame.dataset_rollup))
        show_table(categories, f"causes by category of {env}/{tag or 'window'}", list(categories.columns))
    show_table(frame, f"{what.value} of {env}/{tag or 'window'}", list(view.columns))
    if what is What.errors and not frame.empty:
        console.print(ERRORS_COUNT.format(env=env, tag=tag or loaded.key))


# `describe errors` counted application 64 where the page said 55 failed: what each table counts, said under them
ERRORS_COUNT = ("jobs, datasets: every job a cause failed and every dataset it touched, retried jobs and Step "
                "Functions' cancelled siblings included; failed_datasets: the datasets it failed in the end, as "
                "the pages count them (each: cxgm describe datasets --env {env} --tag {tag} --status failed)")


def _with_failed(categories, rollup):
    """`categories` with each one's failed datasets by their final cause (`failures.by_category`: the pages'
    count); without a rollup, as is."""
    if rollup is None:
        return categories
    from cxgm_pipeline.monitor.views.failures import by_category

    failed = by_category(rollup).set_index("error_category")["datasets"]
    return categories.assign(failed_datasets=categories["error_category"].map(failed).fillna(0).astype(int))


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
