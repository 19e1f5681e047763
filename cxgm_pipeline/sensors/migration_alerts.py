"""Sends alerts (via the Notifier) as rollups land: new error signatures, failure-rate threshold, finish.
Each alert is sent once per attempt: the announced keys live in the cursor, saved even when a send fails
half-way. Attempts that ended long before the sensor first sees them (a new deployment, a new cursor) are
taken as already announced: no storm of stale alerts."""

import json
import time

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from cxgm_pipeline.config import get_config, max_failure_rate
from cxgm_pipeline.monitor.alerts import evaluate
from cxgm_pipeline.monitor.attempts import list_all_attempts
from cxgm_pipeline.monitor.rerun import rerun_manifest
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.resources.notifier import Notifier
from cxgm_pipeline.partitions import partition_key
from cxgm_pipeline.sensors.refresh_running import refreshed_since


STALE_AFTER_S = 24 * 3600  # an attempt that ended longer ago than this, first seen now, is history, not news


@sensor(minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def migration_alerts_sensor(context: SensorEvaluationContext, sfn: StepFunctionsResource, store: FrameStoreResource,
                            notifier: Notifier):
    announced: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
    threshold = max_failure_rate()
    sent = 0
    for attempt in list_all_attempts(sfn, get_config().stage_names, context.log):
        if not (store.exists("dataset_rollup", attempt.stage, attempt.key)
                and store.exists("error_signatures", attempt.stage, attempt.key)):
            continue
        name = str(attempt.ref)
        datasets = store.read("dataset_rollup", attempt.stage, attempt.key)
        signatures = store.read("error_signatures", attempt.stage, attempt.key)
        finished = attempt.ended and refreshed_since(context.instance, partition_key(attempt.ref), attempt.stop.timestamp())
        stale = name not in announced and attempt.ended and time.time() - attempt.stop.timestamp() > STALE_AFTER_S
        seen = set(announced.get(name, []))
        for alert in evaluate(attempt.stage, attempt.key, datasets, signatures,
                              rerun_manifest(datasets, attempt.ended), finished, threshold, seen):
            if not stale:
                try:
                    notifier.send(alert)
                except Exception:
                    announced[name] = sorted(seen)  # what went out stays announced; the rest is retried next tick
                    context.update_cursor(json.dumps(announced))
                    raise
                sent += 1
            seen.add(alert.key)
        announced[name] = sorted(seen)
    context.update_cursor(json.dumps(announced))
    if not sent:
        return SkipReason("nothing new to announce")
    context.log.info(f"sent {sent} alert(s)")
