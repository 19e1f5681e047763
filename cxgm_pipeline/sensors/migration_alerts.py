"""Alerts as rollups land: new error signatures, the failure-rate threshold, the finish.

The sensor only decides; an `announce_alerts` run sends (one digest per attempt and tick). So a sensor
preview sends nothing, a notifier that fails fails a run you can see and re-execute (Dagster retries it,
tag `dagster/max_retries`), and the cursor, which holds what was announced, is saved with the request.
Attempts that ended long before the sensor first sees them (a new deployment, a new cursor) are taken as
already announced: no storm of stale alerts. Each message carries links to the attempt's partition in the
Dagster UI (CXGM_UI_URL) and to its report; each one sent is recorded in the `alerts` view (an asset the
announce runs materialize), so the UI lists them too."""

import hashlib
import json
import time
from dataclasses import asdict

import pandas as pd
from dagster import (
    AssetMaterialization,
    AssetSpec,
    Config,
    DefaultSensorStatus,
    MetadataValue,
    OpExecutionContext,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    job,
    op,
    sensor,
)

from cxgm_pipeline.config import digest_seconds, get_config, max_failure_rate, sensor_seconds
from cxgm_pipeline.monitor.report import links
from cxgm_pipeline.monitor.views.answer import attempt_answer
from cxgm_pipeline.monitor.views.alerts import SENT_AT, Alert, alert_markdown, alerts_table_markdown, digest, digest_due, evaluate, progress_due, record_sent, with_links
from cxgm_pipeline.monitor.attempts.listing import list_all_attempts
from cxgm_pipeline.monitor.attempts.outcome import stored_outcome
from cxgm_pipeline.monitor.views.deltas import signature_diff
from cxgm_pipeline.monitor.views.progress import rehearsal_of, stored_progress
from cxgm_pipeline.monitor.frames.rerun_manifest import rerun_manifest
from cxgm_pipeline.partitions import partition_key
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.resources.notifier import Notifier
from cxgm_pipeline.schemas import RerunManifest, empty_frame
from cxgm_pipeline.sensors.refresh_running import refreshed_since

STALE_AFTER_S = 24 * 3600  # an attempt that ended longer ago than this, first seen now, is history, not news
RETRIES = "3"


class AlertMessage(Config):
    """One digest to send, and the attempt it is about."""

    stage: str
    attempt: str
    kind: str
    key: str
    subject: str
    body: str
    partition_url: str
    report_url: str


class AnnounceConfig(Config):
    alerts: list[AlertMessage]


ALERTS = "alerts"
ALERTS_VIEW = AssetSpec(
    ALERTS, group_name="reports", kinds={"pandas"},
    description="Every alert message sent (kind, stage, attempt, text, time) with links to the attempt's partition "
                "and report; recorded by the announce_alerts runs that send them.")


@op
def announce(context: OpExecutionContext, config: AnnounceConfig, notifier: Notifier, store: FrameStoreResource) -> None:
    """Sends the digests the alerts sensor decided on, then records them in the `alerts` view."""
    sent = []
    for message in config.alerts:
        notifier.send(Alert(message.kind, message.key, message.subject, message.body))
        context.log.info(f"sent: {message.subject}")
        sent.append(message.model_dump())
    frame = record_sent(store.read(ALERTS) if store.exists(ALERTS) else None, sent)
    store.write(frame, ALERTS)
    latest = frame.iloc[-1]
    context.log_event(AssetMaterialization(ALERTS_VIEW.key, metadata={
        # the latest digest with its body, inline (the UI hides Markdown of 1,000 characters or more)
        "latest": MetadataValue.md(alert_markdown(latest.subject, latest.body, latest.sent_at, {
            "the partition in Dagster": latest.partition_url, "report": latest.report_url})),
        "alerts": MetadataValue.md(alerts_table_markdown(frame)),
        "sent": len(frame),
        "sent_in_this_run": len(sent),
    }))


@job(tags={"dagster/max_retries": RETRIES})
def announce_alerts():
    announce()


