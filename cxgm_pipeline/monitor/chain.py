"""The chain of one attempt's frames, declared once. Each `FrameSpec` in `CHAIN` is the whole of a frame's
declaration: its name, pandera model, inputs, the function that builds it, what its asset says about it, whether
it refreshes incrementally, reads AWS, starts a listing early, reads the attempt's campaign, publishes files
beside the report, and how `cxgm describe` shows it. The Dagster assets (`cxgm_pipeline.assets.chain`), the CLI's
and notebooks' `MonitorSession`, `cxgm describe` and the bundle's frame list are all made from this list;
tests/monitor/test_chain_declaration.py fails when one of them, or the README's table of frames, lags.

Adding a frame (README, "Adding a frame"): its module in `monitor/frames/`, its model in `schemas/frames.py`, and
here a `Frame` name, a `build_<frame>` function and one `FrameSpec` entry.

This module loads neither pandas nor boto3 (`cxgm --help` reads the views declared here): each builder imports
its frame's module when it is called."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from importlib import import_module
from typing import TYPE_CHECKING

from cxgm_pipeline.vocabulary import DatasetState, ExecutionStatus, JobStatus, PortalVerdict

if TYPE_CHECKING:
    from concurrent.futures import Future
    from datetime import datetime

    import pandas as pd
    import pandera.pandas as pa

    from cxgm_pipeline.monitor.attempts.campaigns import CampaignSource
    from cxgm_pipeline.monitor.attempts.listing import Attempt
    from cxgm_pipeline.monitor.aws.clients import ArtifactsApi, BatchApi, FetchStats, LogsApi, StepFunctionsApi
    from cxgm_pipeline.monitor.store.frames import StorePath


class Frame:
    """The frames' names: each is its asset's key, its folder in the frame store and its key in `Build.frames`.
    Plain strings, not Enum members: Dagster serializes asset keys and names, and takes no Enum of ours."""

    migration_jobs = "migration_jobs"
    enriched_jobs = "enriched_jobs"
    output_records = "output_records"
    step_outputs = "step_outputs"
    sfn_executions = "sfn_executions"
    child_failures = "child_failures"
    dataset_rollup = "dataset_rollup"
    collection_rollup = "collection_rollup"
    error_signatures = "error_signatures"
    rerun_manifest = "rerun_manifest"
    portal_state = "portal_state"


@dataclass
class Apis:
    """The AWS access a frame may need (plain classes in the CLI, Dagster resources in assets)."""

    batch: BatchApi
    logs: LogsApi
    sfn: StepFunctionsApi
    artifacts: ArtifactsApi


def _fetch_stats() -> FetchStats:
    from cxgm_pipeline.monitor.aws.clients import FetchStats

    return FetchStats()


@dataclass
class Build:
    """What a frame is built from: the attempt (None: it never ran in this stage), its input frames, AWS."""

    stage: str
    attempt: Attempt | None
    frames: dict[str, pd.DataFrame]
    aws: Apis
    stats: FetchStats = field(default_factory=_fetch_stats)
    # this partition's frames as last stored: builders that can refresh incrementally read only what changed
    previous: dict[str, pd.DataFrame] = field(default_factory=dict)
    # the listings a fetch started at once because they need no frame, by the frame that uses them
    # (`FrameSpec.early`)
    early: dict[str, Future] = field(default_factory=dict)
    # the attempt's campaign (monitor/attempts/campaigns.py): None reads the attempt alone
    campaign: CampaignSource | None = None
    # the stage's attempts, oldest first, when no campaign source lists them (an attempt read alone)
    attempts_of: Callable[[str], list[Attempt]] | None = None

    def campaign_members(self, rollup: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
        """(key, rollup) of each attempt of this one's campaign, oldest first; this one alone without a source."""
        if self.campaign is None or self.attempt is None:
            return [(self.attempt.key if self.attempt else "", rollup)]
        return [(a.key, r) for a, r in self.campaign.members(self.attempt, rollup)]

    def later_attempts(self) -> list[tuple[str, datetime]]:
        """(key, start) of the attempts of the stage started after this one, from the campaign's listing, else
        `attempts_of` (none without either): once one has started, the portal serves its doing
        (portal_state.later_attempt)."""
        listing = self.campaign.attempts_of if self.campaign is not None else self.attempts_of
        if listing is None or self.attempt is None or self.attempt.window_only:
            return []
        return [(a.key, a.start) for a in listing(self.stage)
                if a.key != self.attempt.key and not a.window_only and a.start > self.attempt.start]

    def prefetched(self, frame: str):
        """The early listing of `frame`, or None when none was started (it is then made where it is needed)."""
        future = self.early.get(frame)
        return future.result() if future is not None else None


