"""Discovery and refresh sensors, ticked with build_sensor_context while the emulated clock moves through
the live prod migration."""

import json
import tempfile

import pytest

from dagster import DagsterInstance, DagsterRunStatus, build_sensor_context
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.utils import make_new_run_id

from cxgm_pipeline.config import get_config
from cxgm_pipeline.partitions import ATTEMPTS
from cxgm_pipeline.resources.aws import StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.sensors import refresh_running
from cxgm_pipeline.sensors.attempt_discovery import attempt_discovery_sensor
from cxgm_pipeline.sensors.refresh_running import refresh_running_sensor
from tests.conftest import migration


def tick(sensor, instance, cursor):
    # a store of its own each tick: the stage's tag cache starts empty, as on a fresh deployment
    store = FrameStoreResource(base_path=tempfile.mkdtemp(prefix="cxgm-sensor-"))
    result = sensor(build_sensor_context(instance=instance, cursor=cursor,
                                         resources={"sfn": StepFunctionsResource(), "store": store}))
    for request in result.dynamic_partitions_requests or []:  # a sensor context does not apply them itself
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def cells(result, reason: str | None = None) -> set[str]:
    return {str(r.partition_key) for r in result.run_requests
            if r.partition_key and reason in (None, r.tags["cxgm/reason"])}


def overview_runs(result) -> list:
    return [r for r in result.run_requests if r.job_name == "attempts_overview"]


def test_discovery_adds_each_attempt_once(clock, truth):
    prod = migration(truth, "prod", live=True)
    earlier = [m for m in truth["migrations"] if not m["live"]]
    instance = DagsterInstance.ephemeral()
    clock.set(prod["start"] - 60)  # the prod migration has not started yet
    first = tick(attempt_discovery_sensor, instance, None)
    assert cells(first, "discovered") == {f"{m['attempt_key']}|{m['stage']}" for m in earlier}
    # the other stages' cells of those keys: materialized once as empty frames, so asset health counts what exists
    ran = {(m["attempt_key"], m["stage"]) for m in earlier}
    assert cells(first, "not run in this stage") == {f"{key}|{stage}" for key, _ in ran for stage in get_config().stage_names
                                                     if (key, stage) not in ran}
    assert set(instance.get_dynamic_partitions(ATTEMPTS)) == {m["attempt_key"] for m in earlier}
    assert len(overview_runs(first)) == 1
    again = tick(attempt_discovery_sensor, instance, first.cursor)
    assert again.run_requests == [] and again.dynamic_partitions_requests == []
    clock.set(prod["start"] + 600)
    live = tick(attempt_discovery_sensor, instance, again.cursor)
    assert cells(live, "discovered") == {"ATTEMPT_2|prod"}  # the key is shared with dev: no new partition, a new cell
    # ended attempts' first runs (slow history reads) in their own lane; the running one's ahead of them
    lanes = {str(r.partition_key): r.tags["cxgm/lane"] for r in first.run_requests if r.partition_key}
    assert {c for c, lane in lanes.items() if lane == "history"} == cells(first, "discovered")
    # placeholders read no history: not in that lane's one slot, behind everything else
    assert {c for c, lane in lanes.items() if lane == "placeholder"} == cells(first, "not run in this stage")
    assert {r.tags["dagster/priority"] for r in first.run_requests
            if r.partition_key and r.tags["cxgm/lane"] == "placeholder"} == {"-1"}
    # in the history lane, each stage's newest attempt first: dev's ATTEMPT_2 is the rehearsal prod compares with
    newest = {f"{m['attempt_key']}|{m['stage']}" for m in earlier
              if m["start"] == max(o["start"] for o in earlier if o["stage"] == m["stage"])}
    assert {c for c, r in ((str(r.partition_key), r) for r in first.run_requests)
            if r.tags.get("dagster/priority") == "1"} == newest and f"{prod['attempt_key']}|dev" in newest
    assert [r.tags["cxgm/lane"] for r in live.run_requests if r.partition_key] == ["live"]
    assert live.dynamic_partitions_requests == []
    assert len(overview_runs(live)) == 1  # a new attempt: the overview is refreshed
    # a restarted daemon resumes from the stored cursor: still nothing twice
    assert tick(attempt_discovery_sensor, instance, live.cursor).run_requests == []
    assert cells(live, "not run in this stage") == set()  # ...and once only
    discovered = [r.run_key for r in [*first.run_requests, *live.run_requests] if r.run_key.startswith("discover:")]
    assert len(set(discovered)) == len(truth["migrations"])
    clock.set(prod["stop"] + 60)  # the attempt ends: its state changes, the overview is refreshed once
    ended = tick(attempt_discovery_sensor, instance, live.cursor)
    assert cells(ended, "discovered") == set() and len(overview_runs(ended)) == 1
    assert tick(attempt_discovery_sensor, instance, ended.cursor).run_requests == []


