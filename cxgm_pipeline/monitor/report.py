"""The report people read: Markdown + HTML with the plots, written beside the frames and shown in Dagster."""

from __future__ import annotations

import base64
import html
import re

import pandas as pd
from upath import UPath

from cxgm_pipeline.monitor import plots
from cxgm_pipeline.vocabulary import DatasetState

TOP_SIGNATURES = 10


def attempt_figures(jobs: pd.DataFrame, datasets: pd.DataFrame) -> dict[str, bytes]:
    return {
        "job_status_counts.png": plots.png_bytes(plots.plot_job_status_counts(jobs)),
        "job_durations.png": plots.png_bytes(plots.plot_job_durations(jobs)),
        "dataset_states.png": plots.png_bytes(plots.plot_dataset_status_counts(datasets)),
    }


def delta_figures(deltas: pd.DataFrame, top: int = 50) -> dict[str, bytes]:
    return {f"delta_{step}.png": plots.png_bytes(plots.plot_job_duration_differences(deltas, step, top))
            for step in ("cxg", "validate_anndata")}


# Markdown's own characters in a cell, escaped with a backslash; <, > and & become entities, so a message
# quoting "<class 'pandas.DataFrame'>" or "uns[suspension_type_colors]" stays text in both renderings.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")
_MD_ESCAPED = re.compile(r"\\([\\`*_\[\]|])")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def md_cell(value: object) -> str:
    """One table cell of Markdown: one line, nothing in it read as markup or HTML."""
    text = html.escape(" ".join(str(value).split()), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _cell_text(cell: str) -> str:
    """The text a Markdown cell written by md_cell stands for."""
    return html.unescape(_MD_ESCAPED.sub(r"\1", cell.strip()))


def _table(df: pd.DataFrame, columns: list[str], limit: int = 20) -> str:
    columns = [c for c in columns if c in df.columns]  # frames an older cxgm stored lack the newer columns
    if df.empty:
        return "_none_\n"
    sub = df[columns].head(limit).astype(object).where(df[columns].head(limit).notna(), "")
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(md_cell(v) for v in row) + " |\n" for row in sub.itertuples(index=False))


def attempt_markdown(stage: str, attempt: str, jobs: pd.DataFrame, datasets: pd.DataFrame,
                     signatures: pd.DataFrame, images: dict[str, str], sections: tuple[str, ...] = ()) -> str:
    """`images`: figure name -> URL (a file name on disk, a data: URI in the Dagster UI); `sections`: more
    Markdown (progress, drill-down), after the counts."""
    states = datasets["state"].value_counts() if not datasets.empty else pd.Series(dtype=int)
    counts = " · ".join(f"**{states.get(s.value, 0)}** {s.value}" for s in DatasetState)
    failed = datasets[datasets["state"] == DatasetState.FAILED.value] if not datasets.empty else datasets
    lines = [
        f"# Migration {attempt} in {stage}",
        "",
        f"{len(datasets)} datasets: {counts}. {len(jobs)} Batch jobs.",
        "",
        *sections,
        "## Top error signatures",
        "One row per cause. `examples`: what the signature's {placeholders} stood for; `error_evidence`: the "
        "classifier rule that decided the category and the line it matched.",
        "",
        _table(signatures, ["jobs", "datasets", "step", "error_category", "error_signature", "examples", "error_evidence"],
               TOP_SIGNATURES),
        "## Failed datasets (re-run candidates)",
        _table(failed, ["dataset_id", "collection_id", "failing_step", "error_category"], 50),
    ]
    shown = "".join(sections)
    for name, url in images.items():
        if f"]({url})" not in shown:  # a section showed it already
            lines += [f"![{name}]({url})", ""]
    return "\n".join(lines)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _html(markdown: str) -> str:
    """The report's small Markdown subset (headings, paragraphs, tables, images) as HTML."""
    out, table = [], []

    def flush() -> None:
        if table:
            rows = [[html.escape(_cell_text(c)) for c in _UNESCAPED_PIPE.split(line.strip()[1:-1])] for line in table
                    if not set(line.replace("|", "").strip()) <= {"-"}]
            head, *body = rows
            out.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in body) + "</table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("!["):
            out.append(f'<img src="{html.escape(line[line.index("(") + 1 : -1])}" style="max-width:100%">')
        elif line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.strip():
            text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(line))
            out.append("<p>" + re.sub(r"`(.+?)`", r"<code>\1</code>", text) + "</p>")
    flush()
    return "\n".join(out)