class Markdown(str):
    """A summary value to show rendered as Markdown (the Dagster asset makes it Markdown metadata)."""


@dataclass(frozen=True)
class View:
    """How `cxgm describe WHAT` shows a frame: the columns in the terminal, the columns --status and --step keep
    rows by, and the values --status takes (None: those the frame holds)."""

    what: str
    columns: tuple[str, ...]
    status: str | None = None
    step: str | None = None
    statuses: type[StrEnum] | None = None


def rows(frame: pd.DataFrame, b: Build) -> dict:
    """The summary of a frame that says nothing more than its size."""
    return {"rows": len(frame)}


@dataclass(frozen=True)
class FrameSpec:
    name: str  # a `Frame` name
    model: str  # its pandera DataFrameModel's name in schemas/frames.py (`model_class`)
    inputs: tuple[str, ...]
    build: Callable[[Build], pd.DataFrame]
    group: str  # Dagster asset group: "aws" (read from AWS alone) or "rollups" (computed from other frames)
    # what its asset's metadata says about the frame it built
    summary: Callable[[pd.DataFrame, Build], dict] = rows
    # its builder reads AWS: its asset's kinds say so
    reads_aws: bool = False
    # its builder refreshes from the partition's last stored frame (ended jobs, answers and logs read stay):
    # every refresh passes that frame, from the CLI and from Dagster alike
    incremental: bool = False
    # a listing its builder needs that needs no frame: an in-process fetch starts it at once, so its calls
    # overlap the job listing instead of following it; the builder takes its result with `b.prefetched(name)`
    early: Callable[[Build], object] | None = None
    # its builder reads the attempt's campaign (`Build.campaign`, monitor/attempts/campaigns.py)
    campaign: bool = False
    # the files it is also written to beside the attempt's report, for people and scripts (`publish`); its asset
    # links the first
    publishes: tuple[str, ...] = ()
    # how `cxgm describe` shows it; None: it has no view of its own
    view: View | None = None
    # later frames of the chain whose last stored state its summary reads (`b.previous`): what it is built before
    reads_last: tuple[str, ...] = ()

    @property
    def model_class(self) -> type[pa.DataFrameModel]:
        # looked up where models are defined: a new model needs no export from schemas/__init__.py
        return getattr(import_module("cxgm_pipeline.schemas.frames"), self.model)

    @property
    def doc(self) -> str:
        return (self.model_class.__doc__ or self.name).strip()


def _counts(frame: pd.DataFrame, column: str, prefix: str) -> dict:
    return {f"{prefix}{k}": int(v) for k, v in frame[column].value_counts().items()} if not frame.empty else {}


# --- each frame's builder and summary, in the chain's order ------------------------------------------------------


def build_migration_jobs(b: Build) -> pd.DataFrame:
    from cxgm_pipeline.monitor.frames.migration_jobs import fetch_migration_jobs

    return fetch_migration_jobs(b.stage, b.attempt, b.aws.batch, b.stats, previous=b.previous.get(Frame.migration_jobs))


def summarize_migration_jobs(frame: pd.DataFrame, b: Build) -> dict:
    return {"jobs": len(frame), **_counts(frame, "status", "jobs_")}


def build_enriched_jobs(b: Build) -> pd.DataFrame:
    from cxgm_pipeline.monitor.frames.enriched_jobs import enrich_jobs

    return enrich_jobs(b.frames[Frame.migration_jobs], b.aws.logs, b.stats, b.previous.get(Frame.enriched_jobs))


def summarize_enriched_jobs(frame: pd.DataFrame, b: Build) -> dict:
    return {**_counts(frame, "log_status", "log_"), **_counts(frame, "error_category", "failed_")}


def build_output_records(b: Build) -> pd.DataFrame:
    from cxgm_pipeline.monitor.frames.step_outputs import sweep_output_records

    return sweep_output_records(b.stage, b.attempt, b.aws.logs, b.stats, b.previous.get(Frame.output_records))


def summarize_output_records(frame: pd.DataFrame, b: Build) -> dict:
    return {"records": len(frame)}