def test_refresh_cadence_final_refresh_then_stop(clock, truth, monkeypatch):
    prod = migration(truth, "prod", live=True)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, sorted({m["attempt_key"] for m in truth["migrations"]}))
    monkeypatch.setenv("CXGM_REFRESH_SECONDS", "900")
    wall = [1_000_000.0]
    monkeypatch.setattr(refresh_running.time, "time", lambda: wall[0])
    clock.set(prod["start"] + 1800)
    assert tick(refresh_running_sensor, instance, None).run_requests == []  # first runs are discovery's
    for m in truth["migrations"]:  # the discovery sensor's runs, finished
        instance.add_run(DagsterRun(job_name="refresh_attempt", run_id=make_new_run_id(), status=DagsterRunStatus.SUCCESS,
                                    tags={"dagster/partition": f"{m['attempt_key']}|{m['stage']}"}))
    first = tick(refresh_running_sensor, instance, None)
    reasons = {str(r.partition_key): r.tags["cxgm/reason"] for r in first.run_requests}
    assert reasons["ATTEMPT_2|prod"] == "refresh"
    # a running attempt's refreshes go first and never wait behind ended attempts' slow history runs
    live = next(r for r in first.run_requests if str(r.partition_key) == "ATTEMPT_2|prod")
    assert live.tags["cxgm/lane"] == "live" and live.tags["dagster/priority"] == "10"
    assert {k for k, v in reasons.items() if v.startswith("final")} == {f"{m['attempt_key']}|{m['stage']}"
                                                                    for m in truth["migrations"] if not m["live"]}
    wall[0] += 60  # within the interval: nothing
    second = tick(refresh_running_sensor, instance, first.cursor)
    assert second.run_requests == []
    wall[0] += 900
    clock.advance(3600)
    running = instance.add_run(DagsterRun(job_name="refresh_attempt", run_id=make_new_run_id(),
                                          status=DagsterRunStatus.STARTED, tags={"dagster/partition": "ATTEMPT_2|prod"}))
    assert tick(refresh_running_sensor, instance, second.cursor).run_requests == []  # never two at once
    instance.delete_run(running.run_id)  # the run is over
    third = tick(refresh_running_sensor, instance, second.cursor)
    assert cells(third) == {"ATTEMPT_2|prod"} and third.run_requests[0].tags["cxgm/reason"] == "refresh"
    refresh_keys = {r.run_key for r in [*first.run_requests, *third.run_requests] if str(r.partition_key) == "ATTEMPT_2|prod"}
    assert len(refresh_keys) == 2
    clock.set(prod["stop"] + 60)  # the migration ends
    wall[0] += 900
    fourth = tick(refresh_running_sensor, instance, third.cursor)
    assert [(str(r.partition_key), r.tags["cxgm/reason"]) for r in fourth.run_requests] == [("ATTEMPT_2|prod", "final")]
    wall[0] += 5000
    assert tick(refresh_running_sensor, instance, fourth.cursor).run_requests == []
    assert json.loads(fourth.cursor)["final"]


