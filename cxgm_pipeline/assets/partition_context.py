"""What every partitioned asset needs first: its (stage, attempt), and the attempt as AWS knows it."""

from __future__ import annotations

from dagster import AssetExecutionContext, Failure

from cxgm_pipeline.monitor.attempts.listing import Attempt, AttemptNotFound, list_attempts, list_attempts_stored
from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.resources.aws import FetchStats, StepFunctionsResource
from cxgm_pipeline.resources.frame_store import stage_and_attempt


def partition(context: AssetExecutionContext) -> tuple[str, str]:
    return stage_and_attempt(context.partition_key)


# One lookup per run: the refresh job runs its steps in one process, so its assets share the answer.
_RESOLVED: dict[tuple[str, str, str], Attempt | None] = {}
_LISTED: dict[tuple[str, str], list[Attempt]] = {}


def listed_attempts(context: AssetExecutionContext, sfn: StepFunctionsResource, stage: str,
                    stats: FetchStats | None = None) -> list[Attempt]:
    """The stage's attempts, listed once per run (resolving the partition and its campaign share the listing)."""
    cache_key = (context.run_id, stage)
    if cache_key not in _LISTED:
        if len(_LISTED) > 256:
            _LISTED.clear()
        store = getattr(context.resources, "store", None)
        _LISTED[cache_key] = list_attempts(stage, sfn, stats) if store is None else \
            list_attempts_stored(stage, sfn, store, stats)
    return _LISTED[cache_key]


def resolve_attempt(context: AssetExecutionContext, sfn: StepFunctionsResource,
                    stats: FetchStats | None = None) -> tuple[str, str, Attempt | None]:
    """(stage, key, attempt); attempt None when it never ran in this stage: the asset then writes an
    explicit empty frame and says so in its metadata."""
    stage, key = partition(context)
    cache_key = (context.run_id, stage, key)
    if cache_key not in _RESOLVED:
        if len(_RESOLVED) > 256:
            _RESOLVED.clear()
        try:
            found = listed_attempts(context, sfn, stage, stats)
            match = next((a for a in found if a.key == key), None)
            if match is None:
                raise AttemptNotFound(stage, key, [a.key for a in found])
            _RESOLVED[cache_key] = match
        except AttemptNotFound as exc:
            store = getattr(context.resources, "store", None)
            if store is not None and _had_jobs(store, stage, key):
                # it was there before: a renamed state machine, expired history or wrong account, not "never ran".
                # Fail, and keep the good frames, rather than replace them with empty ones.
                raise Failure(description=f"{stage}/{key} was materialized with jobs before but AWS no longer lists "
                                          f"it ({exc}); check the stage config (state machine name, profile) or "
                                          f"Step Functions' 90-day retention. The stored frames are kept.") from None
            context.log.info(f"{exc}: materializing an empty result")
            _RESOLVED[cache_key] = None
    return stage, key, _RESOLVED[cache_key]


def _had_jobs(store, stage: str, key: str) -> bool:
    try:
        return store.exists(Frame.migration_jobs, stage, key) and not store.read(Frame.migration_jobs, stage, key).empty
    except Exception:  # an unreadable old frame is no evidence either way
        return False


def attempt_metadata(attempt: Attempt | None, stats: FetchStats | None = None) -> dict:
    meta = {"attempt_state": attempt.state.value if attempt else "not run in this stage"}
    if attempt:
        meta["attempt_start"] = attempt.start.isoformat()
        meta["attempt_end"] = attempt.stop.isoformat() if attempt.stop else "running"
        meta["executions"] = ", ".join(attempt.execution_names)
    if stats:
        meta["aws_calls"] = stats.calls
    return meta
