"""enriched_jobs: migration_jobs plus, for failed and running jobs, what their log says and why they failed.

Only failed and running jobs' streams are read (FilterLogEvents with their names, 100 a call): a few
percent of the jobs, never a scan of the whole group. A job whose stream is gone is marked `missing`,
one that never started `no_stream`; no row is ever dropped.
"""

from __future__ import annotations

import pandas as pd

from cxgm_pipeline.monitor.classify import diagnose
from cxgm_pipeline.monitor.frame_rows import row_dicts
from cxgm_pipeline.monitor.logparse import ParsedLog, parse_events
from cxgm_pipeline.monitor.missing import none_if_missing
from cxgm_pipeline.monitor.aws import LogsApi, FetchStats
from cxgm_pipeline.schemas import EnrichedJobs, MigrationJobs, empty_frame, validate
from cxgm_pipeline.vocabulary import JobStatus, LogStatus

READ_LOGS_OF = {JobStatus.FAILED.value, JobStatus.RUNNING.value}
MAX_ERROR_LINES = 5


def enrich_row(row: dict, events: list[dict] | None, fetched: bool) -> dict:
    """The log and classification columns for one job; `events` None with fetched=True: stream missing."""
    out = {"log_lines": 0, "app_lines": 0, "runtime_lines": 0, "error_lines": None, "last_exception": None,
           "progress_hint": None, "error_category": None, "error_kind": None, "error_signature": None,
           "error_evidence": None, "error_values": None}
    log: ParsedLog | None = None
    if not fetched:
        out["log_status"] = LogStatus.NOT_FETCHED.value
    elif not none_if_missing(row.get("log_stream")):
        out["log_status"] = LogStatus.NO_STREAM.value
    elif events is None:
        out["log_status"] = LogStatus.MISSING.value
    else:
        log = parse_events(events)
        out.update(log_status=LogStatus.FETCHED.value, log_lines=log.lines, app_lines=log.app_lines,
                   runtime_lines=log.runtime_lines, last_exception=log.last_exception, progress_hint=log.progress_hint,
                   error_lines="\n".join(log.errors[-MAX_ERROR_LINES:]) or None)
    if row["status"] == JobStatus.FAILED.value:
        status_reason, container_reason = none_if_missing(row.get("status_reason")), none_if_missing(row.get("container_reason"))
        found = diagnose(status_reason, container_reason, log)
        out.update(error_category=found.category.value, error_kind=found.kind.value, error_signature=found.signature,
                   error_evidence=str(found.evidence) if found.evidence else None,
                   error_values=", ".join(found.values) or None)
    return out


_ENRICHED = [c for c in EnrichedJobs.to_schema().columns if c not in MigrationJobs.to_schema().columns]


def enrich_jobs(jobs: pd.DataFrame, logs: LogsApi, stats: FetchStats | None = None,
                previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """`previous`: this partition's last frame. A job that had already ended then, with the same stream, keeps
    its enrichment: a refresh reads only the logs of jobs that failed since, or still run."""
    if jobs.empty:
        return empty_frame(EnrichedJobs)
    stage = jobs["stage"].iloc[0]
    records = row_dicts(jobs)
    reuse: dict[str, dict] = {}
    if previous is not None and not previous.empty:
        for p in row_dicts(previous):
            if p["status"] in ("SUCCEEDED", "FAILED"):
                reuse[p["job_id"]] = p
    def reusable(r: dict) -> dict | None:
        p = reuse.get(r["job_id"])
        if p is not None and p["status"] == r["status"] and none_if_missing(p["log_stream"]) == none_if_missing(r["log_stream"]):
            return p
        return None

    wanted = sorted({(r["log_group"], r["log_stream"]) for r in records
                     if r["status"] in READ_LOGS_OF and reusable(r) is None
                     and none_if_missing(r["log_stream"]) and none_if_missing(r["log_group"])})
    streams = logs.read_streams(stage, wanted, stats)
    extra = []
    for r in records:
        old = reusable(r)
        if old is not None:
            extra.append({c: old[c] for c in _ENRICHED})
            continue
        fetched = r["status"] in READ_LOGS_OF
        events = streams.get((r["log_group"], r["log_stream"])) if fetched else None
        extra.append(enrich_row(r, events, fetched))
    return validate(EnrichedJobs, pd.concat([jobs.reset_index(drop=True), pd.DataFrame(extra)], axis=1))
