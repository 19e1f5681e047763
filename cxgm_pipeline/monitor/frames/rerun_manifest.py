"""The re-run manifest: exactly the datasets an engineer must run again, with what they need to do so."""

from __future__ import annotations

import pandas as pd

from cxgm_pipeline.schemas import RerunManifest, empty_frame, validate
from cxgm_pipeline.vocabulary import DatasetState

COLUMNS = ["stage", "attempt", "dataset_id", "dataset_version_id", "collection_id", "collection_version_id", "state",
           "failing_step", "error_category", "error_signature", "migration_revision_id"]


def rerun_manifest(datasets: pd.DataFrame, ended: bool, members: list[tuple[str, pd.DataFrame]] | None = None) -> pd.DataFrame:
    """Failed datasets; once the attempt has ended, also those it never started. With its campaign's `members`
    ((key, rollup), oldest first; monitor/attempts/campaigns.py): the campaign's view of this attempt's datasets, so a
    dataset a later re-run migrated is not listed, and one a re-run skipped because this attempt migrated it is
    not either; failing step and cause are those of the attempt that decided (`campaign_attempt`)."""
    if datasets.empty:
        return empty_frame(RerunManifest)
    if members and len(members) > 1:
        from cxgm_pipeline.monitor.attempts.campaigns import campaign_view

        decided = campaign_view(members, set(datasets["dataset_id"]))
        decided = decided.assign(campaign_attempt=decided["attempt"], stage=datasets["stage"].iloc[0],
                                 attempt=datasets["attempt"].iloc[0])
    else:
        decided = datasets.assign(campaign_attempt=datasets["attempt"])
    states = [DatasetState.FAILED.value] + ([DatasetState.NOT_STARTED.value] if ended else [])
    picked = decided[decided["state"].isin(states)]
    return validate(RerunManifest, picked.reindex(columns=COLUMNS + ["campaign_attempt"]).sort_values(
        ["state", "collection_id", "dataset_id", "collection_version_id"]))


def write_manifest(manifest: pd.DataFrame, path) -> None:
    """CSV or JSON by the file's extension."""
    name = str(path)
    with path.open("w") as fh:
        if name.endswith(".json"):
            fh.write(manifest.to_json(orient="records", indent=1))
        else:
            manifest.to_csv(fh, index=False)
