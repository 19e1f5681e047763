"""Count bars are linear, each labelled with its count: on a log axis 65 failures looked half as long as 1,889
successes."""

import pandas as pd

from cxgm_pipeline.monitor.report import plots
from cxgm_pipeline.monitor.report.plots import png_pair


def test_count_bars_are_linear_and_labelled():
    states = ["succeeded"] * 1889 + ["failed"] * 65 + ["skipped"] * 38
    fig = plots.plot_dataset_status_counts(pd.DataFrame({"state": states}))
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear" and "log" not in ax.get_xlabel()
    widths = {round(p.get_width()) for p in ax.patches if p.get_width() > 0}
    assert {1889, 65, 38} <= widths  # a bar as long as its count
    labels = {t.get_text().strip() for t in ax.texts}
    assert {"1,889 (94.8%)", "65 (3.3%)", "38 (1.9%)"} <= labels
    assert ax.get_xlim()[1] > 1889  # the longest bar and its label stay inside


def test_the_narrow_copy_fits_the_ui_column():
    import struct

    fig = plots.plot_dataset_status_counts(pd.DataFrame({"state": ["succeeded"] * 10 + ["failed"] * 2}))
    full, narrow = png_pair(fig)
    width = struct.unpack(">I", narrow[16:20])[0]
    assert width == round(plots.UI_WIDTH_IN * plots.DPI) and width <= 320
    assert struct.unpack(">I", full[16:20])[0] > width


def _jobs() -> pd.DataFrame:
    steps = ["gather_collections", "collection_migration", "dataset_migration", "validate_anndata", "cxg"]
    rows = [(step, "SUCCEEDED", 60.0 * (i + 1) * (j + 1)) for i, step in enumerate(steps) for j in range(6)]
    rows += [("validate_anndata", "FAILED", 30.0), ("cxg", "FAILED", 4 * 3600.0)]
    return pd.DataFrame(rows, columns=["step", "status", "duration_s"])


def test_duration_counts_are_of_every_job_not_only_the_timed_ones():
    """The durations plot said "FAILED (95)" beside the report's 113 failed jobs: a job that failed before it
    started has no duration. Each count says how many are drawn of how many there are."""
    untimed = [("cxg", "FAILED", None)] * 3 + [("cxg", "RUNNABLE", None)] * 2
    jobs = pd.concat([_jobs(), pd.DataFrame(untimed, columns=["step", "status", "duration_s"]).astype({"duration_s": float})], ignore_index=True)
    ax = plots.plot_job_durations(jobs).axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    failed, succeeded = (jobs["status"] == "FAILED").sum(), (jobs["status"] == "SUCCEEDED").sum()
    assert f"FAILED ({failed - 3} timed of {failed})" in legend, legend
    assert "queued (0 timed of 2)" in legend, legend  # counted though none is drawn
    assert f"SUCCEEDED ({succeeded}; box: 5-95%)" in legend, legend  # all timed: one number
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cxg = (jobs["step"] == "cxg").sum()
    assert f"cxg ({cxg - 5} of {cxg})" in rows and "validate_anndata (7)" in rows, rows


def test_the_duration_differences_say_how_many_they_show_of_how_many():
    """Titled "top 50" over fewer bars: the datasets timed on only one side have no difference to draw."""
    deltas = pd.DataFrame({"dataset_id": [f"d{i:07d}" for i in range(6)], "step": "cxg", "base": "dev:A",
                           "other": "prod:A", "delta_s": [60.0, -120.0, 30.0, None, 600.0, None],
                           "outcome_change": "same"})
    assert plots.plot_job_duration_differences(deltas, "cxg", 50).axes[0].get_title() == \
        "cxg: largest duration differences (4 of 4 datasets timed on both sides)"
    assert plots.plot_job_duration_differences(deltas, "cxg", 2).axes[0].get_title() == \
        "cxg: largest duration differences (2 of 4 datasets timed on both sides)"


