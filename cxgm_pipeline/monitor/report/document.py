"""The report people read: Markdown + HTML with the plots, written beside the frames and shown in Dagster.

Built from named parts so a new view slots in without touching the others: `FIGURES` (plots, shown right after
the key numbers) and `SECTIONS` (headed Markdown blocks), each a function of an `AttemptReport` (the attempt
and its frames by chain name). The re-run table is the `rerun_manifest` frame itself: the report, rerun.csv
and the finished alert list the same datasets.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure
from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.monitor.frames.rollups import one_row_per_dataset
from cxgm_pipeline.monitor.store.frames import StorePath

from cxgm_pipeline.monitor.report import plots
from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.views.answer import PLACEHOLDER
from cxgm_pipeline.vocabulary import DatasetState, JobStatus

TOP_SIGNATURES = 10
RERUN_COLUMNS = ["dataset_id", "collection_id", "collection_version_id", "state", "failing_step", "error_category",
                 "rerun_as"]


@dataclass(frozen=True)
class AttemptReport:
    """What the report's parts read: the attempt and its frames (`enriched_jobs`, `dataset_rollup`,
    `error_signatures`, `rerun_manifest`, ...)."""

    ref: AttemptRef
    frames: Mapping[str, pd.DataFrame]
    progress: object | None = None  # a monitor.progress.Progress: counts over time and the ETA, when it has datasets
    answer: str | None = None  # monitor.answer's line: state, % ended, failed, ETA, the data's moment
    # how it differs from its rehearsal (the same key in an earlier stage), with links: deltas.rehearsal_markdown
    rehearsal: str | None = None

    @property
    def placeholder(self) -> bool:
        """A cell of a stage the attempt never ran in (its answer says so)."""
        return self.answer == PLACEHOLDER

    def frame(self, name: str) -> pd.DataFrame:
        if name not in self.frames:
            raise KeyError(f"the report of {self.ref.label} needs the {name} frame (have: {', '.join(self.frames)})")
        return self.frames[name]


def key_numbers(r: AttemptReport) -> dict[str, int]:
    """The numbers a person looks for first; also the UI's numeric metadata (plotted over refreshes). Datasets
    once each (a dataset gathered twice is a rollup row per branch); `to_rerun`: the re-run list's rows, one per
    dataset and branch to run again. The datasets the portal alone names (of a collection whose collection_migration
    failed before naming them: portal_state) count as never started, as on the answer line."""
    from cxgm_pipeline.monitor.views.answer import named_by_the_portal

    datasets, jobs = one_row_per_dataset(r.frame(Frame.dataset_rollup)), r.frame(Frame.enriched_jobs)
    states = datasets["state"].value_counts() if not datasets.empty else pd.Series(dtype=int)
    named = named_by_the_portal(r.frames.get(Frame.portal_state), datasets)
    return {
        "datasets": len(datasets) + named,
        **{f"datasets_{s.value}": int(states.get(s.value, 0)) + (named if s is DatasetState.NOT_STARTED else 0)
           for s in DatasetState},
        "to_rerun": len(r.frame(Frame.rerun_manifest)),
        "jobs": len(jobs),
        "jobs_failed": int((jobs["status"] == JobStatus.FAILED.value).sum()) if not jobs.empty else 0,
    }


def key_numbers_markdown(r: AttemptReport) -> str:
    """The key numbers in a line whose total is the answer line's: the datasets to migrate (skipped ones, which
    collection_migrate left alone, said apart), by state."""
    n = key_numbers(r)
    skipped = n[f"datasets_{DatasetState.SKIPPED.value}"]
    states = " · ".join(f"**{n[f'datasets_{s.value}']:,}** {s.value.replace('_', ' ')}" for s in DatasetState
                        if s is not DatasetState.SKIPPED)
    to_migrate = n["datasets"] - skipped
    head = f"**{to_migrate:,} datasets to migrate**"
    p = r.progress
    if p is not None and not p.ended:  # while it runs, the rows are the datasets listed so far
        head = f"**{to_migrate:,} datasets to migrate listed so far**" + (
            f" (~{p.expected:,} expected)" if p.unlisted else "")
    # skipped: on the current schema when gathered (before the campaign, or migrated by its earlier attempt)
    left = f"; {skipped:,} skipped (on the current schema when gathered)" if skipped else ""
    return (f"{head}: {states}{left}. **{n['to_rerun']:,} to re-run.** "
            f"{n['jobs']:,} Batch jobs, {n['jobs_failed']:,} failed.")


# --- plots -------------------------------------------------------------------------------------------------
def progress_figure(r: AttemptReport) -> Figure | None:
    """The progress plot of the report's `monitor.progress.Progress` (none for an attempt with no dataset)."""
    from cxgm_pipeline.monitor.views.progress import rehearsal_curve

    p = r.progress
    if p is None or p.curve.empty:
        return None
    start = p.curve["at"].iloc[0]
    eta = None
    if p.eta is not None:
        eta = tuple((t - start).total_seconds() / 3600 for t in (p.eta.low, p.eta.likely, p.eta.high))
    reh = rehearsal_curve(p.rehearsal) if p.rehearsal is not None else None
    return plots.plot_progress(p.curve, reh, eta, start, f"{p.stage}/{p.attempt}: datasets over time",
                               p.rehearsal.label if p.rehearsal is not None else "rehearsal",
                               expected_total=p.expected)