def build_step_outputs(b: Build) -> pd.DataFrame:
    from cxgm_pipeline.monitor.frames.step_outputs import collect_outputs

    return collect_outputs(b.stage, b.attempt, b.frames[Frame.migration_jobs], b.frames[Frame.output_records],
                           b.aws.logs, b.aws.sfn, b.aws.artifacts, b.stats, b.previous.get(Frame.step_outputs))


def summarize_step_outputs(frame: pd.DataFrame, b: Build) -> dict:
    from cxgm_pipeline.monitor.frames.step_outputs import outputs_summary

    return outputs_summary(frame, b)


def list_ingestion_executions_early(b: Build) -> list[dict] | None:
    from cxgm_pipeline.monitor.frames.sfn_executions import list_ingestion_executions

    return list_ingestion_executions(b.stage, b.attempt, b.aws.sfn, b.stats, b.previous.get(Frame.sfn_executions))


def build_sfn_executions(b: Build) -> pd.DataFrame:
    from cxgm_pipeline.monitor.frames.sfn_executions import fetch_sfn_executions

    return fetch_sfn_executions(b.stage, b.attempt, b.frames[Frame.step_outputs], b.aws.sfn, b.stats,
                                listed=b.prefetched(Frame.sfn_executions), previous=b.previous.get(Frame.sfn_executions),
                                jobs=b.frames[Frame.migration_jobs])


def summarize_sfn_executions(frame: pd.DataFrame, b: Build) -> dict:
    return {"new_versions": len(frame), **_counts(frame, "attribution", "attributed_by_")}


def build_child_failures(b: Build) -> pd.DataFrame:
    from cxgm_pipeline.monitor.frames.child_failures import fetch_child_failures

    return fetch_child_failures(b.stage, b.attempt, b.frames[Frame.migration_jobs], b.frames[Frame.sfn_executions],
                                b.aws.sfn, b.stats, b.previous.get(Frame.child_failures))


def summarize_child_failures(frame: pd.DataFrame, b: Build) -> dict:
    return {"map_runs": int((frame["kind"] == "map_run").sum()) if not frame.empty else 0,
            "failed_executions": int((frame["kind"] != "map_run").sum()) if not frame.empty else 0}


def build_dataset_rollup(b: Build) -> pd.DataFrame:
    from cxgm_pipeline.monitor.attempts.campaigns import with_campaign
    from cxgm_pipeline.monitor.attempts.outcome import tolerance_exceeded
    from cxgm_pipeline.monitor.frames.attempt_rollup import roll_up_attempt
    from cxgm_pipeline.monitor.frames.child_failures import apply_child_failures
    from cxgm_pipeline.monitor.frames.step_outputs import hold_unread
    from cxgm_pipeline.schemas.frames import DatasetRollup, empty_frame, validate

    if b.attempt is None:
        return empty_frame(DatasetRollup)
    failures = b.frames[Frame.child_failures]
    rollup = roll_up_attempt(b.stage, b.attempt, b.frames[Frame.enriched_jobs], b.frames[Frame.sfn_executions],
                             b.frames[Frame.step_outputs], stopped=tolerance_exceeded(failures))
    rollup = apply_child_failures(rollup, failures, b.frames[Frame.step_outputs])
    rollup = hold_unread(rollup, b.frames[Frame.step_outputs])
    return validate(DatasetRollup, with_campaign(rollup, b.attempt.key, b.campaign_members(rollup)))


OBSERVED_AT = "observed_at_epoch"  # dataset_rollup's metadata: when its jobs were read, AWS's clock


