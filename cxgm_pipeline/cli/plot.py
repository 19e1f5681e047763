from enum import Enum
from pathlib import Path

import typer

from cxgm_pipeline.cli.common import END, ENV, REFRESH, START, TAG, check_output, err, guarded, load_frames
from cxgm_pipeline.monitor.chain import Frame


class Subject(str, Enum):
    jobs = "jobs"
    datasets = "datasets"


class Measure(str, Enum):
    count = "count"
    duration = "duration"


@guarded
def plot(
    subject: Subject = typer.Argument(..., help="jobs | datasets"),
    x: str = typer.Option("job_name", help="Column on the x axis (e.g. job_name, step, state, collection_id)"),
    y: Measure = typer.Option(Measure.count, help="count | duration"),
    color: str | None = typer.Option("status", help="Column that splits the bars/boxes (e.g. status, state)"),
    env: str = ENV, tag: str | None = TAG, start: str | None = START, end: str | None = END,
    out: Path = typer.Option(..., "--out", "-o", help="PNG file"),
    refresh: bool = REFRESH,
) -> None:
    """Plot jobs or datasets: counts or durations by any column."""
    from cxgm_pipeline.monitor.report import plots

    check_output(out, (".png",))
    name = Frame.enriched_jobs if subject is Subject.jobs else Frame.dataset_rollup
    result = load_frames(env, tag, start, end, refresh, wanted=(name,))
    frame = result.frames[name]
    title = f"{subject.value} of {env}/{result.key}"
    if y is Measure.count:
        figure = plots.plot_counts(frame, x, color, title)
    else:
        column = "duration_s" if subject is Subject.jobs else "total_duration_s"
        figure = plots.plot_duration(frame, x, color, y=column, title=title)
    out.write_bytes(plots.png_bytes(figure))
    err.print(f"wrote {out}")
