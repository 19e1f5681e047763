from pathlib import Path

import typer

from cxgm_pipeline.cli.common import END, ENV, REFRESH, START, TAG, check_output, err, guarded, load_frames


@guarded
def report(env: str = ENV, tag: str | None = TAG, start: str | None = START, end: str | None = END,
           out: Path = typer.Option(..., "--out", "-o", help="Folder for index.md, index.html and the PNGs"),
           refresh: bool = REFRESH) -> None:
    """The migration report of an attempt (Markdown + HTML + PNG plots), as the Dagster asset writes it."""
    from upath import UPath

    from cxgm_pipeline.monitor.attempt_ref import AttemptRef
    from cxgm_pipeline.monitor.report import AttemptReport, write_attempt_report

    result = load_frames(env, tag, start, end, refresh)
    write_attempt_report(UPath(str(out)), AttemptReport(AttemptRef(env, result.key), result.frames))
    err.print(f"wrote {out / 'index.html'}, {out / 'index.md'}, the plots and {out / 'rerun.csv'}")


@guarded
def rerun(env: str = ENV, tag: str | None = TAG, start: str | None = START, end: str | None = END,
          out: Path = typer.Option(..., "--out", "-o", help="CSV or JSON"), refresh: bool = REFRESH) -> None:
    """The re-run manifest: failed datasets (and, once the attempt ended, never-started ones)."""
    from upath import UPath

    from cxgm_pipeline.monitor.rerun import write_manifest

    check_output(out, (".csv", ".json"))
    manifest = load_frames(env, tag, start, end, refresh, wanted=("rerun_manifest",)).frames["rerun_manifest"]
    write_manifest(manifest, UPath(str(out)))
    err.print(f"wrote {len(manifest)} datasets to {out}")
