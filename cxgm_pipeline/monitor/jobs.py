"""migration_jobs: every Batch job of an attempt, flattened to one row, secrets left out.

One ListJobs pass over the queue's creation-time window (pages of 1000), then DescribeJobs 100 ids a
call on a bounded pool: ~N/100 calls for N jobs, never one call per job.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from cxgm_pipeline.monitor.redact import redact
from cxgm_pipeline.monitor.frame_rows import row_dicts
from cxgm_pipeline.monitor.attempts import Attempt
from cxgm_pipeline.monitor.aws import BatchApi, FetchStats
from cxgm_pipeline.schemas import MigrationJobs, empty_frame, validate
from cxgm_pipeline.vocabulary import INGESTION_STEPS, step_of

# Environment variables that become columns. Everything else (TASK_TOKEN above all) is dropped.
ENV_COLUMNS = {
    "EXECUTION_ID": "execution_id",
    "MIGRATION_ATTEMPT": "migration_attempt",
    "COLLECTION_ID": "collection_id",
    "COLLECTION_VERSION_ID": "collection_version_id",
    "DATASET_ID": "dataset_id",
    "DATASET_VERSION_ID": "dataset_version_id",
}
_INGESTION = {s.value for s in INGESTION_STEPS}


def _ts(ms: int | None) -> pd.Timestamp | None:
    return pd.Timestamp(ms, unit="ms", tz="UTC") if ms else None


def job_row(job: dict, stage: str, attempt_key: str, now: datetime) -> dict:
    container = job.get("container") or {}
    env = {e["name"]: e.get("value") for e in container.get("environment") or []}
    attempts = job.get("attempts") or []
    started, stopped = _ts(job.get("startedAt")), _ts(job.get("stoppedAt"))
    duration = None
    if started is not None:
        end = stopped if stopped is not None else pd.Timestamp(now)
        duration = max(0.0, (end - started).total_seconds())
    options = (container.get("logConfiguration") or {}).get("options") or {}
    reasons = [a.get("statusReason") for a in attempts if a.get("statusReason")]
    row = {
        "stage": stage,
        "attempt": attempt_key,
        "job_id": job["jobId"],
        "job_name": job["jobName"],
        # production's JobName and STEP_NAME differ ("collection_migration" / "collection_migrate"): one step
        "step": step_of(job["jobName"], env.get("STEP_NAME")) or job["jobName"],
        "status": job["status"],
        "status_reason": redact(job.get("statusReason")),
        "container_reason": redact(container.get("reason")),
        "attempt_reasons": redact(" | ".join(reasons)) if reasons else None,
        "exit_code": container.get("exitCode"),
        "created_at": _ts(job["createdAt"]),
        "started_at": started,
        "stopped_at": stopped,
        "duration_s": duration,
        "attempts": len(attempts),
        "queue": job.get("jobQueue", "").rsplit("/", 1)[-1],
        "log_group": options.get("awslogs-group"),
        "log_stream": container.get("logStreamName"),
    }
    for var, column in ENV_COLUMNS.items():
        row[column] = env.get(var)
    if "MIGRATE" not in env and row["dataset_version_id"] is None and row["dataset_id"]:
        # ingestion jobs of the older machine (sfn/main.tf IN-1/IN-2) carry DATASET_ID / COLLECTION_ID, which hold
        # the VERSION ids the migration passed as `dataset_id` / `collection_id`
        row["dataset_version_id"], row["dataset_id"] = row["dataset_id"], None
        row["collection_version_id"] = row["collection_version_id"] or row["collection_id"]
        row["collection_id"] = None
    return row


def belongs_to(row: dict, attempt: Attempt) -> bool:
    """Migration jobs by EXECUTION_ID (the execution's name, in every production version that sets it);
    ingestion jobs (which carry only DATASET_VERSION_ID) by time window here, and by their new dataset
    version downstream; jobs of the oldest versions (no EXECUTION_ID) by window."""
    if attempt.window_only:
        return True
    if row["execution_id"]:  # the execution's name (`$$.Execution.Name`); some versions passed its ARN
        execution = row["execution_id"]
        return execution in attempt.execution_names or execution in attempt.execution_arns
    if row["migration_attempt"]:
        return row["migration_attempt"] == attempt.tag
    return True


# A refresh lists jobs created since the newest it knew, less this margin (ListJobs is eventually consistent).
RELIST_MARGIN = timedelta(minutes=15)
BATCH_DEFAULT_LOG_GROUP = "/aws/batch/job"
_ENDED = {"SUCCEEDED", "FAILED"}


def fetch_migration_jobs(stage: str, attempt: Attempt | None, batch: BatchApi,
                         stats: FetchStats | None = None, now: datetime | None = None,
                         previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """The jobs of `attempt` in `stage` as a validated MigrationJobs frame (empty when attempt is None).

    `previous`: this partition's last frame. An ended job never changes, so a refresh lists only the jobs
    created since the newest it knew and describes only those and the ones still active."""
    if attempt is None:
        return empty_frame(MigrationJobs)
    given_now = now is not None
    now = now or batch.aws_now(stage)
    cfg = batch.stage_config(stage)
    after, before = attempt.window(now)
    kept: list[dict] = []
    wanted: list[str] = []
    if previous is not None and not previous.empty and (previous["attempt"] == attempt.key).all():
        ended = previous["status"].isin(_ENDED)
        kept = row_dicts(previous[ended])
        wanted = list(previous.loc[~ended, "job_id"])
        after = max(after, previous["created_at"].max().to_pydatetime() - RELIST_MARGIN)
    described = batch.list_and_describe(stage, cfg.queue, int(after.timestamp() * 1000), int(before.timestamp() * 1000),
                                        wanted, stats, skip={r["job_id"] for r in kept})
    observed = now if given_now else batch.aws_now(stage)  # AWS's clock as it answered
    rows = [job_row(j, stage, attempt.key, observed) for j in described]
    rows = [r for r in rows if belongs_to(r, attempt)] + kept
    for r in rows:  # a job definition without awslogs options logs to Batch's default group
        if not r["log_group"]:
            r["log_group"] = BATCH_DEFAULT_LOG_GROUP
    if not rows:
        return empty_frame(MigrationJobs)
    df = pd.DataFrame(rows).sort_values(["created_at", "job_id"])
    return validate(MigrationJobs, df.assign(observed_at=pd.Timestamp(observed)))
