"""Alerts as rollups land: new error signatures, the failure-rate threshold, the finish.

The sensor only decides; an `announce_alerts` run sends (one digest per attempt and tick). So a sensor
preview sends nothing, a notifier that fails fails a run you can see and re-execute (Dagster retries it,
tag `dagster/max_retries`), and the cursor, which holds what was announced, is saved with the request.
Attempts that ended long before the sensor first sees them (a new deployment, a new cursor) are taken as
already announced: no storm of stale alerts."""

import hashlib
import json
import time
from dataclasses import asdict

from dagster import Config, DefaultSensorStatus, OpExecutionContext, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, job, op, sensor

from cxgm_pipeline.config import get_config, max_failure_rate, sensor_seconds
from cxgm_pipeline.monitor.alerts import Alert, digest, evaluate
from cxgm_pipeline.monitor.attempts import list_all_attempts
from cxgm_pipeline.monitor.deltas import stored_signature_diff
from cxgm_pipeline.monitor.progress import rehearsal_of, stored_progress
from cxgm_pipeline.monitor.rerun import rerun_manifest
from cxgm_pipeline.partitions import partition_key
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.resources.notifier import Notifier
from cxgm_pipeline.sensors.refresh_running import refreshed_since

STALE_AFTER_S = 24 * 3600  # an attempt that ended longer ago than this, first seen now, is history, not news
RETRIES = "3"


class AnnounceConfig(Config):
    alerts: list[dict]  # Alert fields: kind, key, subject, body


@op
def announce(context: OpExecutionContext, config: AnnounceConfig, notifier: Notifier) -> None:
    """Sends the digests the alerts sensor decided on."""
    for fields in config.alerts:
        notifier.send(Alert(**fields))
        context.log.info(f"sent: {fields['subject']}")


@job(tags={"dagster/max_retries": RETRIES})
def announce_alerts():
    announce()


@sensor(jobs=[announce_alerts], minimum_interval_seconds=sensor_seconds(), default_status=DefaultSensorStatus.RUNNING)
def migration_alerts_sensor(context: SensorEvaluationContext, sfn: StepFunctionsResource, store: FrameStoreResource):
    announced: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
    threshold = max_failure_rate()
    requests = []
    attempts = list_all_attempts(sfn, get_config().stage_names, context.log)
    for attempt in attempts:
        if not (store.exists("dataset_rollup", attempt.stage, attempt.key)
                and store.exists("error_signatures", attempt.stage, attempt.key)):
            continue
        name = str(attempt.ref)
        datasets = store.read("dataset_rollup", attempt.stage, attempt.key)
        signatures = store.read("error_signatures", attempt.stage, attempt.key)
        finished = attempt.ended and refreshed_since(context.instance, partition_key(attempt.ref), attempt.stop.timestamp())
        stale = name not in announced and attempt.ended and time.time() - attempt.stop.timestamp() > STALE_AFTER_S
        seen = set(announced.get(name, []))
        closing = finished and "finished" not in seen
        progress = stored_progress(attempt, store, attempts, rollup=datasets) if closing or not attempt.ended else None
        causes = None
        if closing and (rehearsal := rehearsal_of(attempt, attempts, store, "error_signatures")) is not None:
            causes = stored_signature_diff(str(rehearsal.ref), str(attempt.ref), store)
        new = evaluate(attempt.stage, attempt.key, datasets, signatures, rerun_manifest(datasets, attempt.ended),
                       finished, threshold, seen, progress, causes)
        announced[name] = sorted(seen | {a.key for a in new})
        if new and not stale:
            message = digest(attempt.ref.label, new)
            run_key = "alerts:" + hashlib.sha1(f"{name}|{message.key}".encode()).hexdigest()[:16]
            requests.append(RunRequest(run_key=run_key, job_name=announce_alerts.name, tags={"cxgm/attempt": name},
                                       run_config={"ops": {"announce": {"config": {"alerts": [asdict(message)]}}}}))
    if not requests:
        return SensorResult(skip_reason=SkipReason("nothing new to announce"), cursor=json.dumps(announced))
    return SensorResult(run_requests=requests, cursor=json.dumps(announced))
