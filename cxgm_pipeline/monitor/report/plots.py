"""matplotlib figures of a migration: job status counts, durations, dataset states, dev-vs-prod deltas.

Drawn so the few failures among thousands of successes stay visible: counts side by side (never stacked) on
a linear axis with each bar labelled with its number, failures drawn first and
on top, every step kept even with one job, durations on a log axis (a 20-second step and a 4-hour one on
one plot), legends outside the data. Each returns a Figure; `png_bytes` renders one for the Dagster UI, a
report or `cxgm plot`.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FixedLocator, NullFormatter  # noqa: E402

from cxgm_pipeline.monitor.views.deltas import outcome_changes  # noqa: E402
from cxgm_pipeline.vocabulary import DatasetState, Step  # noqa: E402

STATUS_COLORS = {
    "FAILED": "#c62828", "RUNNING": "#1565c0", "queued": "#f9a825", "SUCCEEDED": "#2e7d32",
    "RUNNABLE": "#f9a825", "STARTING": "#6a1b9a", "SUBMITTED": "#9e9e9e", "PENDING": "#bdbdbd",
    "failed": "#c62828", "running": "#1565c0", "pending": "#f9a825", "not_started": "#9e9e9e",
    "succeeded": "#2e7d32", "skipped": "#90a4ae",
}
# Failures first: drawn at the top of each group and listed first in every legend.
STATUS_ORDER = ["FAILED", "failed", "RUNNING", "running", "queued", "STARTING", "RUNNABLE", "PENDING", "SUBMITTED",
                "pending", "not_started", "SUCCEEDED", "succeeded", "skipped"]
# Batch's waiting states, one bar in the step plot: what matters there is how many wait, not in which queue state.
QUEUED = {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING"}
# A migration's steps in the order a dataset meets them; steps not listed follow, alphabetically.
STEP_ORDER = [Step.GATHER_COLLECTIONS, Step.COLLECTION_MIGRATION, Step.DATASET_MIGRATION, Step.VALIDATE_ANNDATA,
              Step.VALIDATE_ATAC, Step.ADD_LABELS, Step.CXG, Step.COLLECTION_PUBLISH, Step.COLLECTION_CLEANUP,
              Step.REPORT]
WIDTH_IN, DPI = 8.5, 80  # 680 px: the width of a metadata value in the Dagster UI's partition view
OUTCOME_COLORS = {"succeeded_to_failed": "#c62828", "failed_to_succeeded": "#2e7d32", "other_change": "#f9a825",
                  "only_in_base": "#9e9e9e", "only_in_other": "#1565c0", "not_reached": "#cfd8dc"}
_DURATION_TICKS = [(1, "1 s"), (10, "10 s"), (60, "1 min"), (600, "10 min"), (3600, "1 h"), (4 * 3600, "4 h"),
                   (86400, "1 d"), (7 * 86400, "1 wk")]


def _empty(title: str) -> Figure:
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 2.5))
    ax.text(0.5, 0.5, "no rows", ha="center", va="center", fontsize=14, color="#757575")
    ax.set_axis_off()
    ax.set_title(title)
    return fig


def _require(df: pd.DataFrame, *columns: str) -> None:
    missing = [c for c in columns if c and c not in df.columns]
    if missing:
        raise ValueError(f"unknown column(s) {missing}; available: {', '.join(df.columns)}")


def _ordered(values, order: list[str]) -> list[str]:
    """`values` in the given order, others after it alphabetically."""
    present = [str(v) for v in values]
    known = [str(o) for o in order if str(o) in present]
    return known + sorted(set(present) - set(known))


def _legend_outside(ax, title: str | None = None, handles=None) -> None:
    """Under the plot, in a row: never over the data, and the plot keeps the figure's width."""
    handles = handles or ax.get_legend_handles_labels()[0]
    if handles:
        wide = sum(len(h.get_label()) for h in handles) > 40
        ax.legend(handles=handles, title=title, loc="upper center", ncol=min(len(handles), 2 if wide else 4),
                  bbox_to_anchor=(0.5, -0.5 / (0.75 * ax.figure.get_figheight())), frameon=False, fontsize=8,
                  title_fontsize=8)


