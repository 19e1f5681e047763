"""The views people read while a migration runs, against the emulator's truth: the progress numbers of a running
attempt, its ETA range, the dev-vs-prod diff of causes, one dataset's drill-down."""

import dataclasses
import json
from collections import Counter

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxgm_pipeline.cli import app
from cxgm_pipeline.monitor.views.alerts import evaluate, progress_due, progress_key
from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.views.deltas import signature_diff
from cxgm_pipeline.monitor.views.progress import Rehearsal, attempt_progress, observed_now
from cxgm_pipeline.monitor.session import AttemptFrames, MonitorSession
from cxgm_emulator.truth import load_truth
from tests.conftest import DEFAULT_VARIANT, set_clock, start_emulator_process

runner = CliRunner()
FRAMES_OF_A_DATASET = ("dataset_rollup", "enriched_jobs", "sfn_executions")
LIVE_FRAMES = ("dataset_rollup", "collection_rollup", "error_signatures", "enriched_jobs", "sfn_executions")


def _utc(t: float) -> pd.Timestamp:
    return pd.Timestamp(t, unit="s", tz="UTC")


def _live(truth: dict) -> dict:
    return next(m for m in truth["migrations"] if m["live"])


def _fetch(env: dict, monkeypatch, stage: str, key: str, wanted=LIVE_FRAMES):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    session = MonitorSession(stats=FetchStats())
    attempt = session.resolve(stage, key)
    return attempt, session.fetch(stage, attempt, wanted)


def truth_at(m: dict, t: float) -> Counter:
    """What the truth's jobs say of each dataset a monitor can see at `t`: a step's outcome is its latest job
    created by then; a job not stopped by then is still active; a dataset is listed once its collection's
    collection_migration has answered."""
    listed = {j["collection_id"] for j in m["jobs"]
              if j["step"] == "collection_migration" and j["status"] == "SUCCEEDED" and j["stopped_at"] <= t}
    jobs: dict[str, list[dict]] = {}
    for j in sorted(m["jobs"], key=lambda j: j["created_at"]):
        if j["dataset_id"] and j["created_at"] <= t:
            jobs.setdefault(j["dataset_id"], []).append(j)
    counts = Counter()
    for d in m["datasets"]:
        mine = jobs.get(d["dataset_id"], [])
        if d["state"] == "skipped" or (not mine and d["collection_id"] not in listed):
            continue
        latest = {j["step"]: j for j in mine}
        ended = {s: j["status"] for s, j in latest.items() if j["stopped_at"] <= t}
        if "FAILED" in ended.values():
            counts["failed"] += 1
        elif ended.get("cxg") == "SUCCEEDED" and len(ended) == len(latest):
            counts["done"] += 1
        elif mine:
            counts["running"] += 1
        else:
            counts["remaining"] += 1
    return counts


@pytest.fixture(scope="module")
def default_account(variant_emulator, tmp_path_factory):
    env, truth = variant_emulator(*DEFAULT_VARIANT)
    return {**env, "CXGM_DATA": str(tmp_path_factory.mktemp("data"))}, truth


