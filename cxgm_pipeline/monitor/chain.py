"""The chain of one attempt's frames, declared once: name, pandera model, inputs, how to build it, what to say
about it. The Dagster assets (`cxgm_pipeline.assets.chain`), the CLI's and notebooks' `MonitorSession` and the
bundle's frame list are all made from this list. Adding a frame: a function, and one line here."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa

from cxgm_pipeline.monitor.views.answer import attempt_answer, breakable
from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.frames.child_failures import apply_child_failures, fetch_child_failures
from cxgm_pipeline.monitor.aws.clients import ArtifactsApi, BatchApi, FetchStats, LogsApi, StepFunctionsApi
from cxgm_pipeline.monitor.attempts.campaigns import CampaignSource, with_campaign
from cxgm_pipeline.monitor.attempts.campaigns import fingerprint as campaign_fingerprint
from cxgm_pipeline.monitor.views.failures import failures_markdown, rerun_markdown
from cxgm_pipeline.monitor.frames.attempt_rollup import attempt_summary, roll_up_attempt
from cxgm_pipeline.monitor.frames.enriched_jobs import enrich_jobs
from cxgm_pipeline.monitor.frames.sfn_executions import fetch_sfn_executions, list_ingestion_executions
from cxgm_pipeline.monitor.frames.migration_jobs import fetch_migration_jobs
from cxgm_pipeline.monitor.attempts.outcome import tolerance_exceeded
from cxgm_pipeline.monitor.frames.step_outputs import collect_outputs, hold_unread, outputs_summary, sweep_output_records
from cxgm_pipeline.monitor.frames.portal_state import portal_state, portal_summary
from cxgm_pipeline.monitor.frames.rerun_manifest import rerun_manifest
from cxgm_pipeline.monitor.frames.rollups import UNATTRIBUTED, collection_rollup, error_signatures
from cxgm_pipeline.schemas import (
    ChildFailures,
    CollectionRollup,
    DatasetRollup,
    EnrichedJobs,
    ErrorSignatures,
    MigrationJobs,
    OutputRecords,
    PortalState,
    RerunManifest,
    SfnExecutions,
    StepOutputs,
    empty_frame,
    validate,
)


@dataclass
class Apis:
    """The AWS access a frame may need (plain classes in the CLI, Dagster resources in assets)."""

    batch: BatchApi
    logs: LogsApi
    sfn: StepFunctionsApi
    artifacts: ArtifactsApi


@dataclass
class Build:
    """What a frame is built from: the attempt (None: it never ran in this stage), its input frames, AWS."""

    stage: str
    attempt: Attempt | None
    frames: dict[str, pd.DataFrame]
    aws: Apis
    stats: FetchStats = field(default_factory=FetchStats)
    # this partition's frames as last stored: builders that can refresh incrementally read only what changed
    previous: dict[str, pd.DataFrame] = field(default_factory=dict)
    # listings a fetch started at once because they need no frame (futures by name; see `EARLY`)
    early: dict[str, Future] = field(default_factory=dict)
    # the attempt's campaign (monitor/attempts/campaigns.py): None reads the attempt alone
    campaign: CampaignSource | None = None

    def campaign_members(self, rollup: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
        """(key, rollup) of each attempt of this one's campaign, oldest first; this one alone without a source."""
        if self.campaign is None or self.attempt is None:
            return [(self.attempt.key if self.attempt else "", rollup)]
        return [(a.key, r) for a, r in self.campaign.members(self.attempt, rollup)]

    def prefetched(self, name: str):
        """The early listing's result, or None when none was started (it is then made where it is needed)."""
        future = self.early.get(name)
        return future.result() if future is not None else None


class Markdown(str):
    """A summary value to show rendered as Markdown (the Dagster asset makes it Markdown metadata)."""


def _counts(frame: pd.DataFrame, column: str, prefix: str) -> dict:
    return {f"{prefix}{k}": int(v) for k, v in frame[column].value_counts().items()} if not frame.empty else {}


def _rollup(b: Build) -> pd.DataFrame:
    if b.attempt is None:
        return empty_frame(DatasetRollup)
    rollup = roll_up_attempt(b.stage, b.attempt, b.frames["enriched_jobs"], b.frames["sfn_executions"],
                             b.frames["step_outputs"], stopped=tolerance_exceeded(b.frames["child_failures"]))
    rollup = apply_child_failures(rollup, b.frames["child_failures"], b.frames["step_outputs"])
    rollup = hold_unread(rollup, b.frames["step_outputs"])
    return validate(DatasetRollup, with_campaign(rollup, b.attempt.key, b.campaign_members(rollup)))
