from datetime import datetime, timezone

from dagster import DagsterInstance, build_schedule_context

from cxgm_pipeline.partitions import ATTEMPTS
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.sensors.schedules import daily_comparison, daily_running_refresh
from tests.conftest import migration


def test_daily_refresh_targets_running_attempts_only(clock, truth, tmp_path):
    # build_schedule_context re-opens the instance by its ref once resources are bound: an ephemeral one
    # has none, a temporary on-disk one does. The context is closed (`with`): the instance it opened sets
    # Dagster's current defs-state storage, which, left set after the instance is gone, fails a later
    # materialize() in this process ("Attempted to resolve undefined DagsterInstance weakref").
    instance = DagsterInstance.local_temp(str(tmp_path))
    instance.add_dynamic_partitions(ATTEMPTS, sorted({m["attempt_key"] for m in truth["migrations"]}))
    when = datetime(2026, 11, 20, 6, tzinfo=timezone.utc)
    prod = migration(truth, "prod", live=True)
    with build_schedule_context(instance=instance, scheduled_execution_time=when,
                                resources={"sfn": StepFunctionsResource(),
                                           "store": FrameStoreResource(base_path=str(tmp_path / "data"))}) as context:
        clock.set(prod["start"] + 3600)
        requests = daily_running_refresh(context)
        assert [str(r.partition_key) for r in requests] == ["ATTEMPT_2|prod"]
        assert requests[0].run_key == "daily:prod:ATTEMPT_2:20261120"
        clock.set(prod["stop"] + 60)
        assert "no attempt is running" in daily_running_refresh(context).skip_message


def test_daily_comparison_once_a_day():
    with build_schedule_context(scheduled_execution_time=datetime(2026, 11, 20, 6, 30, tzinfo=timezone.utc)) as context:
        assert daily_comparison(context).run_key == "compare:20261120"
