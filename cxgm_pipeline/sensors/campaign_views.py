"""An attempt's campaign view (dataset_rollup's campaign columns, the re-run list) depends on the other attempts of
its campaign: when a re-run's rollup materializes, the first attempt's datasets that the re-run migrated are no
longer to re-run. The sensor reads each new dataset_rollup materialization's campaign metadata and re-builds the
other members' rollups from their stored frames (campaign_view job: no AWS fetch), once per change of the
campaign's outcomes (its fingerprint), never in a loop: a member refreshed this way sees the same fingerprint."""

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
from cxgm_pipeline.monitor.attempt_ref import AttemptRef
from cxgm_pipeline.monitor.campaigns import stale_members
from cxgm_pipeline.partitions import partition_key

ROLLUP = AssetKey("dataset_rollup")
BATCH = 200  # materializations read per tick; the cursor goes on from the last


def _text(metadata: dict, name: str) -> str | None:
    value = metadata.get(name)
    return None if value is None else str(getattr(value, "value", value))


def latest_fingerprint(instance, ref: AttemptRef) -> str | None:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=ROLLUP, asset_partitions=[ref.partition_key]), limit=1).records
    if not records or records[0].asset_materialization is None:
        return None
    return _text(records[0].asset_materialization.metadata, "campaign_fingerprint")


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
        members, fingerprint = _text(meta, "campaign_members"), _text(meta, "campaign_fingerprint")
        if not members or not fingerprint or "," not in members:
            continue  # a campaign of one: nobody else's view changes
        ref = AttemptRef.from_partition_key(materialization.partition)
        for key in stale_members(ref.key, members, fingerprint,
                                 lambda other: latest_fingerprint(context.instance, AttemptRef(ref.stage, other))):
            other = AttemptRef(ref.stage, key)
            if (str(other), fingerprint) in seen:
                continue
            seen.add((str(other), fingerprint))
            runs.append(RunRequest(run_key=f"campaign:{other}:{fingerprint}", partition_key=partition_key(other),
                                   tags={"cxgm/reason": f"campaign view: {ref.label} changed"}))
    return SensorResult(run_requests=runs, cursor=str(after) if after is not None else None)
