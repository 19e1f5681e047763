"""What failed, why, and what to re-run, rolled up by error category so the biggest cause is never hidden
behind fine-grained signatures (61 signatures of 4-6 jobs each hid that validation, 17 datasets, was the
biggest cause). Compact Markdown for Dagster's metadata pane, which renders a Markdown value inline only under
1,000 characters: every table here is cut to fit, and says how many rows it left out. Dagster-free.
"""

from __future__ import annotations

from collections.abc import Callable

import re

import pandas as pd

from cxgm_pipeline.vocabulary import DatasetState, ErrorCategory, RerunAs

INLINE_LIMIT = 1000  # dagster-webserver inlines a Markdown value shorter than this
# characters of a cause before it is cut: the pane's lists wrap (337 px at 1,280 px holds ~40), so a cause may
# take a few lines; its long words get break points (breakable), never a sideways scroll
CAUSE_WIDTH = 100
RERUN_AS_IS = "re-run as is"
FIX_FIRST = "fix first"
ACTION = {RerunAs.AS_IS.value: RERUN_AS_IS, RerunAs.FIX_FIRST.value: FIX_FIRST}  # the manifest's rerun_as, as read


def _short(text: object, width: int = CAUSE_WIDTH) -> str:
    text = " ".join(str(text).split()) if isinstance(text, str) else ""
    return text if len(text) <= width else text[: width - 1] + "…"


def _failed(rollup: pd.DataFrame) -> pd.DataFrame:
    """The failed datasets, each once: a dataset gathered twice (a rollup row per branch) in the state of the
    branch the published corpus moves with, as the answer line counts it."""
    from cxgm_pipeline.monitor.frames.rollups import one_row_per_dataset

    if rollup is None or rollup.empty:
        return rollup.iloc[0:0] if rollup is not None else pd.DataFrame(
            columns=["dataset_id", "failing_step", "error_category", "error_signature"])
    rollup = one_row_per_dataset(rollup)
    failed = rollup[rollup["state"] == DatasetState.FAILED.value]
    failed = failed.assign(**{c: None for c in ("failing_step", "error_category", "error_signature")
                              if c not in failed.columns})  # a frame an older cxgm stored
    return failed.assign(error_category=failed["error_category"].fillna(ErrorCategory.UNKNOWN.value),
                         failing_step=failed["failing_step"].fillna("-"))


def by_category(rollup: pd.DataFrame) -> pd.DataFrame:
    """Failed datasets by error category: datasets, signatures, the steps it hit, one example (dataset and
    cause); the biggest first."""
    failed = _failed(rollup)
    columns = ["error_category", "datasets", "signatures", "steps", "example"]
    if failed.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for category, group in failed.groupby("error_category"):
        first = group.sort_values("dataset_id").iloc[0]
        steps = group["failing_step"].value_counts()
        rows.append({"error_category": category, "datasets": len(group),
                     "signatures": int(group["error_signature"].nunique()),
                     "steps": ", ".join(f"{s} {n}" for s, n in steps.items()),
                     "example": f"{first['dataset_id']}: {_short(first['error_signature'])}"})
    return pd.DataFrame(rows, columns=columns).sort_values(["datasets", "error_category"], ascending=[False, True])


def by_category_and_step(rollup: pd.DataFrame) -> pd.DataFrame:
    """Failed datasets by (error category, failing step), with one example each; the biggest first."""
    failed = _failed(rollup)
    columns = ["error_category", "step", "datasets", "example"]
    if failed.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (category, step), group in failed.groupby(["error_category", "failing_step"]):
        first = group.sort_values("dataset_id").iloc[0]
        rows.append({"error_category": category, "step": step, "datasets": len(group),
                     "example": f"{first['dataset_id']}: {_short(first['error_signature'])}"})
    return pd.DataFrame(rows, columns=columns).sort_values(["datasets", "error_category", "step"],
                                                           ascending=[False, True, True])


def rerun_action(category: object, state: object = DatasetState.FAILED.value) -> str:
    """`re-run as is` or `fix first`, as the manifest's `rerun_as` decides it (frames/rerun_manifest.py)."""
    from cxgm_pipeline.monitor.frames.rerun_manifest import rerun_as

    return ACTION[rerun_as(category, state)[0]]