def summarize_dataset_rollup(frame: pd.DataFrame, b: Build) -> dict:
    from cxgm_pipeline.monitor.frames.attempt_rollup import attempt_summary
    from cxgm_pipeline.monitor.frames.rollups import UNATTRIBUTED, one_row_per_dataset
    from cxgm_pipeline.monitor.views.answer import attempt_answer, breakable, named_by_the_portal
    from cxgm_pipeline.monitor.views.progress import observed_now

    datasets = one_row_per_dataset(frame)  # a dataset gathered twice is a row per branch: counted once
    observed = observed_now(b.frames[Frame.enriched_jobs])
    portal = _portal_for_rollup(frame, b)
    # the datasets the portal alone names count as never started, as migration_report's key numbers count them
    named = named_by_the_portal(portal, datasets)
    counts = _counts(datasets, "state", "datasets_")
    if named:
        key = f"datasets_{DatasetState.NOT_STARTED.value}"
        counts[key] = counts.get(key, 0) + named
    out = {"datasets": len(datasets) + named, **counts, "rows": len(frame),
           # AWS's clock when the jobs were read (epoch s): whether the rollup saw the attempt's end, compared with
           # the end in the same clock (sensors/refresh_running.py), never with a run's local start time
           **({OBSERVED_AT: float(observed.timestamp())} if observed is not None else {}),
           **_campaign_summary(frame, b),
           "unattributed": int(frame["dataset_id"].str.startswith(UNATTRIBUTED).sum()) if not frame.empty else 0}
    why = attempt_summary(b.attempt, b.frames[Frame.enriched_jobs], frame)
    if why:
        out["why_empty"] = breakable(why)
    # the ETA needs the rehearsal, which migration_report reads: this line points there instead; its total is
    # migration_report's (with the datasets of collections not listed yet), or "35 of ~129 (27%)" here would
    # contradict "35 of ~1,624 (2%)" there
    from cxgm_pipeline.monitor.views.progress import unlisted_while_running

    unlisted = unlisted_while_running(b.attempt, frame, b.frames[Frame.enriched_jobs], b.frames[Frame.step_outputs],
                                      b.frames[Frame.child_failures])
    answer, health = attempt_answer(b.attempt, frame, b.frames[Frame.enriched_jobs], with_eta=False,
                                    unlisted=unlisted, child_failures=b.frames[Frame.child_failures],
                                    portal_before=portal, outputs=b.frames[Frame.step_outputs])
    from cxgm_pipeline.monitor.report.links import health_grid

    return {"answer": answer, "health": breakable(health.reason) or "no failure",
            "health_grid": Markdown(f"[every attempt]({health_grid()})"), **out}


def _portal_for_rollup(frame: pd.DataFrame, b: Build) -> pd.DataFrame | None:
    """The portal_state the rollup's metadata counts the datasets of failed collections by: the partition's last
    stored one, else, when a collection's collection_migration failed, the portal read now (the first run of a
    partition stores none before this summary, and no refresh follows an ended attempt's). Read as portal_state
    reads it, so migration_report's count is the same."""
    from cxgm_pipeline.monitor.frames.rollups import failed_collection_migrations

    stored = b.previous.get(Frame.portal_state)
    jobs = b.frames[Frame.enriched_jobs]
    if stored is not None or b.attempt is None or not failed_collection_migrations(jobs):
        return stored
    # enriched_jobs holds every column of migration_jobs (EnrichedJobs extends MigrationJobs)
    frames = {**b.frames, Frame.dataset_rollup: frame, Frame.migration_jobs: jobs,
              Frame.collection_rollup: build_collection_rollup(replace(b, frames={**b.frames, Frame.dataset_rollup: frame}))}
    return build_portal_state(replace(b, frames=frames, previous={}))


def _campaign_summary(frame: pd.DataFrame, b: Build) -> dict:
    """Which attempts form this one's campaign, and a fingerprint of their outcomes: sensors/campaign_views.py
    refreshes the other members' views when it changes."""
    from cxgm_pipeline.monitor.attempts.campaigns import fingerprint

    if b.attempt is None or frame.empty:
        return {}
    members = b.campaign_members(frame)
    around = b.campaign.neighbourhood(b.attempt, frame) if b.campaign is not None else members
    return {"campaign": frame["campaign"].iloc[0], "campaign_members": ",".join(k for k, _ in members),
            "campaign_neighbours": ",".join(k for k, _ in around),
            "campaign_missing": ",".join(k for k, r in around if r is None),
            "campaign_fingerprint": fingerprint(around)}


def build_collection_rollup(b: Build) -> pd.DataFrame:
    from cxgm_pipeline.monitor.frames.rollups import collection_rollup

    return collection_rollup(b.frames[Frame.dataset_rollup], b.frames[Frame.enriched_jobs], b.frames[Frame.step_outputs],
                             b.frames[Frame.child_failures])


def summarize_collection_rollup(frame: pd.DataFrame, b: Build) -> dict:
    return {"collections": len(frame), "can_publish": int(frame["can_publish"].sum()) if not frame.empty else 0}


