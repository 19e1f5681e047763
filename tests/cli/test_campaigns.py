"""Campaigns and redrives on the command line, in every production variant, against the truth:
- staging's first execution fails at the history quota and an untagged re-run continues it: `cxgm attempts` names
  the campaign; `cxgm rerun` and `cxgm compare` read the campaign's view;
- staging's last execution fails and is redriven: before the redrive its attempt is failed, after it the same key
  is succeeded (redriven once) and its datasets are those the truth states, also from frames stored before."""

import json
import os
from functools import partial

import pandas as pd

from tests.cli.running import run as run_cli
from tests.conftest import named_by_the_portal, observable, set_clock

run = partial(run_cli, columns=200)


def staging(truth: dict) -> tuple[dict, dict, dict]:
    first, rerun, redriven = [m for m in truth["migrations"] if m["stage"] == "staging"]
    assert first["not_redrivable"] and rerun["continues"] and redriven["redrive"]
    return first, rerun, redriven


def test_attempts_show_which_attempts_form_a_campaign(account, tmp_path):
    env, truth = account
    first, rerun, redriven = staging(truth)
    out = tmp_path / "attempts.json"
    code, output = run(env, "attempts", "--env", "staging", "--fetch", "--out", str(out))
    assert code == 0, output
    rows = {r["attempt"]: r for r in json.loads(out.read_text())}
    assert rows[first["attempt_key"]]["campaign"] == rows[rerun["attempt_key"]]["campaign"] == first["attempt_key"]
    assert rows[redriven["attempt_key"]]["campaign"] == redriven["attempt_key"]  # its predecessor succeeded
    assert rows[first["attempt_key"]]["state"] == "failed" and rows[redriven["attempt_key"]]["redrives"] == 1
    code, output = run(env, "attempts", "--env", "staging", "--fetch")
    assert code == 0, output
    assert f"campaign {first['attempt_key']}: {first['attempt_key']} -> {rerun['attempt_key']}" in " ".join(output.split())
    # dev's aborted attempt is followed by a tagged rehearsal that migrated everything again: no campaign
    out = tmp_path / "dev.json"
    assert run(env, "attempts", "--env", "dev", "--fetch", "--out", str(out))[0] == 0
    assert all(r["campaign"] == r["attempt"] for r in json.loads(out.read_text()) if r["rolled_up"])


def test_the_re_run_list_is_the_campaigns(account, tmp_path):
    env, truth = account
    for m in staging(truth)[:2]:
        out = tmp_path / f"{m['attempt_key']}.json"
        code, output = run(env, "rerun", "--env", "staging", "--tag", m["attempt_key"], "--refresh", "--out", str(out))
        assert code == 0, output
        got = pd.DataFrame(json.loads(out.read_text()), columns=["dataset_id", "state", "campaign_attempt"])
        expected = {d["dataset_id"]: (d["campaign_state"], d["campaign_attempt"])
                    for d in observable(m) + named_by_the_portal(truth, m)
                    if d["campaign_state"] in ("failed", "not_started")}
        assert {d: (s, a) for d, s, a in got.itertuples(index=False)} == expected


def test_compare_reads_each_side_in_its_campaigns_view(account, tmp_path):
    env, truth = account
    first, rerun, _ = staging(truth)
    out = tmp_path / "deltas.csv"
    code, output = run(env, "compare", "--base", f"staging:{rerun['attempt_key']}", "--other", "dev:ATTEMPT_2",
                       "--refresh", "--out", str(out))
    assert code == 0, output
    deltas = pd.read_csv(out).dropna(subset=["base_state"]).drop_duplicates("dataset_id").set_index("dataset_id")
    expected = {d["dataset_id"]: d["campaign_state"] for m in (first, rerun) for d in observable(m)}
    assert deltas["base_state"].to_dict() == expected
    assert (deltas["base_state"] == "skipped").sum() < sum(d["state"] == "skipped" for d in observable(rerun))