def _rerun(b: Build) -> pd.DataFrame:
    rollup = b.frames["dataset_rollup"]
    if b.campaign is None or b.attempt is None:
        return rerun_manifest(rollup, ended=bool(b.attempt and b.attempt.ended))
    members = b.campaign.members(b.attempt, rollup)
    # the campaign is over when its latest attempt is: an earlier one's end says nothing of the re-run's
    return rerun_manifest(rollup, ended=members[-1][0].ended, members=[(a.key, r) for a, r in members])


def _rollup_summary(frame: pd.DataFrame, b: Build) -> dict:
    out = {"datasets": len(frame), **_counts(frame, "state", "datasets_"), **_campaign_summary(frame, b),
           "unattributed": int(frame["dataset_id"].str.startswith(UNATTRIBUTED).sum()) if not frame.empty else 0}
    why = attempt_summary(b.attempt, b.frames["enriched_jobs"], frame)
    if why:
        out["why_empty"] = breakable(why)
    # the ETA needs the rehearsal, which migration_report reads: this line points there instead
    answer, health = attempt_answer(b.attempt, frame, b.frames["enriched_jobs"], with_eta=False)
    return {"answer": answer, "health": breakable(health.reason) or "no failure", **out}


def _portal(b: Build) -> pd.DataFrame:
    if b.attempt is None:
        return empty_frame(PortalState)
    return portal_state(b.stage, b.attempt.key, b.frames["dataset_rollup"], b.aws.sfn.stage_config(b.stage).portal,
                        ended=b.attempt.ended, previous=b.previous.get("portal_state"),
                        migration_jobs=b.frames["migration_jobs"])


def _campaign_summary(frame: pd.DataFrame, b: Build) -> dict:
    """Which attempts form this one's campaign, and a fingerprint of their outcomes: sensors/campaign_views.py
    refreshes the other members' views when it changes."""
    if b.attempt is None or frame.empty:
        return {}
    members = b.campaign_members(frame)
    around = b.campaign.neighbourhood(b.attempt, frame) if b.campaign is not None else members
    return {"campaign": frame["campaign"].iloc[0], "campaign_members": ",".join(k for k, _ in members),
            "campaign_neighbours": ",".join(k for k, _ in around),
            "campaign_missing": ",".join(k for k, r in around if r is None),
            "campaign_fingerprint": campaign_fingerprint(around)}


@dataclass(frozen=True)
class FrameSpec:
    name: str
    model: type[pa.DataFrameModel]
    inputs: tuple[str, ...]
    build: Callable[[Build], pd.DataFrame]
    group: str  # Dagster asset group: "aws" (reads AWS) or "rollups" (computed)
    summary: Callable[[pd.DataFrame, Build], dict] = lambda frame, b: {"rows": len(frame)}
    # its builder refreshes from the partition's last stored frame (ended jobs, answers and logs read stay):
    # every refresh passes that frame, from the CLI and from Dagster alike
    incremental: bool = False

    @property
    def doc(self) -> str:
        return (self.model.__doc__ or self.name).strip()


