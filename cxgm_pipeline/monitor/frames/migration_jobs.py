"""migration_jobs: every Batch job of an attempt, flattened to one row, secrets left out.

One ListJobs pass over the queue's creation-time window (pages of 1000), then DescribeJobs 100 ids a
call on a bounded pool: ~N/100 calls for N jobs, never one call per job. A refresh keeps the ended jobs and
describes only the new ones and those whose ListJobs summary (status, start) changed.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from cxgm_pipeline.monitor.frames.columns_epoch import epoch_to_utc
from cxgm_pipeline.monitor.aws.redaction import redact
from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.aws.clients import RELIST_MARGIN, BatchApi, FetchStats
from cxgm_pipeline.schemas import MigrationJobs, empty_frame, validate
from cxgm_pipeline.vocabulary import Step, step_of

# Environment variables that become columns. Everything else (TASK_TOKEN above all) is dropped.
ENV_COLUMNS = {
    "EXECUTION_ID": "execution_id",
    "MIGRATION_ATTEMPT": "migration_attempt",
    "COLLECTION_ID": "collection_id",
    "COLLECTION_VERSION_ID": "collection_version_id",
    "DATASET_ID": "dataset_id",
    "DATASET_VERSION_ID": "dataset_version_id",
}
_KNOWN_STEPS = {s.value for s in Step}
BATCH_DEFAULT_LOG_GROUP = "/aws/batch/job"  # where a job definition without awslogs options logs


_TIMES = ("created_at", "started_at", "stopped_at")  # epoch ms in a row, UTC timestamps in the frame


def job_row(job: dict, stage: str, attempt_key: str) -> dict:
    """One job's row, times as AWS's epoch ms: `rows_frame` converts them a column at a time (a Timestamp per
    cell was a tenth of a first fetch) and times the running jobs to AWS's clock."""
    container = job.get("container") or {}
    env = {e["name"]: e.get("value") for e in container.get("environment") or []}
    attempts = job.get("attempts") or []
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
        "created_at": job["createdAt"],
        "started_at": job.get("startedAt") or None,
        "stopped_at": job.get("stoppedAt") or None,
        "attempts": len(attempts),
        "queue": job.get("jobQueue", "").rsplit("/", 1)[-1],
        "log_group": options.get("awslogs-group") or BATCH_DEFAULT_LOG_GROUP,
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


# job_row's keys, in its order: the order of the frame's columns
ROW_COLUMNS = ("stage", "attempt", "job_id", "job_name", "step", "status", "status_reason", "container_reason",
               "attempt_reasons", "exit_code", "created_at", "started_at", "stopped_at", "attempts", "queue",
               "log_group", "log_stream", *ENV_COLUMNS.values())
_JOB_ID = ROW_COLUMNS.index("job_id")
# the cells that repeat from job to job (a job's step, status, queue, its dataset's and collection's ids)
_SHARED_AT = tuple(i for i, c in enumerate(ROW_COLUMNS) if c not in ("job_id", "log_stream"))


def job_record(row: dict, shared: dict[str, str]) -> tuple:
    """A job's row as a tuple in ROW_COLUMNS' order, its repeated strings one object each (`shared`, the fetch's):
    100,000 rows as dicts, each string parsed anew from every answer, were a fifth of a first fetch's peak memory."""
    record = [row[c] for c in ROW_COLUMNS]
    for i in _SHARED_AT:
        value = record[i]
        if type(value) is str:
            record[i] = shared.setdefault(value, value)
    return tuple(record)


def rows_frame(rows: list[tuple], columns: tuple[str, ...] = ROW_COLUMNS) -> pd.DataFrame:
    """job_record tuples as a frame with UTC timestamp columns (durations are set by `timed`)."""
    df = pd.DataFrame(rows, columns=list(columns))
    for column in _TIMES:
        df[column] = epoch_to_utc(df[column], "ms")
    return df


def timed(df: pd.DataFrame, observed: datetime) -> pd.DataFrame:
    """duration_s from start to stop, or to AWS's clock (`observed`) for a job still running."""
    end = df["stopped_at"].fillna(pd.Timestamp(observed))
    duration = (end - df["started_at"]).dt.total_seconds().clip(lower=0)
    return df.assign(duration_s=duration, observed_at=pd.Timestamp(observed))


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
    # The queue also runs production's admin jobs, `rollback_{time}` (scripts/cxg_admin_scripts/rollback.py
    # @ 804d469) and the publish-revisions job, with no EXECUTION_ID and no migration or ingestion step: they are
    # never an attempt's, whatever their time. The oldest ingestion machines' `download` and `seurat` jobs have no
    # step of ours but carry the dataset version they ingest.
    return row["step"] in _KNOWN_STEPS or bool(row["dataset_version_id"] or row["dataset_id"])