def test_a_redrive_reopens_an_ended_attempt_under_the_same_key(clock, truth, monkeypatch):
    """RedriveExecution: the failed execution keeps its ARN (so its attempt's key), returns to RUNNING and ends
    again: the ended attempt is refreshed while it runs again and once more when it ends, never twice for one end."""
    redriven = next(m for m in truth["migrations"] if m["redrive"])
    cell = f"{redriven['attempt_key']}|{redriven['stage']}"
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, sorted({m["attempt_key"] for m in truth["migrations"]}))
    instance.add_run(DagsterRun(job_name="refresh_attempt", run_id=make_new_run_id(), status=DagsterRunStatus.SUCCESS,
                                tags={"dagster/partition": cell}))
    monkeypatch.setenv("CXGM_REFRESH_SECONDS", "900")
    wall = [1_000_000.0]
    monkeypatch.setattr(refresh_running.time, "time", lambda: wall[0])

    def reasons(result) -> list[str]:
        return [r.tags["cxgm/reason"] for r in result.run_requests if str(r.partition_key) == cell]

    clock.set(redriven["redrive"]["first_stop"] + 60)  # failed, not redriven yet: an ended attempt
    failed = tick(refresh_running_sensor, instance, None)
    assert reasons(failed) == ["final"]
    assert reasons(tick(refresh_running_sensor, instance, failed.cursor)) == []  # ended: left alone
    clock.set(redriven["redrive"]["at"] + 600)  # redriven: RUNNING again, same key
    wall[0] += 900
    again = tick(refresh_running_sensor, instance, failed.cursor)
    assert reasons(again) == ["refresh"]
    clock.set(redriven["stop"] + 60)
    wall[0] += 900
    ended = tick(refresh_running_sensor, instance, again.cursor)
    assert reasons(ended) == ["final after redrive"]
    assert len({r.run_key for r in [*failed.run_requests, *ended.run_requests] if str(r.partition_key) == cell}) == 2
    wall[0] += 5000
    assert reasons(tick(refresh_running_sensor, instance, ended.cursor)) == []


@pytest.mark.parametrize("asset,count,reason", [("step_outputs", "answers_not_read", "reading histories, 12 left"),
                                                ("portal_state", "collections_not_read",
                                                 "reading the portal, 12 collections left")])
def test_a_run_that_left_work_is_followed_by_another_in_its_lane(clock, truth, asset, count, reason):
    """A budget (the history fallback's, the portal's) leaves work for the next run: the partition is asked for again at once
    (an ended attempt in the history lane), until none is left; then the usual cadence (here: nothing more)."""
    from dagster import AssetKey, AssetMaterialization, MultiPartitionKey

    m = next(m for m in truth["migrations"] if any(j["logs_expired"] for j in m["jobs"]))
    cell = MultiPartitionKey({"stage": m["stage"], "attempt": m["attempt_key"]})
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, [m["attempt_key"]])
    instance.add_run(DagsterRun(job_name="refresh_attempt", run_id=make_new_run_id(), status=DagsterRunStatus.SUCCESS,
                                tags={"dagster/partition": str(cell)}))

    def materialized(left: int) -> None:
        instance.report_runless_asset_event(AssetMaterialization(AssetKey(asset), partition=str(cell),
                                                                 metadata={count: left}))
        instance.report_runless_asset_event(AssetMaterialization(AssetKey("dataset_rollup"), partition=str(cell)))

    def mine(result) -> list:
        return [r for r in result.run_requests if str(r.partition_key) == str(cell)]

    materialized(12)
    first = tick(refresh_running_sensor, instance, None)
    [request] = mine(first)
    assert request.tags["cxgm/reason"] == reason and request.tags["cxgm/lane"] == "history"
    # no new materialization since: the same run key, which Dagster runs once
    assert [r.run_key for r in mine(tick(refresh_running_sensor, instance, first.cursor))] == [request.run_key]
    materialized(0)
    done = tick(refresh_running_sensor, instance, first.cursor)
    assert all(not r.tags["cxgm/reason"].startswith("reading") for r in mine(done))


def _origin():
    """A queued run must name where its job comes from (DagsterRun checks it)."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    location = InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="cxgm_pipeline.definitions"))
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), "refresh_attempt")


def test_a_queued_placeholder_does_not_hold_back_the_refresh_of_the_attempt_that_started_since(clock, truth, monkeypatch):
    """dev's ATTEMPT_2 is found before prod's starts: ATTEMPT_2|prod is queued as a placeholder at priority -1,
    behind every ended attempt's first run. Once prod runs, its refreshes go ahead of that placeholder; a
    placeholder already started (the partition's one run at a time) still holds them back."""
    prod = migration(truth, "prod", live=True)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, sorted({m["attempt_key"] for m in truth["migrations"]}))
    monkeypatch.setattr(refresh_running.time, "time", lambda: 1_000_000.0)
    clock.set(prod["start"] + 1800)
    done = instance.add_run(DagsterRun(job_name="refresh_attempt", run_id=make_new_run_id(),
                                       status=DagsterRunStatus.SUCCESS, tags={"dagster/partition": "ATTEMPT_2|prod"}))
    placeholder = instance.add_run(DagsterRun(
        job_name="refresh_attempt", run_id=make_new_run_id(), status=DagsterRunStatus.QUEUED,
        remote_job_origin=_origin(), tags={"dagster/partition": "ATTEMPT_2|prod", "cxgm/reason": "not run in this stage"}))
    assert done and cells(tick(refresh_running_sensor, instance, None), "refresh") == {"ATTEMPT_2|prod"}
    instance.delete_run(placeholder.run_id)
    instance.add_run(DagsterRun(job_name="refresh_attempt", run_id=make_new_run_id(), status=DagsterRunStatus.STARTED,
                                tags={"dagster/partition": "ATTEMPT_2|prod", "cxgm/reason": "not run in this stage"}))
    assert cells(tick(refresh_running_sensor, instance, None), "refresh") == set()


