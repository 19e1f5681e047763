"""Which jobs of the shared queue are an attempt's: job shapes as production submits them."""

from datetime import datetime, timezone

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.frames.migration_jobs import belongs_to, job_row
from cxgm_pipeline.vocabulary import AttemptState

ATTEMPT = Attempt(stage="prod", key="untagged-20261201T0000", tag=None, execution_names=("exec-1",),
                  execution_arns=("arn:aws:states:us-west-2:1:execution:m:exec-1",),
                  start=datetime(2026, 12, 1, tzinfo=timezone.utc), stop=None, state=AttemptState.RUNNING)


def _job(name: str, env: dict[str, str]) -> dict:
    return {"jobId": name + "-id", "jobName": name, "status": "SUCCEEDED", "createdAt": 1_764_547_200_000,
            "jobQueue": "arn:aws:batch:us-west-2:1:job-queue/schema_migration-prod",
            "container": {"environment": [{"name": k, "value": v} for k, v in env.items()]}}


def test_admin_jobs_in_the_queue_are_not_the_attempts():
    # scripts/cxg_admin_scripts/rollback.py @ 804d469: jobName rollback_{time}, ROLLBACK_TYPE and ENTITY_LIST only
    rollback = job_row(_job("rollback_1764547300", {"ROLLBACK_TYPE": "private_dataset_list", "ENTITY_LIST": "a,b"}),
                       "prod", ATTEMPT.key)
    publish = job_row(_job("publish-revisions", {"DEPLOYMENT_STAGE": "prod"}), "prod", ATTEMPT.key)
    assert not belongs_to(rollback, ATTEMPT)
    assert not belongs_to(publish, ATTEMPT)


def test_migration_jobs_by_execution_and_ingestion_jobs_by_window():
    mine = job_row(_job("dataset_migration", {"STEP_NAME": "dataset_migrate", "EXECUTION_ID": "exec-1",
                                              "DATASET_ID": "d1"}), "prod", ATTEMPT.key)
    other = job_row(_job("dataset_migration", {"STEP_NAME": "dataset_migrate", "EXECUTION_ID": "exec-0"}),
                    "prod", ATTEMPT.key)
    # sfn/main.tf: ingestion jobs carry DATASET_VERSION_ID and STEP_NAME, no EXECUTION_ID
    ingestion = job_row(_job("cxg", {"STEP_NAME": "cxg", "DATASET_VERSION_ID": "v2"}), "prod", ATTEMPT.key)
    assert belongs_to(mine, ATTEMPT) and not belongs_to(other, ATTEMPT)
    assert belongs_to(ingestion, ATTEMPT)