def test_a_redrive_shows_under_the_same_key_before_and_after(account, tmp_path):
    env, truth = account
    redriven = staging(truth)[2]
    key = redriven["attempt_key"]
    expected = pd.DataFrame(observable(redriven), columns=["dataset_id", "state", "failing_step", "error_category",
                                                           "new_dataset_version_id"]).set_index("dataset_id")

    def attempt_row() -> dict:
        out = tmp_path / "attempts.json"
        assert run(env, "attempts", "--env", "staging", "--out", str(out))[0] == 0
        return next(r for r in json.loads(out.read_text()) if r["attempt"] == key)

    def datasets(*flags: str) -> tuple[pd.DataFrame, str]:
        out = tmp_path / "datasets.json"
        code, output = run(env, "describe", "datasets", "--env", "staging", "--tag", key, *flags, "--out", str(out))
        assert code == 0, output
        return pd.DataFrame(json.loads(out.read_text()), columns=expected.reset_index().columns).set_index("dataset_id"), output

    try:
        set_clock(env, redriven["redrive"]["first_stop"] + 600)  # failed; not redriven yet
        assert attempt_row()["state"] == "failed" and attempt_row()["redrives"] == 0
        before, _ = datasets("--refresh")
        unfinished = before[before["state"] != "succeeded"].index
        assert len(unfinished) and (expected.loc[unfinished, "state"] == "succeeded").any(), \
            "the redrive changes datasets the failure had stopped"
        # frames stored while it had failed (as Dagster would have), then the redrive
        from cxgm_pipeline.monitor.session import MonitorSession

        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            session = MonitorSession()
            stored = session.frames("staging", key, refresh=True)
            failed_attempt = stored.attempt
            session.save(stored)
            then = redriven["redrive"]["first_stop"] + 600  # stored at that moment of the emulated clock
            for name in stored.frames:
                os.utime(session.store.path(name, "staging", key), (then, then))
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        set_clock(env, redriven["redrive"]["at"] + 60)  # RUNNING again, same ARN
        assert attempt_row()["state"] == "running"
        set_clock(env, truth["end"] + 30)
        row = attempt_row()
        assert row["state"] == "succeeded" and row["redrives"] == 1
        after, output = datasets()  # the stored frames predate the redrive's end: fetched again, not reused
        os.environ.update(env)
        try:  # an incremental refresh from the frames of before the redrive (as Dagster's refresh reads them)
            session = MonitorSession()
            redriven_attempt = session.resolve("staging", key)
            assert redriven_attempt.key == failed_attempt.key and redriven_attempt.redrive_count == 1
            refreshed = session.fetch("staging", redriven_attempt, previous=stored.frames)["dataset_rollup"]
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        refreshed = refreshed.set_index("dataset_id")
        assert sorted(refreshed.index) == sorted(expected.index)
        assert (refreshed.loc[expected.index, "state"] == expected["state"]).all()
        assert "the frames stored at" not in output and "from AWS" in output  # read again, not reused
        assert sorted(after.index) == sorted(expected.index)
        for column in expected.columns:
            a = after.loc[expected.index, column].fillna("-").astype(str)
            assert (a == expected[column].fillna("-").astype(str)).all(), column
    finally:
        set_clock(env, truth["end"] + 30)


def test_stored_frames_of_an_ended_attempt_show_the_campaign_as_it_stands(account, tmp_path):
    """Frames stored before the re-run existed (the attempt alone) stay fresh for an ended attempt: read back, its
    datasets still show the campaign's outcome."""
    from cxgm_pipeline.monitor.session import MonitorSession

    env, truth = account
    first = staging(truth)[0]
    data = tmp_path / "stored"
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({**env, "CXGM_DATA": str(data)})
    try:
        session = MonitorSession()
        attempt = session.resolve("staging", first["attempt_key"])
        frames = session.fetch("staging", attempt, campaign=False)
        assert (frames["dataset_rollup"]["campaign_attempt"] == first["attempt_key"]).all()  # alone
        for name, frame in frames.items():
            session.store.write(frame, name, "staging", first["attempt_key"])
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    out = tmp_path / "datasets.json"
    code, output = run({**env, "CXGM_DATA": str(data)}, "describe", "datasets", "--env", "staging", "--tag",
                       first["attempt_key"], "--out", str(out))
    assert code == 0 and "stored" in output, output
    got = pd.DataFrame(json.loads(out.read_text())).set_index("dataset_id")[["campaign_state", "campaign_attempt"]]
    expected = pd.DataFrame(observable(first), columns=["dataset_id", "campaign_state", "campaign_attempt"]).set_index("dataset_id")
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index())
    out = tmp_path / "rerun.json"
    code, output = run({**env, "CXGM_DATA": str(data)}, "rerun", "--env", "staging", "--tag", first["attempt_key"],
                       "--out", str(out))
    assert code == 0 and "stored" in output, output
    assert {r["dataset_id"] for r in json.loads(out.read_text())} == \
        {d["dataset_id"] for d in observable(first) + named_by_the_portal(truth, first)
         if d["campaign_state"] in ("failed", "not_started")}