def dataset_states_figure(r: AttemptReport) -> Figure:
    """The datasets by state, those only the portal names among the not started, as the key numbers count them
    (the plot said "not_started 0" beside the summary's 8)."""
    from cxgm_pipeline.monitor.frames.portal_state import named_by_portal_alone

    datasets = one_row_per_dataset(r.frame(Frame.dataset_rollup))
    portal = r.frames.get(Frame.portal_state)
    if portal is not None and not portal.empty:
        named = named_by_portal_alone(portal, datasets).drop_duplicates("dataset_id")[["dataset_id", "state"]]
        datasets = pd.concat([datasets, named], ignore_index=True) if not named.empty else datasets
    return plots.plot_dataset_status_counts(datasets)


FigureMaker = Callable[[AttemptReport], Figure | None]
FIGURES: list[tuple[str, FigureMaker]] = [
    ("dataset_states.png", dataset_states_figure),
    ("job_status_counts.png", lambda r: plots.plot_job_status_counts(r.frame(Frame.enriched_jobs))),
    ("job_durations.png", lambda r: plots.plot_job_durations(r.frame(Frame.enriched_jobs))),
    ("progress.png", progress_figure),
]


def attempt_figures(r: AttemptReport) -> dict[str, bytes]:
    """The plots that apply (progress: none before the attempt has a dataset)."""
    return attempt_figure_pairs(r)[0]


UI_PREFIX = "ui_"  # the narrow copy of a plot, for the Dagster UI's metadata pane


def attempt_figure_pairs(r: AttemptReport) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(the plots as the report shows them, their narrow copies for the UI by the same names)."""
    full, narrow = {}, {}
    for name, make in FIGURES:
        if (figure := make(r)) is not None:
            full[name], narrow[name] = plots.png_pair(figure)
    return full, narrow


def delta_figures(deltas: pd.DataFrame, top: int = 50) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(the comparison's plots as the report shows them, their narrow copies for the UI by the same names)."""
    made = {"outcome_changes.png": plots.plot_outcome_changes(deltas),
            # short names: each becomes a metadata key, and the longest key sets the key column's width
            **{f"delta_{name}.png": plots.plot_job_duration_differences(deltas, step, top)
               for name, step in (("cxg", "cxg"), ("validate", "validate_anndata"))}}
    full, narrow = {}, {}
    for name, figure in made.items():
        full[name], narrow[name] = plots.png_pair(figure)
    return full, narrow


