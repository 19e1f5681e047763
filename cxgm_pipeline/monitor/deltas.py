"""duration_deltas: two partitions' dataset rollups side by side, per dataset and step, with outcome changes."""

from __future__ import annotations

import pandas as pd

from cxgm_pipeline.schemas import DurationDeltas, empty_frame, validate
from cxgm_pipeline.vocabulary import DATASET_STEPS, DatasetState

_STEP_COLUMNS = {f"{s.value}_s": s.value for s in DATASET_STEPS}
_IN_FLIGHT = {DatasetState.RUNNING.value, DatasetState.NOT_STARTED.value}


def _outcome(base: str | None, other: str | None) -> str:
    if base is None or pd.isna(base):
        return "only_in_other"
    if other is None or pd.isna(other):
        return "only_in_base"
    if base == other:
        return "same"
    if base in _IN_FLIGHT or other in _IN_FLIGHT:
        return "pending"  # a side still running or not yet started has no outcome to compare
    if base == DatasetState.SUCCEEDED.value and other == DatasetState.FAILED.value:
        return "succeeded_to_failed"
    if base == DatasetState.FAILED.value and other == DatasetState.SUCCEEDED.value:
        return "failed_to_succeeded"
    return "other_change"


def _long(rollup: pd.DataFrame) -> pd.DataFrame:
    frame = rollup[["dataset_id", "collection_id", "state", *_STEP_COLUMNS]].melt(
        id_vars=["dataset_id", "collection_id", "state"], var_name="step", value_name="duration_s")
    frame["step"] = frame["step"].map(_STEP_COLUMNS)
    return frame


def duration_deltas(base_label: str, base: pd.DataFrame, other_label: str, other: pd.DataFrame) -> pd.DataFrame:
    """`other` minus `base` for each dataset and step (positive: slower in `other`)."""
    if base.empty and other.empty:
        return empty_frame(DurationDeltas)
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
    })
    out["outcome_change"] = [_outcome(b, o) for b, o in zip(out["base_state"], out["other_state"])]
    return validate(DurationDeltas, out.sort_values(["step", "dataset_id"]))


def outcome_changes(deltas: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset whose outcome differs between the two partitions (a dataset still in flight on
    either side has none yet: mid-run, prod's not-started datasets are not changes)."""
    if deltas.empty:
        return deltas
    changed = deltas[~deltas["outcome_change"].isin(["same", "pending"])]
    return changed.drop_duplicates("dataset_id")[["dataset_id", "collection_id", "base_state", "other_state", "outcome_change"]]
