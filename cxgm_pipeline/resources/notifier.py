"""Where alerts go: the log (default), Slack (dagster-slack), Amazon SNS, or e-mail (SMTP).

`notifier_from_env` builds it from the variables docs/production.md lists."""

from __future__ import annotations

import logging
import os
import smtplib
from email.message import EmailMessage
from typing import Literal

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from cxgm_pipeline.config import env_number
from cxgm_pipeline.monitor.views.alerts import Alert

log = logging.getLogger("cxgm.alerts")
SLACK_API_URL = "https://slack.com/api/"  # slack_sdk's default; GovSlack and tests point elsewhere


class Notifier(ConfigurableResource):
    backend: Literal["log", "slack", "sns", "smtp"] = Field(default="log")
    slack_token: str | None = Field(default=None, description="Bot token (use EnvVar('SLACK_TOKEN'))")
    slack_channel: str = Field(default="#cellxgene-migrations")
    slack_api_url: str = Field(default=SLACK_API_URL, description="Slack Web API base URL")
    sns_topic_arn: str | None = None
    sns_region: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = Field(default=None, description="Log in when set (with smtp_password)")
    smtp_password: str | None = Field(default=None, description="Use EnvVar('CXGM_SMTP_PASSWORD')")
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS before logging in")
    mail_from: str = "cxgm@localhost"
    mail_to: list[str] = Field(default_factory=list)

    def send(self, alert: Alert) -> None:
        if self.backend == "log":
            log.warning("%s\n%s", alert.subject, alert.body)
        elif self.backend == "slack":
            self._slack(alert)
        elif self.backend == "sns":
            import boto3

            boto3.client("sns", region_name=self.sns_region).publish(
                TopicArn=self.sns_topic_arn, Subject=sns_subject(alert.subject), Message=alert.body)
        else:
            self._smtp(alert)

    def _slack(self, alert: Alert) -> None:
        """chat.postMessage through dagster-slack's client; a refused post (ok: false) raises SlackApiError, so
        the announce run fails and Dagster retries it."""
        from dagster_slack import SlackResource

        client = SlackResource(token=self.slack_token).get_client()
        client.base_url = self.slack_api_url
        client.chat_postMessage(channel=self.slack_channel, text=f"*{alert.subject}*\n```{alert.body}```")

    def _smtp(self, alert: Alert) -> None:
        if not self.mail_to:
            raise ValueError("the smtp notifier has no recipient: set CXGM_MAIL_TO (comma-separated addresses)")
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = alert.subject, self.mail_from, ", ".join(self.mail_to)
        message.set_content(alert.body)
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=30) as smtp:
            if self.smtp_starttls:
                smtp.starttls()
            if self.smtp_user:
                smtp.login(self.smtp_user, self.smtp_password or "")
            smtp.send_message(message)


def notifier_from_env() -> Notifier:
    """CXGM_NOTIFY=log (default) | slack (SLACK_TOKEN, CXGM_SLACK_CHANNEL, CXGM_SLACK_API_URL) | sns
    (CXGM_SNS_TOPIC_ARN) | smtp (CXGM_SMTP_HOST, CXGM_SMTP_PORT, CXGM_MAIL_FROM, CXGM_MAIL_TO comma-separated,
    CXGM_SMTP_USER + CXGM_SMTP_PASSWORD to log in, CXGM_SMTP_STARTTLS=1)."""
    env = os.environ.get
    backend = env("CXGM_NOTIFY", "log")
    if backend == "slack":
        return Notifier(backend="slack", slack_token=EnvVar("SLACK_TOKEN"),
                        slack_channel=env("CXGM_SLACK_CHANNEL", "#cellxgene-migrations"),
                        slack_api_url=env("CXGM_SLACK_API_URL", SLACK_API_URL))
    if backend == "sns":
        return Notifier(backend="sns", sns_topic_arn=EnvVar("CXGM_SNS_TOPIC_ARN"))
    if backend == "smtp":
        port = env_number("CXGM_SMTP_PORT", 25, "a port number, e.g. 587", 1, 65535, integer=True)
        login = {"smtp_user": env("CXGM_SMTP_USER"), "smtp_password": EnvVar("CXGM_SMTP_PASSWORD")} \
            if env("CXGM_SMTP_USER") else {}
        return Notifier(backend="smtp", smtp_host=env("CXGM_SMTP_HOST", "localhost"), smtp_port=int(port),
                        mail_from=env("CXGM_MAIL_FROM", "cxgm@localhost"),
                        mail_to=[a.strip() for a in env("CXGM_MAIL_TO", "").split(",") if a.strip()],
                        smtp_starttls=env("CXGM_SMTP_STARTTLS", "") in ("1", "true", "yes"), **login)
    if backend != "log":
        raise ValueError(f"CXGM_NOTIFY={backend!r}: expected log, slack, sns or smtp")
    return Notifier()


SNS_SUBJECT_LIMIT = 100  # characters
_ASCII_FOR = str.maketrans({"…": "...", "→": "->", "·": "-", "–": "-", "—": "-", "\u200b": ""})


def sns_subject(subject: str) -> str:
    """The subject SNS's Publish takes: ASCII on one line, at most 100 characters (its documented constraints),
    cut with "..." so that a reader sees it was cut (the body has it whole)."""
    import unicodedata

    text = " ".join(subject.translate(_ASCII_FOR).split())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return text if len(text) <= SNS_SUBJECT_LIMIT else text[: SNS_SUBJECT_LIMIT - 3] + "..."
