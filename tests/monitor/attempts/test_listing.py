"""What an attempt is: its key, its window, its tag (no call to AWS)."""

from datetime import datetime, timedelta, timezone

import pytest

from cxgm_pipeline.monitor.attempts.listing import Attempt, WINDOW_MARGIN, _tag_of, attempt_key_for, window_attempt
from cxgm_pipeline.vocabulary import AttemptState

pytestmark = pytest.mark.unit

START = datetime(2026, 12, 1, 10, 30, 59, tzinfo=timezone.utc)


def test_an_attempts_key_is_its_tag_else_its_start_minute_in_utc():
    assert attempt_key_for("ATTEMPT_2", START) == "ATTEMPT_2"
    assert attempt_key_for(None, START) == "untagged-20261201T1030"
    assert attempt_key_for("", START.timestamp()) == "untagged-20261201T1030"
    plus_two = START.astimezone(timezone(timedelta(hours=2)))
    assert attempt_key_for(None, plus_two) == "untagged-20261201T1030"


@pytest.mark.parametrize("given,tag", [('{"migration_attempt": "ATTEMPT_2"}', "ATTEMPT_2"),
                                       ('{"migration_attempt": 3}', "3"), ('{"other": 1}', None),
                                       ("[1, 2]", None), ("not json", None), (None, None)])
def test_the_tag_is_read_from_the_executions_input(given, tag):
    assert _tag_of({"input": given}) == tag


def _attempt(**kw):
    base = dict(stage="prod", key="K", tag=None, execution_names=("e",), execution_arns=("arn:e",), start=START,
                stop=None, state=AttemptState.RUNNING)
    return Attempt(**{**base, **kw})


def test_a_running_attempts_window_runs_to_now_with_a_margin():
    now = START + timedelta(hours=2)
    assert _attempt().window(now) == (START - WINDOW_MARGIN, now + WINDOW_MARGIN)
    stop = START + timedelta(hours=1)
    assert _attempt(stop=stop).window(now) == (START - WINDOW_MARGIN, stop + WINDOW_MARGIN)
    assert _attempt(stop=stop).ended and not _attempt().ended


def test_a_redrive_changes_the_fingerprint_and_the_ref_names_stage_and_key():
    assert _attempt().fingerprint == "running#0" and _attempt(redrive_count=1).fingerprint == "running#1"
    assert str(_attempt().ref) == "prod:K"


def test_a_window_attempt_takes_every_job_inside_it():
    end = START + timedelta(hours=1)
    attempt = window_attempt("dev", START, end)
    assert attempt.key == "window-20261201T1030-20261201T1130" and attempt.window_only
    assert attempt.state == AttemptState.SUCCEEDED and attempt.stop == end
    assert not _attempt().window_only and not _attempt(execution_names=(), tag="T").window_only
    with pytest.raises(ValueError, match="empty window"):
        window_attempt("dev", end, START)


class _Sfn:
    """Two executions of one tagged attempt, the second a re-start; counts the descriptions asked for."""

    def __init__(self):
        self.described: list[str] = []
        self.items = [
            {"executionArn": f"arn:{n}", "name": n, "status": status, "startDate": START + timedelta(hours=h),
             "stopDate": stop, "redriveCount": 0}
            for n, status, h, stop in (("e1", "FAILED", 0, START + timedelta(minutes=30)), ("e2", "RUNNING", 1, None))]

    def stage_config(self, stage):
        class Cfg:
            migration_sfn = "schema-migration"
        return Cfg()

    def list_executions(self, stage, machine, stats=None):
        return list(reversed(self.items))

    def known_account(self, stage):
        return None  # the account is the real client's (tests/monitor/aws/test_fast_paths.py)

    def remember_account(self, key, account):
        raise AssertionError("no account is stored without one known")

    def describe_executions(self, stage, arns, stats=None):
        self.described.extend(arns)
        return [{**i, "input": '{"migration_attempt": "ATTEMPT_2"}'} for i in self.items if i["executionArn"] in arns]


def test_an_execution_whose_tag_is_known_is_not_described_again(tmp_path):
    from cxgm_pipeline.monitor.attempts.listing import list_attempts, store_tags, stored_tags
    from cxgm_pipeline.monitor.store.frames import FrameStore

    store, sfn = FrameStore(str(tmp_path)), _Sfn()
    first = list_attempts("prod", sfn, tags=(tags := stored_tags(store, "prod")))
    store_tags(store, "prod", tags, 0)
    assert sorted(sfn.described) == ["arn:e1", "arn:e2"]
    # a third execution appears: only it is described; the attempts are the same as without the cache
    sfn.items.append({**sfn.items[1], "executionArn": "arn:e3", "name": "e3", "startDate": START + timedelta(hours=2)})
    sfn.described.clear()
    cached = list_attempts("prod", sfn, tags=stored_tags(store, "prod"))
    assert sfn.described == ["arn:e3"]
    sfn.described.clear()
    assert cached == list_attempts("prod", sfn) and len(sfn.described) == 3
    assert [a.execution_names for a in first] == [("e1", "e2")] and first[0].state == AttemptState.RUNNING


def test_every_stage_listed_with_a_store_goes_through_its_tag_cache(tmp_path):
    """The sensors and the report's rehearsal lookup list every stage, every tick and every run: with the store,
    a stage's executions are described once."""
    from cxgm_pipeline.monitor.attempts.listing import list_all_attempts
    from cxgm_pipeline.monitor.store.frames import FrameStore

    store, sfn = FrameStore(str(tmp_path)), _Sfn()
    first = list_all_attempts(sfn, ["dev", "prod"], store=store)
    assert len(sfn.described) == 4  # two executions in each stage
    sfn.described.clear()
    assert list_all_attempts(sfn, ["dev", "prod"], store=store) == first and sfn.described == []


def test_rehearsals_are_looked_up_only_in_stages_holding_that_key(tmp_path, monkeypatch):
    """A rehearsal is read from the store: a stage with no rollup of the running attempt's key is not listed."""
    import pandas as pd

    from cxgm_pipeline.monitor.attempts.listing import rehearsal_candidates
    from cxgm_pipeline.monitor.store.frames import FrameStore

    store, sfn = FrameStore(str(tmp_path)), _Sfn()
    listed: list[str] = []
    real = sfn.list_executions
    sfn.list_executions = lambda stage, machine, stats=None: listed.append(stage) or real(stage, machine, stats)
    assert rehearsal_candidates(sfn, "prod", True, store=store, keys={"ATTEMPT_2"}) == [] and listed == []
    store.write(pd.DataFrame({"dataset_id": ["d1"]}), "dataset_rollup", "dev", "ATTEMPT_2")
    found = rehearsal_candidates(sfn, "prod", True, store=store, keys={"ATTEMPT_2"})
    assert listed == ["dev"] and [a.key for a in found] == ["ATTEMPT_2"]