def rerun_split(manifest: pd.DataFrame) -> pd.DataFrame:
    """The re-run list by action, category and hint (the manifest's `rerun_as`, `rerun_hint`): action,
    error_category, datasets, how (the hint, None: as is), first datasets."""
    from cxgm_pipeline.monitor.frames.rerun_manifest import with_rerun_as

    columns = ["action", "error_category", "datasets", "how", "first"]
    if manifest is None or manifest.empty:
        return pd.DataFrame(columns=columns)
    if "rerun_as" not in manifest.columns:  # a manifest an older cxgm stored
        manifest = with_rerun_as(manifest)
    m = manifest.assign(error_category=manifest["error_category"].fillna(
        manifest["state"].map({DatasetState.NOT_STARTED.value: "never started"})).fillna(ErrorCategory.UNKNOWN.value),
        action=manifest["rerun_as"].map(ACTION), how=manifest["rerun_hint"].fillna(""))
    rows = []
    for (action, category, how), group in m.groupby(["action", "error_category", "how"]):
        ids = sorted(group["dataset_id"])
        rows.append({"action": action, "error_category": category, "datasets": len(group), "how": how or None,
                     "first": ", ".join(ids[:2]) + (f" +{len(ids) - 2}" if len(ids) > 2 else "")})
    out = pd.DataFrame(rows, columns=columns)
    out["order"] = (out["action"] != RERUN_AS_IS).astype(int)
    return out.sort_values(["order", "datasets"], ascending=[True, False]).drop(columns="order")