def _bar_chart(table: pd.DataFrame, title: str, xlabel: str, total: pd.Series | None = None,
               legend: bool = True, row_colors: list[str] | None = None, show_zero: bool = False) -> Figure:
    """Horizontal grouped bars: one row per index value (top to bottom), one bar per column, each labelled with
    its count (and share of `total`); a linear axis, whatever the counts span; zeros not drawn (but
    labelled " 0" with `show_zero`). Bars take their column's status colour, or with `row_colors` one per row."""
    rows, series = list(table.index), list(table.columns)
    n = max(1, len(series))
    height = 0.8 / n
    fig, ax = plt.subplots(figsize=(WIDTH_IN, max(2.2, 0.3 * len(rows) * max(1.5, n * 0.75) + 1.2)))
    positive = table.to_numpy()[table.to_numpy() > 0]
    # A linear axis, each bar labelled with its count: on a log axis 65 failures looked half as long as 1,889
    # successes. A bar too short to see still has its label.
    base = 0
    for i, column in enumerate(series):
        y = np.arange(len(rows)) + (i - (n - 1) / 2) * height
        values = table[column].to_numpy()
        shown = np.where(values > 0, values, np.nan)
        color = row_colors if row_colors is not None else STATUS_COLORS.get(str(column), None)
        ax.barh(y, shown - base, left=base, height=height * 0.92, color=color,
                label=str(column), zorder=3 if str(column).lower() == "failed" else 2)
        for yy, v, row in zip(y, values, rows):
            if v > 0:
                share = f" ({v / total[row]:.1%})" if total is not None and total.get(row) else ""
                ax.text(v, yy, f" {int(v):,}{share}", va="center", fontsize=8, zorder=4)
    ax.set_yticks(np.arange(len(rows)), [str(r) for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, (positive.max() if len(positive) else 1) * 1.25)  # room for the labels
    for i, row in enumerate(rows) if show_zero else ():
        if not (table.loc[row] > 0).any():
            ax.text(ax.get_xlim()[0], i, " 0", va="center", fontsize=8, color="#757575")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", color="#eeeeee", zorder=0)
    if legend:
        _legend_outside(ax)
    fig.tight_layout()
    return fig


def plot_counts(df: pd.DataFrame, x: str, color: str | None = None, title: str = "",
                order: list[str] | None = None) -> Figure:
    """Rows per value of `x` (one bar group each, in `order`), split by `color` (bars side by side)."""
    _require(df, x, color or "")
    title = title or f"count by {x}" + (f" and {color}" if color else "")
    if df.empty:
        return _empty(title)
    keys = df[x].astype(str)
    table = (pd.crosstab(keys, df[color].astype(str)) if color else keys.value_counts().to_frame("count"))
    table = table.reindex(index=_ordered(table.index, order or []), columns=_ordered(table.columns, STATUS_ORDER))
    return _bar_chart(table, title, "count", table.sum(axis=1))


def _duration_axis(ax, values: np.ndarray) -> None:
    ax.set_xscale("log")
    lo, hi = max(1.0, np.nanmin(values) / 1.5), max(60.0, np.nanmax(values) * 1.5)
    ax.set_xlim(lo, hi)
    ticks = [(t, label) for t, label in _DURATION_TICKS if lo <= t <= hi]
    ax.xaxis.set_major_locator(FixedLocator([t for t, _ in ticks]))
    ax.set_xticklabels([label for _, label in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("duration (log scale)")


def plot_duration(df: pd.DataFrame, x: str, color: str | None = None, y: str = "duration_s", title: str = "",
                  order: list[str] | None = None) -> Figure:
    """Durations per value of `x` on a log axis: a box per group for the most common `color` value (the bulk,
    e.g. succeeded jobs) and every other row as a point on top (failures in red, drawn last), so a group
    with one job and a failure among thousands both show."""
    _require(df, x, y, color or "")
    title = title or f"duration by {x}"
    data = df.dropna(subset=[y])
    if data.empty:
        return _empty(title)
    seconds = data[y].astype(float).clip(lower=1.0)  # a log axis: a 0-second job is drawn at 1 s
    groups = _ordered(df[x].astype(str).unique(), order or [])  # a group none of whose rows is timed says so
    every_hue = df[color].astype(str) if color else pd.Series("all", index=df.index)
    hues = every_hue[data.index]
    bulk = hues.value_counts().idxmax()
    timed, rows = hues.value_counts(), every_hue.value_counts()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, max(2.5, 0.45 * len(groups) + 1.4)))
    rng = np.random.default_rng(0)  # jitter, the same on every render
    keys = data[x].astype(str)
    box_rows = [(i, seconds[(keys == g) & (hues == bulk)].to_numpy()) for i, g in enumerate(groups)]
    box_rows = [(i, s) for i, s in box_rows if len(s)]
    if box_rows:
        boxes = ax.boxplot([s for _, s in box_rows], positions=[i for i, _ in box_rows], orientation="horizontal", widths=0.6,
                           patch_artist=True, showfliers=False, whis=(5, 95), zorder=2)
        for patch in boxes["boxes"]:
            patch.set_facecolor(STATUS_COLORS.get(bulk, "#90caf9"))
            patch.set_alpha(0.55)
        ax.plot([], [], "s", color=STATUS_COLORS.get(bulk, "#90caf9"), alpha=0.55,
                label=f"{bulk} ({_timed_of(timed[bulk], rows[bulk])}; box: 5-95%)")
        few = [(i, v) for i, vs in box_rows if len(vs) < 5 for v in vs]  # a box of one job is a line: show the job
        if few:
            ax.scatter([v for _, v in few], [i for i, _ in few], s=14, color=STATUS_COLORS.get(bulk, "#90caf9"), zorder=3)
    for rank, hue in enumerate(reversed(_ordered(every_hue.unique(), STATUS_ORDER))):
        if hue == bulk:
            continue
        mask = hues == hue
        pos = np.array([groups.index(k) for k in keys[mask]]) + rng.uniform(-0.25, 0.25, int(mask.sum()))
        failed = hue.lower() == "failed"
        ax.scatter(seconds[mask], pos, s=22 if failed else 12, color=STATUS_COLORS.get(hue, "#6d4c41"),
                   marker="x" if failed else "o", zorder=5 + rank,
                   label=f"{hue} ({_timed_of(timed.get(hue, 0), rows[hue])})")
    counts, every = keys.value_counts(), df[x].astype(str).value_counts()
    ax.set_yticks(range(len(groups)), [f"{g} ({_timed_of(counts.get(g, 0), every[g], short=True)})" for g in groups])
    ax.set_ylim(len(groups) - 0.5, -0.5)
    _duration_axis(ax, seconds.to_numpy())
    ax.grid(axis="x", color="#eeeeee", zorder=0)
    ax.set_title(title)
    _legend_outside(ax, color)
    fig.tight_layout()
    return fig


def _timed_of(timed: int, rows: int, short: bool = False) -> str:
    """A count beside a duration plot: of the rows with a duration, and of all when some have none (a job that
    failed before it started), so the count agrees with the report's and the status plot's."""
    if timed == rows:
        return f"{rows:,}"
    return f"{timed:,} of {rows:,}" if short else f"{timed:,} timed of {rows:,}"


def _jobs_by_step(jobs: pd.DataFrame) -> pd.DataFrame:
    """Steps as production names them (canonical `step`), Batch's waiting states as one `queued`."""
    status = jobs["status"].astype(str)
    return jobs.assign(status=status.where(~status.isin(QUEUED), "queued"))


def plot_job_status_counts(jobs: pd.DataFrame, title: str = "Batch jobs by step and status") -> Figure:
    if jobs.empty:
        return _empty(title)
    return plot_counts(_jobs_by_step(jobs), "step", "status", title, STEP_ORDER)


def plot_job_durations(jobs: pd.DataFrame, title: str = "Job duration by step and status") -> Figure:
    if jobs.empty:
        return _empty(title)
    return plot_duration(_jobs_by_step(jobs), "step", "status", title=title, order=STEP_ORDER)


def plot_dataset_status_counts(datasets: pd.DataFrame, title: str = "Datasets by state") -> Figure:
    """Every state, even at zero, with its count and share of all datasets."""
    if datasets.empty:
        return _empty(title)
    counts = datasets["state"].astype(str).value_counts()
    states = _ordered(set(counts.index) | {s.value for s in DatasetState}, STATUS_ORDER)
    table = pd.DataFrame({"datasets": counts.reindex(states, fill_value=0)})
    return _bar_chart(table, title, "datasets", pd.Series(len(datasets), index=states), legend=False,
                      row_colors=[STATUS_COLORS.get(state, "#90a4ae") for state in states], show_zero=True)


def plot_outcome_changes(deltas: pd.DataFrame, title: str = "") -> Figure:
    """Datasets whose outcome differs between the two attempts, counted per change and cause, ranked: what
    broke in `other` that worked in `base` first."""
    changed = outcome_changes(deltas)
    title = title or "Datasets whose outcome changed, by cause"
    if changed.empty:
        return _empty(title)
    why = changed["other_cause"].fillna("")
    why = why.where(why != "", changed["base_cause"].fillna(""))  # failed_to_succeeded: the cause it had in base
    change = changed["outcome_change"].str.replace("_to_", " \u2192 ").str.replace("_", " ")
    states = changed["base_state"].fillna("-") + " \u2192 " + changed["other_state"].fillna("-")
    # the cause says why an outcome changed; a dataset only one side has (mid-run: not reached yet) has no change
    why = why.where(~changed["outcome_change"].str.startswith("only_in_"), "")
    label = change.where(changed["outcome_change"] != "other_change", states) + why.map(lambda c: f"  ({c})" if c else "")
    table = (pd.DataFrame({"change": changed["outcome_change"], "label": label}).value_counts().reset_index(name="n"))
    rank = {k: i for i, k in enumerate(OUTCOME_COLORS)}
    table = table.assign(r=table["change"].map(rank).fillna(len(rank))).sort_values(["r", "n"], ascending=[True, False])
    fig = _bar_chart(table.set_index("label")[["n"]], title, "datasets", legend=False,
                     row_colors=[OUTCOME_COLORS.get(change, "#90a4ae") for change in table["change"]])
    ax = fig.axes[0]
    _legend_outside(ax, "outcome", [Patch(color=color, label=change.replace("_to_", " \u2192 ").replace("_", " "))
                                    for change, color in OUTCOME_COLORS.items() if change in set(table["change"])])
    fig.tight_layout()
    return fig


def plot_job_duration_differences(deltas: pd.DataFrame, step: str = "cxg", top: int = 50, title: str = "") -> Figure:
    """The `top` datasets with the largest |delta| for `step` (minutes; positive = slower in `other`); a
    dataset whose outcome changed is labelled with the change. The title counts what is drawn of the datasets
    timed on both sides: "top 50" over 30 bars claimed datasets that are not there."""
    sub = deltas[(deltas["step"] == step) & deltas["delta_s"].notna()] if not deltas.empty else deltas
    if sub.empty:
        return _empty(title or f"{step}: largest duration differences (none timed on both sides)")
    timed = len(sub)
    sub = sub.reindex(sub["delta_s"].abs().sort_values(ascending=False).index).head(top)
    title = title or f"{step}: largest duration differences ({len(sub)} of {timed} datasets timed on both sides)"
    fig, ax = plt.subplots(figsize=(WIDTH_IN, max(2.5, 0.22 * len(sub) + 1.5)))
    slower = sub["delta_s"] > 0
    labels = [f"{d[:8]}" + ("" if c == "same" else f" [{c.replace('_to_', ' to ')}]")
              for d, c in zip(sub["dataset_id"], sub["outcome_change"])]
    y = np.arange(len(sub))
    ax.barh(y[slower.to_numpy()], sub["delta_s"][slower] / 60, color="#c62828", label=f"slower in {sub['other'].iloc[0]}")
    ax.barh(y[~slower.to_numpy()], sub["delta_s"][~slower] / 60, color="#2e7d32", label=f"faster in {sub['other'].iloc[0]}")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.axvline(0, color="#424242", linewidth=0.8)
    ax.set_xlabel(f"{sub['other'].iloc[0]} minus {sub['base'].iloc[0]} (min)")
    ax.set_title(title)
    ax.tick_params(axis="y", labelsize=7)
    _legend_outside(ax)
    fig.tight_layout()
    return fig


# A metadata value of the Dagster UI at 1,280 px, in the narrower of its two panes: an asset's Overview tab (a
# 672 px table with a Timestamp column of ~146-160 px and a key column as wide as the longest key, 210 px for
# migration_report's) leaves ~280 px, the partition view ~340. An image wider than that widens the whole table,
# and the answer line, its first row, is cut off at the right.
UI_WIDTH_IN = 3.4  # 272 px at DPI
_MARGIN_PX = 6  # at DPI: what a wrapped line or a legend leaves free at the figure's edges


def _px(fig: Figure, inches: float) -> float:
    """`inches` in the pixels the figure measures its text in (its own dpi, not DPI)."""
    return inches * fig.dpi


def _wrapped(fig: Figure, text: str, fontsize: float, width_px: float) -> str:
    """`text` broken between words into lines no wider than `width_px` (a word wider than that, on its own)."""
    renderer = fig.canvas.get_renderer()
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            trial = f"{line} {word}" if line else word
            probe = fig.text(0, 0, trial, fontsize=fontsize)
            fits = probe.get_window_extent(renderer).width <= width_px
            probe.remove()
            if fits or not line:
                line = trial
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return "\n".join(lines)


def _fitting_legend(place, handles, labels, title: str, width_px: float, **kwargs):
    """A legend of as many columns as fit `width_px` (one at least): a row of long labels runs off the figure."""
    renderer = place.figure.canvas.get_renderer()
    for ncol in range(len(handles), 0, -1):
        legend = place.legend(handles, labels, title=title or None, ncol=ncol, frameon=False, fontsize=8,
                              title_fontsize=8, **kwargs)
        if ncol == 1 or legend.get_window_extent(renderer).width <= width_px:
            return legend
        legend.remove()
    return None


def _narrow_layout(fig: Figure, axes: list) -> None:
    """Lay the figure out again for UI_WIDTH_IN: what was placed for the full width (a title centred over the
    plot, a legend in a row under it or beside it, a date axis ticked every hour) runs off a narrow figure or
    overlaps, so titles start at the figure's left and wrap, legends take the columns that fit, labels wrap."""
    from matplotlib import dates as mdates

    width_px = _px(fig, UI_WIDTH_IN) - 2 * _px(fig, _MARGIN_PX / DPI)
    single = len(axes) == 1
    legends = []
    titles = {}  # a stacked panel's title, over its plot's left edge: (text, font size, pad in points)
    for ax in axes:
        title, size = ax.get_title(), ax.title.get_fontsize()
        ax.set_title("")
        if title and single:  # the plot starts right of its row labels: its title from the figure's left
            fig.suptitle(_wrapped(fig, title, size, width_px), x=_MARGIN_PX / DPI / UI_WIDTH_IN, ha="left",
                         fontsize=size)
        elif title:
            titles[ax] = (title, size, plt.rcParams["axes.titlepad"])
        if single and ax.get_yticklabels() and ax.yaxis.get_ticklabels()[0].get_fontsize() > 8:
            ax.tick_params(axis="y", labelsize=8)  # row names as long as a step's: the bars keep some width
        if isinstance(ax.xaxis.get_major_locator(), mdates.AutoDateLocator):
            locator = mdates.AutoDateLocator(maxticks=4)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            ax.tick_params(axis="x", rotation=0)
        legend = ax.get_legend()
        if legend is None or legend.get_bbox_to_anchor().bounds == ax.bbox.bounds:
            continue  # none, or inside the plot: it stays where it was put
        handles, labels = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
        legend_title = legend.get_title().get_text()
        legend.remove()
        if single:  # under everything, from the figure's left
            legends.append(_fitting_legend(fig, handles, labels, legend_title, width_px, loc="lower left",
                                           bbox_to_anchor=(_MARGIN_PX / DPI / UI_WIDTH_IN, 0), alignment="left"))
        else:  # a stacked panel's own legend: between its title and its plot
            placed = _fitting_legend(ax, handles, labels, legend_title, width_px * 0.85, loc="lower left",
                                     bbox_to_anchor=(0, 1.0), borderaxespad=0.2)
            if ax in titles:
                height_pt = placed.get_window_extent(fig.canvas.get_renderer()).height * 72 / fig.dpi
                titles[ax] = (*titles[ax][:2], height_pt + 4)
    renderer = fig.canvas.get_renderer()
    for ax, (title, size, pad) in titles.items():  # wrapped again once the plot's left edge is known
        ax.set_title(_wrapped(fig, title, size, width_px * 0.85), loc="left", fontsize=size, pad=pad)
    bottom = max((lg.get_window_extent(renderer).height for lg in legends if lg is not None), default=0)
    if bottom:  # the figure grows by the legend's height, the plot keeps its own
        fig.set_size_inches(UI_WIDTH_IN, fig.get_size_inches()[1] + bottom / fig.dpi)
    rect = (0, (bottom + _px(fig, _MARGIN_PX / DPI)) / _px(fig, fig.get_size_inches()[1]) if bottom else 0, 1, 1)
    fig.tight_layout(rect=rect)
    for ax in axes:  # a title or x label where the laid-out plot has it: wrapped to the room it has there
        box = ax.get_window_extent(renderer)
        if ax in titles:  # from the plot's left edge, right of its y label
            title, size, pad = titles[ax]
            room = fig.bbox.width - box.x0 - _px(fig, _MARGIN_PX / DPI)
            ax.set_title(_wrapped(fig, title, size, room), loc="left", fontsize=size, pad=pad)
        label = ax.get_xlabel()
        if label:  # centred under a plot that may start right of the figure's centre
            room = 2 * min(box.x0 + box.width / 2, fig.bbox.width - box.x0 - box.width / 2) - 2 * _px(
                fig, _MARGIN_PX / DPI)
            ax.set_xlabel(_wrapped(fig, label.replace("\n", " "), ax.xaxis.label.get_fontsize(), room))
        _thin_fixed_ticks(ax)
    fig.tight_layout(rect=rect)


def _thin_fixed_ticks(ax) -> None:
    """Every other tick of a fixed x axis (the duration axis: 1 min, 10 min, 1 h, ...) while its labels run into
    each other on the narrower plot."""
    from matplotlib.ticker import FixedLocator

    renderer = ax.figure.canvas.get_renderer()
    while isinstance(ax.xaxis.get_major_locator(), FixedLocator):
        lo, hi = sorted(ax.get_xlim())
        ticks = [(t, label.get_text()) for t, label in zip(ax.get_xticks(), ax.get_xticklabels()) if lo <= t <= hi]
        boxes = sorted((label.get_window_extent(renderer) for label in ax.get_xticklabels()
                        if label.get_text() and lo <= label.get_position()[0] <= hi), key=lambda b: b.x0)
        if len(ticks) < 3 or all(a.x1 + 4 <= b.x0 for a, b in zip(boxes, boxes[1:])):
            return
        kept = ticks[::2]
        ax.set_xticks([t for t, _ in kept], [label for _, label in kept])


def png_pair(fig: Figure) -> tuple[bytes, bytes]:
    """(the figure as drawn, the same figure laid out again UI_WIDTH_IN wide: `narrow`)."""
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=DPI)
    narrow_copy = io.BytesIO()
    narrow(fig).savefig(narrow_copy, format="png", dpi=DPI)
    plt.close(fig)
    return full.getvalue(), narrow_copy.getvalue()


