"""The first fetch's shortcuts give what the slow path gives: raw JSON answers equal botocore's parse, and a refresh
reads running jobs' logs once per refresh interval while failed jobs' logs are read as soon as they fail."""

import boto3
import pandas as pd

from cxgm_pipeline.monitor.aws.clients import Batch, FetchStats, Logs
from cxgm_pipeline.monitor.session import MonitorSession
from tests.conftest import migration


def _plain(service: str, region: str):
    """A boto3 client without cxgm's handlers: botocore's own parser."""
    return boto3.session.Session(region_name=region).client(service)


def _strip(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def test_raw_json_answers_equal_botocores_parse(emulator, truth):
    prod = migration(truth, "prod", live=True)
    batch, logs = Batch(), Logs()
    cfg = batch.stage_config("prod")
    fast_batch, plain_batch = batch.client("prod"), _plain("batch", cfg.region)
    kwargs = {"jobQueue": cfg.queue, "maxResults": 100,
              "filters": [{"name": "AFTER_CREATED_AT", "values": [str(int(prod["start"] * 1000) - 60_000)]}]}
    listed = fast_batch.list_jobs(**kwargs)
    assert _strip(listed) == _strip(plain_batch.list_jobs(**kwargs))
    ids = [j["jobId"] for j in listed["jobSummaryList"]]
    assert len(ids) == 100 and any(j["status"] == "FAILED" for j in listed["jobSummaryList"])
    described = fast_batch.describe_jobs(jobs=ids)
    assert _strip(described) == _strip(plain_batch.describe_jobs(jobs=ids))
    assert all(isinstance(j["createdAt"], int) for j in described["jobs"])
    group = cfg.migration_log_group
    fast_logs, plain_logs = logs.client("prod"), _plain("logs", cfg.region)
    page = {"logGroupName": group, "limit": 200}
    swept = fast_logs.filter_log_events(**page)
    assert swept["events"] and _strip(swept) == _strip(plain_logs.filter_log_events(**page))
    # an error answer still goes through botocore: the modeled exception, not a parsed `{}`
    missing = {"logGroupName": group + "-gone"}
    try:
        fast_logs.filter_log_events(**missing)
    except fast_logs.exceptions.ResourceNotFoundException:
        pass
    else:
        raise AssertionError("a missing group must raise ResourceNotFoundException")


def test_a_refresh_reads_running_logs_once_per_interval_and_failed_logs_at_once(clock, truth, monkeypatch):
    prod = migration(truth, "prod", live=True)
    span = prod["stop"] - prod["start"]
    # two moments ten minutes apart, mid-run, with a job failing in between
    fails = sorted(j["stopped_at"] for j in prod["jobs"] if j["status"] == "FAILED" and j["stopped_at"])
    middle = min(fails, key=lambda t: abs(t - (prod["start"] + span / 2)))
    wanted = ("migration_jobs", "enriched_jobs")
    clock.set(middle - 300)
    session = MonitorSession(stats=FetchStats())
    attempt = session.resolve("prod", prod["attempt_key"])
    first = session.fetch("prod", attempt, wanted)
    clock.set(middle + 300)
    monkeypatch.setenv("CXGM_REFRESH_SECONDS", str(24 * 3600))  # running logs not due again
    kept = session.fetch("prod", attempt, wanted, previous=first)
    monkeypatch.setenv("CXGM_REFRESH_SECONDS", "1")  # due: every running job's log is read anew
    reread = session.fetch("prod", attempt, wanted, previous=first)

    first_jobs = first["enriched_jobs"].set_index("job_id")
    for frames, running_due in ((kept, False), (reread, True)):
        jobs = frames["enriched_jobs"]
        observed = jobs["observed_at"].iloc[0]
        assert observed > first_jobs["observed_at"].iloc[0]
        failed = jobs[jobs["status"] == "FAILED"]
        assert not failed.empty and (failed["log_status"] != "not_fetched").all()
        assert failed["error_category"].notna().all()
        newly_failed = failed[~failed["job_id"].map(first_jobs["status"]).eq("FAILED")]
        assert not newly_failed.empty, "the moments must see jobs fail in between"
        assert (newly_failed["log_read_at"] == observed).all()
        running = jobs[(jobs["status"] == "RUNNING") & jobs["log_stream"].notna()]
        assert not running.empty
        was_running = running["job_id"].map(first_jobs["status"]).eq("RUNNING") & \
            running["log_stream"].eq(running["job_id"].map(first_jobs["log_stream"]))
        if running_due:
            assert (running["log_read_at"] == observed).all() and (running["log_status"] != "not_fetched").all()
        else:
            carried = running[was_running]
            assert not carried.empty
            assert (carried["log_read_at"] == carried["job_id"].map(first_jobs["log_read_at"])).all()
            assert (carried["progress_hint"].fillna("") ==
                    carried["job_id"].map(first_jobs["progress_hint"]).fillna("")).all()
            # started running since the last bulk read: marked, not silently empty
            assert (running.loc[~was_running, "log_status"] == "not_fetched").all()
    for frames in (kept, reread):  # no job dropped or doubled by the carrying over
        assert list(frames["enriched_jobs"]["job_id"]) == list(frames["migration_jobs"]["job_id"])
        assert pd.Index(frames["enriched_jobs"]["job_id"]).is_unique


def test_aws_times_without_a_zone_are_utc():
    from cxgm_pipeline.monitor.aws.clients import utc_timestamp

    assert utc_timestamp("2024-01-01T00:00:00") == utc_timestamp("2024-01-01T00:00:00Z")  # no zone: UTC, not local
    assert utc_timestamp(1_704_067_200) == utc_timestamp("2024-01-01T00:00:00Z")


def test_aws_times_are_parsed_in_utc(emulator, truth):
    """botocore's default parser answers in the local zone; cxgm's clients answer in UTC, the same instants."""
    from datetime import timezone

    from cxgm_pipeline.monitor.aws.clients import StepFunctions

    sfn = StepFunctions()
    cfg = sfn.stage_config("prod")
    ours = sfn.client("prod").list_state_machines()["stateMachines"]
    plain = _plain("stepfunctions", cfg.region).list_state_machines()["stateMachines"]
    assert ours and all(m["creationDate"].tzinfo is timezone.utc for m in ours)
    assert [m["creationDate"] for m in ours] == [m["creationDate"] for m in plain]


def test_the_account_is_kept_with_the_stage_for_the_same_endpoint_and_credentials(emulator, tmp_path, monkeypatch):
    """Every command made a GetCallerIdentity for the machines' ARNs: the store keeps the account, used again only
    under the same endpoint, region and access key (a store reused against another account asks again)."""
    from cxgm_pipeline.monitor.attempts.listing import ACCOUNT_FRAME, list_attempts_stored
    from cxgm_pipeline.monitor.aws import clients
    from cxgm_pipeline.monitor.aws.clients import StepFunctions
    from cxgm_pipeline.monitor.store.frames import FrameStore

    store, asked, sfn = FrameStore(str(tmp_path)), [], StepFunctions()
    sfn.client("prod", "sts").meta.events.register("before-call.sts.GetCallerIdentity", lambda **_: asked.append(1))

    def listing() -> list:
        monkeypatch.setattr(clients, "_ACCOUNTS", {})  # a new process
        return [(a.key, a.execution_arns) for a in list_attempts_stored("prod", sfn, store)]

    first = listing()
    assert first and len(asked) == 1 and store.exists(ACCOUNT_FRAME, "prod")
    assert listing() == first and len(asked) == 1  # the next command: the account from the store
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ANOTHERKEY")  # other credentials: asked again, then kept for them
    assert listing() == first and len(asked) == 2
    assert listing() == first and len(asked) == 2
    kept = store.read(ACCOUNT_FRAME, "prod")
    store.write(kept.assign(account="000000000000"), ACCOUNT_FRAME, "prod")  # a wrong account under another key
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "THIRDKEY")
    assert listing() == first and len(asked) == 3


