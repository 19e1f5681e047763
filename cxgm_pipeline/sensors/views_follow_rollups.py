"""The views over every partition (attempt_states, duration_deltas) follow the rollups: each view records which
rollup it read up to (the newest dataset_rollup materialization when it started: `rollups_storage_id`, which
this sensor compares, and `rollups_as_of`, when that was and of which partition, which a person reads), and this
sensor runs it again whenever a newer rollup exists, once no run of it is under way.

Not an AutomationCondition: `eager` forgets a rollup that lands while the view runs (the view's own update counts
as "handled"), so the aborted attempt's late rollup left the overview stale for as long as nothing else moved.
Comparing what the view read with what exists cannot miss it, and never waits for cells that never run.
"""

from datetime import datetime, timezone

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from cxgm_pipeline.config import sensor_seconds
from cxgm_pipeline.jobs import compare_job, overview_job
from cxgm_pipeline.monitor.chain import Frame

ROLLUP = AssetKey(Frame.dataset_rollup)
# a view's metadata: the event storage id of the newest rollup when it read them (increasing, unlike a
# timestamp two rollups can share), and for a person what that rollup was
AS_OF = "rollups_storage_id"
AS_OF_SHOWN = "rollups_as_of"
VIEW_JOBS = {"attempt_states": overview_job, "duration_deltas": compare_job}
VIEWS = tuple(VIEW_JOBS)
_UNFINISHED = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
               DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def _newest_rollup_record(instance: DagsterInstance):
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=ROLLUP), limit=1).records
    return records[0] if records else None


def newest_rollup(instance: DagsterInstance) -> int:
    """The storage id of the newest dataset_rollup materialization of any partition (0: none yet)."""
    record = _newest_rollup_record(instance)
    return record.storage_id if record is not None else 0


def rollups_read(instance: DagsterInstance) -> dict:
    """A view's metadata of the rollups it is about to read: the newest rollup's storage id (AS_OF, what the
    sensor compares) and, for a person, when it was materialized (UTC) and of which partition (AS_OF_SHOWN)."""
    record = _newest_rollup_record(instance)
    if record is None:
        return {AS_OF_SHOWN: "no dataset_rollup materialized yet", AS_OF: 0}
    at = datetime.fromtimestamp(record.timestamp, timezone.utc)
    partition = record.asset_materialization.partition if record.asset_materialization else None
    return {AS_OF_SHOWN: f"{at:%Y-%m-%d %H:%M:%S} UTC" + (f" (dataset_rollup {partition})" if partition else ""),
            AS_OF: record.storage_id}


def read_as_of(instance: DagsterInstance, view: str) -> int | None:
    """Up to which rollup the view's latest materialization read (None: never materialized; -1: it does not say,
    so any rollup is newer)."""
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey(view)), limit=1).records
    if not records:
        return None
    value = records[0].asset_materialization.metadata.get(AS_OF)
    return int(value.value) if value is not None else -1


@sensor(name="views_follow_rollups", jobs=list(VIEW_JOBS.values()), minimum_interval_seconds=sensor_seconds(),
        default_status=DefaultSensorStatus.RUNNING)
def views_follow_rollups_sensor(context: SensorEvaluationContext) -> SensorResult:
    newest = newest_rollup(context.instance)
    runs = []
    for view, job in VIEW_JOBS.items():
        as_of = read_as_of(context.instance, view)
        if newest and (as_of is None or as_of < newest):
            under_way = context.instance.get_runs(RunsFilter(job_name=job.name, statuses=_UNFINISHED), limit=1)
            if not under_way:  # the run under way read older rollups: the next tick sees it is still behind
                runs.append(RunRequest(run_key=f"{view}:{newest}", job_name=job.name, tags={"cxgm/reason": "rollups"}))
    return SensorResult(run_requests=runs)
