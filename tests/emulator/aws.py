"""boto3 over HTTP against an emulator, as cxgm reads AWS."""

from __future__ import annotations

import boto3
import botocore.config


def endpoint_of(target) -> str:
    """An Emulator, an env dict (AWS_ENDPOINT_URL) or an URL."""
    if isinstance(target, str):
        return target
    if isinstance(target, dict):
        return target["AWS_ENDPOINT_URL"]
    return target.endpoint_url


def client(service: str, target, config: botocore.config.Config | None = None):
    return boto3.client(service, region_name="us-west-2", endpoint_url=endpoint_of(target),
                        aws_access_key_id="testing", aws_secret_access_key="testing", config=config)


def job_ids(batch, queue: str) -> list[str]:
    return [j["jobId"] for page in batch.get_paginator("list_jobs").paginate(
        jobQueue=queue, filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}]) for j in page["jobSummaryList"]]


def all_jobs(target, queue: str) -> list[dict]:
    batch = client("batch", target)
    ids = job_ids(batch, queue)
    return [j for i in range(0, len(ids), 100) for j in batch.describe_jobs(jobs=ids[i : i + 100])["jobs"]]


def env_of(job: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in job["container"]["environment"]}


def state_machine_arns(sfn) -> dict[str, str]:
    return {s["name"]: s["stateMachineArn"] for s in sfn.list_state_machines()["stateMachines"]}


def executions(sfn, **kwargs) -> list[dict]:
    return [e for p in sfn.get_paginator("list_executions").paginate(**kwargs) for e in p["executions"]]


def history(sfn, arn: str) -> list[dict]:
    return [e for p in sfn.get_paginator("get_execution_history").paginate(executionArn=arn) for e in p["events"]]