def test_a_refresh_reads_the_running_top_map_run_once_per_interval(clock, truth, monkeypatch):
    """DescribeMapRun of the running SpanCollections run, like the running jobs' logs: read again once the refresh
    interval has passed since, and whenever the attempt has ended (its final counts)."""
    import botocore.client

    prod = migration(truth, "prod", live=True)
    assert prod["map_mode"] == "distributed"
    middle = prod["start"] + (prod["stop"] - prod["start"]) / 2
    clock.set(middle - 300)
    session = MonitorSession(stats=FetchStats())
    attempt = session.resolve("prod", prod["attempt_key"])
    first = session.fetch("prod", attempt, ("child_failures",))
    top = first["child_failures"].query("kind == 'map_run' and state_name == 'SpanCollections'")
    assert len(top) == 1 and top["status"].iloc[0] == "RUNNING" and top["read_at"].notna().all()
    described: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if operation_name == "DescribeMapRun":
            described.append(api_params["mapRunArn"])
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    clock.set(middle + 300)

    def top_run(frames):
        return frames["child_failures"].set_index("map_run_arn").loc[top["map_run_arn"].iloc[0]]

    monkeypatch.setenv("CXGM_REFRESH_SECONDS", str(24 * 3600))
    held = session.fetch("prod", attempt, ("child_failures",), previous=first)
    assert described == [] and top_run(held)["read_at"] == top["read_at"].iloc[0]
    monkeypatch.setenv("CXGM_REFRESH_SECONDS", "1")
    due = session.fetch("prod", attempt, ("child_failures",), previous=first)
    assert described == list(top["map_run_arn"]) and top_run(due)["read_at"] > top["read_at"].iloc[0]
    described.clear()
    monkeypatch.setenv("CXGM_REFRESH_SECONDS", str(24 * 3600))
    clock.set(prod["stop"] + 60)
    ended = MonitorSession(stats=FetchStats()).resolve("prod", prod["attempt_key"])
    assert ended.ended
    final = session.fetch("prod", ended, ("child_failures",), previous=first)
    assert top["map_run_arn"].iloc[0] in described and top_run(final)["status"] != "RUNNING"