def test_a_rollup_saw_the_end_when_its_jobs_were_read_after_it_by_awss_clock():
    """The end is AWS's time; a run's start is this machine's. Against the demo's emulated clock (behind the wall),
    a run started after the end by the wall read AWS before it, and no final refresh followed."""
    from dagster import AssetMaterialization, MultiPartitionKey

    from cxgm_pipeline.monitor.chain import OBSERVED_AT
    from cxgm_pipeline.sensors.refresh_running import DONE_ASSET, refreshed_since

    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, ["A"])
    key = MultiPartitionKey({"stage": "prod", "attempt": "A"})
    assert not refreshed_since(instance, key, 100.0)
    instance.report_runless_asset_event(AssetMaterialization(DONE_ASSET, partition=str(key),
                                                             metadata={OBSERVED_AT: 1_000.0}))
    # AWS's Date header has whole seconds: a read in the second of the end may have seen it
    assert refreshed_since(instance, key, 1_000.5) and not refreshed_since(instance, key, 1_001.0)


def test_a_placeholder_still_queued_when_its_attempt_starts_is_cancelled(clock, truth):
    """make demo: ATTEMPT_2|prod was queued as a placeholder before prod started; it ran after prod had ended and
    re-materialized its chain, leaving the health grid's prod cell without a result. The discovery of prod's
    attempt cancels it; a placeholder of another cell stays queued."""
    prod = migration(truth, "prod", live=True)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, sorted({m["attempt_key"] for m in truth["migrations"]}))
    clock.set(prod["start"] - 60)
    before = tick(attempt_discovery_sensor, instance, None)
    assert "prod:ATTEMPT_2" in json.loads(before.cursor)["emptied"]
    queued = {cell: instance.add_run(DagsterRun(
        job_name="refresh_attempt", run_id=make_new_run_id(), status=DagsterRunStatus.QUEUED,
        remote_job_origin=_origin(), tags={"dagster/partition": cell, "cxgm/reason": "not run in this stage"})).run_id
        for cell in ("ATTEMPT_2|prod", "ATTEMPT_2|staging")}
    clock.set(prod["start"] + 600)
    assert cells(tick(attempt_discovery_sensor, instance, before.cursor), "discovered") == {"ATTEMPT_2|prod"}
    assert instance.get_run_by_id(queued["ATTEMPT_2|prod"]).status == DagsterRunStatus.CANCELED
    assert instance.get_run_by_id(queued["ATTEMPT_2|staging"]).status == DagsterRunStatus.QUEUED


def test_the_rehearsal_of_a_running_attempt_is_read_before_other_ended_ones():
    """Prod's page compares with dev's rehearsal: its first run goes ahead of every other ended attempt's."""
    from datetime import datetime, timezone

    from cxgm_pipeline.monitor.attempts.listing import Attempt
    from cxgm_pipeline.sensors.attempt_discovery import first_run_tags
    from cxgm_pipeline.vocabulary import AttemptState

    def attempt(stage, key, day, state=AttemptState.SUCCEEDED):
        start = datetime(2026, 12, day, tzinfo=timezone.utc)
        return Attempt(stage=stage, key=key, tag=key, execution_names=(), execution_arns=(), start=start,
                       stop=None if state is AttemptState.RUNNING else start, state=state)

    rehearsal, older, newest = attempt("dev", "A", 1), attempt("dev", "OLD", 2), attempt("dev", "NEW", 3)
    running = attempt("prod", "A", 4, AttemptState.RUNNING)
    every = [rehearsal, older, newest, running]
    assert first_run_tags(running, every)["dagster/priority"] == "10"
    assert first_run_tags(rehearsal, every)["dagster/priority"] == "5"
    assert first_run_tags(newest, every)["dagster/priority"] == "1"
    assert "dagster/priority" not in first_run_tags(older, every)
    assert {first_run_tags(a, every)["cxgm/lane"] for a in (rehearsal, older, newest)} == {"history"}
