"""matplotlib figures of a migration: job status counts, durations, dataset states, dev-vs-prod deltas.

Each returns a Figure; `png_bytes` renders one for the Dagster UI, a report or `cxgm plot`.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

STATUS_COLORS = {
    "SUCCEEDED": "#2e7d32", "FAILED": "#c62828", "RUNNING": "#1565c0", "RUNNABLE": "#f9a825",
    "STARTING": "#6a1b9a", "SUBMITTED": "#9e9e9e", "PENDING": "#bdbdbd",
    "succeeded": "#2e7d32", "failed": "#c62828", "running": "#1565c0", "pending": "#f9a825", "not_started": "#9e9e9e", "skipped": "#cfd8dc",
}


def _empty(title: str) -> Figure:
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.text(0.5, 0.5, "no rows", ha="center", va="center", fontsize=14, color="#757575")
    ax.set_axis_off()
    ax.set_title(title)
    return fig


def _require(df: pd.DataFrame, *columns: str) -> None:
    missing = [c for c in columns if c and c not in df.columns]
    if missing:
        raise ValueError(f"unknown column(s) {missing}; available: {', '.join(df.columns)}")


def plot_counts(df: pd.DataFrame, x: str, color: str | None = None, title: str = "") -> Figure:
    """Stacked bar chart: rows per value of `x`, split by `color`."""
    _require(df, x, color or "")
    if df.empty:
        return _empty(title)
    table = (df.groupby([x, color]).size().unstack(fill_value=0) if color else df.groupby(x).size().to_frame("count"))
    fig, ax = plt.subplots(figsize=(min(14, max(6, 0.6 * len(table) + 3)), 5))
    colors = [STATUS_COLORS.get(str(c), None) for c in table.columns]
    table.plot.bar(stacked=True, ax=ax, color=colors if all(colors) else None, width=0.8)
    ax.set_ylabel("count")
    ax.set_title(title or f"count by {x}" + (f" and {color}" if color else ""))
    ax.tick_params(axis="x", rotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    fig.tight_layout()
    return fig


def plot_duration(df: pd.DataFrame, x: str, color: str | None = None, y: str = "duration_s", title: str = "") -> Figure:
    """Box plot of durations (minutes) per value of `x`, one box per `color` value side by side."""
    _require(df, x, y, color or "")
    data = df.dropna(subset=[y])
    if data.empty:
        return _empty(title)
    groups = sorted(data[x].astype(str).unique())
    hues = sorted(data[color].astype(str).unique()) if color else [None]
    fig, ax = plt.subplots(figsize=(min(14, max(6, 0.9 * len(groups) * len(hues) + 3)), 5))
    width = 0.8 / len(hues)
    for i, hue in enumerate(hues):
        sub = data if hue is None else data[data[color].astype(str) == hue]
        series = [sub.loc[sub[x].astype(str) == g, y].to_numpy() / 60 for g in groups]
        positions = [j + (i - (len(hues) - 1) / 2) * width for j in range(len(groups))]
        keep = [(p, s) for p, s in zip(positions, series) if len(s)]
        if not keep:
            continue
        box = ax.boxplot([s for _, s in keep], positions=[p for p, _ in keep], widths=width * 0.9,
                         patch_artist=True, showfliers=True)
        for patch in box["boxes"]:
            patch.set_facecolor(STATUS_COLORS.get(str(hue), "#90caf9"))
        if hue is not None:
            ax.plot([], [], "s", color=STATUS_COLORS.get(str(hue), "#90caf9"), label=hue)
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right")
    ax.set_ylabel("duration (min)")
    ax.set_title(title or f"duration by {x}")
    if color:
        ax.legend(title=color)
    fig.tight_layout()
    return fig


def plot_job_status_counts(jobs: pd.DataFrame, title: str = "Batch jobs by step and status") -> Figure:
    return plot_counts(jobs, "job_name", "status", title)


def plot_job_durations(jobs: pd.DataFrame, title: str = "Job duration by step and status") -> Figure:
    return plot_duration(jobs, "job_name", "status", title=title)


def plot_dataset_status_counts(datasets: pd.DataFrame, title: str = "Datasets by state") -> Figure:
    return plot_counts(datasets.assign(all="datasets"), "state", "state", title)


def plot_job_duration_differences(deltas: pd.DataFrame, step: str = "cxg", top: int = 50, title: str = "") -> Figure:
    """The `top` datasets with the largest |delta| for `step` (minutes; positive = slower in `other`)."""
    sub = deltas[(deltas["step"] == step) & deltas["delta_s"].notna()] if not deltas.empty else deltas
    title = title or f"{step}: largest duration differences (top {top})"
    if sub.empty:
        return _empty(title)
    sub = sub.reindex(sub["delta_s"].abs().sort_values(ascending=False).index).head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, max(3, 0.22 * len(sub) + 1.5)))
    colors = ["#c62828" if d > 0 else "#2e7d32" for d in sub["delta_s"]]
    ax.barh(sub["dataset_id"].str[:8], sub["delta_s"] / 60, color=colors)
    ax.axvline(0, color="#424242", linewidth=0.8)
    ax.set_xlabel(f"{sub['other'].iloc[0]} minus {sub['base'].iloc[0]} (min)")
    ax.set_title(title)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def plot_progress(curve: pd.DataFrame, rehearsal: pd.DataFrame | None = None, eta_hours: tuple[float, float, float] | None = None,
                  start=None, title: str = "Progress", rehearsal_label: str = "rehearsal") -> Figure:
    """Left: done / failed / running / remaining over time (log scale, so a handful of failures among thousands
    shows). Right: share of datasets ended against hours since the start, beside the rehearsal's curve, with the
    ETA range shaded. `eta_hours`: (low, likely, high) hours since the start."""
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
    total = int(curve[["done", "failed", "running", "remaining"]].iloc[-1].sum())
    hours = (curve["at"] - start).dt.total_seconds() / 3600
    if total:
        right.plot(hours, (curve["done"] + curve["failed"]) / total, color=STATUS_COLORS["running"], label="this attempt")
    if rehearsal is not None and not rehearsal.empty:
        right.plot(rehearsal["hours"], rehearsal["share_ended"], color="#757575", linestyle="--", label=rehearsal_label)
    if eta_hours is not None:
        low, likely, high = eta_hours
        right.axvspan(low, high, color="#ffe082", alpha=0.5, label="ETA range")
        right.axvline(likely, color="#f57f17", linewidth=1.2, label="ETA")
    right.set_ylim(0, 1.05)
    right.set_xlabel("hours since start")
    right.set_ylabel("share of datasets ended")
    right.set_title("Completion against the rehearsal")
    right.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
