"""duration_deltas: two partitions' dataset rollups side by side, per dataset and step, with outcome changes."""

from __future__ import annotations

import pandas as pd

from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.monitor.frames.columns_missing import none_if_missing
from cxgm_pipeline.monitor.frames.rollups import one_row_per_dataset
from cxgm_pipeline.schemas import DurationDeltas, empty_frame, validate
from cxgm_pipeline.vocabulary import DATASET_STEPS, UNFINISHED_DATASET_STATES, DatasetState

_STEP_COLUMNS = {f"{s.value}_s": s.value for s in DATASET_STEPS}
_IN_FLIGHT = {s.value for s in UNFINISHED_DATASET_STATES}


def _outcome(base: str | None, other: str | None, other_running: bool = False) -> str:
    if base is None or pd.isna(base):
        return "only_in_other"
    if other is None or pd.isna(other):
        # a running attempt has not listed every dataset yet: absent is not reached, not left out
        return "not_reached" if other_running else "only_in_base"
    if base == other:
        return "same"
    if base in _IN_FLIGHT or other in _IN_FLIGHT:
        return "pending"  # a side still running or not yet started has no outcome to compare
    if base == DatasetState.SUCCEEDED.value and other == DatasetState.FAILED.value:
        return "succeeded_to_failed"
    if base == DatasetState.FAILED.value and other == DatasetState.SUCCEEDED.value:
        return "failed_to_succeeded"
    return "other_change"


def _cause(rollup: pd.DataFrame) -> pd.Series:
    """`cxg: out_of_memory` for a failed dataset (its failing step and error category), else None."""
    failed = rollup["state"] == DatasetState.FAILED.value
    text = [": ".join(str(p) for p in parts if none_if_missing(p) is not None and str(p)) or "unknown"
            for parts in zip(rollup["failing_step"], rollup["error_category"])]
    return pd.Series(text, index=rollup.index, dtype=object).where(failed, None)


def _long(rollup: pd.DataFrame) -> pd.DataFrame:
    frame = rollup.assign(cause=_cause(rollup))[["dataset_id", "collection_id", "state", "cause", *_STEP_COLUMNS]].melt(
        id_vars=["dataset_id", "collection_id", "state", "cause"], var_name="step", value_name="duration_s")
    frame["step"] = frame["step"].map(_STEP_COLUMNS)
    return frame


def duration_deltas(base_label: str, base: pd.DataFrame, other_label: str, other: pd.DataFrame,
                    other_running: bool = False) -> pd.DataFrame:
    """`other` minus `base` for each dataset and step (positive: slower in `other`); `other_running`: the other
    attempt has not ended, so a dataset it lacks is `not_reached` yet."""
    if base.empty and other.empty:
        return empty_frame(DurationDeltas)
    # a dataset gathered twice in one attempt is compared by one of its branches, never their sum
    base, other = one_row_per_dataset(base), one_row_per_dataset(other)
    merged = pd.merge(_long(base), _long(other), on=["dataset_id", "step"], how="outer", suffixes=("_base", "_other"))
    out = pd.DataFrame({
        "base": base_label,
        "other": other_label,
        "dataset_id": merged["dataset_id"],
        "collection_id": merged["collection_id_base"].fillna(merged["collection_id_other"]),
        "step": merged["step"],
        "base_duration_s": merged["duration_s_base"],
        "other_duration_s": merged["duration_s_other"],
        "delta_s": merged["duration_s_other"] - merged["duration_s_base"],
        "base_state": merged["state_base"],
        "other_state": merged["state_other"],
        "base_cause": merged["cause_base"],
        "other_cause": merged["cause_other"],
    })
    out["outcome_change"] = [_outcome(b, o, other_running) for b, o in zip(out["base_state"], out["other_state"])]
    return validate(DurationDeltas, out.sort_values(["step", "dataset_id"]))