def test_the_narrow_copy_keeps_every_title_label_and_legend_inside():
    """A title centred over a plot that starts right of its row names, or a legend in one row, ran off the
    narrow copy ('Job duration by step and stat', 'FAIL'): nothing is drawn at its left or right edge."""
    import io

    import numpy as np
    from PIL import Image

    curve = pd.DataFrame({"at": pd.date_range("2026-12-06 01:00", periods=30, freq="15min", tz="UTC"),
                          "done": range(0, 60, 2), "failed": [i // 6 for i in range(30)],
                          "running": [max(0, 10 - i // 3) for i in range(30)],
                          "remaining": [max(0, 70 - 2 * i) for i in range(30)]})
    rehearsal = pd.DataFrame({"hours": [0.0, 2.0, 5.0, 8.0], "share_ended": [0.0, 0.4, 0.9, 1.0]})
    figures = {"durations": plots.plot_job_durations(_jobs()), "counts": plots.plot_job_status_counts(_jobs()),
               "progress": plots.plot_progress(curve, rehearsal, (6.0, 7.0, 8.5), title="prod/ATTEMPT_2: datasets "
                                               "over time", rehearsal_label="staging/ATTEMPT_2")}
    for name, fig in figures.items():
        pixels = np.asarray(Image.open(io.BytesIO(png_pair(fig)[1])).convert("L"))
        assert pixels.shape[1] == round(plots.UI_WIDTH_IN * plots.DPI)
        edges = np.concatenate([pixels[:, :2], pixels[:, -2:]], axis=1)
        assert edges.min() > 240, f"{name}: something is drawn at the narrow copy's edge, cut off there"


def test_the_completion_share_is_of_the_expected_total_and_says_what_it_compares():
    """The plot read 0.73 while the answer line said 31%: its share was of the datasets listed so far."""
    curve = pd.DataFrame({"at": pd.date_range("2026-12-06 01:00", periods=3, freq="1h", tz="UTC"),
                          "done": [0, 200, 550], "failed": [0, 10, 48], "running": [5, 50, 100],
                          "remaining": [800, 550, 120]})
    fig = plots.plot_progress(curve, None, None, expected_total=1916)
    right = fig.axes[1]
    [line] = [ln for ln in right.get_lines() if ln.get_label() == "this attempt"]
    assert abs(line.get_ydata()[-1] - 598 / 1916) < 1e-9
    assert right.get_title() == "Completion"
    rehearsal = pd.DataFrame({"hours": [0.0, 2.0], "share_ended": [0.0, 1.0]})
    assert plots.plot_progress(curve, rehearsal, None, rehearsal_label="dev:ATTEMPT_2").axes[1].get_title() == \
        "Completion against dev:ATTEMPT_2"


def test_the_completion_share_counts_the_datasets_only_the_portal_names():
    """The answer line's total counts the datasets of collections that failed before listing them (never started):
    the plot's share is of that total too, or it reads 100% beside "1,954 of 1,962 (99%)"."""
    from dataclasses import replace

    from cxgm_pipeline.monitor.attempts.ref import AttemptRef
    from cxgm_pipeline.monitor.report.document import AttemptReport, progress_figure
    from cxgm_pipeline.monitor.views.progress import attempt_progress

    t0 = pd.Timestamp("2026-12-01", tz="UTC")
    rollup = pd.DataFrame({"dataset_id": ["a", "b"], "state": ["succeeded", "failed"],
                           "started_at": [t0, t0], "finished_at": [t0 + pd.Timedelta(hours=1)] * 2,
                           "total_duration_s": [3600.0, 3600.0]})
    progress = replace(attempt_progress("prod", "A", rollup, now=t0 + pd.Timedelta(hours=2), start=t0, ended=True),
                       never_listed=2)
    right = progress_figure(AttemptReport(AttemptRef("prod", "A"), {}, progress)).axes[1]
    [line] = [ln for ln in right.get_lines() if ln.get_label() == "this attempt"]
    assert abs(line.get_ydata()[-1] - 2 / 4) < 1e-9, line.get_ydata()
