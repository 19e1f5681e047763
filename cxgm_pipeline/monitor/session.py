"""One attempt's frames on demand, for the CLI and notebooks: the asset chain's code, without Dagster.

Frames Dagster already materialized are reused when fresh (the partition was refreshed after the attempt
ended, or within the refresh interval while it runs) and fetched otherwise; `refresh=True` always fetches.
Imported attempts (`cxgm import`) are read from the store only: no AWS access needed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from cxgm_pipeline.config import ConfigError, get_config, refresh_seconds
from cxgm_pipeline.monitor.attempts import Attempt, AttemptNotFound, find_attempt, list_attempts, window_attempt
from cxgm_pipeline.monitor.corpus import roll_up_attempt
from cxgm_pipeline.monitor.enrich import enrich_jobs
from cxgm_pipeline.monitor.executions import fetch_sfn_executions
from cxgm_pipeline.monitor.jobs import fetch_migration_jobs
from cxgm_pipeline.monitor.outputs import collect_outputs
from cxgm_pipeline.monitor.rerun import rerun_manifest
from cxgm_pipeline.monitor.rollups import collection_rollup, error_signatures
from cxgm_pipeline.monitor.aws import Artifacts, AwsAccessError, Batch, FetchStats, Logs, StepFunctions
from cxgm_pipeline.monitor.frame_store import FrameStore, FrameStoreOps

# Each frame and the frames it is built from (the same edges as the assets).
FRAME_INPUTS = {
    "migration_jobs": (),
    "enriched_jobs": ("migration_jobs",),
    "step_outputs": ("migration_jobs",),
    "sfn_executions": ("step_outputs",),
    "dataset_rollup": ("enriched_jobs", "sfn_executions", "step_outputs"),
    "collection_rollup": ("dataset_rollup", "enriched_jobs", "step_outputs"),
    "error_signatures": ("enriched_jobs", "sfn_executions", "dataset_rollup"),
    "rerun_manifest": ("dataset_rollup",),
}
FRAMES = tuple(FRAME_INPUTS)


class UnexpectedShape(RuntimeError):
    """AWS answered in a shape cxgm does not handle: one line naming the frame, the attempt and the error."""


@dataclass
class AttemptFrames:
    stage: str
    attempt: Attempt | None
    key: str
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    source: str = "fetched"  # fetched | stored | imported


class MonitorSession:
    def __init__(self, store: FrameStoreOps | None = None, stats: FetchStats | None = None):
        self.store = store or FrameStore()
        self.stats = stats or FetchStats()
        self.batch, self.logs = Batch(), Logs()
        self.sfn, self.artifacts = StepFunctions(), Artifacts()

    # --- attempts --------------------------------------------------------------------------------------
    def attempts(self, stage: str) -> list[Attempt]:
        get_config().stage(stage)  # unknown stage: ConfigError naming the configured ones
        return list_attempts(stage, self.sfn, self.stats)

    def imported(self, stage: str, key: str) -> dict | None:
        marker = self.store.root() / "imported" / stage / f"{key}.json"
        return json.loads(marker.read_text()) if marker.exists() else None

    def resolve(self, stage: str, tag: str | None = None, start: datetime | None = None,
                end: datetime | None = None) -> Attempt | None:
        """The attempt named by tag (a key from `cxgm attempts`), or an ad-hoc window; None if imported only."""
        get_config().stage(stage)
        if tag and (start or end):
            raise ValueError("give either --tag or --start/--end, not both")
        if tag:
            if self.imported(stage, tag):
                return None
            return find_attempt(stage, tag, self.sfn, self.stats)
        if start and end:
            return window_attempt(stage, start, end)
        raise ValueError("name an attempt with --tag (see `cxgm attempts`) or a window with --start and --end")

    # --- frames ----------------------------------------------------------------------------------------
    def _fresh(self, stage: str, attempt: Attempt, wanted: tuple[str, ...] = FRAMES) -> bool:
        stamps = [self.store.modified(name, stage, attempt.key) for name in wanted]
        if any(s is None for s in stamps):
            return False
        oldest = min(stamps)
        if attempt.ended:
            return oldest > attempt.stop.timestamp()
        return time.time() - oldest < refresh_seconds()

    def frames(self, stage: str, tag: str | None = None, start: datetime | None = None, end: datetime | None = None,
               refresh: bool = False, wanted: tuple[str, ...] = FRAMES) -> AttemptFrames:
        """`wanted`: the frames the caller shows; only they and what they are built from are fetched."""
        if tag and self.imported(stage, tag):
            return AttemptFrames(stage, None, tag, {n: self.store.read(n, stage, tag) for n in FRAMES}, "imported")
        attempt = self.resolve(stage, tag, start, end)
        if not refresh and not attempt.window_only and self._fresh(stage, attempt, wanted):
            return AttemptFrames(stage, attempt, attempt.key,
                                 {n: self.store.read(n, stage, attempt.key) for n in wanted}, "stored")
        return AttemptFrames(stage, attempt, attempt.key, self.fetch(stage, attempt, wanted))

    def fetch(self, stage: str, attempt: Attempt, wanted: tuple[str, ...] = FRAMES) -> dict[str, pd.DataFrame]:
        """The asset chain for one attempt, in process: only `wanted` frames and what they are built from."""
        s, frames = self.stats, {}
        builders = {
            "migration_jobs": lambda: fetch_migration_jobs(stage, attempt, self.batch, s),
            "enriched_jobs": lambda: enrich_jobs(frames["migration_jobs"], self.logs, s),
            "step_outputs": lambda: collect_outputs(stage, attempt, frames["migration_jobs"], self.logs, self.sfn,
                                                    self.artifacts, s),
            "sfn_executions": lambda: fetch_sfn_executions(stage, attempt, frames["step_outputs"], self.sfn, s),
            "dataset_rollup": lambda: roll_up_attempt(stage, attempt, frames["enriched_jobs"], frames["sfn_executions"],
                                                      frames["step_outputs"]),
            "collection_rollup": lambda: collection_rollup(frames["dataset_rollup"], frames["enriched_jobs"],
                                                           frames["step_outputs"]),
            "error_signatures": lambda: error_signatures(frames["enriched_jobs"], frames["sfn_executions"],
                                                         frames["dataset_rollup"]),
            "rerun_manifest": lambda: rerun_manifest(frames["dataset_rollup"], attempt.ended),
        }

        def build(name: str) -> None:
            if name not in frames:
                for dep in FRAME_INPUTS[name]:
                    build(dep)
                try:
                    frames[name] = builders[name]()
                except (AwsAccessError, ConfigError):
                    raise
                except Exception as exc:  # an AWS answer of a shape cxgm does not know: say where, not a traceback
                    raise UnexpectedShape(f"{name} of {stage}/{attempt.key}: unexpected {type(exc).__name__}: {exc} "
                                          f"(an AWS answer cxgm did not expect; please report it with this line)") from exc

        for name in wanted:
            build(name)
        return {name: frames[name] for name in FRAMES if name in frames}

    def save(self, result: AttemptFrames) -> None:
        for name, frame in result.frames.items():
            self.store.write(frame, name, result.stage, result.key)


__all__ = ["AttemptFrames", "MonitorSession", "AttemptNotFound", "UnexpectedShape"]
