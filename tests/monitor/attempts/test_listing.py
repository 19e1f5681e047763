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
