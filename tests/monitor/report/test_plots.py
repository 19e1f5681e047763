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
