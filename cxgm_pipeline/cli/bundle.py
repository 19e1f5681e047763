from pathlib import Path

import typer

from cxgm_pipeline.cli.common import ENV, REFRESH, UsageError, err, guarded, load_frames


@guarded
def export(env: str = ENV, tag: str = typer.Option(..., "--tag", "-t", help="Attempt key"),
           out: Path = typer.Option(..., "--out", "-o", help="FILE.tar.gz"), refresh: bool = REFRESH) -> None:
    """A portable bundle of one attempt (frames, report, manifest with checksums) for someone without access."""
    from cxgm_pipeline.monitor.store.bundle import export_bundle

    if not out.name.endswith(".tar.gz"):
        raise UsageError(f"{out}: a bundle is a .tar.gz")
    result = load_frames(env, tag, None, None, refresh)
    manifest = export_bundle(env, result.key, result.frames, out)
    err.print(f"wrote {out}: {len(manifest['files'])} files, rows {manifest['rows']}")


@guarded
def import_(bundle: Path = typer.Argument(..., help="FILE.tar.gz made by `cxgm export`")) -> None:
    """Verify a bundle's checksums and make its attempt available to `describe` and `compare`."""
    from cxgm_pipeline.monitor.store.bundle import BundleError, import_bundle
    from cxgm_pipeline.monitor.store.frames import FrameStore

    if not bundle.exists():
        raise UsageError(f"{bundle} does not exist")
    try:
        manifest = import_bundle(bundle, FrameStore())
    except BundleError as exc:
        err.print(f"[red]refused:[/] {exc}")
        raise typer.Exit(1) from None
    err.print(f"imported {manifest['stage']}:{manifest['attempt']} (exported {manifest['created_at']}); "
              f"use --env {manifest['stage']} --tag {manifest['attempt']}")