def build_error_signatures(b: Build) -> pd.DataFrame:
    from cxgm_pipeline.monitor.frames.rollups import error_signatures

    return error_signatures(b.frames[Frame.enriched_jobs], b.frames[Frame.sfn_executions], b.frames[Frame.dataset_rollup])


def summarize_error_signatures(frame: pd.DataFrame, b: Build) -> dict:
    from cxgm_pipeline.monitor.views.failures import failures_markdown

    return {"failures": Markdown(failures_markdown(b.frames[Frame.dataset_rollup])), "signatures": len(frame)}


def build_rerun_manifest(b: Build) -> pd.DataFrame:
    """After portal_state, so that one list holds every dataset to re-run: the datasets of a collection whose
    collection_migration failed are named by the portal alone (collection_migrate names a collection's datasets in
    the answer it never gave), and portal_state, which counts them on the old schema, is their one source
    (`portal_listed`); in the list they follow its one rule, as any dataset the attempt never started, with their
    collection's step and cause (`rerun_as`). No cycle: portal_state reads dataset_rollup and collection_rollup,
    never this list."""
    from cxgm_pipeline.monitor.frames.portal_state import portal_listed
    from cxgm_pipeline.monitor.frames.rerun_manifest import rerun_manifest

    rollup = b.frames[Frame.dataset_rollup]
    listed = portal_listed(b.frames[Frame.portal_state], rollup, b.frames[Frame.collection_rollup])
    if b.campaign is None or b.attempt is None:
        return rerun_manifest(rollup, ended=bool(b.attempt and b.attempt.ended), listed=listed)
    members = b.campaign.members(b.attempt, rollup)
    # the campaign is over when its latest attempt is: an earlier one's end says nothing of the re-run's
    return rerun_manifest(rollup, ended=members[-1][0].ended, members=[(a.key, r) for a, r in members], listed=listed)


def summarize_rerun_manifest(frame: pd.DataFrame, b: Build) -> dict:
    from cxgm_pipeline.monitor.views.failures import rerun_markdown

    return {"rerun": Markdown(rerun_markdown(frame)), "datasets": len(frame)}


def build_portal_state(b: Build) -> pd.DataFrame:
    from datetime import datetime, timezone

    from cxgm_pipeline.monitor.frames.portal_state import portal_state
    from cxgm_pipeline.schemas.frames import PortalState, empty_frame

    if b.attempt is None:
        return empty_frame(PortalState)
    # portal_read_at is this machine's time, the attempts' starts AWS's: the later starts put on this machine's clock
    skew = b.aws.sfn.aws_now(b.stage) - datetime.now(timezone.utc)
    return portal_state(b.stage, b.attempt.key, b.frames[Frame.dataset_rollup], b.aws.sfn.stage_config(b.stage).portal,
                        ended=b.attempt.ended, previous=b.previous.get(Frame.portal_state),
                        migration_jobs=b.frames[Frame.migration_jobs], collections=b.frames[Frame.collection_rollup],
                        later=[(key, start - skew) for key, start in b.later_attempts()])


def summarize_portal_state(frame: pd.DataFrame, b: Build) -> dict:
    from cxgm_pipeline.monitor.frames.portal_state import portal_summary

    return portal_summary(frame)


# --- the declaration ---------------------------------------------------------------------------------------------