@pytest.mark.parametrize("share", [0.3, 0.5], ids=["early", "midway"])
def test_progress_mid_run_equals_the_truth(default_account, monkeypatch, share):
    env, truth = default_account
    prod = _live(truth)
    at = prod["start"] + share * (prod["stop"] - prod["start"])
    set_clock(env, at)
    try:
        attempt, frames = _fetch(env, monkeypatch, "prod", prod["attempt_key"])
    finally:
        set_clock(env, truth["end"] + 30)
    assert not attempt.ended
    # "now" is AWS's clock as it answered (the emulator's, stopped at `at`), read from the frames alone
    for source in (frames["enriched_jobs"], frames["dataset_rollup"]):
        assert abs(observed_now(source) - _utc(at)) < pd.Timedelta(seconds=1)
    p = attempt_progress("prod", attempt.key, frames["dataset_rollup"], start=_utc(prod["start"]),
                         collections=frames["collection_rollup"])
    expected = truth_at(prod, at)
    got = {"done": p.done, "failed": p.failed, "running": p.running, "remaining": p.remaining}
    assert got == {k: expected[k] for k in got}, (got, expected)
    assert got["running"] > 0 and got["done"] > 0, "a moment when some datasets run and some are done"
    last = p.curve.iloc[-1]
    assert last[["done", "failed", "running", "remaining"]].to_dict() == got
    # every earlier moment of the curve: datasets done by then are those the truth finished by then
    finished = [d for d in prod["datasets"] if d["state"] == "succeeded" and d["finished_at"]]
    for row in p.curve.to_dict("records"):
        t = row["at"].timestamp()
        assert row["done"] == sum(d["finished_at"] <= t for d in finished if d["finished_at"] <= at), row["at"]
    assert p.rate_per_h > 0
    assert "remaining" in p.line() and "ETA" in p.line()
    # the daily progress alert: once per AWS day while it runs
    empty = frames["error_signatures"].iloc[0:0]
    first = evaluate("prod", attempt.key, frames["dataset_rollup"], empty, empty, False, 1.0, set(), p)
    assert [a.kind for a in first] == ["progress"] and p.line() in first[0].body
    # the alerts sensor skips building the progress when the day's key, read from the rollup alone, was sent
    assert progress_key(observed_now(frames["dataset_rollup"])) == first[0].key
    assert progress_due(frames["dataset_rollup"], set()) and not progress_due(frames["dataset_rollup"], {first[0].key})
    assert evaluate("prod", attempt.key, frames["dataset_rollup"], empty, empty, False, 1.0, {first[0].key}, p) == []
    tomorrow = dataclasses.replace(p, now=p.now + pd.Timedelta(days=1))
    assert [a.kind for a in evaluate("prod", attempt.key, frames["dataset_rollup"], empty, empty, False, 1.0,
                                     {first[0].key}, tomorrow)] == ["progress"]


@pytest.mark.account  # plans the whole default scenario (~20 s)
def test_eta_range_holds_the_true_end_of_the_default_scenario(tmp_path, monkeypatch):
    """The default scenario's prod attempt, stopped halfway: the ETA range, from its own durations and dev's
    rehearsal of the same attempt key, holds the moment the emulator ends it."""
    emu = start_emulator_process(tmp_path / "emu", scenario="default", seed=0)
    try:
        env = {**emu.wait_ready(timeout=180), "CXGM_DATA": str(tmp_path / "data")}
        truth = load_truth(emu.truth_file)
        prod = _live(truth)
        dev = next(m for m in truth["migrations"] if m["stage"] == "dev" and m["attempt_key"] == prod["attempt_key"])
        dev_attempt, dev_frames = _fetch(env, monkeypatch, "dev", dev["attempt_key"], ("dataset_rollup",))
        rehearsal = Rehearsal(str(dev_attempt.ref), dev_frames["dataset_rollup"], _utc(dev["start"]), _utc(dev["stop"]))
        at = (prod["start"] + prod["stop"]) / 2
        set_clock(env, at)
        attempt, frames = _fetch(env, monkeypatch, "prod", prod["attempt_key"], ("dataset_rollup", "collection_rollup"))
    finally:
        emu.stop()
    p = attempt_progress("prod", attempt.key, frames["dataset_rollup"], None, _utc(prod["start"]), attempt.ended,
                         rehearsal, frames["collection_rollup"])  # now: AWS's, from the rollup
    assert p.eta is not None, p.why_no_eta
    assert p.eta.low <= _utc(prod["stop"]) <= p.eta.high, (p.line(), _utc(prod["stop"]))
    assert p.eta.low >= _utc(at) and p.eta.low <= p.eta.likely <= p.eta.high
    assert str(dev_attempt.ref) in p.eta.basis