def top_failed(rollup: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Failed datasets, one per category first (the biggest category first), then the rest: dataset, step,
    category, cause."""
    failed = _failed(rollup)
    columns = ["dataset_id", "failing_step", "error_category", "cause"]
    if failed.empty:
        return pd.DataFrame(columns=columns)
    size = failed["error_category"].map(failed["error_category"].value_counts())
    ordered = failed.assign(size=size).sort_values(["size", "error_category", "dataset_id"], ascending=[False, True, True])
    first = ordered.drop_duplicates("error_category")
    rest = ordered.drop(first.index)
    picked = pd.concat([first, rest]).head(top)
    return picked.assign(cause=picked["error_signature"].map(_short))[columns]


def _md(text: object) -> str:
    from cxgm_pipeline.monitor.views.answer import breakable
    from cxgm_pipeline.monitor.report.document import md_cell  # the report loads matplotlib: only when written

    return md_cell(breakable(str(text)))


def fit_list(head: str | Callable[[int], str], items: list[str], limit: int = INLINE_LIMIT,
             rest: str = "more in the HTML report") -> str:
    """`head` and as many list items as fit in `limit` characters, saying how many are left out (and where they
    are: `rest`); `head` may be made of the number of items shown, so that it counts what the list shows. Lists,
    not tables: a list wraps to the pane's width, a table is as wide as its longest cells."""
    head_of = head if callable(head) else (lambda _: head)
    for n in range(len(items), -1, -1):
        more = f"\n_+{len(items) - n} {rest}_" if n < len(items) else ""
        text = head_of(n) + "".join(f"- {item}\n" for item in items[:n]) + more
        if len(text) < limit:
            return text
    return head_of(0)[: limit - 1]


def failures_markdown(rollup: pd.DataFrame, limit: int = INLINE_LIMIT) -> str:
    """Failed datasets by category, then by category x step with one example each, under `limit` characters."""
    table = by_category_and_step(rollup)
    if table.empty:
        return "No failed dataset."
    n = int(table["datasets"].sum())
    cats = by_category(rollup)
    head = (f"**{n:,} failed datasets**: " + ", ".join(f"{c} {d}" for c, d in zip(cats["error_category"],
                                                                                  cats["datasets"])) + "\n\n")
    items = [f"**{_md(r.error_category)}** in {_md(r.step)}: {r.datasets}, e.g. {_md(_short_ids(r.example))}"
             for r in table.itertuples()]
    return fit_list(head, items, limit)


def top_failed_markdown(rollup: pd.DataFrame, top: int = 10, limit: int = INLINE_LIMIT) -> str:
    table = top_failed(rollup, top)
    if table.empty:
        return "No failed dataset."
    n = len(_failed(rollup))
    items = [f"{md_cell_plain(r.dataset_id)}: **{_md(r.error_category)}** in {_md(r.failing_step)}: "
             f"{_md(_short_ids(r.cause))}"  # escaped once: twice shows `out\_of\_memory` in the pane
             for r in table.itertuples()]
    return fit_list(lambda shown: f"{shown} of {n:,} failed datasets, one per category first:\n\n", items, limit)


def md_cell_plain(text: object) -> str:
    """Dataset ids, each cut to its first 8 characters: a 36-character id is wider than the UI's metadata column
    at 1,280 px, and a break inserted in it would be copied with it. The HTML report and rerun.csv have them
    whole."""
    from cxgm_pipeline.monitor.report.document import md_cell

    return md_cell(_short_ids(text))


def _short_ids(text: object) -> str:
    """Each UUID in `text` cut to its first 8 characters (not escaped: md_cell_plain or _md does that)."""
    return re.sub(r"\b([0-9a-f]{8})-[0-9a-f-]{27}\b", r"\1…", str(text))


def rerun_markdown(manifest: pd.DataFrame, limit: int = INLINE_LIMIT) -> str:
    """The re-run list split: `re-run as is` (infrastructure, never started) and `fix first` (validation,
    application, unknown), by category and hint, under `limit` characters: the manifest's `rerun_as` and
    `rerun_hint`, which rerun.csv carries."""
    table = rerun_split(manifest)
    if table.empty:
        return "Nothing to re-run."
    totals = table.groupby("action")["datasets"].sum()
    # the failures by category count failed datasets only: say what else the list holds, or 119 reads against 111
    states = manifest["state"].value_counts() if "state" in manifest.columns else pd.Series(dtype=int)
    never = int(states.get("not_started", 0))
    made_of = (f"{int(states.get('failed', 0)):,} failed + {never:,} never started" if never
               else f"{len(manifest):,}")
    head = (f"**{int(totals.get(RERUN_AS_IS, 0)):,} re-run as is** · **{int(totals.get(FIX_FIRST, 0)):,} fix first** "
            f"(of {made_of}; all in rerun.csv)\n\n")
    # the action says "as is" already: only advice beyond it is worth its parenthesis
    items = [f"{r.action}: **{_md(r.error_category)}** {r.datasets}"
             f"{f' ({_md(r.how)})' if r.how else ''}: {md_cell_plain(r.first)}" for r in table.itertuples()]
    return fit_list(head, items, limit)


def failure_count(row: dict) -> str:
    """How many failures a cause (an error_signatures row) counts, as read: `3 jobs`; for a cause no failed job
    carries (production's cleanup step failed its datasets, or Step Functions did) `46 datasets`, as its `jobs` 0
    would read as no failure at all."""
    jobs, datasets = row.get("jobs"), row.get("datasets")  # an alert's rows may lack datasets
    jobs = 0 if pd.isna(jobs) else int(jobs)
    if jobs or pd.isna(datasets) or not datasets:
        return f"{jobs:,} job{'' if jobs == 1 else 's'}"
    return f"{int(datasets):,} dataset{'' if datasets == 1 else 's'}"


def signatures_by_category(signatures: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per category: signatures, jobs, datasets; the signatures ordered under their category, the biggest
    category first): `describe errors` and the alerts show a cause's category before its fine signatures."""
    columns = ["error_category", "signatures", "jobs", "datasets"]
    if signatures is None or signatures.empty:
        return pd.DataFrame(columns=columns), signatures
    counted = [c for c in ("datasets", "jobs") if c in signatures.columns]  # an alert's rows may lack datasets
    cats = (signatures.groupby("error_category")
            .agg(signatures=("error_signature", "size"), **{c: (c, "sum") for c in counted})
            .reset_index().sort_values([*counted, "error_category"], ascending=[False] * len(counted) + [True]))
    rank = {c: i for i, c in enumerate(cats["error_category"])}
    ordered = signatures.assign(_rank=signatures["error_category"].map(rank)).sort_values(
        ["_rank", *counted], ascending=[True] + [False] * len(counted), kind="stable").drop(columns="_rank")
    return cats[[c for c in columns if c in cats.columns]], ordered