CHAIN: tuple[FrameSpec, ...] = (
    FrameSpec(Frame.migration_jobs, "MigrationJobs", (), build_migration_jobs, "aws", summarize_migration_jobs,
              reads_aws=True, incremental=True),
    FrameSpec(Frame.enriched_jobs, "EnrichedJobs", (Frame.migration_jobs,), build_enriched_jobs, "rollups",
              summarize_enriched_jobs, reads_aws=True, incremental=True,
              view=View("jobs", ("job_name", "status", "duration_s", "attempts", "dataset_version_id", "error_category",
                                 "error_signature"), status="status", step="step", statuses=JobStatus)),
    FrameSpec(Frame.output_records, "OutputRecords", (), build_output_records, "aws", summarize_output_records,
              reads_aws=True, incremental=True),
    FrameSpec(Frame.step_outputs, "StepOutputs", (Frame.migration_jobs, Frame.output_records), build_step_outputs, "aws",
              summarize_step_outputs, reads_aws=True, incremental=True),
    FrameSpec(Frame.sfn_executions, "SfnExecutions", (Frame.step_outputs, Frame.migration_jobs), build_sfn_executions,
              "aws", summarize_sfn_executions, reads_aws=True, incremental=True, early=list_ingestion_executions_early,
              view=View("executions", ("execution_name", "status", "duration_s", "dataset_id", "new_dataset_version_id",
                                       "attribution"), status="status", statuses=ExecutionStatus)),
    FrameSpec(Frame.child_failures, "ChildFailures", (Frame.migration_jobs, Frame.sfn_executions), build_child_failures,
              "aws", summarize_child_failures, reads_aws=True, incremental=True),
    FrameSpec(Frame.dataset_rollup, "DatasetRollup",
              (Frame.enriched_jobs, Frame.sfn_executions, Frame.step_outputs, Frame.child_failures),
              build_dataset_rollup, "rollups", summarize_dataset_rollup, campaign=True,
              # the datasets the portal alone names (collections that failed before naming them), for its answer
              reads_last=(Frame.portal_state,),
              view=View("datasets", ("dataset_id", "collection_id", "collection_version_id", "state", "current_step",
                                     "failing_step", "error_category", "retries", "campaign_state", "campaign_attempt"),
                        status="state", step="failing_step", statuses=DatasetState)),
    FrameSpec(Frame.collection_rollup, "CollectionRollup",
              (Frame.dataset_rollup, Frame.enriched_jobs, Frame.step_outputs, Frame.child_failures),
              build_collection_rollup, "rollups", summarize_collection_rollup,
              view=View("collections", ("collection_id", "collection_migration_status", "datasets", "succeeded", "failed",
                                        "running", "pending", "not_started", "skipped", "can_publish"))),
    FrameSpec(Frame.error_signatures, "ErrorSignatures", (Frame.enriched_jobs, Frame.sfn_executions, Frame.dataset_rollup),
              build_error_signatures, "rollups", summarize_error_signatures,
              view=View("errors", ("jobs", "datasets", "step", "error_category", "error_signature", "examples",
                                   "error_evidence"), step="step")),
    FrameSpec(Frame.portal_state, "PortalState", (Frame.dataset_rollup, Frame.migration_jobs, Frame.collection_rollup),
              build_portal_state, "rollups", summarize_portal_state, incremental=True, campaign=True,
              view=View("portal", ("dataset_id", "collection_id", "state", "portal_verdict", "portal_schema_version",
                                   "portal_current", "revision_published", "portal_why"),
                        status="portal_verdict", statuses=PortalVerdict)),
    FrameSpec(Frame.rerun_manifest, "RerunManifest", (Frame.dataset_rollup, Frame.collection_rollup, Frame.portal_state),
              build_rerun_manifest, "rollups", summarize_rerun_manifest, campaign=True,
              publishes=("rerun.csv", "rerun.json")),
)
SPECS = {spec.name: spec for spec in CHAIN}
FRAMES = tuple(SPECS)


def publish(spec: FrameSpec, frame: pd.DataFrame, folder: StorePath) -> None:
    """Writes `frame` to the files `spec.publishes` names in `folder` (the attempt's report folder), CSV or JSON by
    extension: the asset, `cxgm report` and `cxgm export` all write them so."""
    from cxgm_pipeline.monitor.frames.rerun_manifest import write_manifest

    folder.mkdir(parents=True, exist_ok=True)
    for name in spec.publishes:
        write_manifest(frame, folder / name)


def stored_previous(store, stage: str, key: str, names=FRAMES, now=None) -> dict[str, pd.DataFrame]:
    """The incremental frames of a partition as last stored, for a refresh to start from; a frame an older cxgm
    wrote (a column missing) is left out, so it is rebuilt whole. None at all when the jobs were observed after
    `now` (AWS's clock): frames of a later moment than AWS's present (a clock set back, another account) would
    keep what has not happened yet."""
    import pandas as pd

    previous = {}
    for name in names:
        spec = SPECS[name]
        if spec.incremental and store.exists(name, stage, key):
            stored = store.read(name, stage, key)
            if set(spec.model_class.to_schema().columns) <= set(stored.columns):
                previous[name] = stored
    if previous and now is not None and store.exists(Frame.migration_jobs, stage, key):
        jobs = previous.get(Frame.migration_jobs)
        jobs = store.read(Frame.migration_jobs, stage, key) if jobs is None else jobs
        if not jobs.empty and "observed_at" in jobs and jobs["observed_at"].max() > pd.Timestamp(now):
            return {}
    return previous
