"""The `alerts` view (every alert message sent) and the announce_alerts job that sends the digests the alerts
sensor (sensors/migration_alerts.py) decides on, and materializes the view as it does.

A run sends, not the sensor: a sensor preview sends nothing, and a notifier that fails fails a run you can see
and re-execute (Dagster retries it, tag `dagster/max_retries`)."""

from dagster import AssetMaterialization, AssetSpec, Config, MetadataValue, OpExecutionContext, job, op

from cxgm_pipeline.monitor.views.alerts import Alert, alert_markdown, alerts_table_markdown, record_sent
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.resources.notifier import Notifier

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
