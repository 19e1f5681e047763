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
                     signatures: pd.DataFrame, images: dict[str, str]) -> str:
    """`images`: figure name -> URL (a file name on disk, a data: URI in the Dagster UI)."""
    states = datasets["state"].value_counts() if not datasets.empty else pd.Series(dtype=int)
    counts = " · ".join(f"**{states.get(s.value, 0)}** {s.value}" for s in DatasetState)
    failed = datasets[datasets["state"] == DatasetState.FAILED.value] if not datasets.empty else datasets
    lines = [
        f"# Migration {attempt} in {stage}",
        "",
        f"{len(datasets)} datasets: {counts}. {len(jobs)} Batch jobs.",
        "",
        "## Top error signatures",
        "One row per cause. `examples`: what the signature's {placeholders} stood for; `error_evidence`: the "
        "classifier rule that decided the category and the line it matched.",
        "",
        _table(signatures, ["jobs", "datasets", "step", "error_category", "error_signature", "examples", "error_evidence"],
               TOP_SIGNATURES),
        "## Failed datasets (re-run candidates)",
        _table(failed, ["dataset_id", "collection_id", "failing_step", "error_category"], 50),
    ]
    for name, url in images.items():
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