LIST_PAGE, DESCRIBE_BATCH = 1000, 100
FIRST_PAGE = 100  # a first fetch's first ListJobs page: its ids are being described after one quick call


def relist_from(previous: pd.DataFrame, active: pd.Series) -> pd.Timestamp:
    """Where a refresh's listing starts. A job created since is listed (1,000 summaries a call), and one whose
    summary is unchanged is not described; an active job created before is described by id (100 a call). The
    start is the one of fewest calls: after the few long-running stragglers, before the bulk of active work."""
    created = previous["created_at"].sort_values(ignore_index=True)
    candidates = [*active.sort_values(), created.iloc[-1]]
    best, best_cost = None, None
    for before, moment in enumerate(candidates):  # `before`: active jobs older than the moment, described by id
        start = moment - RELIST_MARGIN
        listed = len(created) - int(created.searchsorted(start, side="left"))
        cost = -(-before // DESCRIBE_BATCH) + -(-max(listed, 1) // LIST_PAGE)
        if best_cost is None or cost <= best_cost:
            best, best_cost = start, cost
    return best


_ENDED = {"SUCCEEDED", "FAILED"}


def _summary_state(status: str, started_ms) -> tuple:
    """What a ListJobs summary shows of a job that a refresh compares with its previous row: an unchanged job is
    not described (its row is kept, its duration re-timed). A retry between two refreshes that left the status and
    the first start as they were shows when the job next changes."""
    return status, None if pd.isna(started_ms) or not started_ms else int(started_ms)


def fetch_migration_jobs(stage: str, attempt: Attempt | None, batch: BatchApi,
                         stats: FetchStats | None = None, now: datetime | None = None,
                         previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """The jobs of `attempt` in `stage` as a validated MigrationJobs frame (empty when attempt is None).

    `previous`: this partition's last frame. An ended job never changes: a refresh keeps it, lists the jobs
    created since a moment chosen by `relist_from`, and describes only the new ones, the listed ones whose summary
    changed and the active ones created before that moment."""
    if attempt is None:
        return empty_frame(MigrationJobs)
    given_now = now is not None
    now = now or batch.aws_now(stage)
    cfg = batch.stage_config(stage)
    after, before = attempt.window(now)
    kept: pd.DataFrame | None = None  # rows of the previous frame that stand as they are
    also: list[str] = []
    shown: dict[str, tuple] = {}  # active job id -> its previous summary state
    if previous is not None and not previous.empty and (previous["attempt"] == attempt.key).all():
        ended = previous["status"].isin(_ENDED)
        active = previous[~ended]
        start = relist_from(previous, active["created_at"]) if not active.empty else \
            previous["created_at"].max() - RELIST_MARGIN
        after = max(after, start.to_pydatetime())
        also = list(active.loc[active["created_at"] < start, "job_id"])
        listed = active[active["created_at"] >= start]
        started_ms = listed["started_at"].map(lambda t: None if pd.isna(t) else t.value // 1_000_000)
        shown = {i: _summary_state(s, m) for i, s, m in zip(listed["job_id"], listed["status"], started_ms)}
        kept = previous[ended]

    def unchanged(summary: dict) -> bool:
        return shown.get(summary["jobId"]) == _summary_state(summary["status"], summary.get("startedAt"))

    skip = set(kept["job_id"]) if kept is not None else set()
    shared: dict[str, str] = {}
    convert = lambda jobs: [job_record(r, shared) for r in (job_row(j, stage, attempt.key) for j in jobs)  # noqa: E731
                            if belongs_to(r, attempt)]
    rows, same = batch.list_and_describe(stage, cfg.queue, int(after.timestamp() * 1000),
                                         int(before.timestamp() * 1000), also, stats, skip,
                                         unchanged if shown else None, convert,
                                         first_page=LIST_PAGE if previous is not None else FIRST_PAGE)
    if shown:
        described = {r[_JOB_ID] for r in rows}
        unseen = [i for i in shown if i not in same and i not in described]
        if unseen:  # active before, in the listed span, yet not listed (eventual consistency): ask by id
            more, _ = batch.list_and_describe(stage, None, 0, 0, unseen, stats, convert=convert)
            rows += more
        kept = pd.concat([kept, previous[previous["job_id"].isin(same)]])
    observed = now if given_now else batch.aws_now(stage)  # AWS's clock as it answered
    fresh = rows_frame(rows) if rows else None
    del rows  # the frame holds the cells: the tuples are not kept through the copies below
    parts = [p for p in (fresh, kept) if p is not None and not p.empty]
    if not parts:
        return empty_frame(MigrationJobs)
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    df = timed(df.drop(columns=["observed_at", "duration_s"], errors="ignore"), observed)
    return validate(MigrationJobs, df.sort_values(["created_at", "job_id"]))
