"""The re-run manifest: exactly the datasets an engineer must run again, with what they need to do so (as is, or
fix first, and how)."""

from __future__ import annotations

import pandas as pd

from cxgm_pipeline.schemas import RerunManifest, empty_frame, validate
from cxgm_pipeline.vocabulary import (ERROR_KIND, DatasetState, ErrorCategory, ErrorKind, ProductionVerdict, RerunAs,
                                     Step)

COLUMNS = ["stage", "attempt", "dataset_id", "dataset_version_id", "collection_id", "collection_version_id", "state",
           "failing_step", "error_category", "error_signature", "rerun_as", "rerun_hint", "migration_revision_id"]
# what to do with an infrastructure failure before running it again, where "as is" is not quite it
ADVICE = {ErrorCategory.OUT_OF_MEMORY.value: "with more memory", ErrorCategory.TIMEOUT.value: "with a longer timeout"}
FIX_HINT = "fix the data or code"
PENDING_HINT = "its cause is not known yet: the next refresh reads its job's log"
# a dataset every job of which succeeded, failed by production's cleanup step: what it did, why production does
# so, and where its error record is (`describe dataset` without --env and --tag reads every attempt stored)
VERDICT_HINTS = {ProductionVerdict.ROLLED_BACK.value: "the cleanup step rolled it back: processing_status not "
                                                      "SUCCESS; see cxgm describe dataset ID",
                 ProductionVerdict.NOT_LATEST_SCHEMA.value: "the cleanup step found its schema_version not the "
                                                            "latest; see cxgm describe dataset ID"}
CLEANUP_STEPS = (Step.COLLECTION_CLEANUP.value, Step.COLLECTION_PUBLISH.value)  # where production gives its verdict


def rerun_as(category: object, state: object = DatasetState.FAILED.value,
             verdict: object = None) -> tuple[str, str | None]:
    """(rerun_as, rerun_hint) of one dataset: the one decision behind the manifest's columns and the report's
    "re-run as is" / "fix first". As is: infrastructure failures and datasets never started for no cause of their
    own; fix first: validation, application and unknown causes (nothing says running it again would help), also
    of a dataset never started because its collection's collection_migration failed (its category is that job's:
    re-run as is, it would fail there again). The hint: the advice beyond "as is" (more memory, a longer timeout),
    None when there is none; for a dataset production's cleanup `verdict` alone failed, what the cleanup did and
    where its error record is ("fix the data or code" gives no clue)."""
    if state == DatasetState.NOT_STARTED.value and (category is None or pd.isna(category)):
        return RerunAs.AS_IS.value, None
    kind = ERROR_KIND.get(ErrorCategory(category)) if category in set(ErrorCategory) else ErrorKind.UNKNOWN
    if kind is ErrorKind.INFRASTRUCTURE:
        return RerunAs.AS_IS.value, ADVICE.get(category)
    if category == ErrorCategory.PENDING_LOGS.value:  # "fix the data or code" would guess the cause
        return RerunAs.FIX_FIRST.value, PENDING_HINT
    if verdict in VERDICT_HINTS:
        return RerunAs.FIX_FIRST.value, VERDICT_HINTS[verdict]
    return RerunAs.FIX_FIRST.value, FIX_HINT


def with_rerun_as(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (a manifest, or rollup rows) with `rerun_as` and `rerun_hint` decided by `rerun_as`: production's
    verdict counts where it failed the dataset (at the cleanup step), not where a job had already."""
    verdicts = frame["production_verdict"].where(frame["failing_step"].isin(CLEANUP_STEPS)) \
        if "production_verdict" in frame.columns else [None] * len(frame)
    decided = [rerun_as(c, s, v) for c, s, v in zip(frame["error_category"], frame["state"], verdicts)]
    return frame.assign(rerun_as=[a for a, _ in decided], rerun_hint=[h for _, h in decided])


def rerun_manifest(datasets: pd.DataFrame, ended: bool, members: list[tuple[str, pd.DataFrame]] | None = None,
                   listed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Failed datasets; once the attempt has ended, also those it never started. With its campaign's `members`
    ((key, rollup), oldest first; monitor/attempts/campaigns.py): the campaign's view of this attempt's datasets, so a
    dataset a later re-run migrated is not listed, and one a re-run skipped because this attempt migrated it is
    not either; failing step and cause are those of the attempt that decided (`campaign_attempt`). `listed`: rows
    shaped as `datasets`' of datasets no source in AWS names, the portal's listing of a collection whose
    collection_migration failed (portal_state.portal_listed): never started, listed as such unless an attempt of
    the campaign decided them (then the campaign's latest attempt, which did not migrate them either, is theirs)."""
    if listed is not None and not listed.empty:
        listed = listed[~listed["dataset_id"].isin(set(datasets["dataset_id"]))] if not datasets.empty else listed
    if datasets.empty and (listed is None or listed.empty):
        return empty_frame(RerunManifest)
    if members and len(members) > 1:
        from cxgm_pipeline.monitor.attempts.campaigns import campaign_view

        own = datasets if not datasets.empty else listed
        wanted = set(datasets["dataset_id"]) | (set(listed["dataset_id"]) if listed is not None else set())
        decided = campaign_view(members, wanted)
        decided = decided.assign(campaign_attempt=decided["attempt"], stage=own["stage"].iloc[0],
                                 attempt=own["attempt"].iloc[0])
    else:
        decided = datasets.assign(campaign_attempt=datasets["attempt"])
    if listed is not None and not listed.empty:
        left = listed[~listed["dataset_id"].isin(set(decided["dataset_id"]))]
        if members and len(members) > 1:  # no attempt of the campaign named them: its latest did not migrate them
            left = left.assign(campaign_attempt=members[-1][0], campaign_state=left["state"])
        decided = pd.concat([decided, left], ignore_index=True)
    states = [DatasetState.FAILED.value] + ([DatasetState.NOT_STARTED.value] if ended else [])
    picked = with_rerun_as(decided[decided["state"].isin(states)])
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
