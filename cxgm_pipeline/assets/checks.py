"""Post-run verification, as a release runbook does it, on the run's own partition."""


import os

import pandas as pd
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetIn, MetadataValue, asset_check

from cxgm_pipeline.assets.partition_context import partition
from cxgm_pipeline.assets.rollups.dataset_rollup import dataset_rollup
from cxgm_pipeline.assets.rollups.enriched_jobs import enriched_jobs
from cxgm_pipeline.assets.aws.sfn_executions import sfn_executions
from cxgm_pipeline.monitor.attempts import AttemptNotFound, find_attempt
from cxgm_pipeline.monitor.corpus import fetch_corpus
from cxgm_pipeline.monitor.rollups import corpus_frame
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import ArtifactsResource, StepFunctionsResource
from cxgm_pipeline.vocabulary import DatasetState, JobStatus

MAX_FAILURE_RATE_VAR = "CXGM_MAX_FAILURE_RATE"
DEFAULT_MAX_FAILURE_RATE = 0.10
LISTED = 20


def _listing(values) -> MetadataValue:
    values = list(values)
    return MetadataValue.text(", ".join(map(str, values[:LISTED])) + (f" … (+{len(values) - LISTED})" if len(values) > LISTED else ""))


@asset_check(asset=dataset_rollup, partitions_def=migration_partitions, blocking=False)
def corpus_accounted_once(context: AssetCheckExecutionContext, dataset_rollup: pd.DataFrame,
                          sfn: StepFunctionsResource, artifacts: ArtifactsResource) -> AssetCheckResult:
    """Every dataset of the migrated corpus has exactly one row; none is counted twice."""
    stage, key = partition(context)
    try:
        corpus = fetch_corpus(stage, find_attempt(stage, key, sfn), artifacts)
    except AttemptNotFound:
        corpus = None
    duplicated = dataset_rollup.loc[dataset_rollup["dataset_id"].duplicated(), "dataset_id"].unique()
    listed = set(corpus_frame(corpus)["dataset_id"]) if corpus is not None else set(dataset_rollup["dataset_id"])
    missing = sorted(listed - set(dataset_rollup["dataset_id"]))
    extra = sorted(set(dataset_rollup["dataset_id"]) - listed)
    return AssetCheckResult(
        passed=not missing and len(duplicated) == 0,
        metadata={"corpus_datasets": len(listed), "rows": len(dataset_rollup), "missing": _listing(missing),
                  "duplicated": _listing(duplicated), "not_in_corpus_list": _listing(extra),
                  "corpus_list_found": corpus is not None},
    )


@asset_check(asset=dataset_rollup, partitions_def=migration_partitions, blocking=False)
def succeeded_have_new_version(dataset_rollup: pd.DataFrame) -> AssetCheckResult:
    """A dataset that succeeded must have the new dataset version its migration created."""
    done = dataset_rollup[dataset_rollup["state"] == DatasetState.SUCCEEDED.value]
    lacking = done.loc[done["new_dataset_version_id"].isna(), "dataset_id"]
    return AssetCheckResult(passed=lacking.empty, metadata={"succeeded": len(done), "without_new_version": _listing(lacking)})


@asset_check(asset=dataset_rollup, partitions_def=migration_partitions, blocking=False)
def failure_rate_below_threshold(dataset_rollup: pd.DataFrame) -> AssetCheckResult:
    """Failed datasets stay under $CXGM_MAX_FAILURE_RATE (default 10%) of those that ran."""
    threshold = float(os.environ.get(MAX_FAILURE_RATE_VAR, DEFAULT_MAX_FAILURE_RATE))
    ran = dataset_rollup[dataset_rollup["state"] != DatasetState.NOT_STARTED.value]
    failed = int((ran["state"] == DatasetState.FAILED.value).sum())
    rate = failed / len(ran) if len(ran) else 0.0
    return AssetCheckResult(passed=rate <= threshold, severity=AssetCheckSeverity.WARN,
                            metadata={"failure_rate": round(rate, 4), "threshold": threshold, "failed": failed, "ran": len(ran)})


@asset_check(asset=enriched_jobs, partitions_def=migration_partitions, blocking=True,
             additional_ins={"migration_jobs": AssetIn("migration_jobs")})
def no_job_row_lost(enriched_jobs: pd.DataFrame, migration_jobs: pd.DataFrame) -> AssetCheckResult:
    """Enrichment neither drops nor invents a job."""
    lost = sorted(set(migration_jobs["job_id"]) - set(enriched_jobs["job_id"]))
    invented = sorted(set(enriched_jobs["job_id"]) - set(migration_jobs["job_id"]))
    return AssetCheckResult(passed=not lost and not invented and len(enriched_jobs) == len(migration_jobs),
                            metadata={"migration_jobs": len(migration_jobs), "enriched_jobs": len(enriched_jobs),
                                      "lost": _listing(lost), "invented": _listing(invented)})


def view_mismatches(executions: pd.DataFrame, jobs: pd.DataFrame) -> pd.DataFrame:
    """Ingestion executions whose outcome disagrees with their Batch jobs' statuses."""
    status = dict(zip(jobs["job_id"], jobs["status"]))
    rows = []
    for ex in executions.to_dict("records"):
        ids = (ex["batch_job_ids"] or "").split(",") if isinstance(ex["batch_job_ids"], str) else []
        statuses = [status.get(i) for i in ids]
        problem = None
        if any(s is None for s in statuses):
            problem = "execution names a Batch job missing from migration_jobs"
        elif ex["status"] == "SUCCEEDED" and any(s != JobStatus.SUCCEEDED.value for s in statuses):
            problem = "execution succeeded but a job did not"
        elif ex["status"] == "FAILED" and JobStatus.FAILED.value not in statuses:
            problem = "execution failed but no job failed"
        elif ex["status"] == "RUNNING" and statuses and all(s in (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value) for s in statuses) \
                and JobStatus.FAILED.value in statuses:
            problem = "execution still running after a job failed"
        if problem:
            rows.append({"execution_name": ex["execution_name"], "status": ex["status"], "problem": problem})
    return pd.DataFrame(rows, columns=["execution_name", "status", "problem"])


@asset_check(asset=sfn_executions, partitions_def=migration_partitions, blocking=False,
             additional_ins={"enriched_jobs": AssetIn("enriched_jobs")})
def job_and_execution_views_agree(sfn_executions: pd.DataFrame, enriched_jobs: pd.DataFrame) -> AssetCheckResult:
    """The Step Functions view and the Batch view tell the same story; mismatches are listed."""
    mismatches = view_mismatches(sfn_executions, enriched_jobs)
    return AssetCheckResult(passed=mismatches.empty, metadata={
        "executions": len(sfn_executions), "mismatches": len(mismatches),
        "list": MetadataValue.md(mismatches.head(50).to_markdown(index=False) if not mismatches.empty else "_none_")})


ALL_CHECKS = [corpus_accounted_once, succeeded_have_new_version, failure_rate_below_threshold, no_job_row_lost,
              job_and_execution_views_agree]