def write_narrow_copies(folder: StorePath, narrow: dict[str, bytes]) -> None:
    """The UI's copies of a report's plots (`<UI_PREFIX><name>`), beside them; the report itself shows none."""
    for name, png in narrow.items():
        (folder / (UI_PREFIX + name)).parent.mkdir(parents=True, exist_ok=True)
        (folder / (UI_PREFIX + name)).write_bytes(png)


# --- sections ----------------------------------------------------------------------------------------------
# Markdown's own characters in a cell, escaped with a backslash; <, > and & become entities, so a message
# quoting "<class 'pandas.DataFrame'>" or "uns[suspension_type_colors]" stays text in both renderings.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")
_MD_ESCAPED = re.compile(r"\\([\\`*_\[\]|])")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def md_cell(value: object) -> str:
    """One table cell of Markdown: one line, nothing in it read as markup or HTML."""
    text = html.escape(" ".join(str(value).split()), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def _plain(text: str) -> str:
    """A line of prose both renderings keep as is: no markup characters (an intraword `_` is not markup)."""
    return re.sub(r"[*`\[\]|<>]", "", " ".join(str(text).split()))


def _cell_text(cell: str) -> str:
    """The text a Markdown cell written by md_cell stands for."""
    return html.unescape(_MD_ESCAPED.sub(r"\1", cell.strip()))


def markdown_table(df: pd.DataFrame, columns: list[str], limit: int | None = None) -> str:
    columns = [c for c in columns if c in df.columns]  # frames an older cxgm stored lack the newer columns
    if df.empty:
        return "_none_\n"
    shown = df[columns] if limit is None else df[columns].head(limit)
    sub = shown.astype(object).where(shown.notna(), "")
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    more = f"\n_first {limit} of {len(df)}_\n" if limit is not None and len(df) > limit else ""
    return head + "".join("| " + " | ".join(md_cell(v) for v in row) + " |\n"
                          for row in sub.itertuples(index=False)) + more


def _signatures(r: AttemptReport) -> str:
    from cxgm_pipeline.monitor.views.failures import failure_count, signatures_by_category

    _, ordered = signatures_by_category(r.frame(Frame.error_signatures))  # under their category, the biggest first
    ordered = ordered.assign(failed=[failure_count(row) for row in ordered.to_dict("records")])
    return ("One row per cause, under its category (the biggest first). `failed`: the jobs it failed, or its "
            "datasets where no job failed (production's cleanup step, or Step Functions, failed them); `examples`: "
            "what the signature's {placeholders} stood for; `error_evidence`: the classifier rule that decided the "
            "category and the line it matched.\n\n"
            + markdown_table(ordered, ["failed", "datasets", "step", "error_category", "error_signature", "examples",
                                       "error_evidence"], TOP_SIGNATURES))


def _by_category(r: AttemptReport) -> str:
    """Failed datasets by error category, then by category x step with one example each: the biggest cause
    first, whatever the number of its signatures."""
    from cxgm_pipeline.monitor.views.failures import by_category, by_category_and_step

    datasets = r.frame(Frame.dataset_rollup)
    cats = by_category(datasets)
    if cats.empty:
        return "_none_\n"
    return (markdown_table(cats, list(cats.columns)) + "\n"
            + markdown_table(by_category_and_step(datasets), ["error_category", "step", "datasets", "example"]))


def _rerun_split(r: AttemptReport) -> str:
    from cxgm_pipeline.monitor.views.failures import rerun_markdown

    return rerun_markdown(r.frame(Frame.rerun_manifest), limit=10**6) + "\n"


def _rerun(r: AttemptReport) -> str:
    manifest = r.frame(Frame.rerun_manifest)
    return (f"{len(manifest)} datasets, as in rerun.csv: failed ones, and once the attempt ended those it never "
            f"started (those of a collection whose collection_migration failed before listing them, as the portal "
            f"lists them, with that step and cause).\n\n" + markdown_table(manifest, RERUN_COLUMNS))


def _progress(r: AttemptReport) -> str:
    """Counts now, throughput, ETA with its range and what it stands on (the plot is with the others)."""
    p = r.progress
    if p is None:
        return f"No dataset: {_plain(r.answer)}.\n" if r.answer else "_no dataset yet_\n"
    lines = [f"At {p.now:%Y-%m-%d %H:%M} UTC: " + p.line().replace("; ETA", ". ETA") + ".", ""]
    if p.eta is not None:
        lines += [f"The ETA stands on: {p.eta.basis}.", ""]
    return "\n".join(lines)


FAILED_SHOWN = 10


def _failed_in_detail(r: AttemptReport, top: int = FAILED_SHOWN) -> str:
    """The first `top` failed datasets with their failing job and its log excerpt, and the command that shows any
    one of them in full."""
    from cxgm_pipeline.monitor.views.drilldown import failed_datasets

    datasets = one_row_per_dataset(r.frame(Frame.dataset_rollup))  # "3 of 2 failed datasets" never
    table = failed_datasets(datasets, r.frame(Frame.enriched_jobs), r.frame(Frame.sfn_executions), top)
    if table.empty:
        return "_none_\n"
    n = int((datasets["state"] == DatasetState.FAILED.value).sum())
    table = table.assign(excerpt=table["excerpt"].fillna("").astype(str).str.replace(r"\s*\n\s*", " / ", regex=True),
                         duration_s=pd.to_numeric(table["duration_s"], errors="coerce").round(0))
    return (f"{len(table)} of {n} failed datasets; every job, its log excerpt and its ingestion execution: "
            f"`cxgm describe dataset DATASET_ID --env {r.ref.stage} --tag {r.ref.key}`.\n\n"
            + markdown_table(table, list(table.columns), top))


PORTAL_SHOWN = 100
PORTAL_COLUMNS = ["dataset_id", "collection_id", "state", "portal_verdict", "portal_schema_version",
                  "portal_dataset_version_id", "revision_published", "portal_why"]


def _portal(r: AttemptReport) -> str:
    """What the stage's portal serves for each dataset: counts by verdict, then every dataset it does not serve on
    the new schema (all of them are in the portal_state frame: `cxgm describe portal`)."""
    from cxgm_pipeline.monitor.frames.portal_state import portal_checked, portal_reading

    frame = r.frames.get(Frame.portal_state)
    if frame is None or frame.empty:
        return "_not read_ (no dataset, or no portal_state frame)\n"
    counts = frame["portal_verdict"].value_counts()
    line = " · ".join(f"**{int(n):,}** {verdict.replace('_', ' ')}" for verdict, n in counts.items())
    if not portal_checked(frame):
        why = frame["portal_why"].dropna()
        return f"{line}. The portal was not read: {why.iloc[0] if not why.empty else 'see portal_state'}.\n"
    live = {"migrated_and_live", "already_current", "migrated_earlier"}
    rest = frame[~frame["portal_verdict"].isin(live)]
    read = frame["portal_read_at"].max()
    when = f" (read {read:%Y-%m-%d %H:%M} UTC)" if pd.notna(read) else ""
    reading = portal_reading(frame)
    every = f" Every dataset with its verdict: `cxgm describe portal --env {r.ref.stage} --tag {r.ref.key}`.\n\n"
    if not reading.own:
        # no count: this attempt's rows would count the portal's one state otherwise than the later attempt's page
        from cxgm_pipeline.monitor.report.links import partition_page

        later = AttemptRef(r.ref.stage, reading.later)
        head = (f"**The portal now shows a later attempt's result ([{reading.later}]({partition_page(later)})): "
                f"see its page.** Not this attempt's result, the portal's verdicts now{when}: {line}.{every}")
    else:
        head = f"{line}{when}. **{reading.old_schema:,} datasets the portal still serves on the old schema.**{every}"
    if rest.empty:
        return head + "Every dataset is served on the new schema.\n"
    return head + markdown_table(rest, PORTAL_COLUMNS, PORTAL_SHOWN)


VERDICTS_SHOWN = 20


def _first_line(message) -> str | None:
    """A verdict's message as a table shows it: its first line (a validation message lists every error)."""
    if not isinstance(message, str) or not message.strip():
        return None
    lines = [line for line in message.splitlines() if line.strip()]
    more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
    return (lines[0][:160] + ("…" if len(lines[0]) > 160 else "")) + more


def _verdicts(r: AttemptReport) -> str:
    """What production's own cleanup step said of the datasets it did not migrate, beside what cxgm concluded."""
    datasets = r.frame(Frame.dataset_rollup)
    if datasets.empty or "production_verdict" not in datasets or datasets["production_verdict"].isna().all():
        return "_production's cleanup step flagged no dataset (or its records are not read yet)_\n"
    flagged = datasets[datasets["production_verdict"].notna()]
    counts = ", ".join(f"{n} {v}" for v, n in flagged["production_verdict"].value_counts().items())
    only = flagged[(flagged["state"] == DatasetState.FAILED.value) & (flagged["jobs"] > 0)
                   & flagged["failing_step"].isin(["collection_cleanup", "collection_publish"])]
    flagged = flagged.assign(production_message=flagged["production_message"].map(_first_line))
    return (f"{len(flagged)} datasets ({counts}) in the cleanup step's error records; {len(only)} of them failed by "
            f"that verdict alone (every job succeeded).\n\n"
            + markdown_table(flagged, ["dataset_id", "state", "production_verdict", "production_message",
                                       "failing_step", "error_category"], VERDICTS_SHOWN))


def _rehearsal(r: AttemptReport) -> str:
    """How it differs from its rehearsal; the comparison's own report has every dataset and duration."""
    return (r.rehearsal or f"No earlier stage ran {r.ref.key} (or none is rolled up): nothing to compare with.") + "\n"


Section = Callable[[AttemptReport], str]
SECTIONS: list[tuple[str, Section]] = [
    ("Progress", _progress),
    ("How it differs from its rehearsal", _rehearsal),
    ("Failures by cause", _by_category),
    ("What to re-run, and how", _rerun_split),
    ("The portal's answer", _portal),
    ("Top error signatures", _signatures),
    ("Production's verdicts", _verdicts),
    ("Failed datasets in detail", _failed_in_detail),
    ("Datasets to re-run", _rerun),
]


def attempt_markdown(r: AttemptReport, images: dict[str, str], links: Mapping[str, str] | None = None) -> str:
    """Key numbers, then the plots, then each section. `images`: figure name -> URL (a file name on disk, a
    data: URI or a served URL); `links`: label -> URL shown under the numbers."""
    lines = [f"# Migration {r.ref.key} in {r.ref.stage}", ""]
    if r.answer:
        lines += [f"**{_plain(r.answer)}**", ""]
    if r.placeholder:  # zeros, empty plots and empty sections would read as an attempt that did nothing
        lines += [f"{r.ref.stage} never ran {r.ref.key}: this page stands for a cell of the stage x attempt grid, "
                  "kept so that its absence is not taken for a refresh that never happened. The attempt's pages "
                  "in the stages it ran in have its data.", ""]
        if links:
            lines += [" · ".join(f"[{label}]({url})" for label, url in links.items()), ""]
        return "\n".join(lines)
    lines += [key_numbers_markdown(r), ""]
    if links:
        lines += [" · ".join(f"[{label}]({url})" for label, url in links.items()), ""]
    for name, url in images.items():
        lines += [f"![{name}]({url})", ""]
    for heading, section in SECTIONS:
        lines += [f"## {heading}", section(r)]
    return "\n".join(lines)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _inline(text: str) -> str:
    """Bold, a whole line in italics, code and links, of one escaped line."""
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text, quote=False))
    text = re.sub(r"^_(.+)_$", r"<i>\1</i>", text)
    text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
    # the line is escaped already: its URL's `&` is `&amp;` once, as an attribute wants it (not twice)
    text = re.sub(r"(?<!\\)\[([^\]]+)\]\(([^)\s]+)\)",
                  lambda m: f'<a href="{html.escape(html.unescape(m.group(2)))}">{m.group(1)}</a>', text)
    return _MD_ESCAPED.sub(r"\1", text)  # md_cell's backslashes are Markdown's, not the text's


