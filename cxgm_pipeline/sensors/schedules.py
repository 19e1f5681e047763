"""Daily: refresh every attempt still running, and the dev-vs-prod comparison."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from cxgm_pipeline.config import get_config
from cxgm_pipeline.jobs import compare_job, refresh_attempt_job
from cxgm_pipeline.monitor.attempts.listing import list_all_attempts
from cxgm_pipeline.partitions import ATTEMPTS, partition_key
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource


@schedule(job=refresh_attempt_job, cron_schedule="0 6 * * *", default_status=DefaultScheduleStatus.RUNNING)
def daily_running_refresh(context: ScheduleEvaluationContext, sfn: StepFunctionsResource, store: FrameStoreResource):
    known = set(context.instance.get_dynamic_partitions(ATTEMPTS))
    day = context.scheduled_execution_time.strftime("%Y%m%d")
    running = [a for a in list_all_attempts(sfn, get_config().stage_names, context.log, store=store) if not a.ended and a.key in known]
    if not running:
        return SkipReason("no attempt is running")
    return [RunRequest(run_key=f"daily:{a.ref}:{day}", partition_key=partition_key(a.ref)) for a in running]


@schedule(job=compare_job, cron_schedule="30 6 * * *", default_status=DefaultScheduleStatus.RUNNING)
def daily_comparison(context: ScheduleEvaluationContext):
    return RunRequest(run_key=f"compare:{context.scheduled_execution_time:%Y%m%d}")