CHAIN: tuple[FrameSpec, ...] = (
    FrameSpec("migration_jobs", MigrationJobs, (), lambda b: fetch_migration_jobs(b.stage, b.attempt, b.aws.batch, b.stats,
                                                                              previous=b.previous.get("migration_jobs")),
              "aws", lambda f, b: {"jobs": len(f), **_counts(f, "status", "jobs_")}, incremental=True),
    FrameSpec("enriched_jobs", EnrichedJobs, ("migration_jobs",),
              lambda b: enrich_jobs(b.frames["migration_jobs"], b.aws.logs, b.stats, b.previous.get("enriched_jobs")),
              "rollups",
              lambda f, b: {**_counts(f, "log_status", "log_"), **_counts(f, "error_category", "failed_")},
              incremental=True),
    FrameSpec("output_records", OutputRecords, (),
              lambda b: sweep_output_records(b.stage, b.attempt, b.aws.logs, b.stats, b.previous.get("output_records")),
              "aws", lambda f, b: {"records": len(f)}, incremental=True),
    FrameSpec("step_outputs", StepOutputs, ("migration_jobs", "output_records"),
              lambda b: collect_outputs(b.stage, b.attempt, b.frames["migration_jobs"], b.frames["output_records"],
                                        b.aws.logs, b.aws.sfn,
                                        b.aws.artifacts, b.stats, b.previous.get("step_outputs")),
              "aws", outputs_summary, incremental=True),
    FrameSpec("sfn_executions", SfnExecutions, ("step_outputs", "migration_jobs"),
              lambda b: fetch_sfn_executions(b.stage, b.attempt, b.frames["step_outputs"], b.aws.sfn, b.stats,
                                             listed=b.prefetched("ingestion_executions"),
                                             previous=b.previous.get("sfn_executions"),
                                             jobs=b.frames["migration_jobs"]), "aws",
              lambda f, b: {"new_versions": len(f), **_counts(f, "attribution", "attributed_by_")}, incremental=True),
    FrameSpec("child_failures", ChildFailures, ("migration_jobs", "sfn_executions"),
              lambda b: fetch_child_failures(b.stage, b.attempt, b.frames["migration_jobs"], b.frames["sfn_executions"],
                                             b.aws.sfn, b.stats, b.previous.get("child_failures")), "aws",
              lambda f, b: {"map_runs": int((f["kind"] == "map_run").sum()) if not f.empty else 0,
                            "failed_executions": int((f["kind"] != "map_run").sum()) if not f.empty else 0},
              incremental=True),
    FrameSpec("dataset_rollup", DatasetRollup, ("enriched_jobs", "sfn_executions", "step_outputs", "child_failures"),
              _rollup, "rollups", _rollup_summary),
    FrameSpec("collection_rollup", CollectionRollup, ("dataset_rollup", "enriched_jobs", "step_outputs", "child_failures"),
              lambda b: collection_rollup(b.frames["dataset_rollup"], b.frames["enriched_jobs"], b.frames["step_outputs"],
                                          b.frames["child_failures"]),
              "rollups", lambda f, b: {"collections": len(f), "can_publish": int(f["can_publish"].sum()) if not f.empty else 0}),
    FrameSpec("error_signatures", ErrorSignatures, ("enriched_jobs", "sfn_executions", "dataset_rollup"),
              lambda b: error_signatures(b.frames["enriched_jobs"], b.frames["sfn_executions"], b.frames["dataset_rollup"]),
              "rollups", lambda f, b: {"failures": Markdown(failures_markdown(b.frames["dataset_rollup"])),
                                       "signatures": len(f)}),
    FrameSpec("rerun_manifest", RerunManifest, ("dataset_rollup",), _rerun, "rollups",
              lambda f, b: {"rerun": Markdown(rerun_markdown(f)), "datasets": len(f)}),
    FrameSpec("portal_state", PortalState, ("dataset_rollup", "migration_jobs"), _portal, "rollups",
              lambda f, b: portal_summary(f), incremental=True),
)
SPECS = {spec.name: spec for spec in CHAIN}
# Listings that need no frame, by the frame that uses them: an in-process fetch starts them at once, so their
# calls overlap the job listing instead of following it.
EARLY: dict[str, tuple[str, Callable[[Build], object]]] = {
    "sfn_executions": ("ingestion_executions",
                       lambda b: list_ingestion_executions(b.stage, b.attempt, b.aws.sfn, b.stats,
                                                           b.previous.get("sfn_executions"))),
}
FRAMES = tuple(SPECS)


def stored_previous(store, stage: str, key: str, names=FRAMES, now=None) -> dict[str, pd.DataFrame]:
    """The incremental frames of a partition as last stored, for a refresh to start from; a frame an older cxgm
    wrote (a column missing) is left out, so it is rebuilt whole. None at all when the jobs were observed after
    `now` (AWS's clock): frames of a later moment than AWS's present (a clock set back, another account) would
    keep what has not happened yet."""
    previous = {}
    for name in names:
        spec = SPECS[name]
        if spec.incremental and store.exists(name, stage, key):
            stored = store.read(name, stage, key)
            if set(spec.model.to_schema().columns) <= set(stored.columns):
                previous[name] = stored
    if previous and now is not None and store.exists("migration_jobs", stage, key):
        jobs = previous.get("migration_jobs")
        jobs = store.read("migration_jobs", stage, key) if jobs is None else jobs
        if not jobs.empty and "observed_at" in jobs and jobs["observed_at"].max() > pd.Timestamp(now):
            return {}
    return previous
