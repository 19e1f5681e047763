from pathlib import Path

import typer

from cxgm_pipeline.cli.common import ENV, FRAME_SUFFIXES, check_output, console, guarded, progress, show_table, write_frame

COUNTS = ["datasets", "succeeded", "failed", "running", "pending", "not_started", "skipped"]


@guarded
def attempts(env: str = ENV, fetch: bool = typer.Option(
        False, "--fetch", help="Roll up attempts Dagster has not materialized (one full fetch each)"),
        out: Path | None = typer.Option(None, "--out", "-o", help="Write CSV, Parquet or JSON (by extension)")) -> None:
    """The migration attempts of a stage: state, start, end, dataset counts (Dagster's latest rollup, or --fetch)."""
    from cxgm_pipeline.monitor.attempt_states import attempt_states
    from cxgm_pipeline.monitor.session import MonitorSession

    if out:
        check_output(out, FRAME_SUFFIXES)
    with progress(f"listing attempts of {env}") as stats:
        session = MonitorSession(stats=stats)
        found = session.attempts(env)
        rollups = {}
        for a in found:
            if fetch:
                rollups[(a.stage, a.key)] = session.frames(env, a.key, wanted=("dataset_rollup",)).frames["dataset_rollup"]
            elif session.store.exists("dataset_rollup", a.stage, a.key):
                rollups[(a.stage, a.key)] = session.store.read("dataset_rollup", a.stage, a.key)
    if not found:
        console.print(f"no migration has run in {env}")
        return
    frame = attempt_states(found, rollups).astype({c: object for c in COUNTS})
    frame.loc[~frame["rolled_up"], COUNTS] = None  # unknown, not zero
    if out:
        write_frame(frame, out)
        return
    show_table(frame, f"attempts in {env}", ["attempt", "state", "start", "end", *COUNTS])
    if not frame["rolled_up"].all():
        console.print("counts left blank: not rolled up yet (materialize in Dagster, or `cxgm attempts --fetch`)")
