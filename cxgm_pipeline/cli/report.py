from pathlib import Path

import typer

from cxgm_pipeline.cli.common import END, ENV, REFRESH, START, TAG, check_output, err, guarded, load_frames


@guarded
def report(env: str = ENV, tag: str | None = TAG, start: str | None = START, end: str | None = END,
           out: Path = typer.Option(..., "--out", "-o", help="Folder for index.md, index.html and the PNGs"),
           refresh: bool = REFRESH) -> None:
    """The migration report of an attempt (Markdown + HTML + PNG plots), as the Dagster asset writes it."""
    from upath import UPath

    from cxgm_pipeline.monitor.report import attempt_figures, attempt_markdown, write_report
    from cxgm_pipeline.monitor.rerun import write_manifest

    result = load_frames(env, tag, start, end, refresh)
    f = result.frames
    figures = attempt_figures(f["enriched_jobs"], f["dataset_rollup"])
    index = write_report(UPath(str(out)), lambda images: attempt_markdown(
        env, result.key, f["enriched_jobs"], f["dataset_rollup"], f["error_signatures"], images),
        figures, f"cxgm {env} {result.key}")
    write_manifest(f["rerun_manifest"], UPath(str(out)) / "rerun.csv")
    err.print(f"wrote {index} and {out / 'index.html'}")


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
