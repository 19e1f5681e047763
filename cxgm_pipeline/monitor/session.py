"""One attempt's frames on demand, for the CLI and notebooks: the asset chain's code, without Dagster.

Frames Dagster already materialized are reused when fresh (the partition was refreshed after the attempt
ended, or within the refresh interval while it runs) and fetched otherwise; `refresh=True` always fetches.
Imported attempts (`cxgm import`) are read from the store only: no AWS access needed.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from cxgm_pipeline.config import ConfigError, get_config, refresh_seconds
from cxgm_pipeline.monitor.chain import FRAMES, SPECS, Apis, Build, Frame, stored_previous
from cxgm_pipeline.monitor.attempts.listing import (
    Attempt, AttemptNotFound, list_attempts_stored, window_attempt)
from cxgm_pipeline.monitor.attempts.campaigns import CampaignSource
from cxgm_pipeline.monitor.aws.clients import Artifacts, AwsAccessError, Batch, FetchStats, Logs, StepFunctions
from cxgm_pipeline.monitor.frames.portal_state import collections_not_read
from cxgm_pipeline.monitor.frames.step_outputs import answers_not_read
from cxgm_pipeline.monitor.memory import release_freed_memory
from cxgm_pipeline.monitor.store.frames import FrameStore, FrameStoreOps

# The chain (frames, inputs, builders) is declared once, in monitor/chain.py.


class UnexpectedShape(RuntimeError):
    """AWS answered in a shape cxgm does not handle: one line naming the frame, the attempt and the error."""


@dataclass
class AttemptFrames:
    stage: str
    attempt: Attempt | None
    key: str
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    source: str = "fetched"  # fetched | refreshed (from stored frames) | stored | imported


class MonitorSession:
    def __init__(self, store: FrameStoreOps | None = None, stats: FetchStats | None = None):
        self.store = store or FrameStore()
        self.stats = stats or FetchStats()
        self.batch, self.logs = Batch(), Logs()
        self.sfn, self.artifacts = StepFunctions(), Artifacts()
        self._listed: dict[str, list[Attempt]] = {}

    # --- attempts --------------------------------------------------------------------------------------
    def attempts(self, stage: str) -> list[Attempt]:
        get_config().stage(stage)  # unknown stage: ConfigError naming the configured ones
        self._listed[stage] = list_attempts_stored(stage, self.sfn, self.store, self.stats)
        return self._listed[stage]

    def _attempts(self, stage: str) -> list[Attempt]:
        """The stage's attempts as this session last listed them (one listing serves the attempt and its campaign)."""
        return self._listed[stage] if stage in self._listed else self.attempts(stage)

    def imported(self, stage: str, key: str) -> dict | None:
        from cxgm_pipeline.monitor.store.bundle import import_marker

        marker = import_marker(self.store, stage, key)
        return json.loads(marker.read_text()) if marker.exists() else None

    def resolve(self, stage: str, tag: str | None = None, start: datetime | None = None,
                end: datetime | None = None) -> Attempt:
        """The attempt named by tag (a key from `cxgm attempts`), or an ad-hoc window."""
        get_config().stage(stage)
        if tag and (start or end):
            raise ValueError("give either --tag or --start/--end, not both")
        if tag:
            found = self.attempts(stage)
            match = next((a for a in found if a.key == tag), None)
            if match is None:
                raise AttemptNotFound(stage, tag, [a.key for a in found])
            return match
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

    def _final(self, attempt: Attempt, wanted: tuple[str, ...]) -> bool:
        """Its stored frames saw it ended: its jobs were observed (AWS's clock) after its end, so a refresh has
        nothing left to read (a redrive moves the end, and makes them stale again)."""
        if not attempt.ended or not self.store.exists(Frame.migration_jobs, attempt.stage, attempt.key):
            return False
        if answers_not_read(self.store, attempt.stage, attempt.key):
            return False  # the history fallback has answers left to read: a refresh reads on
        if Frame.portal_state in wanted and self.store.exists(Frame.portal_state, attempt.stage, attempt.key) and \
                collections_not_read(self.store.read(Frame.portal_state, attempt.stage, attempt.key,
                                                     columns=["collection_id", "portal_verdict"])):
            return False  # so has the portal
        observed = self.store.read(Frame.migration_jobs, attempt.stage, attempt.key, columns=["observed_at"])["observed_at"]
        # and not after AWS's now: frames of a later moment (a clock set back) are no one's present
        return not observed.empty and pd.Timestamp(attempt.stop) < observed.max() <= pd.Timestamp(
            self.sfn.aws_now(attempt.stage))

    def frames(self, stage: str, tag: str | None = None, start: datetime | None = None, end: datetime | None = None,
               refresh: bool = False, wanted: tuple[str, ...] = FRAMES) -> AttemptFrames:
        """`wanted`: the frames the caller shows; only they and what they are built from are fetched."""
        if tag and self.imported(stage, tag) and not refresh:
            # an imported bundle (someone else's attempt) is read from its own namespace; --refresh asks AWS
            from cxgm_pipeline.monitor.store.bundle import imported_store

            source = imported_store(self.store)
            return AttemptFrames(stage, None, tag, {n: source.read(n, stage, tag) for n in FRAMES
                                                    if source.exists(n, stage, tag)}, "imported")
        attempt = self.resolve(stage, tag, start, end)
        if not attempt.window_only and self._fresh(stage, attempt, wanted) and (not refresh or self._final(attempt, wanted)):
            stored = {n: self.store.read(n, stage, attempt.key) for n in wanted}
            return AttemptFrames(stage, attempt, attempt.key, self._campaign_now(attempt, stored), "stored")
        if attempt.window_only:  # an ad-hoc window is no partition: nothing stored to start from or to keep
            return AttemptFrames(stage, attempt, attempt.key, self.fetch(stage, attempt, wanted))
        # a refresh starts from the stored frames (what ended stays, only what can have changed is read) and stores
        # what it built, so the next one, here or in Dagster, starts from it in turn
        previous = stored_previous(self.store, stage, attempt.key, now=self.sfn.aws_now(stage))
        result = AttemptFrames(stage, attempt, attempt.key, self.fetch(stage, attempt, wanted, previous),
                               "refreshed" if previous else "fetched")
        self.save(result)
        return result

    def campaign_source(self) -> CampaignSource:
        """An attempt's campaign: the stage's attempts, and each other attempt's rollup as stored when fresh, else
        fetched (alone: a neighbour's own campaign is not looked up)."""
        def rollup_of(attempt: Attempt) -> pd.DataFrame | None:
            if self._fresh(attempt.stage, attempt, (Frame.dataset_rollup,)):
                return self.store.read(Frame.dataset_rollup, attempt.stage, attempt.key)
            previous = stored_previous(self.store, attempt.stage, attempt.key, now=self.sfn.aws_now(attempt.stage))
            return self.fetch(attempt.stage, attempt, (Frame.dataset_rollup,), previous,
                              campaign=False)[Frame.dataset_rollup]

        return CampaignSource(self._attempts, rollup_of)

    def _campaign_now(self, attempt: Attempt, frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """Stored frames of an attempt that may be part of a campaign: its view as the other attempts stand now
        (an ended attempt's frames stay fresh, a re-run after it need not). Nothing is read when AWS already says
        no other attempt can join it."""
        from cxgm_pipeline.monitor.attempts.campaigns import may_continue, with_campaign
        from cxgm_pipeline.monitor.frames.rerun_manifest import rerun_manifest
        from cxgm_pipeline.schemas import DatasetRollup, validate

        found = self._attempts(attempt.stage)
        index = next((i for i, a in enumerate(found) if a.key == attempt.key), None)
        alone = index is None or not ((index > 0 and may_continue(found[index - 1], attempt))
                                      or (index + 1 < len(found) and may_continue(attempt, found[index + 1])))
        if alone or not {Frame.dataset_rollup, Frame.rerun_manifest} & set(frames):
            return frames
        rollup = frames.get(Frame.dataset_rollup)
        if rollup is None:
            rollup = self.store.read(Frame.dataset_rollup, attempt.stage, attempt.key)
        if rollup.empty or "campaign" not in rollup.columns:
            return frames
        members = self.campaign_source().members(attempt, rollup)
        keyed = [(a.key, r) for a, r in members]
        out = dict(frames)
        if Frame.dataset_rollup in out:
            out[Frame.dataset_rollup] = validate(DatasetRollup, with_campaign(rollup, attempt.key, keyed))
        if Frame.rerun_manifest in out:
            from cxgm_pipeline.monitor.frames.portal_state import portal_listed

            portal, collections = (frames.get(f) if f in frames else self.store.read(f, attempt.stage, attempt.key)
                                   if self.store.exists(f, attempt.stage, attempt.key) else None
                                   for f in (Frame.portal_state, Frame.collection_rollup))
            out[Frame.rerun_manifest] = rerun_manifest(rollup, ended=members[-1][0].ended, members=keyed,
                                                       listed=portal_listed(portal, rollup, collections))
        return out

    def campaign(self, stage: str, attempt: Attempt, rollup: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
        """(key, rollup) of each attempt of `attempt`'s campaign, oldest first (`rollup`: its own)."""
        return [(a.key, r) for a, r in self.campaign_source().members(attempt, rollup)]

    def fetch(self, stage: str, attempt: Attempt, wanted: tuple[str, ...] = FRAMES,
              previous: dict[str, pd.DataFrame] | None = None, campaign: bool = True) -> dict[str, pd.DataFrame]:
        """The chain for one attempt, in process: only `wanted` frames and what they are built from. `previous`:
        the frames of an earlier fetch, from which a refresh reads only what changed. `campaign`: read the attempts
        its campaign may hold (monitor/attempts/campaigns.py), else the attempt alone."""
        build = Build(stage, attempt, {}, Apis(self.batch, self.logs, self.sfn, self.artifacts), self.stats,
                      previous or {}, campaign=self.campaign_source() if campaign and attempt is not None else None,
                      attempts_of=self._attempts)

        def make_one(name: str) -> None:
            spec = SPECS[name]
            try:
                build.frames[name] = spec.build(build)
                release_freed_memory()  # what the build freed, before the next one (monitor/memory.py)
            except (AwsAccessError, ConfigError):
                raise
            except Exception as exc:  # an AWS answer of a shape cxgm does not know: say where, not a traceback
                raise UnexpectedShape(f"{name} of {stage}/{attempt.key}: unexpected {type(exc).__name__}: {exc} "
                                      f"(an AWS answer cxgm did not expect; please report it with this line)") from exc

        needed: list[str] = []

        def close(name: str) -> None:
            if name not in needed:
                for dep in SPECS[name].inputs:
                    close(dep)
                needed.append(name)

        for name in wanted:
            close(name)
        # each frame is built as soon as its inputs are: migration_jobs (Batch) and output_records (Logs) from the
        # start, side by side; enriched_jobs and step_outputs together once the jobs are known
        with ThreadPoolExecutor(max_workers=4) as pool:
            if attempt is not None:
                for name in needed:
                    if SPECS[name].early is not None:
                        build.early[name] = pool.submit(SPECS[name].early, build)
            running: dict = {}
            while len(build.frames) < len(needed):
                for n in needed:
                    if n not in build.frames and n not in running.values() \
                            and all(d in build.frames for d in SPECS[n].inputs):
                        running[pool.submit(make_one, n)] = n
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    future.result()
        return {name: build.frames[name] for name in FRAMES if name in build.frames}

    def save(self, result: AttemptFrames) -> None:
        for name, frame in result.frames.items():
            self.store.write(frame, name, result.stage, result.key)


__all__ = ["AttemptFrames", "MonitorSession", "AttemptNotFound", "UnexpectedShape"]