def test_signature_diff_equals_what_the_truths_failures_imply(default_account, monkeypatch):
    env, truth = default_account
    prod = _live(truth)
    dev = next(m for m in truth["migrations"] if m["stage"] == "dev" and m["attempt_key"] == prod["attempt_key"])
    sides = {}
    for m in (dev, prod):
        _, frames = _fetch(env, monkeypatch, m["stage"], m["attempt_key"], ("error_signatures",))
        sides[m["stage"]] = frames["error_signatures"]
    diff = signature_diff("dev:" + dev["attempt_key"], sides["dev"], "prod:" + prod["attempt_key"], sides["prod"])

    def failed_jobs(m: dict) -> Counter:
        return Counter(j["observable_category"] for j in m["jobs"] if j["status"] == "FAILED")

    want_dev, want_prod = failed_jobs(dev), failed_jobs(prod)
    assert diff.groupby("error_category")["base_jobs"].sum().loc[lambda s: s > 0].to_dict() == dict(want_dev)
    assert diff.groupby("error_category")["other_jobs"].sum().loc[lambda s: s > 0].to_dict() == dict(want_prod)
    for row in diff.to_dict("records"):
        expected = "both" if row["base_jobs"] and row["other_jobs"] else "new" if row["other_jobs"] else "vanished"
        assert row["change"] == expected, row
    # a category only prod failed with is new, one only dev failed with vanished
    for category in set(want_prod) - set(want_dev):
        assert set(diff.loc[diff["error_category"] == category, "change"]) == {"new"}
    for category in set(want_dev) - set(want_prod):
        assert set(diff.loc[diff["error_category"] == category, "change"]) == {"vanished"}
    assert set(diff["change"]) >= {"both"} and len(set(diff["change"])) > 1, "the scenario has causes that differ"
    code, output = _run(env, "compare", "--base", f"dev:{dev['attempt_key']}", "--other", f"prod:{prod['attempt_key']}")
    assert code == 0, output
    assert "causes of failure" in output and "vanished" in output


def _run(env: dict, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={**env, "COLUMNS": "200"}, catch_exceptions=True)
    return result.exit_code, result.output + (repr(result.exception) if result.exit_code not in (0, 1, 2) else "")


def test_drill_down_shows_a_failed_datasets_jobs_and_log_excerpt(default_account, tmp_path):
    env, truth = default_account
    prod = _live(truth)
    failed = next(d for d in prod["datasets"] if d["state"] == "failed" and d["error_category"] == "application")
    truth_jobs = [j for j in prod["jobs"] if j["dataset_id"] == failed["dataset_id"]]
    out = tmp_path / "dataset.json"
    code, output = _run(env, "describe", "dataset", failed["dataset_id"][:8], "--env", "prod", "--tag",
                        prod["attempt_key"], "--refresh", "--out", str(out))
    assert code == 0, output
    jobs = pd.DataFrame(json.loads(out.read_text()))
    assert sorted(jobs["job_id"]) == sorted(j["job_id"] for j in truth_jobs)
    assert dict(zip(jobs["job_id"], jobs["status"])) == {j["job_id"]: j["status"] for j in truth_jobs}
    failing = jobs[(jobs["status"] == "FAILED") & (jobs["step"] == failed["failing_step"])]
    assert not failing.empty and failing["excerpt"].str.contains("Error").all(), failing["excerpt"].tolist()
    code, output = _run(env, "describe", "dataset", failed["dataset_id"], "--env", "prod", "--tag", prod["attempt_key"])
    assert code == 0, output
    assert f"prod/{prod['attempt_key']}: failed in {failed['failing_step']}" in output
    assert "log:" in output and "ingestion execution" in output
    # the report's bounded table of failed datasets points at this command
    code, output = _run(env, "report", "--env", "prod", "--tag", prod["attempt_key"], "--out", str(tmp_path / "r"))
    assert code == 0, output
    index = (tmp_path / "r" / "index.md").read_text()
    assert "## Progress" in index and "## Failed datasets in detail" in index
    assert f"`cxgm describe dataset DATASET_ID --env prod --tag {prod['attempt_key']}`" in index


