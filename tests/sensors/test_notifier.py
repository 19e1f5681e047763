"""Alerts reach Amazon SNS (the emulator speaks SNS and SQS) and the log; evaluation is deduplicated."""

import json

import boto3
import pandas as pd

from cxgm_pipeline.monitor.views.alerts import Alert, evaluate
from cxgm_pipeline.resources.notifier import Notifier


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


def test_evaluate_announces_each_thing_once():
    datasets = pd.DataFrame({"dataset_id": ["a", "b", "c"], "state": ["failed", "succeeded", "running"]})
    signatures = pd.DataFrame({"error_signature": ["timeout: x"], "error_category": ["timeout"], "step": ["cxg"], "jobs": [1]})
    rerun = pd.DataFrame({"dataset_id": ["a"], "collection_id": ["c1"], "failing_step": ["cxg"], "error_category": ["timeout"]})
    first = evaluate("prod", "A", datasets, signatures, rerun, finished=False, threshold=0.1, announced=set())
    assert [a.kind for a in first] == ["new_signature", "failure_rate"]
    seen = {a.key for a in first}
    assert evaluate("prod", "A", datasets, signatures, rerun, False, 0.1, seen) == []
    done = evaluate("prod", "A", datasets, signatures, rerun, True, 0.1, seen)
    assert [a.kind for a in done] == ["finished"] and "a  collection c1  cxg  timeout" in done[0].body


def test_the_finished_alert_says_a_succeeded_execution_failed_as_an_attempt():
    datasets = pd.DataFrame({"dataset_id": ["a", "b"], "state": ["succeeded", "succeeded"]})
    empty = pd.DataFrame(columns=["error_signature", "error_category", "step", "jobs"])
    rerun = pd.DataFrame(columns=["dataset_id", "collection_id", "failing_step", "error_category"])
    [done] = evaluate("prod", "A", datasets, empty, rerun, True, 0.1, set(), outcome="tolerance_exceeded")
    assert done.subject == "[cxgm] prod/A finished: 0 failed (tolerance exceeded)"
    assert done.body.startswith("Outcome: tolerance_exceeded")
    [plain] = evaluate("prod", "A", datasets, empty, rerun, True, 0.1, set(), outcome="succeeded")
    assert plain.subject == "[cxgm] prod/A finished: 0 failed"
