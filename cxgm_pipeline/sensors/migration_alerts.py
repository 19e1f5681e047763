"""Alerts as rollups land: new error signatures, the failure-rate threshold, the finish.

The sensor holds the cursor (what was announced, and when each attempt's last digest went) and requests an
`announce_alerts` run (assets/alerts.py) per digest; which alerts an attempt deserves, whether they go now or
wait for the next digest, and whether an attempt is history are monitor/views/alerts.py's decisions. The cursor is
saved with the requests. Each message carries links to the attempt's partition in the Dagster UI (CXGM_UI_URL)
and to its report."""

import hashlib
import json
import time

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from cxgm_pipeline.assets.alerts import announce_alerts
from cxgm_pipeline.config import digest_seconds, get_config, max_failure_rate, sensor_seconds
from cxgm_pipeline.monitor.attempts.listing import list_all_attempts
from cxgm_pipeline.monitor.report import links
from cxgm_pipeline.monitor.views.alerts import (
    HISTORY,
    SENT_AT,
    alert_frames_stored,
    attempt_digest,
    disposition,
    is_history,
    stored_alerts,
)
from cxgm_pipeline.partitions import partition_key
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.sensors.refresh_running import refreshed_since, work_left


@sensor(jobs=[announce_alerts], minimum_interval_seconds=sensor_seconds(), default_status=DefaultSensorStatus.RUNNING)
def migration_alerts_sensor(context: SensorEvaluationContext, sfn: StepFunctionsResource, store: FrameStoreResource):
    announced: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
    sent_at: dict[str, float] = announced.pop(SENT_AT, {})  # attempt -> its last digest (wall clock, epoch s)
    past: set[str] = set(announced.pop(HISTORY, []))  # attempts that were history when first seen
    now, interval = wall_clock(), digest_seconds()
    threshold = max_failure_rate()
    requests = []
    attempts = list_all_attempts(sfn, get_config().stage_names, context.log, store=store)
    for attempt in attempts:
        if not alert_frames_stored(attempt, store):
            continue
        name = str(attempt.ref)
        key = partition_key(attempt.ref)
        # its final numbers: a rollup that saw the end, and nothing left for the next run (the portal read within a
        # budget per run: the finished alert said 557 on the old schema and 111 to re-run, the page then 554 and 119)
        finished = attempt.ended and refreshed_since(context.instance, key, attempt.stop.timestamp()) \
            and work_left(context.instance, key)[0] is None
        # history when first seen, it stays history while it stays ended: its first run reads its histories over
        # several runs, and its finished alert, due at the last, was sent as news of an attempt 9 days old
        history = (name in past and attempt.ended) or \
            is_history(attempt, name not in announced, lambda stage=attempt.stage: sfn.aws_now(stage))
        if history:
            past.add(name)
        else:  # a redrive re-opens it: its news is news again
            past.discard(name)
        seen = set(announced.get(name, []))
        new = stored_alerts(attempt, attempts, store, seen, finished, threshold)
        step = disposition(new, history, sent_at.get(name), now, interval)
        if step == "hold":
            continue
        announced[name] = sorted(seen | {a.key for a in new})
        if step == "send":
            sent_at[name] = now
            where = {"partition_url": links.partition_page(attempt.ref),
                     "report_url": links.report_file(attempt.ref) or str(store.report_dir(attempt.stage, attempt.key) / "index.html")}
            message = attempt_digest(attempt.ref.label, new, **where)
            run_key = "alerts:" + hashlib.sha1(f"{name}|{message.key}".encode()).hexdigest()[:16]
            config = {"stage": attempt.stage, "attempt": attempt.key, **message.message(), **where}
            requests.append(RunRequest(run_key=run_key, job_name=announce_alerts.name, tags={"cxgm/attempt": name},
                                       run_config={"ops": {"announce": {"config": {"alerts": [config]}}}}))
    cursor = json.dumps({**announced, SENT_AT: sent_at, HISTORY: sorted(past)})
    if not requests:
        return SensorResult(skip_reason=SkipReason("nothing new to announce"), cursor=cursor)
    return SensorResult(run_requests=requests, cursor=cursor)


def wall_clock() -> float:
    """This machine's time: digests are paced for the people reading them, not by AWS's clock."""
    return time.time()
