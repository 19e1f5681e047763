"""A cause read before its job's log: what the digests announce across refreshes, against the emulated account.

Production's ingestion runs ValidateAnndata as a batch:submitJob.sync task (single-cell-data-portal
.happy/terraform/modules/sfn/main.tf @ 0032817): when its job fails, the execution fails at once (States.TaskFailed,
the job's description as the cause; HandleErrors; RaiseError). A refresh that listed the jobs a moment before the
job failed and the executions after sees a FAILED ingestion whose job still runs: its history says where it failed,
not why. The next refresh lists the job failed and reads its log. An alert must not announce the first as a cause.
"""

import pandas as pd

from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.frames.rollups import dataset_rollup, error_signatures
from cxgm_pipeline.monitor.frames.sfn_executions import _failures_in_history
from cxgm_pipeline.monitor.session import MonitorSession
from cxgm_pipeline.monitor.views.alerts import evaluate
from cxgm_pipeline.schemas import EnrichedJobs, MigrationJobs, RerunManifest, empty_frame

STAGE, KEY = "dev", "ATTEMPT_2"
_ENRICHMENT = [c for c in EnrichedJobs.to_schema().columns if c not in MigrationJobs.to_schema().columns]


def _listed_before_they_failed(jobs: pd.DataFrame, versions: set[str]) -> pd.DataFrame:
    """The jobs as ListJobs gave them a moment before the ingestion jobs of `versions` failed: running, their
    reasons and log not read."""
    early = jobs.copy()
    running = early["dataset_version_id"].isin(versions) & (early["status"] == "FAILED")
    early.loc[running, ["status", "status_reason", "container_reason", "exit_code", "stopped_at", "duration_s"]] = \
        ["RUNNING", None, None, None, pd.NaT, None]
    early.loc[running, [c for c in _ENRICHMENT if c not in ("log_lines", "app_lines", "runtime_lines", "log_status")]] = None
    early.loc[running, "log_status"] = "not_fetched"
    return early


def _tick(jobs, executions, outputs, announced: set[str]):
    datasets = dataset_rollup(STAGE, KEY, jobs, executions, outputs, ended=True)
    signatures = error_signatures(jobs, executions, datasets)
    alerts = evaluate(STAGE, KEY, datasets, signatures, empty_frame(RerunManifest), False, 0.99, announced)
    return datasets.set_index("dataset_id"), signatures, alerts


def test_a_cause_read_before_its_jobs_log_is_announced_once_as_the_log_says(emulator):
    session = MonitorSession(stats=FetchStats())
    final = session.fetch(STAGE, session.resolve(STAGE, KEY))
    jobs, executions, outputs = final["enriched_jobs"], final["sfn_executions"], final["step_outputs"]
    invalid = jobs[(jobs["step"] == "validate_anndata") & (jobs["status"] == "FAILED")
                   & (jobs["error_category"] == "validation")]
    versions = set(invalid["dataset_version_id"])
    assert versions, "the attempt has datasets whose validation found errors"

    # refresh 1: the ingestions FAILED, their jobs still listed running; their histories read over HTTP
    early = _listed_before_they_failed(jobs, versions)
    unread = executions.drop(columns=["failure_error", "failure_state", "failure_cause", "history_read"], errors="ignore")
    read = _failures_in_history(STAGE, unread, early, session.sfn, FetchStats(), None)
    assert set(read.loc[read["failure_error"].notna(), "new_dataset_version_id"]) == versions
    first, first_causes, first_alerts = _tick(early, read, outputs, set())
    said = {a.key: a.category for a in first_alerts if a.kind == "new_signature"}
    assert not set(said.values()) & {"pending_logs", "unknown"}, said
    ids = sorted(set(first.index[first["new_dataset_version_id"].isin(versions)]))
    assert (first.loc[ids, "state"] == "failed").all()
    assert set(first.loc[ids, "error_category"]) == {"pending_logs"}, first.loc[ids, "error_category"]
    assert set(first.loc[ids, "failing_step"]) == {"validate_anndata"}
    pending = first_causes[first_causes["error_category"] == "pending_logs"]
    assert pending["datasets"].sum() == len(ids), "the datasets failed, and the page says their cause is awaited"
    announced = {a.key for a in first_alerts}

    # refresh 2: the jobs listed failed and their logs read
    second, second_causes, second_alerts = _tick(jobs, executions, outputs, announced)
    assert set(second.loc[ids, "error_category"]) == {"validation"}
    new = [a for a in second_alerts if a.kind == "new_signature"]
    assert {a.category for a in new} == {"validation"} and all(a.gist == "validation in validate_anndata" for a in new)
    # nothing announced is taken back: every cause the first digest announced is still a cause, of its category
    still = dict(zip("signature:" + second_causes["error_signature"], second_causes["error_category"]))
    assert {k: still.get(k) for k in said} == said
