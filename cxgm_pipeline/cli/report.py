from pathlib import Path

import typer

from cxgm_pipeline.cli.common import END, ENV, REFRESH, START, TAG, check_output, err, guarded, load_frames
from cxgm_pipeline.monitor.chain import Frame


@guarded
def report(env: str = ENV, tag: str | None = TAG, start: str | None = START, end: str | None = END,
           out: Path = typer.Option(..., "--out", "-o", help="Folder for index.md, index.html and the PNGs"),
           refresh: bool = REFRESH) -> None:
    """The migration report of an attempt (Markdown + HTML + PNG plots), as the Dagster asset writes it."""
    from cxgm_pipeline.monitor.attempts.ref import AttemptRef
    from cxgm_pipeline.monitor.report.document import AttemptReport, write_attempt_report

    from cxgm_pipeline.monitor.views.answer import attempt_answer

    result = load_frames(env, tag, start, end, refresh)
    progress = _progress(result)
    answer = None
    if result.attempt is not None:
        answer, _ = attempt_answer(result.attempt, result.frames[Frame.dataset_rollup], result.frames[Frame.enriched_jobs],
                                   progress, portal=result.frames.get(Frame.portal_state),
                                   child_failures=result.frames.get(Frame.child_failures))
    write_attempt_report(out, AttemptReport(AttemptRef(env, result.key), result.frames, progress, answer))
    err.print(f"wrote {out / 'index.html'}, {out / 'index.md'}, the plots and {out / 'rerun.csv'}")


def _progress(result):
    """The attempt's progress view; while it runs, with the rehearsal (same key, another stage) the store holds."""
    from cxgm_pipeline.monitor.attempts.listing import rehearsal_candidates
    from cxgm_pipeline.monitor.aws.clients import StepFunctions
    from cxgm_pipeline.monitor.store.frames import FrameStore
    from cxgm_pipeline.monitor.views.progress import observed_now, stored_progress

    if result.attempt is None:  # an imported bundle: no AWS to ask when it started
        return None
    store = FrameStore()
    candidates = rehearsal_candidates(StepFunctions(), result.stage, not result.attempt.ended, store=store,
                                      keys={result.attempt.key})
    f = result.frames
    return stored_progress(result.attempt, store, candidates, rollup=f[Frame.dataset_rollup],
                           now=observed_now(f[Frame.enriched_jobs], f[Frame.dataset_rollup]))


@guarded
def rerun(env: str = ENV, tag: str | None = TAG, start: str | None = START, end: str | None = END,
          out: Path = typer.Option(..., "--out", "-o", help="CSV or JSON"), refresh: bool = REFRESH) -> None:
    """The re-run manifest: failed datasets (and, once the attempt ended, never-started ones)."""
    from cxgm_pipeline.monitor.frames.rerun_manifest import write_manifest

    check_output(out, (".csv", ".json"))
    manifest = load_frames(env, tag, start, end, refresh, wanted=(Frame.rerun_manifest,)).frames[Frame.rerun_manifest]
    write_manifest(manifest, out)
    err.print(f"wrote {len(manifest)} datasets to {out}")
