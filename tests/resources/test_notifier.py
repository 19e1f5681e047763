"""The notifier over real protocols: SMTP to a local aiosmtpd server, Slack's Web API to a local HTTP server
that checks the request Slack would get, Amazon SNS to the emulator (which speaks SNS and SQS). SMTP and Slack are
configured from the environment, as in production."""

from __future__ import annotations

import json
import threading
import urllib.parse
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from cxgm_pipeline.monitor.views.alerts import Alert
from cxgm_pipeline.resources.notifier import Notifier, notifier_from_env
from tests.conftest import free_port

ALERT = Alert("finished", "finished", "[cxgm] prod/ATTEMPT_2 finished: 3 failed",
              "Datasets: failed 3, succeeded 57\n\nTo re-run (3):\n  d-17  collection c-3  cxg  out_of_memory")


def configured(monkeypatch, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return notifier_from_env().process_config_and_initialize()  # resolves the EnvVars, as a run does


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Inbox:
        def __init__(self):
            self.messages, self.logins = [], []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  message_from_bytes(envelope.content, policy=default_policy)))
            return "250 OK"

    inbox = Inbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        inbox.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret")

    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    yield controller.port, inbox
    controller.stop()


@pytest.mark.account  # a server of its own
def test_smtp_delivers_the_alert(smtp_server, monkeypatch):
    port, inbox = smtp_server
    notifier = configured(monkeypatch, CXGM_NOTIFY="smtp", CXGM_SMTP_HOST="127.0.0.1", CXGM_SMTP_PORT=str(port),
                          CXGM_MAIL_FROM="cxgm@example.org", CXGM_MAIL_TO="oncall@example.org, curators@example.org",
                          CXGM_SMTP_USER="cxgm", CXGM_SMTP_PASSWORD="s3cret")
    notifier.send(ALERT)
    assert inbox.logins == [("cxgm", "s3cret")]
    [(sender, recipients, message)] = inbox.messages
    assert sender == "cxgm@example.org" and recipients == ["oncall@example.org", "curators@example.org"]
    assert message["Subject"] == "[cxgm] prod/ATTEMPT_2 finished: 3 failed"
    assert message.get_content().replace("\r\n", "\n").strip() == ALERT.body  # SMTP sends CRLF lines


def test_smtp_without_recipients_says_which_variable(monkeypatch):
    monkeypatch.delenv("CXGM_MAIL_TO", raising=False)
    with pytest.raises(ValueError, match="set CXGM_MAIL_TO"):
        configured(monkeypatch, CXGM_NOTIFY="smtp").send(ALERT)


@pytest.fixture
def slack_stub():
    """Answers chat.postMessage as Slack's Web API does (https://api.slack.com/methods/chat.postMessage), and
    keeps what it was sent."""
    received: list[dict] = []

    class SlackApi(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
            fields = dict(urllib.parse.parse_qsl(body)) if form else json.loads(body or "{}")
            received.append({"path": self.path, "auth": self.headers.get("Authorization"), "fields": fields})
            ok = self.path == "/api/chat.postMessage" and self.headers.get("Authorization") == "Bearer xoxb-test"
            answer = {"ok": True, "channel": "C123", "ts": "1700000000.000100"} if ok else \
                {"ok": False, "error": "invalid_auth"}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlackApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/", received
    server.shutdown()
    server.server_close()


@pytest.mark.account  # a server of its own
def test_slack_posts_the_alert_to_the_channel(slack_stub, monkeypatch):
    url, received = slack_stub
    configured(monkeypatch, CXGM_NOTIFY="slack", SLACK_TOKEN="xoxb-test", CXGM_SLACK_CHANNEL="#cxgm-test",
               CXGM_SLACK_API_URL=url).send(ALERT)
    [request] = received
    assert request["path"] == "/api/chat.postMessage" and request["auth"] == "Bearer xoxb-test"
    assert request["fields"]["channel"] == "#cxgm-test"
    assert request["fields"]["text"] == f"*{ALERT.subject}*\n```{ALERT.body}```"


@pytest.mark.account  # a server of its own
def test_slack_refusal_fails_the_send(slack_stub, monkeypatch):
    from slack_sdk.errors import SlackApiError

    url, received = slack_stub
    notifier = configured(monkeypatch, CXGM_NOTIFY="slack", SLACK_TOKEN="xoxb-revoked", CXGM_SLACK_API_URL=url)
    with pytest.raises(SlackApiError, match="invalid_auth"):
        notifier.send(ALERT)
    assert len(received) == 1


def test_sns_backend_publishes(emulator):
    sns, sqs = boto3.client("sns", region_name="us-west-2"), boto3.client("sqs", region_name="us-west-2")
    topic = sns.create_topic(Name="cxgm-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="cxgm-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    Notifier(backend="sns", sns_topic_arn=topic, sns_region="us-west-2").send(
        Alert("finished", "finished", "[cxgm] prod/ATTEMPT_2 finished: 3 failed", "To re-run (3): ..."))
    message = json.loads(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"][0]["Body"])
    assert message["Subject"] == "[cxgm] prod/ATTEMPT_2 finished: 3 failed"
    # SNS takes an ASCII subject of at most 100 characters: a longer one arrives cut, and says so
    long = "[cxgm] prod/ATTEMPT_2: 1,954 of 1,962 ended · 111 failed → 554 still on the old schema in the portal…"
    Notifier(backend="sns", sns_topic_arn=topic, sns_region="us-west-2").send(Alert("finished", "finished", long, "b"))
    message = json.loads(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"][0]["Body"])
    assert message["Subject"] == ("[cxgm] prod/ATTEMPT_2: 1,954 of 1,962 ended - 111 failed -> 554 still on the old "
                                  "schema in the po..."), message["Subject"]
    assert len(message["Subject"]) == 100 and message["Subject"].isascii()
