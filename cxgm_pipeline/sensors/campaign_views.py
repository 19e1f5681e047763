"""An attempt's campaign view (dataset_rollup's campaign columns, the re-run list) depends on the other attempts of
its campaign: when a re-run's rollup materializes, the first attempt's datasets that the re-run migrated are no
longer to re-run. The sensor reads each new dataset_rollup materialization's campaign metadata (the attempts its view
depends on, those not materialized then, a fingerprint of their outcomes) and re-builds the stale views from their
stored frames (campaign_view job: no AWS fetch; monitor/campaigns.views_to_refresh decides which): once per change,
never in a loop, since a view re-built this way sees the same fingerprint."""

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from cxgm_pipeline.config import sensor_seconds
from cxgm_pipeline.jobs import campaign_view_job
from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.attempts.campaigns import views_to_refresh
from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.partitions import partition_key

ROLLUP = AssetKey(Frame.dataset_rollup)
BATCH = 200  # materializations read per tick; the cursor goes on from the last


def _text(metadata: dict, name: str) -> str | None:
    value = metadata.get(name)
    return None if value is None else str(getattr(value, "value", value))


def latest(instance, ref: AttemptRef) -> tuple[int | None, str | None]:
    """(storage id, campaign fingerprint) of the partition's latest rollup; (None, None) before its first."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=ROLLUP, asset_partitions=[ref.partition_key]), limit=1).records
    if not records or records[0].asset_materialization is None:
        return None, None
    return records[0].storage_id, _text(records[0].asset_materialization.metadata, "campaign_fingerprint")


@sensor(job=campaign_view_job, minimum_interval_seconds=sensor_seconds(), default_status=DefaultSensorStatus.RUNNING)
def campaign_views_sensor(context: SensorEvaluationContext) -> SensorResult:
    after = int(context.cursor) if context.cursor else None
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=ROLLUP, after_storage_id=after), limit=BATCH, ascending=True).records
    runs, seen = [], set()
    for record in records:
        after = record.storage_id
        materialization = record.asset_materialization
        if materialization is None or not materialization.partition:
            continue
        meta = materialization.metadata
        neighbours, fingerprint = _text(meta, "campaign_neighbours"), _text(meta, "campaign_fingerprint")
        if not neighbours or not fingerprint or "," not in neighbours:
            continue  # nothing else to read: nobody's view changes
        ref = AttemptRef.from_partition_key(materialization.partition)
        if latest(context.instance, ref)[0] != record.storage_id:
            continue  # superseded by a later rollup of the same partition, read in its turn
        stale = views_to_refresh(ref.key, neighbours, _text(meta, "campaign_missing") or "", fingerprint,
                                 lambda other, stage=ref.stage: latest(context.instance, AttemptRef(stage, other))[1])
        for key in stale:
            other = AttemptRef(ref.stage, key)
            if str(other) in seen:
                continue
            seen.add(str(other))
            runs.append(RunRequest(run_key=f"campaign:{other}:{fingerprint}:{record.storage_id}",
                                   partition_key=partition_key(other),
                                   tags={"cxgm/reason": f"campaign view: {ref.label} changed"}))
    return SensorResult(run_requests=runs, cursor=str(after) if after is not None else None)