def _html(markdown: str) -> str:
    """The report's small Markdown subset (headings, paragraphs, lists, tables, images, bold, links) as HTML."""
    out, table, items = [], [], []

    def flush() -> None:
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()
        if table:
            rows = [[html.escape(_cell_text(c)) for c in _UNESCAPED_PIPE.split(line.strip()[1:-1])] for line in table
                    if not set(line.replace("|", "").strip()) <= {"-"}]
            head, *body = rows
            out.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in body) + "</table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            if items:
                flush()
            table.append(line)
            continue
        if line.startswith("- "):  # the re-run split and the lists the Dagster pane shows too
            if table:
                flush()
            items.append(line[2:])
            continue
        flush()
        if line.startswith("!["):
            alt = line[2:line.index("]")]
            out.append(f'<img alt="{html.escape(alt)}" src="{html.escape(line[line.index("(") + 1 : -1])}" '
                       f'style="max-width:100%">')
        elif line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    flush()
    return "\n".join(out)


_STYLE = ("<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}</style>")


def write_report(folder: StorePath, markdown_for, figures: dict[str, bytes], title: str) -> StorePath:
    """Writes index.md, index.html and the PNGs into `folder`; `markdown_for(images)` renders the text."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, png in figures.items():
        (folder / name).write_bytes(png)
    markdown = markdown_for({name: name for name in figures})
    (folder / "index.md").write_text(markdown)
    body = _html(markdown)
    (folder / "index.html").write_text(f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>{_STYLE}{body}")
    return folder / "index.md"


SIGNATURE_DIFF_COLUMNS = ["change", "steps", "error_category", "base_datasets", "other_datasets", "error_signature"]


def signature_diff_section(causes: pd.DataFrame, limit: int = 50) -> str:
    """## The causes of failure new in the other attempt, gone from it, in both (a `deltas.signature_diff`)."""
    if causes.empty:
        return "## Causes of failure: new, vanished, in both\n\n_no failure on either side_\n"
    counts = causes["change"].value_counts()
    head = (f"{counts.get('new', 0)} new in {causes['other'].iloc[0]}, {counts.get('vanished', 0)} gone since "
            f"{causes['base'].iloc[0]}, {counts.get('both', 0)} in both"
            + (f", {counts['not_seen_yet']} not seen yet (the attempt runs)." if counts.get("not_seen_yet") else "."))
    return "\n".join(["## Causes of failure: new, vanished, in both", "", head, "",
                      markdown_table(causes, SIGNATURE_DIFF_COLUMNS, limit)])


def write_attempt_report(folder: StorePath, r: AttemptReport, links: Mapping[str, str] | None = None,
                         published: bool = True) -> dict[str, bytes]:
    """The attempt's report (index.md, index.html, PNGs) and the files its frames publish beside it (the re-run
    list as rerun.csv, rerun.json: `FrameSpec.publishes`) in `folder`, as the asset, `cxgm report` and `cxgm export`
    write it; returns the figures. `published=False`: those files are already there (in Dagster, each frame's
    asset writes them to the same folder)."""
    from cxgm_pipeline.monitor.chain import CHAIN, publish

    figures, narrow = attempt_figure_pairs(r) if not r.placeholder else ({}, {})
    write_narrow_copies(folder, narrow)  # not in the report: the UI shows them, each a link to its full size
    links = {"re-run list (CSV)": "rerun.csv", "(JSON)": "rerun.json", **(links or {})}
    write_report(folder, lambda images: attempt_markdown(r, images, links), figures,
                 f"cxgm {r.ref.stage} {r.ref.key}")
    for spec in CHAIN if published else ():
        if spec.publishes:
            publish(spec, r.frame(spec.name), folder)
    return figures
