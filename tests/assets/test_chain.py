"""The whole asset chain, materialized on an ephemeral instance against the emulator, vs the truth file."""

import json
import re
from pathlib import Path

import boto3
import pandas as pd
import pandera.errors
import pytest
from dagster import AssetKey, DagsterInstance, MultiPartitionKey, materialize

from cxgm_pipeline.assets.checks import ALL_CHECKS
from cxgm_pipeline.definitions import all_assets, build_resources
from cxgm_pipeline.partitions import ATTEMPTS
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.schemas import DatasetRollup, validate
from tests.conftest import migration, observable

PARTITIONED = [a for a in all_assets if a.partitions_def is not None]
DELTAS = [a for a in all_assets if a.key.to_user_string() == "duration_deltas"]
OVERVIEW = [a for a in all_assets if a.key.to_user_string() == "attempt_states"]


def key(stage: str, attempt: str) -> MultiPartitionKey:
    return MultiPartitionKey({"stage": stage, "attempt": attempt})


@pytest.fixture(scope="module")
def chain(emulator, truth, tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    instance = DagsterInstance.ephemeral()
    attempts = sorted({m["attempt_key"] for m in truth["migrations"]})
    instance.add_dynamic_partitions(ATTEMPTS, attempts)
    resources = build_resources("local", str(data))
    cells = [(m["stage"], m["attempt_key"]) for m in truth["migrations"]] + [("staging", "ATTEMPT_2")]
    results = {}
    for stage, attempt in cells:
        results[(stage, attempt)] = materialize([*PARTITIONED, *ALL_CHECKS], partition_key=key(stage, attempt),
                                                resources=resources, instance=instance)
    deltas = materialize([*PARTITIONED, *DELTAS], selection=["duration_deltas"], resources=resources, instance=instance)
    overview = materialize([*PARTITIONED, *OVERVIEW], selection=["attempt_states"], resources=resources, instance=instance)
    return {"store": FrameStoreResource(base_path=str(data)), "results": results, "deltas": deltas, "overview": overview,
            "data": Path(data), "instance": instance, "resources": resources}


def test_every_partition_materializes(chain):
    assert all(r.success for r in chain["results"].values())
    assert chain["deltas"].success and chain["overview"].success


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_datasets_match_truth(chain, truth, stage):
    for m in [m for m in truth["migrations"] if m["stage"] == stage]:
        key = ["dataset_id", "collection_version_id"]  # a collection gathered twice: a row per version gathered
        rollup = chain["store"].read("dataset_rollup", stage, m["attempt_key"]).set_index(key)
        expected = pd.DataFrame(observable(m), columns=[*key, "state", "failing_step", "error_category", "retries",
                                                        "new_dataset_version_id"]).set_index(key)
        assert sorted(rollup.index) == sorted(expected.index), "every dataset exactly once per version gathered"
        got = rollup.loc[expected.index]
        for column in ("state", "failing_step", "error_category", "retries", "new_dataset_version_id"):
            mismatched = got[column].fillna("-").astype(str) != expected[column].fillna("-").astype(str)
            assert not mismatched.any(), f"{stage}/{m['attempt_key']} {column}: {got[mismatched][column].head()}"


def test_never_started_and_retried_datasets_are_right(chain, truth):
    m = migration(truth, "dev", "ATTEMPT_2")
    rollup = chain["store"].read("dataset_rollup", "dev", "ATTEMPT_2")
    for state in ("not_started", "skipped"):
        assert (rollup["state"] == state).sum() == sum(d["state"] == state for d in observable(m))
    assert (rollup["state"] == "skipped").sum() > 0
    assert rollup["retries"].sum() == sum(d["retries"] for d in observable(m)) > 0


def test_jobs_match_truth(chain, truth):
    m = migration(truth, "prod")
    jobs = chain["store"].read("migration_jobs", "prod", m["attempt_key"])
    enriched = chain["store"].read("enriched_jobs", "prod", m["attempt_key"])
    assert set(jobs["job_id"]) == {j["job_id"] for j in m["jobs"]}
    assert len(enriched) == len(jobs)
    truth_durations = {j["job_id"]: j["duration_s"] for j in m["jobs"]}
    got = dict(zip(jobs["job_id"], jobs["duration_s"]))
    assert all(abs(got[i] - d) < 0.01 for i, d in truth_durations.items() if d is not None)


def test_expired_logs_are_marked_not_dropped(chain, truth):
    m = next(m for m in truth["migrations"] if any(j["logs_expired"] for j in m["jobs"]))
    enriched = chain["store"].read("enriched_jobs", "dev", m["attempt_key"]).set_index("job_id")
    expired_failed = [j["job_id"] for j in m["jobs"] if j["logs_expired"] and j["status"] == "FAILED"]
    assert expired_failed
    assert (enriched.loc[expired_failed, "log_status"] == "missing").all()


def test_stage_where_nothing_ran_is_an_explicit_empty_result(chain):
    for asset in ("migration_jobs", "dataset_rollup", "error_signatures"):
        frame = chain["store"].read(asset, "staging", "ATTEMPT_2")
        assert frame.empty and "stage" in frame.columns


def test_task_token_is_never_stored(chain, emulator):
    batch = boto3.client("batch", region_name="us-west-2")
    tokens = set()
    for stage in ("dev", "prod"):
        ids = [j["jobId"] for p in batch.get_paginator("list_jobs").paginate(
            jobQueue=f"schema_migration-{stage}", filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}])
            for j in p["jobSummaryList"]]
        for i in range(0, len(ids), 100):
            for job in batch.describe_jobs(jobs=ids[i : i + 100])["jobs"]:
                tokens |= {e["value"] for e in job["container"]["environment"] if e["name"] == "TASK_TOKEN"}
    assert tokens
    for path in chain["data"].rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert not any(t.encode() in blob for t in tokens), f"TASK_TOKEN leaked into {path}"