def test_drill_down_follows_a_dataset_across_the_stored_attempts(default_account, monkeypatch, tmp_path):
    """Without --tag: every attempt the store holds (here dev's rehearsal and the prod run), each with its outcome."""
    env, truth = default_account
    env = {**env, "CXGM_DATA": str(tmp_path / "store")}
    prod = _live(truth)
    dev = next(m for m in truth["migrations"] if m["stage"] == "dev" and m["attempt_key"] == prod["attempt_key"])
    states = {m["stage"]: {d["dataset_id"]: d for d in m["datasets"]} for m in (dev, prod)}
    dataset = next(i for i, d in states["prod"].items() if d["state"] == "failed" and i in states["dev"]
                   and states["dev"][i]["state"] != "not_started")
    for m in (dev, prod):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        session = MonitorSession(stats=FetchStats())
        attempt = session.resolve(m["stage"], m["attempt_key"])
        session.save(AttemptFrames(m["stage"], attempt, attempt.key, session.fetch(m["stage"], attempt)))
    code, output = _run(env, "describe", "dataset", dataset)
    assert code == 0, output
    assert "in 2 of 2 attempt(s) searched" in output
    for m in (dev, prod):
        assert f"{m['stage']}/{m['attempt_key']}: {states[m['stage']][dataset]['state']}" in output


def test_drill_down_puts_the_stage_a_person_acts_on_first(default_account, monkeypatch, tmp_path):
    """Dev's rehearsal came before prod's run, in the config's order: the stage whose migration runs now comes
    first, then the rest from production backwards, and the header says so."""
    env, truth = default_account
    env = {**env, "CXGM_DATA": str(tmp_path / "store")}
    prod = _live(truth)
    dev = next(m for m in truth["migrations"] if m["stage"] == "dev" and m["attempt_key"] == prod["attempt_key"])
    staging = max((m for m in truth["migrations"] if m["stage"] == "staging"), key=lambda m: m["start"])
    assert staging["stop"] < dev["start"], "staging's last attempt ended before dev's rehearsal"
    listed = {}

    def save(m):
        attempt, frames = _fetch(env, monkeypatch, m["stage"], m["attempt_key"], FRAMES_OF_A_DATASET)
        MonitorSession(stats=FetchStats()).save(AttemptFrames(m["stage"], attempt, attempt.key, frames))
        listed[m["stage"]] = set(frames["dataset_rollup"]["dataset_id"])

    set_clock(env, (dev["start"] + dev["stop"]) / 2)
    try:
        save(staging)
        save(dev)
        dataset = sorted(listed["dev"] & listed["staging"] & {d["dataset_id"] for d in prod["datasets"]})[0]
        code, running = _run(env, "describe", "dataset", dataset)
    finally:
        set_clock(env, truth["end"] + 30)
    assert code == 0, running
    assert f"dev first (a migration runs there now ({dev['execution_name']}, started " in running, running[:600]
    blocks = [f"{m['stage']}/{m['attempt_key']}: " for m in (dev, staging)]
    assert running.index(blocks[0]) < running.index(blocks[1])
    save(prod)
    code, ended = _run(env, "describe", "dataset", dataset)
    assert code == 0, ended
    assert "prod first (none of these stages runs a migration now: production backwards), then staging, dev" in \
        " ".join(ended.split()), ended[:600]
    blocks = [ended.index(f"{m['stage']}/{m['attempt_key']}: ") for m in (prod, staging, dev)]
    assert blocks == sorted(blocks), blocks


def test_an_unknown_dataset_says_how_to_find_one(default_account):
    env, truth = default_account
    prod = _live(truth)
    code, output = _run(env, "describe", "dataset", "no-such-dataset", "--env", "prod", "--tag", prod["attempt_key"])
    assert code == 2, output
    assert "no dataset 'no-such-dataset'" in output and "cxgm describe datasets" in output
    assert "Traceback" not in output
