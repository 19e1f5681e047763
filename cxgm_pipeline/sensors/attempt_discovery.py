"""A new execution of a stage's schema-migration state machine becomes a partition and a first run."""

import hashlib
import json

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, sensor

from cxgm_pipeline.config import get_config, sensor_seconds
from cxgm_pipeline.jobs import (HISTORY_RUN_TAGS, LIVE_RUN_TAGS, NEWEST_HISTORY_RUN_TAGS, PLACEHOLDER_RUN_TAGS,
                                REHEARSAL_RUN_TAGS, overview_job, refresh_attempt_job)
from cxgm_pipeline.sensors.refresh_running import PLACEHOLDER_REASON, cancel_queued_placeholders
from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.attempts.listing import Attempt, list_all_attempts
from cxgm_pipeline.partitions import ATTEMPTS, attempt_partitions, partition_key
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource


def first_run_tags(attempt: Attempt, attempts: list[Attempt]) -> dict[str, str]:
    """The lane and priority of an attempt's first run: a running one's first; of the ended ones (one slot, some
    read histories for minutes), the rehearsal of a running attempt (the same key, running in another stage),
    then each stage's newest, then the rest."""
    if not attempt.ended:
        return LIVE_RUN_TAGS
    if any(a.key == attempt.key and a.stage != attempt.stage and not a.ended for a in attempts):
        return REHEARSAL_RUN_TAGS
    newest = max((a for a in attempts if a.stage == attempt.stage), key=lambda a: a.start)
    return NEWEST_HISTORY_RUN_TAGS if newest is attempt else HISTORY_RUN_TAGS


@sensor(jobs=[refresh_attempt_job, overview_job], minimum_interval_seconds=sensor_seconds(), default_status=DefaultSensorStatus.RUNNING)
def attempt_discovery_sensor(context: SensorEvaluationContext, sfn: StepFunctionsResource,
                             store: FrameStoreResource) -> SensorResult:
    """Idempotent: run keys and the cursor (cells already requested) survive restarts. Also refreshes the
    attempts overview whenever an attempt appears or changes state."""
    cursor = json.loads(context.cursor) if context.cursor else {"requested": []}
    requested, emptied = set(cursor["requested"]), set(cursor.get("emptied", []))
    states = []
    known = set(context.instance.get_dynamic_partitions(ATTEMPTS))
    new_keys, runs = [], []
    attempts = list_all_attempts(sfn, get_config().stage_names, context.log, store=store)
    for attempt in attempts:
        if attempt.key not in known and attempt.key not in new_keys:
            new_keys.append(attempt.key)
        name = str(attempt.ref)
        states.append(f"{name}={attempt.fingerprint}")  # a redrive re-opens it: the overview follows
        if name not in requested:
            requested.add(name)
            if name in emptied:  # it was a placeholder cell: the attempt has started here since
                cancel_queued_placeholders(context.instance, partition_key(attempt.ref))
            runs.append(RunRequest(run_key=f"discover:{name}", job_name=refresh_attempt_job.name,
                                   partition_key=partition_key(attempt.ref),
                                   tags={"cxgm/reason": "discovered", **first_run_tags(attempt, attempts)}))
    # Attempt keys are shared by the stages: a cell whose stage never ran the attempt is materialized once, as
    # explicit empty frames, so that asset health counts what exists (it is discovered anew if it runs later).
    ran = {str(a.ref) for a in attempts}
    for key in dict.fromkeys(a.key for a in attempts):
        for stage in get_config().stage_names:
            ref = AttemptRef(stage, key)
            if str(ref) not in ran and str(ref) not in emptied and str(ref) not in requested:
                emptied.add(str(ref))
                runs.append(RunRequest(run_key=f"empty:{ref}", job_name=refresh_attempt_job.name,
                                       partition_key=partition_key(ref),
                                       # after the cells with data in the queue: they only make health complete;
                                       # outside the history lane, whose one slot ended attempts' slow first
                                       # runs need: a placeholder reads nothing of AWS but the stage's listing
                                       tags={"cxgm/reason": PLACEHOLDER_REASON, **PLACEHOLDER_RUN_TAGS}))
    fingerprint = hashlib.sha1("\n".join(sorted(states)).encode()).hexdigest()[:16]
    if states and fingerprint != cursor.get("states"):
        runs.append(RunRequest(run_key=f"overview:{fingerprint}", job_name=overview_job.name))
    return SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[attempt_partitions.build_add_request(new_keys)] if new_keys else [],
        cursor=json.dumps({"requested": sorted(requested), "emptied": sorted(emptied), "states": fingerprint}),
    )
