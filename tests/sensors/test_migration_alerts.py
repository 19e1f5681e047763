"""The alerts sensor over a materialized chain: one digest per attempt and tick, each thing announced once, history
not paged, digests paced, and the finished alert's re-run list the report's."""

import json
import re

import pandas as pd

from cxgm_pipeline.monitor.views.alerts import SUBJECT_CHARS
from tests.conftest import migration, observable, once_each
from tests.dagster_chain import announce, tick_alerts


def _rerun_table(html_text: str) -> list[str]:
    """The dataset ids of the HTML report's re-run table."""
    section = html_text.split("<h2>Datasets to re-run</h2>", 1)[1].split("<h2>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section)[1:]
    return [re.search(r"<td>(.*?)</td>", row).group(1) for row in rows]


def test_report_rerun_table_lists_the_manifest_and_the_alert_lists_it_too(chain, truth, monkeypatch):
    """The issue's 78 vs 95: the report listed failed datasets only (and the first 50), the manifest and the
    alert also the never-started ones of an ended attempt. Now all three are the rerun_manifest frame (the small
    scenario has no never-started dataset: tests/monitor/report/test_document.py covers those and long lists)."""
    import cxgm_pipeline.monitor.views.alerts as alerts_module

    monkeypatch.setattr(alerts_module, "STALE_AFTER_S", 10**9)
    requests = {r.tags["cxgm/attempt"]: r for r in tick_alerts(chain).run_requests}
    checked = 0
    for m in truth["migrations"]:
        folder = chain["data"] / "reports" / m["stage"] / m["attempt_key"]
        manifest = pd.read_csv(folder / "rerun.csv")["dataset_id"].tolist()
        assert _rerun_table((folder / "index.html").read_text()) == manifest
        body = requests[f"{m['stage']}:{m['attempt_key']}"].run_config["ops"]["announce"]["config"]["alerts"][0]["body"]
        listed = body.split("To re-run (", 1)[1].split("\n\n", 1)[0].splitlines()[1:] if "To re-run (" in body else []
        assert [line.split()[0] for line in listed] == manifest
        never_started = {d["dataset_id"] for d in observable(m) if d["state"] == "not_started"}
        assert never_started <= set(manifest)
        checked += bool(manifest)
    assert checked


def test_alerts_fire_once_each(chain, truth, caplog, monkeypatch):
    import logging

    import cxgm_pipeline.monitor.views.alerts as alerts_module

    monkeypatch.setattr(alerts_module, "STALE_AFTER_S", 10**9)  # every emulated attempt is news here
    caplog.set_level(logging.WARNING, logger="cxgm.alerts")
    first = tick_alerts(chain)
    assert len(first.run_requests) == len(truth["migrations"])  # one digest per attempt and tick
    assert not [r for r in caplog.records if r.name == "cxgm.alerts"], "the sensor decides; a run sends"
    assert all(run.success for run in announce(chain, first))
    messages = [r.getMessage().splitlines() for r in caplog.records if r.name == "cxgm.alerts"]
    # a digest's subject, then each alert's subject as a line of its body
    subjects = [line.strip() for m in messages for line in m[1:] if line.strip().startswith("[cxgm]")]
    heads = {m[0].split(":")[0].split()[1]: m[0] for m in messages}
    assert all(len(h) <= SUBJECT_CHARS for h in heads.values()), heads
    prod = migration(truth, "prod")
    failed = sum(d["state"] == "failed" for d in once_each(observable(prod)))
    assert heads[f"prod/{prod['attempt_key']}"].startswith(f"[cxgm] prod/{prod['attempt_key']} finished"), heads
    assert f", {failed:,} failed;" in heads[f"prod/{prod['attempt_key']}"], heads
    # a cause is announced when a page lists it: it failed a dataset, or it is a collection step's
    dataset_steps = {"dataset_migration", "validate_anndata", "validate_atac", "add_labels", "cxg"}
    signatures = 0
    for m in truth["migrations"]:
        found = chain["store"].read("error_signatures", m["stage"], m["attempt_key"])
        rollup = chain["store"].read("dataset_rollup", m["stage"], m["attempt_key"])
        decisive = set(rollup.loc[rollup["state"] == "failed", "error_signature"].dropna())
        signatures += sum(step not in dataset_steps or sig in decisive
                          for step, sig in zip(found["step"], found["error_signature"]))
    assert sum("new error" in s for s in subjects) == signatures
    # each ends as its execution did, in its answer line's words: an aborted one is not "finished"
    ends = {"ABORTED": "aborted", "FAILED": "failed", "TIMED_OUT": "timed out"}
    for m in truth["migrations"]:
        said = f"[cxgm] {m['stage']}/{m['attempt_key']} {ends.get(m['status'], 'finished')}"
        assert sum(s.startswith(said + ":") or s.startswith(said + " without") for s in subjects) == 1, (said, subjects)
    assert {m["status"] for m in truth["migrations"]} >= {"ABORTED", "FAILED", "SUCCEEDED"}
    ran = [m for m in truth["migrations"] if observable(m)]
    assert sum("failure rate" in s for s in subjects) == len(ran)  # the small scenario fails >10%
    assert sum("failed in gather_collections" in s for s in subjects) == len(truth["migrations"]) - len(ran)
    finished = next(r.getMessage() for r in caplog.records if "prod/ATTEMPT_2 finished" in r.getMessage())
    prod_failed = [d["dataset_id"] for d in observable(migration(truth, "prod")) if d["state"] == "failed"]
    assert all(d in finished for d in prod_failed)
    assert "Progress:" in finished and "Gone since dev:ATTEMPT_2" in finished and "New in prod:ATTEMPT_2" in finished
    again = tick_alerts(chain, first.cursor)
    assert not again.run_requests


def test_alerts_skip_attempts_that_ended_long_before_the_sensor_saw_them(chain, truth):
    """A new deployment must not page anyone about the dev rehearsal that ended four days ago."""
    result = tick_alerts(chain)
    assert [r.tags["cxgm/attempt"] for r in result.run_requests] == ["prod:ATTEMPT_2"]
    assert set(json.loads(result.cursor)) >= {f"{m['stage']}:{m['attempt_key']}" for m in truth["migrations"]}


def test_a_sensor_preview_sends_nothing(chain, caplog):
    import logging

    caplog.set_level(logging.WARNING, logger="cxgm.alerts")
    assert tick_alerts(chain).run_requests
    assert not [r for r in caplog.records if r.name == "cxgm.alerts"]


def test_one_digest_per_interval_the_finish_at_once(chain, truth, monkeypatch):
    """A run's first minutes find a new cause at every refresh: new causes found within CXGM_DIGEST_SECONDS of
    the attempt's last digest are held (unannounced) and go in the next one; the finished alert goes at once."""
    import cxgm_pipeline.monitor.views.alerts as alerts_module
    import cxgm_pipeline.sensors.migration_alerts as sensor_module
    from cxgm_pipeline.monitor.views.alerts import SENT_AT

    monkeypatch.setattr(alerts_module, "STALE_AFTER_S", 10**9)
    monkeypatch.setenv("CXGM_DIGEST_SECONDS", "600")
    clock = [1_000_000.0]
    monkeypatch.setattr(sensor_module, "wall_clock", lambda: clock[0])
    first = json.loads(tick_alerts(chain).cursor)
    name = "prod:ATTEMPT_2"
    assert first[SENT_AT][name] == clock[0]
    # as if the last digest had announced everything but one new cause and the finish was not reached yet
    signatures = chain["store"].read("error_signatures", "prod", "ATTEMPT_2")
    rollup = chain["store"].read("dataset_rollup", "prod", "ATTEMPT_2")  # a cause that failed a dataset
    signatures = signatures[signatures["error_signature"].isin(rollup.loc[rollup["state"] == "failed", "error_signature"])]
    held_key = f"signature:{signatures.iloc[0]['error_signature']}"
    cursor = {**first, name: [k for k in first[name] if k != held_key]}
    clock[0] += 60
    held = tick_alerts(chain, json.dumps(cursor))
    assert name not in {r.tags["cxgm/attempt"] for r in held.run_requests}, "a digest a minute after the last"
    assert held_key not in json.loads(held.cursor)[name], "held, not lost"
    clock[0] += 600
    due = tick_alerts(chain, held.cursor)
    body = next(r for r in due.run_requests if r.tags["cxgm/attempt"] == name).run_config["ops"]["announce"][
        "config"]["alerts"][0]["body"]
    assert signatures.iloc[0]["error_signature"] in body
    # the finish goes at once, whatever the interval
    cursor = {**first, name: [k for k in first[name] if k != "finished"], SENT_AT: {name: clock[0]}}
    finished = tick_alerts(chain, json.dumps(cursor))
    assert name in {r.tags["cxgm/attempt"] for r in finished.run_requests}


def test_the_finished_alert_waits_for_what_the_last_run_left(chain, truth, monkeypatch):
    """The portal is read within a budget per run: the finished alert sent after a run that left collections
    unread said 557 on the old schema and 111 to re-run, where the page then said 554 and 119."""
    import cxgm_pipeline.monitor.views.alerts as alerts_module

    monkeypatch.setattr(alerts_module, "STALE_AFTER_S", 10**9)

    def portal_left(n: int) -> None:
        _portal_left(chain, "prod", "ATTEMPT_2", n)

    def finished_sent() -> bool:
        return any("prod/ATTEMPT_2 finished" in r.run_config["ops"]["announce"]["config"]["alerts"][0]["subject"]
                   for r in tick_alerts(chain).run_requests if r.tags["cxgm/attempt"] == "prod:ATTEMPT_2")

    try:
        portal_left(3)
        assert not finished_sent()
        portal_left(0)
        assert finished_sent()
    finally:
        portal_left(0)


def _portal_left(chain, stage: str, attempt: str, n: int) -> None:
    """As if the partition's latest run had left `n` collections' portal reading for the next run."""
    from dagster import AssetMaterialization, MultiPartitionKey

    key = str(MultiPartitionKey({"stage": stage, "attempt": attempt}))
    chain["instance"].report_runless_asset_event(AssetMaterialization(
        "portal_state", partition=key, metadata={"collections_not_read": n}))


def test_an_attempt_history_when_first_seen_stays_history_once_its_reading_ends(chain, truth):
    """dev's aborted attempt, 9 days old, was history at first sight, while its first runs read on; when they were
    done, its finished alert went out as news ("[cxgm] dev/... finished: 208 failed"): history only held on the
    tick it was first seen."""
    dev = migration(truth, "dev")
    name = f"dev:{dev['attempt_key']}"

    def requested(result) -> set[str]:
        return {r.tags["cxgm/attempt"] for r in result.run_requests}

    try:
        _portal_left(chain, "dev", dev["attempt_key"], 3)
        first = tick_alerts(chain)
        assert name not in requested(first) and name in json.loads(first.cursor), "history: recorded, not sent"
        assert "finished" not in json.loads(first.cursor)[name], "its reading is not done: not finished yet"
        _portal_left(chain, "dev", dev["attempt_key"], 0)
        later = tick_alerts(chain, first.cursor)
        assert name not in requested(later), "still history once its finish is known"
        assert "finished" in json.loads(later.cursor)[name], "its finish recorded as announced"
    finally:
        _portal_left(chain, "dev", dev["attempt_key"], 0)
