"""Where alerts go: the log (default), Slack (dagster-slack), Amazon SNS, or e-mail (SMTP)."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Literal

from dagster import ConfigurableResource
from pydantic import Field

from cxgm_pipeline.monitor.alerts import Alert

log = logging.getLogger("cxgm.alerts")


class Notifier(ConfigurableResource):
    backend: Literal["log", "slack", "sns", "smtp"] = Field(default="log")
    slack_token: str | None = Field(default=None, description="Bot token (use EnvVar('SLACK_TOKEN'))")
    slack_channel: str = Field(default="#cellxgene-migrations")
    sns_topic_arn: str | None = None
    sns_region: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    mail_from: str = "cxgm@localhost"
    mail_to: list[str] = Field(default_factory=list)

    def send(self, alert: Alert) -> None:
        if self.backend == "log":
            log.warning("%s\n%s", alert.subject, alert.body)
        elif self.backend == "slack":
            from dagster_slack import SlackResource

            SlackResource(token=self.slack_token).get_client().chat_postMessage(
                channel=self.slack_channel, text=f"*{alert.subject}*\n```{alert.body}```")
        elif self.backend == "sns":
            import boto3

            boto3.client("sns", region_name=self.sns_region).publish(
                TopicArn=self.sns_topic_arn, Subject=alert.subject[:100], Message=alert.body)
        else:
            message = EmailMessage()
            message["Subject"], message["From"], message["To"] = alert.subject, self.mail_from, ", ".join(self.mail_to)
            message.set_content(alert.body)
            with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=30) as smtp:
                smtp.send_message(message)