def outcome_changes(deltas: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset whose outcome differs between the two partitions (a dataset still in flight on
    either side has none yet: mid-run, prod's not-started datasets are not changes)."""
    if deltas.empty:
        return deltas
    changed = deltas[~deltas["outcome_change"].isin(["same", "pending", "not_reached"])]
    return changed.drop_duplicates("dataset_id")[["dataset_id", "collection_id", "base_state", "other_state",
                                                  "outcome_change", "base_cause", "other_cause"]]


SIGNATURE_CHANGES = ("new", "vanished", "both", "not_seen_yet")


def signature_diff(base_label: str, base: pd.DataFrame, other_label: str, other: pd.DataFrame,
                   other_running: bool = False) -> pd.DataFrame:
    """The causes of failure on each side (error_signatures frames): new in `other`, vanished from it, or in
    both, with jobs and datasets on each side. One row per (signature, category), its steps joined. While
    `other` runs, a cause of `base` it has not met is `not_seen_yet`: it may be ahead of it, not gone."""
    columns = ["base", "other", "change", "error_signature", "error_category", "steps",
               "base_jobs", "base_datasets", "other_jobs", "other_datasets"]

    def per_cause(frame: pd.DataFrame) -> pd.DataFrame:
        if frame is None or frame.empty:
            return pd.DataFrame(columns=["error_signature", "error_category", "steps", "jobs", "datasets"])
        return frame.groupby(["error_signature", "error_category"], as_index=False).agg(
            steps=("step", lambda s: ",".join(sorted(set(s)))), jobs=("jobs", "sum"), datasets=("datasets", "sum"))

    merged = pd.merge(per_cause(base), per_cause(other), on=["error_signature", "error_category"], how="outer",
                      suffixes=("_base", "_other"))
    if merged.empty:
        return pd.DataFrame(columns=columns)
    in_base, in_other = merged["jobs_base"].notna(), merged["jobs_other"].notna()
    out = pd.DataFrame({
        "base": base_label, "other": other_label,
        "change": ["both" if b and o else "new" if o else "not_seen_yet" if other_running else "vanished"
                   for b, o in zip(in_base, in_other)],
        "error_signature": merged["error_signature"], "error_category": merged["error_category"],
        "steps": merged["steps_other"].fillna(merged["steps_base"]),
        **{f"{side}_{n}": merged[f"{n}_{side}"].fillna(0).astype(int) for side in ("base", "other") for n in ("jobs", "datasets")},
    })
    out["_order"] = out["change"].map({c: i for i, c in enumerate(SIGNATURE_CHANGES)})
    out["_size"] = out[["base_datasets", "other_datasets"]].max(axis=1)
    return out.sort_values(["_order", "_size", "error_signature"], ascending=[True, False, True])[columns].reset_index(drop=True)


def signature_diff_lines(diff: pd.DataFrame, limit: int = 5) -> list[str]:
    """The diff in a few lines for a message: new causes, vanished ones (with counts on each side)."""
    if diff.empty:
        return ["no failure on either side"]
    lines = []
    for change, title in (("new", f"New in {diff['other'].iloc[0]}"), ("vanished", f"Gone since {diff['base'].iloc[0]}")):
        rows = diff[diff["change"] == change]
        lines.append(f"{title} ({len(rows)}):" if len(rows) else f"{title}: none")
        lines += [f"  {r['base_datasets']:>4} -> {r['other_datasets']:<4} {r['steps']:<18} {r['error_signature']}"
                  for r in rows.head(limit).to_dict("records")]
        if len(rows) > limit:
            lines.append(f"  ... and {len(rows) - limit} more")
    both = diff[diff["change"] == "both"]
    if "base_failed" in diff.columns:
        # a cause's datasets are those it touched (retried jobs, cancelled siblings): summed, they exceeded the
        # failed datasets, and `cancelled` counted where prod failed none by it. The failed ones, by their cause:
        failing = both[(both["base_failed"] > 0) | (both["other_failed"] > 0)]
        lines.append(f"In both: {len(failing)} cause{'s' if len(failing) != 1 else ''} that failed datasets, "
                     f"{int(failing['base_failed'].sum())} -> "
                     f"{int(failing['other_failed'].sum())} failed datasets")
    else:
        lines.append(f"In both: {len(both)} causes, {int(both['base_datasets'].sum())} -> "
                     f"{int(both['other_datasets'].sum())} datasets they touched (retried and cancelled jobs' too)")
    return lines


def with_failed(diff: pd.DataFrame, base_rollup: pd.DataFrame | None, other_rollup: pd.DataFrame | None) -> pd.DataFrame:
    """`diff` (a `signature_diff`) with each cause's failed datasets on each side (`base_failed`, `other_failed`):
    the datasets whose final cause it is in that side's dataset_rollup, as the pages' failures count them."""
    from cxgm_pipeline.monitor.views.failures import _failed

    def failed(rollup: pd.DataFrame | None) -> pd.Series:
        return _failed(rollup)["error_signature"].value_counts()

    base, other = failed(base_rollup), failed(other_rollup)
    return diff.assign(base_failed=diff["error_signature"].map(base).fillna(0).astype(int),
                       other_failed=diff["error_signature"].map(other).fillna(0).astype(int))


def stored_signature_diff(base: str, other: str, store, other_running: bool = False) -> pd.DataFrame:
    """`signature_diff` of two attempts (`stage:key`) from their stored error_signatures (a FrameStoreOps); a side
    not materialized counts as no failure."""
    from cxgm_pipeline.monitor.attempts.ref import AttemptRef

    def read(spec: str) -> pd.DataFrame:
        ref = AttemptRef.parse(spec)
        exists = store.exists(Frame.error_signatures, ref.stage, ref.key)
        return store.read(Frame.error_signatures, ref.stage, ref.key) if exists else pd.DataFrame()

    return signature_diff(base, read(base), other, read(other), other_running)


_ARROW = {"succeeded_to_failed": "succeeded → failed", "failed_to_succeeded": "failed → succeeded",
          "only_in_base": "only in base", "only_in_other": "only in other"}
# a regression first: what a person comparing dev with prod looks for; then the fixes, before the one-sided
# datasets: while prod runs, every dataset it has not listed yet is "only in base" (1,867 in make demo), and
# listed ahead they would push the fixes out of the pane, behind "+1844 more"
_CHANGE_ORDER = ["succeeded_to_failed", "failed_to_succeeded", "only_in_base", "only_in_other"]


def outcome_changes_markdown(changes: pd.DataFrame) -> str:
    """`outcome_changes` for the metadata pane: counts per change, then the datasets as a list that wraps
    (regressions first) under dagster-webserver's inline limit; the whole table is in the HTML report."""
    from cxgm_pipeline.monitor.views.failures import _md, fit_list, md_cell_plain

    if changes.empty:
        return "No dataset changed outcome."
    order = {c: i for i, c in enumerate(_CHANGE_ORDER)}
    ranked = changes.assign(_o=changes["outcome_change"].map(order).fillna(len(order))).sort_values(["_o", "dataset_id"])
    counts = ranked["outcome_change"].value_counts(sort=False)
    head = " · ".join(f"**{n} {_ARROW.get(c, c)}**" for c, n in counts.items()) + "\n\n"
    items = []
    for r in ranked.to_dict("records"):
        cause = none_if_missing(r["other_cause"]) or none_if_missing(r["base_cause"])
        items.append(f"{md_cell_plain(r['dataset_id'])}: {_ARROW.get(r['outcome_change'], r['outcome_change'])}"
                     + (f" ({_md(cause)})" if cause else ""))
    return fit_list(head, items)


def causes_diff_markdown(causes: pd.DataFrame) -> str:
    """`signature_diff` for the metadata pane: counts, then the new and vanished causes (category, steps,
    datasets on each side, the signature cut short) as a list that wraps; the whole table is in the report."""
    from cxgm_pipeline.monitor.views.failures import _md, _short, fit_list

    if causes.empty:
        return "No failure on either side."
    counts = causes["change"].value_counts()
    not_yet = f" · {counts['not_seen_yet']} not seen yet (it runs)" if counts.get("not_seen_yet") else ""
    head = (f"**{counts.get('new', 0)} new** in {causes['other'].iloc[0]} · **{counts.get('vanished', 0)} gone** "
            f"since {causes['base'].iloc[0]} · {counts.get('both', 0)} in both{not_yet} (datasets: base → other)\n\n")
    items = [f"{r['change']}: **{_md(r['error_category'])}** in {_md(r['steps'])}, {r['base_datasets']} → "
             f"{r['other_datasets']}: {_md(_short(r['error_signature']))}"
             for r in causes[causes["change"].isin(["new", "vanished"])].to_dict("records")]
    return fit_list(head, items)


def rehearsal_of_key(stage: str, key: str, stages: list[str], store) -> str | None:
    """The stage that rehearsed `stage`'s attempt `key`: the same key rolled up in a stage before it in the
    configured order (dev before staging before prod); None when none is stored."""
    earlier = stages[: stages.index(stage)] if stage in stages else []
    return next((s for s in earlier if store.exists(Frame.dataset_rollup, s, key)), None)


def rehearsal_listed(stage: str, key: str, stages: list[str], store) -> str | None:
    """An earlier stage whose executions (as the store keeps their tags) ran `key` but whose rollup of it is not
    stored yet: the rehearsal exists, its comparison is not made yet. None: no such stage."""
    from cxgm_pipeline.monitor.attempts.listing import stored_tags

    earlier = stages[: stages.index(stage)] if stage in stages else []
    return next((s for s in earlier if key in stored_tags(store, s).values()), None)


def rehearsal_markdown(this: str, rollup: pd.DataFrame, rehearsal: str, rehearsed: pd.DataFrame, running: bool,
                       comparison: str, report: str | None = None, portal: pd.DataFrame | None = None,
                       rehearsal_portal: pd.DataFrame | None = None, progress=None) -> str:
    """How an attempt differs from its rehearsal, in one line for its page: each side's failed datasets of its
    total as its answer line counts it (`portal`, `rehearsal_portal`: each side's portal_state, for the datasets
    only the portal names), and where the comparison is (the duration_deltas asset's page, its HTML report);
    `progress`: this attempt's, while it runs, for the expected total with the datasets not listed yet."""
    from cxgm_pipeline.monitor.views.answer import how_far, named_by_the_portal  # each dataset once, skipped out

    here = how_far(None, rollup, progress, never_started=named_by_the_portal(portal, rollup))
    there = how_far(None, rehearsed, never_started=named_by_the_portal(rehearsal_portal, rehearsed))
    (failed, n), (was, of) = (here.failed, here.total), (there.failed, there.total)
    so_far = " so far" if running else ""
    where = f"[outcome changes and durations]({comparison})" + (f" · [comparison report]({report})" if report else "")
    approx = "~" if here.approx and running else ""
    return (f"{this}: **{failed:,} failed** of {approx}{n:,}{so_far}; its rehearsal {rehearsal}: {was:,} failed of "
            f"{of:,}. {where}")


def rehearsal_waiting_markdown(this: str, rehearsal: str) -> str:
    """The rehearsal line while the rehearsal ran but is not rolled up: its absence is not "no rehearsal"."""
    return (f"{this} was rehearsed in {rehearsal}, not rolled up yet (its first run reads it from AWS): how they "
            f"differ appears here once it is.")