def _rerun(store: FrameStoreResource, attempt) -> pd.DataFrame:
    """The stored re-run list (what the report and rerun.csv show), built from the rollup if not stored yet."""
    if store.exists("rerun_manifest", attempt.stage, attempt.key):
        return store.read("rerun_manifest", attempt.stage, attempt.key)
    return rerun_manifest(store.read("dataset_rollup", attempt.stage, attempt.key), attempt.ended)


@sensor(jobs=[announce_alerts], minimum_interval_seconds=sensor_seconds(), default_status=DefaultSensorStatus.RUNNING)
def migration_alerts_sensor(context: SensorEvaluationContext, sfn: StepFunctionsResource, store: FrameStoreResource):
    announced: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
    sent_at: dict[str, float] = announced.pop(SENT_AT, {})  # attempt -> its last digest (wall clock, epoch s)
    now, interval = wall_clock(), digest_seconds()
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
        # ended a day before, by AWS's clock (the local one may be hours off, or, against the emulator, days)
        stale = name not in announced and attempt.ended and \
            (sfn.aws_now(attempt.stage) - attempt.stop).total_seconds() > STALE_AFTER_S
        seen = set(announced.get(name, []))
        closing = finished and "finished" not in seen
        # the progress goes in the "finished" alert and in the day's progress alert only
        wanted = closing or (not attempt.ended and progress_due(datasets, seen))
        progress = stored_progress(attempt, store, attempts, rollup=datasets) if wanted else None
        causes = None
        if closing and (rehearsal := rehearsal_of(attempt, attempts, store, "error_signatures")) is not None:
            causes = signature_diff(str(rehearsal.ref), store.read("error_signatures", rehearsal.stage, rehearsal.key),
                                    name, signatures)
        # the re-run list is in the "finished" alert only: read on every tick, it was a parquet read per attempt
        rerun = _rerun(store, attempt) if closing else empty_frame(RerunManifest)
        portal = (store.read("portal_state", attempt.stage, attempt.key)
                  if closing and store.exists("portal_state", attempt.stage, attempt.key) else None)
        outcome = stored_outcome(attempt, store) if closing else None
        answer = None
        if wanted:
            # its jobs say why it has no dataset, and when they were read: the moment every page names
            jobs = store.read("enriched_jobs", attempt.stage, attempt.key) \
                if store.exists("enriched_jobs", attempt.stage, attempt.key) else None
            answer, _ = attempt_answer(attempt, datasets, jobs, progress)
        new = evaluate(attempt.stage, attempt.key, datasets, signatures, rerun, finished, threshold, seen, progress,
                       causes=causes, portal=portal, outcome=outcome, answer=answer)
        if new and not stale and not digest_due(new, sent_at.get(name), now, interval):
            continue  # held, unannounced: one digest per interval, with whatever is new by then
        announced[name] = sorted(seen | {a.key for a in new})
        if new and not stale:
            sent_at[name] = now
            where = {"partition_url": links.partition_page(attempt.ref),
                     "report_url": links.report_file(attempt.ref) or str(store.report_dir(attempt.stage, attempt.key) / "index.html")}
            message = with_links(digest(attempt.ref.label, new), {"Dagster": where["partition_url"], "Report": where["report_url"]})
            run_key = "alerts:" + hashlib.sha1(f"{name}|{message.key}".encode()).hexdigest()[:16]
            fields = {k: v for k, v in asdict(message).items() if k != "category"}
            config = {"stage": attempt.stage, "attempt": attempt.key, **fields, **where}
            requests.append(RunRequest(run_key=run_key, job_name=announce_alerts.name, tags={"cxgm/attempt": name},
                                       run_config={"ops": {"announce": {"config": {"alerts": [config]}}}}))
    cursor = json.dumps({**announced, SENT_AT: sent_at})
    if not requests:
        return SensorResult(skip_reason=SkipReason("nothing new to announce"), cursor=cursor)
    return SensorResult(run_requests=requests, cursor=cursor)


def wall_clock() -> float:
    """This machine's time: digests are paced for the people reading them, not by AWS's clock."""
    return time.time()
