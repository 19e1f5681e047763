"""While an attempt runs, re-materialize its partition every CXGM_REFRESH_SECONDS (default 15 min); one
final refresh once it has ended; at once again while a run left work for the next (answers for the history
fallback, collections for the portal: each run spends a budget on those slow sources); then
nothing more, until a redrive re-opens it (RedriveExecution: same ARN, RUNNING again, redriveCount + 1): then
refreshed while it runs again and once more when it ends. Never two overlapping runs of one partition."""

import json
import time

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    MultiPartitionKey,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from cxgm_pipeline.config import get_config, refresh_seconds, sensor_seconds
from cxgm_pipeline.jobs import HISTORY_RUN_TAGS, LIVE_RUN_TAGS, refresh_attempt_job
from cxgm_pipeline.monitor.attempts.listing import list_all_attempts
from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.partitions import ATTEMPTS, partition_key
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource

DONE_ASSET = AssetKey(Frame.dataset_rollup)  # the partition is fresh when its rollup is
# what a run's budgets left for the next run, as the assets' metadata count it: answers for the history fallback
# (step_outputs.outputs_summary), collections for the portal (portal_state.portal_summary)
WORK_LEFT = ((AssetKey(Frame.step_outputs), "answers_not_read", "reading histories, {} left"),
             (AssetKey(Frame.portal_state), "collections_not_read", "reading the portal, {} collections left"))
# Dagster's IN_PROGRESS_RUN_STATUSES leaves out queued runs; a queued refresh is a refresh under way.
UNFINISHED = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
              DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def has_runs(instance: DagsterInstance, key: MultiPartitionKey, statuses: list[DagsterRunStatus] | None = None) -> bool:
    runs = instance.get_runs(filters=RunsFilter(tags={"dagster/partition": str(key)}, statuses=statuses or []), limit=1)
    return bool(runs)


# the discovery sensor's reason for a cell the attempt had not run in (yet): attempt_discovery.py
PLACEHOLDER_REASON = "not run in this stage"


def refresh_under_way(instance: DagsterInstance, key: MultiPartitionKey) -> bool:
    """A run of the partition is queued or under way. A placeholder still queued is not one: requested before the
    attempt started in this stage (make demo: ATTEMPT_2|prod, when dev's ATTEMPT_2 is found 90 s before prod
    starts), it waits at priority -1 behind every ended attempt's first run: counted, it would hold back the live
    migration's refreshes all that time; the discovery of the attempt in its stage cancels it
    (`cancel_queued_placeholders`)."""
    runs = instance.get_runs(filters=RunsFilter(tags={"dagster/partition": str(key)}, statuses=UNFINISHED), limit=10)
    return any(not (r.status == DagsterRunStatus.QUEUED and r.tags.get("cxgm/reason") == PLACEHOLDER_REASON)
               for r in runs)


def cancel_queued_placeholders(instance: DagsterInstance, key: MultiPartitionKey) -> int:
    """Cancels the partition's placeholder runs still queued, once the attempt runs in its stage: run after it
    ended (make demo: ATTEMPT_2|prod, queued before prod started), one re-materialized prod's whole chain after its
    final refresh. Returns how many."""
    runs = instance.get_runs(filters=RunsFilter(tags={"dagster/partition": str(key), "cxgm/reason": PLACEHOLDER_REASON},
                                                statuses=[DagsterRunStatus.QUEUED]))
    for run in runs:
        instance.report_run_canceled(run, message="cxgm: the attempt now runs in this stage; its refreshes replace "
                                                  "this placeholder")
    return len(runs)


def refreshed_since(instance: DagsterInstance, key: MultiPartitionKey, ts: float) -> bool:
    """Whether the partition's latest rollup read its jobs after `ts` (AWS's clock, as the attempt's end is): so
    saw the end. A rollup without that metadata (an older cxgm's): whether its run started after `ts`."""
    from cxgm_pipeline.monitor.chain import OBSERVED_AT

    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=DONE_ASSET, asset_partitions=[str(key)]),
                                              limit=1).records
    if not records:
        return False
    observed = records[0].asset_materialization.metadata.get(OBSERVED_AT)
    if observed is not None:  # AWS's Date has whole seconds: read in the second of the end, it may have seen it
        return float(observed.value) + 1 > ts
    run = instance.get_run_record_by_id(records[0].run_id)
    return run is not None and (run.start_time or 0) > ts


def work_left(instance: DagsterInstance, key: MultiPartitionKey) -> tuple[str | None, int | None]:
    """(what the partition's latest run left for the next, that materialization's id), or (None, None): a run reads
    histories and the portal within a budget, so an attempt is useful at once and filled by the runs after."""
    for asset, count, reason in WORK_LEFT:
        records = instance.fetch_materializations(AssetRecordsFilter(asset_key=asset, asset_partitions=[str(key)]),
                                                  limit=1).records
        value = records[0].asset_materialization.metadata.get(count) if records else None
        if value is not None and int(value.value):
            return reason.format(int(value.value)), records[0].storage_id
    return None, None


def final_name(name: str, redrive_count: int) -> str:
    """The attempt as it ended: `prod:KEY` the first time, `prod:KEY#redrive1` after its first redrive (Step
    Functions' redriveCount), so an ended attempt that a redrive re-opens is refreshed while it runs and once more
    when it ends."""
    return name if not redrive_count else f"{name}#redrive{redrive_count}"


@sensor(job=refresh_attempt_job, minimum_interval_seconds=sensor_seconds(), default_status=DefaultSensorStatus.RUNNING)
def refresh_running_sensor(context: SensorEvaluationContext, sfn: StepFunctionsResource,
                           store: FrameStoreResource) -> SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {"final": [], "last": {}}
    final, last = set(cursor["final"]), dict(cursor["last"])
    known = set(context.instance.get_dynamic_partitions(ATTEMPTS))
    interval, now = refresh_seconds(), time.time()
    runs = []
    for attempt in list_all_attempts(sfn, get_config().stage_names, context.log, store=store):
        name, key = str(attempt.ref), partition_key(attempt.ref)
        # a redriven execution keeps its ARN, so its attempt's key: it ends anew under another name here
        ended_as = final_name(name, attempt.redrive_count)
        # the discovery sensor makes a partition's first run; never two runs of one partition at once
        if attempt.key not in known or not has_runs(context.instance, key) or refresh_under_way(context.instance, key):
            continue
        left, materialization = work_left(context.instance, key)
        if left:  # read on at once, an ended attempt in the history lane: it never holds a running one's slot
            runs.append(RunRequest(run_key=f"read-on:{name}:{materialization}", partition_key=key,
                                   tags={"cxgm/reason": left,
                                         **(HISTORY_RUN_TAGS if attempt.ended else LIVE_RUN_TAGS)}))
            continue
        if ended_as in final:
            continue
        if attempt.ended:
            final.add(ended_as)
            if not refreshed_since(context.instance, key, attempt.stop.timestamp()):
                reason = "final" if not attempt.redrive_count else "final after redrive"
                runs.append(RunRequest(run_key=f"final:{ended_as}", partition_key=key,
                                       tags={"cxgm/reason": reason, **LIVE_RUN_TAGS}))
        elif now - last.get(name, 0) >= interval:
            last[name] = now
            bucket = int(now // interval)  # run keys never clear: a time bucket makes each refresh new
            runs.append(RunRequest(run_key=f"refresh:{name}:{bucket}", partition_key=key,
                                   tags={"cxgm/reason": "refresh", **LIVE_RUN_TAGS}))
    return SensorResult(run_requests=runs, cursor=json.dumps({"final": sorted(final), "last": last}))