def test_checks_on_a_finished_attempt(chain, truth):
    result = chain["results"][("dev", "ATTEMPT_2")]
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    # attempt_is_healthy: test_trouble_shows_as_check_severity_per_partition
    assert {name: e.passed for name, e in evaluations.items()
            if name not in ("failure_rate_below_threshold", "attempt_is_healthy")} == {
        "every_dataset_accounted_once": True, "succeeded_have_new_version": True,
        "job_and_execution_views_agree": True, "aws_access": True}
    datasets = observable(migration(truth, "dev", "ATTEMPT_2"))
    ran = [d for d in datasets if d["state"] not in ("not_started", "skipped")]
    rate = sum(d["state"] == "failed" for d in ran) / len(ran)
    check = evaluations["failure_rate_below_threshold"]
    assert check.metadata["failure_rate"].value == round(rate, 4)
    assert check.passed == (rate <= 0.10)  # the small scenario fails far more than 10%: the check says so


def test_portal_state_asset_equals_the_truth(chain, truth):
    """The asset reads the emulated portal: each dataset's verdict is the truth's (dev's last attempt)."""
    frame = pd.read_parquet(chain["data"] / "portal_state" / "dev" / "ATTEMPT_2.parquet")
    got = dict(zip(frame["dataset_id"], frame["portal_verdict"]))
    expected = {d["dataset_id"]: d["portal_verdict"] for d in observable(migration(truth, "dev", "ATTEMPT_2"))}
    assert got == expected and "migrated_and_live" in got.values()


def test_report_is_written_with_plots(chain):
    folder = chain["data"] / "reports" / "prod" / "ATTEMPT_2"
    assert {"index.md", "index.html", "job_status_counts.png", "dataset_states.png", "rerun.csv"} <= {
        p.name for p in folder.iterdir()}
    text = (folder / "index.md").read_text()
    assert text.index("datasets**") < text.index("![dataset_states.png]") < text.index("## Datasets to re-run")
    index = text
    assert "## Progress" in index and "progress.png" in {p.name for p in folder.iterdir()}
    assert "## Failed datasets in detail" in index and "cxgm describe dataset DATASET_ID --env prod" in index
    materialization = chain["results"][("prod", "ATTEMPT_2")].asset_materializations_for_node("migration_report")[0]
    meta = materialization.metadata
    assert len(meta["summary"].value) < 1000, "the UI renders Markdown inline only under 1,000 characters"
    assert meta["datasets_failed"].value == (chain["store"].read("dataset_rollup", "prod", "ATTEMPT_2")["state"] == "failed").sum()
    # no report server configured: the plots embedded, the report named by its path
    assert "data:image/png;base64," in meta["plots"].value and meta["report"].value.endswith("index.html")


