"""enriched_jobs: migration_jobs plus, for failed and running jobs, what their log says and why they failed.

Only failed and running jobs' streams are read (FilterLogEvents with their names, 100 a call): a few
percent of the jobs, never a scan of the whole group. A job whose stream is gone is marked `missing`,
one that never started `no_stream`; no row is ever dropped.
"""

from __future__ import annotations

import pandas as pd

from cxgm_pipeline.config import refresh_seconds
from cxgm_pipeline.monitor.classify.classifier import diagnose
from cxgm_pipeline.monitor.frames.columns_rows import row_dicts
from cxgm_pipeline.monitor.classify.logparse import ParsedLog, parse_events, reassemble
from cxgm_pipeline.monitor.frames.columns_missing import none_if_missing
from cxgm_pipeline.monitor.aws.clients import LogsApi, FetchStats
from cxgm_pipeline.schemas import EnrichedJobs, MigrationJobs, empty_frame
from cxgm_pipeline.vocabulary import JobStatus, LogStatus

READ_LOGS_OF = {JobStatus.FAILED.value, JobStatus.RUNNING.value}
MAX_ERROR_LINES = 5


def enrich_row(row: dict, events: list[dict] | None, fetched: bool) -> dict:
    """The log and classification columns for one job; `events` None with fetched=True: stream missing."""
    out = {"log_lines": 0, "app_lines": 0, "runtime_lines": 0, "error_lines": None, "last_exception": None,
           "progress_hint": None, "error_category": None, "error_kind": None, "error_signature": None,
           "error_evidence": None, "error_values": None, "error_category_also": None}
    log: ParsedLog | None = None
    if not fetched:
        out["log_status"] = LogStatus.NOT_FETCHED.value
    elif not none_if_missing(row.get("log_stream")):
        out["log_status"] = LogStatus.NO_STREAM.value
    elif events is None:
        out["log_status"] = LogStatus.MISSING.value
    else:
        log = parse_events(reassemble(events))  # a record longer than 16 KB arrives in parts
        out.update(log_status=LogStatus.FETCHED.value, log_lines=log.lines, app_lines=log.app_lines,
                   runtime_lines=log.runtime_lines, last_exception=log.last_exception, progress_hint=log.progress_hint,
                   error_lines="\n".join(log.errors[-MAX_ERROR_LINES:]) or None)
    if row["status"] == JobStatus.FAILED.value:
        status_reason, container_reason = none_if_missing(row.get("status_reason")), none_if_missing(row.get("container_reason"))
        found = diagnose(status_reason, container_reason, log)
        out.update(error_category=found.category.value, error_kind=found.kind.value, error_signature=found.signature,
                   error_evidence=str(found.evidence) if found.evidence else None,
                   error_values=", ".join(found.values) or None,
                   error_category_also=found.also.value if found.also else None)
    return out


_ENRICHED = [c for c in EnrichedJobs.to_schema().columns if c not in MigrationJobs.to_schema().columns]
_ENRICHMENT = EnrichedJobs.to_schema().select_columns(_ENRICHED)  # EnrichedJobs less MigrationJobs' columns
_ENDED = {JobStatus.SUCCEEDED.value, JobStatus.FAILED.value}
_READ = ["job_id", "status", "log_group", "log_stream", "status_reason", "container_reason"]


def _running_logs_due(jobs: pd.DataFrame, previous: pd.DataFrame | None, max_age_s: float) -> bool:
    """Running jobs' logs are read in bulk, all of them, when the last such read is `max_age_s` old (AWS's clock)."""
    if previous is None:
        return True
    read = previous.loc[(previous["status"] == JobStatus.RUNNING.value)
                        & (previous["log_status"] == LogStatus.FETCHED.value), "log_read_at"].max()
    return pd.isna(read) or (jobs["observed_at"].iloc[0] - read).total_seconds() >= max_age_s


def _reusable(jobs: pd.DataFrame, previous: pd.DataFrame | None, running_due: bool) -> pd.DataFrame:
    """The previous enrichment of each job it still holds for (a frame aligned with `jobs`, `_reuse` marking the
    rows where it does): an ended job's, and a running job's until running logs are due again, if the job's
    status and stream are the same."""
    if previous is None:
        return pd.DataFrame(index=jobs.index, columns=[*_ENRICHED, "_reuse"]).assign(_reuse=False)
    old = previous.drop_duplicates("job_id").set_index("job_id")
    old = old.reindex(jobs["job_id"]).set_axis(jobs.index)
    same = (old["status"] == jobs["status"]) & (old["log_stream"].fillna("") == jobs["log_stream"].fillna(""))
    running = (old["status"] == JobStatus.RUNNING.value) & (old["log_status"] == LogStatus.FETCHED.value)
    return old[_ENRICHED].assign(_reuse=same & (old["status"].isin(_ENDED) | (running & (not running_due))))


def enrich_jobs(jobs: pd.DataFrame, logs: LogsApi, stats: FetchStats | None = None,
                previous: pd.DataFrame | None = None, running_log_max_age_s: float | None = None) -> pd.DataFrame:
    """`previous`: this partition's last frame. A failed job's log is read once, as soon as it has failed. Running
    jobs' logs are read all together, at most once per `running_log_max_age_s` (default: the refresh interval,
    the freshness asked of a running attempt); in between, a running job keeps what its log said at the last
    such read, and one that started running since is `not_fetched` until the next."""
    if jobs.empty:
        return empty_frame(EnrichedJobs)
    stage = jobs["stage"].iloc[0]
    jobs = jobs.reset_index(drop=True)
    if previous is not None and (previous.empty or "log_read_at" not in previous):
        previous = None  # nothing to carry over (a frame stored before log_read_at: read as a first fetch)
    elif previous is not None and "error_category_also" not in previous:
        previous = previous.assign(error_category_also=None)  # stored before the column: no second category
    due = _running_logs_due(jobs, previous, refresh_seconds() if running_log_max_age_s is None else running_log_max_age_s)
    old = _reusable(jobs, previous, due)
    reuse = old["_reuse"].astype(bool)
    read = jobs["status"].isin(READ_LOGS_OF if due else {JobStatus.FAILED.value}) & ~reuse
    records = row_dicts(jobs.loc[read, _READ])
    wanted = sorted({(r["log_group"], r["log_stream"]) for r in records
                     if none_if_missing(r["log_stream"]) and none_if_missing(r["log_group"])})
    streams = logs.read_streams(stage, wanted, stats)
    extra = pd.DataFrame({c: None for c in _ENRICHED}, index=jobs.index).astype(object)
    extra[["log_lines", "app_lines", "runtime_lines"]] = 0
    extra["log_status"] = LogStatus.NOT_FETCHED.value
    if reuse.any():
        extra.loc[reuse] = old.loc[reuse, _ENRICHED]
    if records:
        fresh = [enrich_row(r, streams.get((r["log_group"], r["log_stream"])), True) for r in records]
        extra.loc[read] = pd.DataFrame(fresh, index=jobs.index[read]).assign(log_read_at=jobs.loc[read, "observed_at"])
    # the jobs are a validated MigrationJobs frame already: the enrichment's columns are validated on their own
    return pd.concat([jobs, _ENRICHMENT.validate(extra)], axis=1)
