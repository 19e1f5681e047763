from pathlib import Path

import typer

from cxgm_pipeline.cli.common import UsageError, check_output, err, guarded, load_frames, show_table, write_frame
from cxgm_pipeline.monitor.chain import Frame


def _split(spec: str) -> tuple[str, str]:
    from cxgm_pipeline.monitor.attempts.ref import AttemptRef

    ref = AttemptRef.parse(spec)
    stage, tag = ref.stage, ref.key
    if ref.is_latest:
        from cxgm_pipeline.monitor.session import MonitorSession

        found = MonitorSession().attempts(stage)
        if not found:
            raise UsageError(f"no attempt in {stage}")
        tag = found[-1].key
    return stage, tag


def _campaign_view(loaded):
    """The attempt's datasets as its campaign left them (a re-run and the execution it continues are one side)."""
    from cxgm_pipeline.monitor.attempts.campaigns import campaign_view
    from cxgm_pipeline.monitor.session import MonitorSession

    rollup = loaded.frames[Frame.dataset_rollup]
    if loaded.attempt is None:  # an imported bundle: its own rollup is all there is
        return rollup
    members = MonitorSession().campaign(loaded.stage, loaded.attempt, rollup)
    return campaign_view(members) if len(members) > 1 else rollup


@guarded
def compare(
    base: str = typer.Option(..., help="STAGE:TAG of the reference, e.g. dev:ATTEMPT_2"),
    other: str = typer.Option(..., help="STAGE:TAG compared with it, e.g. prod:ATTEMPT_2"),
    step: str = typer.Option("cxg", help="Step whose durations are ranked"),
    top: int = typer.Option(50, help="How many datasets"),
    out: Path | None = typer.Option(None, "--out", "-o", help="PNG (plot) or CSV/Parquet/JSON (every delta)"),
    refresh: bool = typer.Option(False, "--refresh"),
) -> None:
    """Duration deltas per dataset and step between two attempts, datasets whose outcome changed, and the causes
    of failure new in OTHER or gone from it (with counts on each side)."""
    from cxgm_pipeline.monitor.report import plots
    from cxgm_pipeline.monitor.views.deltas import duration_deltas, outcome_changes, signature_diff

    if out:
        check_output(out, (".png", ".csv", ".parquet", ".json"))
    (bs, bt), (os_, ot) = _split(base), _split(other)
    wanted = (Frame.dataset_rollup, Frame.error_signatures)
    loaded_left = load_frames(bs, bt, None, None, refresh, wanted=wanted)
    loaded_right = load_frames(os_, ot, None, None, refresh, wanted=wanted)
    left, right = loaded_left.frames, loaded_right.frames
    # a running other side has not reached every dataset and cause yet: what it lacks is not gone
    running = loaded_right.attempt is not None and not loaded_right.attempt.ended
    deltas = duration_deltas(f"{bs}:{bt}", _campaign_view(loaded_left), f"{os_}:{ot}", _campaign_view(loaded_right),
                             running)
    causes = signature_diff(f"{bs}:{bt}", left[Frame.error_signatures], f"{os_}:{ot}", right[Frame.error_signatures],
                            running)
    ranked = deltas[(deltas["step"] == step) & deltas["delta_s"].notna()]
    ranked = ranked.reindex(ranked["delta_s"].abs().sort_values(ascending=False).index)
    if out and out.suffix.lower() == ".png":
        out.write_bytes(plots.png_bytes(plots.plot_job_duration_differences(deltas, step, top)))
        err.print(f"wrote {out}")
    elif out:
        write_frame(deltas, out)
    else:
        show_table(ranked, f"{step}: largest differences, {os_}:{ot} minus {bs}:{bt}",
                   ["dataset_id", "base_duration_s", "other_duration_s", "delta_s", "outcome_change"], top,
                   f"--top {len(ranked)}, or --out FILE.csv (every step's)")
    show_table(outcome_changes(deltas), "datasets whose outcome changed",
               all_rows="--out FILE.csv (every delta, with its outcome_change)")
    show_table(causes, f"causes of failure: new in {os_}:{ot}, vanished since {bs}:{bt}, in both",
               ["change", "steps", "error_category", "base_datasets", "other_datasets", "error_signature"], top,
               f"--top {len(causes)}")
