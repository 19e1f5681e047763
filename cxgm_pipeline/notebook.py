"""The notebook helpers engineers already use, by their old names, over the asset chain's code.

    from cxgm_pipeline import notebook as cx
    cx.set_stage("dev")
    jobs = cx.describe_migration_jobs(tag="ATTEMPT_2")      # or start=..., end=...
    enriched = cx.merge_job_logs(jobs)
    datasets = cx.report_datasets(enriched, cx.describe_sfn_executions(tag="ATTEMPT_2"), tag="ATTEMPT_2")
    cx.plot_job_status_counts(enriched)
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from cxgm_pipeline.config import get_config
from cxgm_pipeline.monitor.report import plots
from cxgm_pipeline.monitor.frames.attempt_rollup import roll_up_attempt
from cxgm_pipeline.monitor.frames.enriched_jobs import enrich_jobs
from cxgm_pipeline.monitor.frames.sfn_executions import fetch_sfn_executions
from cxgm_pipeline.monitor.frames.migration_jobs import fetch_migration_jobs
from cxgm_pipeline.monitor.frames.step_outputs import collect_outputs, sweep_output_records
from cxgm_pipeline.monitor.session import MonitorSession

_STATE = {"stage": "dev"}
_SESSION: list[MonitorSession] = []

plot_job_status_counts = plots.plot_job_status_counts
plot_job_durations = plots.plot_job_durations
plot_dataset_status_counts = plots.plot_dataset_status_counts
plot_job_duration_differences = plots.plot_job_duration_differences


def _session() -> MonitorSession:
    if not _SESSION:
        _SESSION.append(MonitorSession())
    return _SESSION[0]


def set_stage(stage: str) -> None:
    """Every later call reads this stage (dev, staging, prod, rdev) until set again."""
    get_config().stage(stage)
    _STATE["stage"] = stage


def _attempt(tag: str | None, start: datetime | None, end: datetime | None):
    return _session().resolve(_STATE["stage"], tag, start, end)


def describe_migration_jobs(tag: str | None = None, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
    """Every Batch job of an attempt (by tag, i.e. attempt key) or of a time window."""
    return fetch_migration_jobs(_STATE["stage"], _attempt(tag, start, end), _session().batch, _session().stats)


def describe_step_outputs(tag: str | None = None, start: datetime | None = None, end: datetime | None = None,
                          jobs: pd.DataFrame | None = None) -> pd.DataFrame:
    """What the steps answered: new dataset versions, collections gathered, datasets listed and skipped."""
    attempt, s = _attempt(tag, start, end), _session()
    jobs = jobs if jobs is not None else fetch_migration_jobs(_STATE["stage"], attempt, s.batch, s.stats)
    records = sweep_output_records(_STATE["stage"], attempt, s.logs, s.stats)
    return collect_outputs(_STATE["stage"], attempt, jobs, records, s.logs, s.sfn, s.artifacts, s.stats)


def describe_sfn_executions(tag: str | None = None, start: datetime | None = None, end: datetime | None = None,
                            outputs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each new dataset version of the attempt with its ingestion execution."""
    outputs = outputs if outputs is not None else describe_step_outputs(tag, start, end)
    return fetch_sfn_executions(_STATE["stage"], _attempt(tag, start, end), outputs, _session().sfn, _session().stats)


def merge_job_logs(jobs: pd.DataFrame) -> pd.DataFrame:
    """Adds the failed and running jobs' log lines, last exception and error category."""
    return enrich_jobs(jobs, _session().logs, _session().stats)


def report_datasets(enriched_jobs: pd.DataFrame, executions: pd.DataFrame, tag: str | None = None,
                    start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
    """One row per dataset and collection version gathered, with its state, failing step and cause."""
    outputs = describe_step_outputs(tag, start, end, jobs=enriched_jobs)
    return roll_up_attempt(_STATE["stage"], _attempt(tag, start, end), enriched_jobs, executions, outputs)