_STYLE = ("<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}</style>")


def write_report(folder: UPath, markdown_for, figures: dict[str, bytes], title: str) -> UPath:
    """Writes index.md, index.html and the PNGs into `folder`; `markdown_for(images)` renders the text."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, png in figures.items():
        (folder / name).write_bytes(png)
    markdown = markdown_for({name: name for name in figures})
    (folder / "index.md").write_text(markdown)
    body = _html(markdown)
    (folder / "index.html").write_text(f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>{_STYLE}{body}")
    return folder / "index.md"


PROGRESS_FIGURE = "progress.png"


def progress_figures(p) -> dict[str, bytes]:
    """The progress plot of a `monitor.progress.Progress` (none for an attempt with no dataset)."""
    from cxgm_pipeline.monitor.progress import rehearsal_curve

    if p is None or p.curve.empty:
        return {}
    start = p.curve["at"].iloc[0]
    eta = None
    if p.eta is not None:
        eta = tuple((t - start).total_seconds() / 3600 for t in (p.eta.low, p.eta.likely, p.eta.high))
    reh = rehearsal_curve(p.rehearsal) if p.rehearsal is not None else None
    figure = plots.plot_progress(p.curve, reh, eta, start, f"{p.stage}/{p.attempt}: datasets over time",
                                 p.rehearsal.label if p.rehearsal is not None else "rehearsal")
    return {PROGRESS_FIGURE: plots.png_bytes(figure)}


def progress_section(p, images: dict[str, str]) -> str:
    """## Progress: counts now, throughput, ETA with its range and what it stands on, the plot."""
    if p is None:
        return ""
    lines = ["## Progress", "", f"At {p.now:%Y-%m-%d %H:%M} UTC: " + p.line().replace("; ETA", ". ETA") + ".", ""]
    if p.eta is not None:
        lines += [f"The ETA stands on: {p.eta.basis}.", ""]
    if PROGRESS_FIGURE in images:
        lines += [f"![{PROGRESS_FIGURE}]({images[PROGRESS_FIGURE]})", ""]
    return "\n".join(lines)


FAILED_SHOWN = 10


def failed_datasets_section(stage: str, attempt: str, datasets: pd.DataFrame, jobs: pd.DataFrame,
                            executions: pd.DataFrame, top: int = FAILED_SHOWN) -> str:
    """## Failed datasets in detail: the first `top` with their failing job and its log excerpt, and the command
    that shows any one of them in full."""
    from cxgm_pipeline.monitor.drilldown import failed_datasets

    table = failed_datasets(datasets, jobs, executions, top)
    if table.empty:
        return ""
    n = int((datasets["state"] == DatasetState.FAILED.value).sum())
    table = table.assign(excerpt=table["excerpt"].fillna("").astype(str).str.replace(r"\s*\n\s*", " / ", regex=True),
                         duration_s=table["duration_s"].round(0))
    return "\n".join([
        "## Failed datasets in detail", "",
        f"{len(table)} of {n} failed datasets; every job, its log excerpt and its ingestion execution: "
        f"`cxgm describe dataset DATASET_ID --env {stage} --tag {attempt}`.", "",
        _table(table, list(table.columns), top)])


SIGNATURE_DIFF_COLUMNS = ["change", "steps", "error_category", "base_datasets", "other_datasets", "error_signature"]


def signature_diff_section(causes: pd.DataFrame, limit: int = 50) -> str:
    """## The causes of failure new in the other attempt, gone from it, in both (a `deltas.signature_diff`)."""
    if causes.empty:
        return "## Causes of failure: new, vanished, in both\n\n_no failure on either side_\n"
    counts = causes["change"].value_counts()
    head = (f"{counts.get('new', 0)} new in {causes['other'].iloc[0]}, {counts.get('vanished', 0)} gone since "
            f"{causes['base'].iloc[0]}, {counts.get('both', 0)} in both.")
    return "\n".join(["## Causes of failure: new, vanished, in both", "", head, "",
                      _table(causes, SIGNATURE_DIFF_COLUMNS, limit)])
