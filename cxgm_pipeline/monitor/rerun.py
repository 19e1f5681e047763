"""The re-run manifest: exactly the datasets an engineer must run again, with what they need to do so."""

from __future__ import annotations

import pandas as pd

from cxgm_pipeline.schemas import RerunManifest, empty_frame, validate
from cxgm_pipeline.vocabulary import DatasetState

COLUMNS = ["stage", "attempt", "dataset_id", "dataset_version_id", "collection_id", "collection_version_id", "state",
           "failing_step", "error_category", "error_signature", "migration_revision_id"]


def rerun_manifest(datasets: pd.DataFrame, ended: bool) -> pd.DataFrame:
    """Failed datasets; once the attempt has ended, also those it never started."""
    if datasets.empty:
        return empty_frame(RerunManifest)
    states = [DatasetState.FAILED.value] + ([DatasetState.NOT_STARTED.value] if ended else [])
    picked = datasets[datasets["state"].isin(states)]
    return validate(RerunManifest, picked.reindex(columns=COLUMNS).sort_values(["state", "collection_id", "dataset_id",
                                                                              "collection_version_id"]))


def write_manifest(manifest: pd.DataFrame, path) -> None:
    """CSV or JSON by the file's extension."""
    name = str(path)
    with path.open("w") as fh:
        if name.endswith(".json"):
            fh.write(manifest.to_json(orient="records", indent=1))
        else:
            manifest.to_csv(fh, index=False)