def _rerun_table(html_text: str) -> list[str]:
    """The dataset ids of the HTML report's re-run table."""
    section = html_text.split("<h2>Datasets to re-run</h2>", 1)[1].split("<h2>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section)[1:]
    return [re.search(r"<td>(.*?)</td>", row).group(1) for row in rows]


def test_report_rerun_table_lists_the_manifest_and_the_alert_lists_it_too(chain, truth, monkeypatch):
    """The issue's 78 vs 95: the report listed failed datasets only (and the first 50), the manifest and the
    alert also the never-started ones of an ended attempt. Now all three are the rerun_manifest frame (the small
    scenario has no never-started dataset: tests/monitor/test_report.py covers those and long lists)."""
    import cxgm_pipeline.monitor.views.alerts as alerts_module

    monkeypatch.setattr(alerts_module, "STALE_AFTER_S", 10**9)
    requests = {r.tags["cxgm/attempt"]: r for r in _tick_alerts(chain).run_requests}
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


def test_alerts_carry_links_and_are_listed_in_the_ui(chain, monkeypatch):
    monkeypatch.setenv("CXGM_UI_URL", "http://dagster.example:3000")
    monkeypatch.setenv("CXGM_REPORTS_URL", "http://reports.example:3080")
    result = _tick_alerts(chain)
    config = result.run_requests[0].run_config["ops"]["announce"]["config"]["alerts"][0]
    ref = f"{config['attempt']}%7C{config['stage']}"
    assert f"Dagster: http://dagster.example:3000/assets/migration_report?view=partitions&partition={ref}" in config["body"]
    assert f"Report: http://reports.example:3080/{config['stage']}/{config['attempt']}/index.html" in config["body"]
    assert all(run.success for run in _announce(chain, result))
    view = chain["store"].read("alerts")
    assert len(view) >= len(result.run_requests)
    assert view.iloc[-1]["subject"] == result.run_requests[-1].run_config["ops"]["announce"]["config"]["alerts"][0]["subject"]
    recorded = chain["instance"].get_latest_materialization_event(AssetKey("alerts")).asset_materialization
    assert "[partition](http://dagster.example:3000/assets/" in recorded.metadata["alerts"].value
    # a subject is one escaped cell: its "[cxgm]" is text, not a broken link, and a "|" in it splits no column
    from cxgm_pipeline.monitor.report.document import md_cell

    assert f": {md_cell(view.iloc[-1]['subject'])} · [partition](" in recorded.metadata["alerts"].value
    assert md_cell("[cxgm] a | b") == "\\[cxgm\\] a \\| b"


def test_duration_deltas_wait_for_a_stage_with_no_rollup(emulator, tmp_path):
    """The views sensor runs the comparison as soon as any rollup exists (dev's, long before prod's first): the
    run succeeds, empty, and says what it waits for; it does not fail."""
    resources = build_resources("local", str(tmp_path / "data"))
    result = materialize([*PARTITIONED, *DELTAS], selection=["duration_deltas"], resources=resources,
                         instance=DagsterInstance.ephemeral())
    assert result.success
    meta = result.asset_materializations_for_node("duration_deltas")[0].metadata
    assert "no materialized dataset_rollup for any attempt of 'dev'" in meta["waiting"].value
    assert FrameStoreResource(base_path=str(tmp_path / "data")).read("duration_deltas").empty


def test_duration_deltas_compare_latest_dev_with_latest_prod(chain, truth):
    deltas = chain["store"].read("duration_deltas")
    assert set(deltas["base"]) == {"dev:ATTEMPT_2"} and set(deltas["other"]) == {"prod:ATTEMPT_2"}
    dev = {d["dataset_id"]: d["state"] for d in observable(migration(truth, "dev", "ATTEMPT_2"))}
    prod = {d["dataset_id"]: d["state"] for d in observable(migration(truth, "prod"))}
    expected = {i for i in dev if dev[i] == "succeeded" and prod.get(i) == "failed"}
    got = set(deltas.loc[deltas["outcome_change"] == "succeeded_to_failed", "dataset_id"])
    assert got == expected
    cxg = deltas[(deltas["step"] == "cxg") & deltas["delta_s"].notna()]
    assert len(cxg) > 0 and (cxg["delta_s"] == cxg["other_duration_s"] - cxg["base_duration_s"]).all()
    # the causes of failure on each side: every one counted once, as new, vanished or in both
    meta = chain["deltas"].asset_materializations_for_node("duration_deltas")[0].metadata
    causes = {(r["error_signature"], r["error_category"]) for stage in ("dev", "prod")
              for r in chain["store"].read("error_signatures", stage, "ATTEMPT_2").to_dict("records")}
    assert sum(meta[f"causes_{k}"].value for k in ("new", "vanished", "both")) == len(causes)
    assert "Causes of failure" in next((chain["data"] / "reports" / "compare").glob("*/index.md")).read_text()
    # a cause or a duration missing on one side is an empty cell, never "nan"
    changes = meta["outcome_changes"].md_str
    cells = {c.strip() for line in changes.splitlines() for c in line.split("|")}
    assert "succeeded\\_to\\_failed" in cells and not {"nan", "NaN", "None", "NaT"} & cells


def test_schema_violation_names_the_column(chain):
    rollup = chain["store"].read("dataset_rollup", "dev", "ATTEMPT_2")
    with pytest.raises(pandera.errors.SchemaError, match="state"):
        validate(DatasetRollup, rollup.assign(state="finished"))


def test_schema_violation_fails_the_step_with_pandera_message(chain, monkeypatch):
    import dataclasses

    from cxgm_pipeline.monitor.chain import SPECS

    good = chain["store"].read("collection_rollup", "dev", "ATTEMPT_2")
    broken = dataclasses.replace(SPECS["collection_rollup"], build=lambda b: good.assign(datasets=-1))
    monkeypatch.setitem(SPECS, "collection_rollup", broken)
    result = materialize([*PARTITIONED], selection=["collection_rollup"], partition_key=key("dev", "ATTEMPT_2"),
                         resources=chain["resources"], instance=chain["instance"], raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.event_specific_data.error
    text = error.message + "".join(c.message for c in [error.cause] if c)
    assert "datasets" in text and "greater_than_or_equal_to(0)" in text


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_rerun_manifest_is_the_truths_failed_datasets(chain, truth, stage):
    for m in [m for m in truth["migrations"] if m["stage"] == stage]:
        manifest = chain["store"].read("rerun_manifest", stage, m["attempt_key"])
        expected = {(d["dataset_id"], d["state"], d["failing_step"], d["error_category"])
                    for d in observable(m) if d["state"] in ("failed", "not_started")}
        got = {(r["dataset_id"], r["state"], r["failing_step"], r["error_category"])
               for r in manifest.astype(object).where(manifest.notna(), None).to_dict("records")}
        assert got == expected
        csv = pd.read_csv(chain["data"] / "reports" / stage / m["attempt_key"] / "rerun.csv")
        assert set(csv["dataset_id"]) == {e[0] for e in expected}


def test_attempt_states_at_a_glance(chain, truth):
    states = chain["store"].read("attempt_states").set_index(["stage", "attempt"])
    expected = {(m["stage"], m["attempt_key"]): m["status"].lower() for m in truth["migrations"]}
    assert {k: states.loc[k, "state"] for k in expected} == expected
    for m in truth["migrations"]:
        row = states.loc[(m["stage"], m["attempt_key"])]
        assert row["failed"] == sum(d["state"] == "failed" for d in observable(m))
        assert row["datasets"] == len(observable(m))


def _tick_alerts(chain, cursor=None):
    from dagster import build_sensor_context

    from cxgm_pipeline.resources.aws import StepFunctionsResource
    from cxgm_pipeline.sensors.migration_alerts import migration_alerts_sensor

    resources = {"sfn": StepFunctionsResource(), "store": chain["store"]}
    return migration_alerts_sensor(build_sensor_context(instance=chain["instance"], resources=resources, cursor=cursor))


def _announce(chain, result, notifier=None):
    from cxgm_pipeline.resources.notifier import Notifier
    from cxgm_pipeline.assets.alerts import announce_alerts

    return [announce_alerts.execute_in_process(run_config=r.run_config, instance=chain["instance"], raise_on_error=False,
                                               resources={"notifier": notifier or Notifier(), "store": chain["store"]})
            for r in result.run_requests]


def test_alerts_fire_once_each(chain, truth, caplog, monkeypatch):
    import logging

    import cxgm_pipeline.monitor.views.alerts as alerts_module

    monkeypatch.setattr(alerts_module, "STALE_AFTER_S", 10**9)  # every emulated attempt is news here
    caplog.set_level(logging.WARNING, logger="cxgm.alerts")
    first = _tick_alerts(chain)
    assert len(first.run_requests) == len(truth["migrations"])  # one digest per attempt and tick
    assert not [r for r in caplog.records if r.name == "cxgm.alerts"], "the sensor decides; a run sends"
    assert all(run.success for run in _announce(chain, first))
    lines = [line for r in caplog.records if r.name == "cxgm.alerts" for line in r.getMessage().splitlines()]
    subjects = [line.strip() for line in lines if line.strip().startswith("[cxgm]") and "alerts (" not in line]
    signatures = sum(len(chain["store"].read("error_signatures", m["stage"], m["attempt_key"])) for m in truth["migrations"])
    assert sum("new error" in s for s in subjects) == signatures
    assert sum("finished" in s for s in subjects) == len(truth["migrations"])
    ran = [m for m in truth["migrations"] if observable(m)]
    assert sum("failure rate" in s for s in subjects) == len(ran)  # the small scenario fails >10%
    assert sum("failed in gather_collections" in s for s in subjects) == len(truth["migrations"]) - len(ran)
    finished = next(r.getMessage() for r in caplog.records if "prod/ATTEMPT_2 finished" in r.getMessage())
    prod_failed = [d["dataset_id"] for d in observable(migration(truth, "prod")) if d["state"] == "failed"]
    assert all(d in finished for d in prod_failed)
    assert "Progress:" in finished and "Gone since dev:ATTEMPT_2" in finished and "New in prod:ATTEMPT_2" in finished
    again = _tick_alerts(chain, first.cursor)
    assert not again.run_requests


def test_alerts_skip_attempts_that_ended_long_before_the_sensor_saw_them(chain, truth):
    """A new deployment must not page anyone about the dev rehearsal that ended four days ago."""
    result = _tick_alerts(chain)
    assert [r.tags["cxgm/attempt"] for r in result.run_requests] == ["prod:ATTEMPT_2"]
    assert set(json.loads(result.cursor)) >= {f"{m['stage']}:{m['attempt_key']}" for m in truth["migrations"]}


def test_a_failing_notifier_fails_a_visible_run_that_dagster_retries(chain):
    from cxgm_pipeline.resources.notifier import Notifier
    from cxgm_pipeline.assets.alerts import RETRIES, announce_alerts

    class Down(Notifier):
        def send(self, alert):
            raise ConnectionError("SMTP server went away")

    runs = _announce(chain, _tick_alerts(chain), Down())
    assert runs and not any(run.success for run in runs)
    assert announce_alerts.tags["dagster/max_retries"] == RETRIES


def test_a_sensor_preview_sends_nothing(chain, caplog):
    import logging

    caplog.set_level(logging.WARNING, logger="cxgm.alerts")
    assert _tick_alerts(chain).run_requests
    assert not [r for r in caplog.records if r.name == "cxgm.alerts"]


def test_error_signatures_count_the_datasets_each_cause_hit(chain, truth):
    m = migration(truth, "dev", "ATTEMPT_2")
    signatures = chain["store"].read("error_signatures", "dev", "ATTEMPT_2")
    # a failed job is counted once; a cause no failed job carries (production's verdict alone) counts no job, and
    # its datasets
    verdicts_alone = sum(d["failing_step"] in ("collection_cleanup", "collection_publish") for d in observable(m))
    assert signatures["jobs"].sum() == sum(j["status"] == "FAILED" for j in m["jobs"])
    cleanup = signatures[signatures["step"].isin(["collection_cleanup", "collection_publish"]) & (signatures["jobs"] == 0)]
    assert cleanup["datasets"].sum() == verdicts_alone
    collection = signatures[signatures["step"] == "collection_migration"]
    failed_collections = [c for c in m["collections"] if c["migration_status"] == "FAILED"]
    assert collection["jobs"].sum() >= len(failed_collections)
    by_category = signatures.groupby("error_category")["datasets"].sum().to_dict()
    failed = [d for d in observable(m) if d["state"] == "failed"]
    for category in {d["error_category"] for d in failed}:
        assert by_category[category] >= sum(d["error_category"] == category for d in failed)


def test_an_attempt_aws_no_longer_lists_fails_and_keeps_its_frames(chain, monkeypatch):
    """A misnamed state machine (or history past retention) must not turn good frames into empty ones."""
    before = chain["store"].read("migration_jobs", "dev", "ATTEMPT_2")
    assert not before.empty
    monkeypatch.setenv("CXGM_CONFIG", str(_config_with(chain["data"], migration_sfn="dp-{stage}-{stack}-renamed-sfn")))
    result = materialize(PARTITIONED, selection=["migration_jobs"], partition_key=key("dev", "ATTEMPT_2"),
                         resources=chain["resources"], instance=chain["instance"], raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "no longer lists it" in failure.event_specific_data.error.message
    assert len(chain["store"].read("migration_jobs", "dev", "ATTEMPT_2")) == len(before)


def _config_with(folder: Path, **values) -> Path:
    import os

    base = Path(os.environ["CXGM_CONFIG"]).read_text()
    path = folder / "renamed.toml"
    path.write_text(base.replace("[stages.dev]", "[stages.dev]\n" + "\n".join(f'{k} = "{v}"' for k, v in values.items()), 1))
    return path


def test_a_second_run_of_a_partition_in_progress_stops_before_touching_frames(chain):
    """Outside the daemon's queue (a CLI launch, a test), two runs of one partition must not interleave."""
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
    from dagster._core.utils import make_new_run_id

    instance = chain["instance"]
    other = DagsterRun(job_name="refresh_attempt", run_id=make_new_run_id(), status=DagsterRunStatus.STARTED,
                       tags={"dagster/partition": str(key("dev", "ATTEMPT_2"))})
    instance.add_run(other)
    try:
        result = materialize(PARTITIONED, selection=["migration_jobs"], partition_key=key("dev", "ATTEMPT_2"),
                             resources=chain["resources"], instance=instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert other.run_id in failure.event_specific_data.error.message
    finally:
        instance.delete_run(other.run_id)


def test_every_partition_page_opens_with_its_answer_and_its_failures(chain, truth):
    """The answer line leads migration_report's and dataset_rollup's metadata and the report; failures by
    category, the top failed datasets and the split re-run list are Markdown short enough to render inline."""
    for m in truth["migrations"]:
        result = chain["results"][(m["stage"], m["attempt_key"])]
        report = result.asset_materializations_for_node("migration_report")[0].metadata
        rollup_meta = result.asset_materializations_for_node("dataset_rollup")[0].metadata
        assert list(report)[0] == "answer" and list(rollup_meta)[0] == "answer"
        answer = report["answer"].value.strip("*")
        listed = [d for d in observable(m) if d["state"] != "skipped"]
        failed = sum(d["state"] == "failed" for d in listed)
        ended = sum(d["state"] in ("succeeded", "failed") for d in listed)  # never started: not ended
        if listed:
            assert f" of {len(listed):,} ({ended / len(listed):.0%}) ended - {failed:,} failed - data from " in answer, answer
            assert rollup_meta["answer"].value.split(" - data")[0] == answer.split(" - data")[0]
        else:
            assert "no dataset" in answer and "failed in gather_collections" in answer, answer
        for name in ("failures", "top_failed", "rerun"):
            assert len(report[name].value) < 1000, (name, "the UI renders Markdown inline only under 1,000 characters")
        assert report["failures"].value.startswith(f"**{failed:,} failed datasets**") if failed else True
        index = (chain["data"] / "reports" / m["stage"] / m["attempt_key"] / "index.md").read_text()
        assert index.splitlines()[2] == f"**{answer}**"
        assert "## Failures by cause" in index and "## What to re-run, and how" in index
    placeholder = chain["results"][("staging", "ATTEMPT_2")].asset_materializations_for_node("dataset_rollup")[0]
    assert "placeholder" in placeholder.metadata["answer"].value


def test_trouble_shows_as_check_severity_per_partition(chain, truth):
    """An attempt that died in gather_collections (its execution SUCCEEDED), was aborted, or ended with failed
    datasets fails `attempt_is_healthy` (ERROR, ERROR, WARN); a clean one and a placeholder pass. Each check
    result names its partition: the check list shows another partition's latest result than the detail."""
    from dagster import AssetCheckSeverity

    seen = set()
    for m in truth["migrations"]:
        evaluations = {e.check_name: e for e in chain["results"][(m["stage"], m["attempt_key"])]
                       .get_asset_check_evaluations()}
        health = evaluations["attempt_is_healthy"]
        where = f"{m['stage']}/{m['attempt_key']}"
        assert health.description.startswith(where + ": ")
        assert evaluations["failure_rate_below_threshold"].description.startswith(where + ": ")
        gather_failed = any(j["step"] == "gather_collections" and j["status"] == "FAILED" for j in m["jobs"])
        failed = sum(d["state"] == "failed" for d in observable(m))
        # FAILED: staging's history-quota stop; tolerance_exceeded: DIES, its execution SUCCEEDED all the same
        if gather_failed or m["status"] in ("ABORTED", "FAILED") or m.get("outcome") == "tolerance_exceeded":
            assert not health.passed and health.severity == AssetCheckSeverity.ERROR, health.description
            seen.add("error")
        elif failed:
            assert not health.passed and health.severity == AssetCheckSeverity.WARN
            assert f"{failed:,} failed dataset" in health.description
            seen.add("warn")
        else:
            assert health.passed
    assert seen == {"error", "warn"}
    placeholder = {e.check_name: e for e in chain["results"][("staging", "ATTEMPT_2")].get_asset_check_evaluations()}
    assert placeholder["attempt_is_healthy"].passed and "placeholder" in placeholder["attempt_is_healthy"].description


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
    first = json.loads(_tick_alerts(chain).cursor)
    name = "prod:ATTEMPT_2"
    assert first[SENT_AT][name] == clock[0]
    # as if the last digest had announced everything but one new cause and the finish was not reached yet
    signatures = chain["store"].read("error_signatures", "prod", "ATTEMPT_2")
    held_key = f"signature:{signatures.iloc[0]['error_signature']}"
    cursor = {**first, name: [k for k in first[name] if k != held_key]}
    clock[0] += 60
    held = _tick_alerts(chain, json.dumps(cursor))
    assert name not in {r.tags["cxgm/attempt"] for r in held.run_requests}, "a digest a minute after the last"
    assert held_key not in json.loads(held.cursor)[name], "held, not lost"
    clock[0] += 600
    due = _tick_alerts(chain, held.cursor)
    body = next(r for r in due.run_requests if r.tags["cxgm/attempt"] == name).run_config["ops"]["announce"][
        "config"]["alerts"][0]["body"]
    assert signatures.iloc[0]["error_signature"] in body
    # the finish goes at once, whatever the interval
    cursor = {**first, name: [k for k in first[name] if k != "finished"], SENT_AT: {name: clock[0]}}
    finished = _tick_alerts(chain, json.dumps(cursor))
    assert name in {r.tags["cxgm/attempt"] for r in finished.run_requests}