def narrow(fig: Figure) -> Figure:
    """The figure laid out again UI_WIDTH_IN wide, its text the same size: panels side by side go one under the
    other, titles and labels wrap, legends take the columns that fit."""
    height = fig.get_size_inches()[1]
    axes = [ax for ax in fig.axes if ax.get_subplotspec() is not None]
    if len(axes) > 1 and len({ax.get_subplotspec().rowspan.start for ax in axes}) == 1:
        grid = fig.add_gridspec(len(axes), 1)
        for i, ax in enumerate(axes):
            ax.set_subplotspec(grid[i])
        height *= len(axes)
    fig.set_size_inches(UI_WIDTH_IN, max(height, 2.2))
    fig.set_dpi(DPI)  # laid out at the dpi it is drawn at: small text is wider there than at 100 dpi scaled down
    _narrow_layout(fig, axes)
    if len(axes) == 1 and axes[0].texts:  # count labels beyond a bar's end: room for them on the right
        fig.subplots_adjust(right=fig.subplotpars.right - 0.12)
    return fig


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def plot_progress(curve: pd.DataFrame, rehearsal: pd.DataFrame | None = None, eta_hours: tuple[float, float, float] | None = None,
                  start=None, title: str = "Progress", rehearsal_label: str = "rehearsal",
                  expected_total: int | None = None) -> Figure:
    """Left: done / failed / running / remaining over time (log scale, so a handful of failures among thousands
    shows). Right: share of datasets ended against hours since the start, beside the rehearsal's curve, with the
    ETA range shaded. `eta_hours`: (low, likely, high) hours since the start; `expected_total`: the answer line's
    total (with the datasets not listed yet), so that the share is the line's percentage."""
    if curve.empty:
        return _empty(title)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    for column, color in (("done", STATUS_COLORS["succeeded"]), ("running", STATUS_COLORS["running"]),
                          ("remaining", STATUS_COLORS["not_started"]), ("failed", STATUS_COLORS["failed"])):
        left.plot(curve["at"], curve[column], label=column, color=color, linewidth=2.2 if column == "failed" else 1.5)
    left.set_yscale("symlog", linthresh=10)
    left.set_ylabel("datasets")
    left.set_title(title)
    left.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    left.tick_params(axis="x", rotation=30)
    start = pd.Timestamp(start) if start is not None else curve["at"].iloc[0]
    total = expected_total or int(curve[["done", "failed", "running", "remaining"]].iloc[-1].sum())
    hours = (curve["at"] - start).dt.total_seconds() / 3600
    if total:
        right.plot(hours, (curve["done"] + curve["failed"]) / total, color=STATUS_COLORS["running"], label="this attempt")
    compared = rehearsal is not None and not rehearsal.empty
    if compared:
        right.plot(rehearsal["hours"], rehearsal["share_ended"], color="#757575", linestyle="--", label=rehearsal_label)
    if eta_hours is not None:
        low, likely, high = eta_hours
        right.axvspan(low, high, color="#ffe082", alpha=0.5, label="ETA range")
        right.axvline(likely, color="#f57f17", linewidth=1.2, label="ETA")
    right.set_ylim(0, 1.05)
    right.set_xlabel("hours since start")
    right.set_ylabel("share of datasets ended")
    # no curve may be a rehearsal not rolled up yet (or none stored): no claim either way
    right.set_title(f"Completion against {rehearsal_label}" if compared else "Completion")
    right.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
