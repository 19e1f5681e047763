"""The whole asset chain, materialized on an ephemeral instance against the emulator, vs the truth file (the
`chain` fixture: tests/conftest.py)."""

import re
from pathlib import Path

import boto3
import pandas as pd
import pandera.errors
import pytest
from dagster import materialize

from cxgm_pipeline.schemas import DatasetRollup, validate
from tests.conftest import migration, named_by_the_portal, observable, once_each
from tests.dagster_chain import PARTITIONED, key


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
    numbers = re.search(r"datasets to migrate( listed so far)?\*\*", text).start()  # "listed so far" while it runs
    assert numbers < text.index("![dataset_states.png]") < text.index("## Datasets to re-run")
    index = text
    assert "## Progress" in index and "progress.png" in {p.name for p in folder.iterdir()}
    assert "## Failed datasets in detail" in index and "cxgm describe dataset DATASET_ID --env prod" in index
    materialization = chain["results"][("prod", "ATTEMPT_2")].asset_materializations_for_node("migration_report")[0]
    meta = materialization.metadata
    assert len(meta["summary"].value) < 1000, "the UI renders Markdown inline only under 1,000 characters"
    assert meta["datasets_failed"].value == (chain["store"].read("dataset_rollup", "prod", "ATTEMPT_2")["state"] == "failed").sum()
    # no report server configured: the plots embedded, the report named by its path
    assert "data:image/png;base64," in meta["plots"].value and meta["report"].value.endswith("index.html")


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
        lost = named_by_the_portal(truth, m)  # of a collection whose migration failed before naming them
        expected = {(d["dataset_id"], d["state"], d["failing_step"], d["error_category"])
                    for d in observable(m) + lost if d["state"] in ("failed", "not_started")}
        got = {(r["dataset_id"], r["state"], r["failing_step"], r["error_category"])
               for r in manifest.astype(object).where(manifest.notna(), None).to_dict("records")}
        assert got == expected
        csv = pd.read_csv(chain["data"] / "reports" / stage / m["attempt_key"] / "rerun.csv")
        assert set(csv["dataset_id"]) == {e[0] for e in expected}
        # the page's split ("N re-run as is · M fix first"), row by row
        assert set(csv["rerun_as"]) <= {"as_is", "fix_first"}
        assert set(csv.loc[csv["rerun_as"] == "fix_first", "dataset_id"]) == {
            e[0] for e in expected if e[1] == "failed" and e[3] in ("validation", "application", "unknown", None)} | {
            d["dataset_id"] for d in lost if d["error_category"] in ("validation", "application", "unknown")}


def test_attempt_states_at_a_glance(chain, truth):
    states = chain["store"].read("attempt_states").set_index(["stage", "attempt"])
    expected = {(m["stage"], m["attempt_key"]): m["status"].lower() for m in truth["migrations"]}
    assert {k: states.loc[k, "state"] for k in expected} == expected
    for m in truth["migrations"]:
        row = states.loc[(m["stage"], m["attempt_key"])]
        assert row["failed"] == sum(d["state"] == "failed" for d in once_each(observable(m)))
        # a dataset gathered twice is one dataset; those the portal alone names (their collection failed before
        # naming them) count, never started, as the answer line counts them
        assert row["datasets"] == len(once_each(observable(m))) + len(named_by_the_portal(truth, m))
    # the pane: each stage's latest attempt and outcomes by stage, inline lists; every attempt in the report
    meta = chain["overview"].asset_materializations_for_node("attempt_states")[0].metadata
    for name in ("latest", "outcomes"):
        assert len(meta[name].md_str) < 1000 and "|" not in meta[name].md_str, name
    assert "**prod** ATTEMPT\\_2 (1 attempt): execution succeeded, finished with failures" in meta["latest"].md_str
    table = (chain["data"] / "reports" / "overview" / "index.md").read_text()
    assert all(f"| {m['attempt_key'].replace('_', chr(92) + '_')} |" in table for m in truth["migrations"])


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
        # the one grid that colours attempts by health is a check's: the partition's page links it
        assert "view=checks&checkDetail=attempt_is_healthy" in rollup_meta["health_grid"].value
        answer = full = report["answer"].value.strip("*")
        # the datasets of a collection whose collection_migration failed are named by the portal alone (its listing
        # of the collection): migration_report and dataset_rollup's metadata count them, never started
        lost = {c["collection_id"] for c in m["collections"] if c["migration_status"] == "FAILED"}
        listed = [d for d in once_each([d for d in m["datasets"] if d["observable"] or d["collection_id"] in lost])
                  if d["state"] != "skipped"]
        failed = sum(d["state"] == "failed" for d in listed)
        ended = sum(d["state"] in ("succeeded", "failed") for d in listed)  # never started: not ended
        if listed:
            # an earlier attempt's lost datasets are served as later attempts left them (skipped once migrated)
            if m["portal_final"] or not lost:
                assert f" of {len(listed):,} ({100 * ended // len(listed)}%) ended - {failed:,} failed - " in answer, answer
            assert rollup_meta["answer"].value.split(" ended - ")[0].split(" - ")[0] == answer.split(" - ")[0]
            assert f" - {failed:,} failed" in rollup_meta["answer"].value
            if lost:
                n = len(lost)
                assert f"{n} collection{'s' if n > 1 else ''} failed before listing" in answer, answer
                # dataset_rollup's metadata, built before portal_state, reads the portal itself on a first run
                said = next(part for part in answer.split(" - ") if "failed before listing" in part)
                assert said in rollup_meta["answer"].value.split(" - "), (said, rollup_meta["answer"].value)
        else:
            assert "no dataset" in answer and "failed in gather_collections" in answer, answer
            # its failures entry says why there is none, not "No failed dataset." (a clean attempt's words)
            assert report["failures"].value.startswith("No dataset listed: failed in gather_collections"), report
        assert "assets/migration_report" in report["health_grid"].value  # the report's own health grid
        for name in ("failures", "top_failed", "rerun"):
            assert len(report[name].value) < 1000, (name, "the UI renders Markdown inline only under 1,000 characters")
        assert report["failures"].value.startswith(f"**{failed:,} failed datasets**") if failed else True
        index = (chain["data"] / "reports" / m["stage"] / m["attempt_key"] / "index.md").read_text()
        assert index.splitlines()[2] == f"**{full}**"
        assert "## Failures by cause" in index and "## What to re-run, and how" in index
    # a placeholder says so on every page: both assets' answer and health, the report; no zeros, plots or
    # "nothing to re-run" that read as an attempt that ran clean
    placeholder = chain["results"][("staging", "ATTEMPT_2")]
    for asset in ("dataset_rollup", "migration_report"):
        meta = placeholder.asset_materializations_for_node(asset)[0].metadata
        assert "placeholder" in str(meta["answer"].value) and "placeholder" in str(meta["health"].value), asset
    report = placeholder.asset_materializations_for_node("migration_report")[0].metadata
    assert not {"failures", "top_failed", "rerun"} & set(report) and not any(k.startswith("plot_") for k in report)
    assert report["summary"].value.startswith("No data: the attempt never ran in this stage")
    index = (chain["data"] / "reports" / "staging" / "ATTEMPT_2" / "index.md").read_text()
    assert "a placeholder" in index.splitlines()[2] and "staging never ran ATTEMPT_2" in index
    assert "## " not in index and "![" not in index


def test_prods_page_says_how_it_differs_from_its_rehearsal(chain, truth):
    """Question d from the page a person lands on: each side's failed datasets, and where the comparison is."""
    prod = next(m for m in truth["migrations"] if m["stage"] == "prod")
    dev = next(m for m in truth["migrations"] if m["stage"] == "dev" and m["attempt_key"] == prod["attempt_key"])

    def failed(m) -> tuple[int, int]:
        """Failed of the answer line's total: listed (skipped out), and those only the portal names."""
        listed = [d for d in once_each(observable(m)) if d["state"] != "skipped"]
        return sum(d["state"] == "failed" for d in listed), len(listed) + len(named_by_the_portal(truth, m))

    report = chain["results"][("prod", prod["attempt_key"])].asset_materializations_for_node("migration_report")[0]
    line = report.metadata["rehearsal"].value
    (f, n), (g, o) = failed(prod), failed(dev)
    assert line.startswith(f"prod:{prod['attempt_key']}: **{f:,} failed** of {n:,}"), line
    assert f"its rehearsal dev:{prod['attempt_key']}: {g:,} failed of {o:,}" in line
    assert "/assets/duration_deltas)" in line
    dev_report = chain["results"][("dev", prod["attempt_key"])].asset_materializations_for_node("migration_report")[0]
    assert "rehearsal" not in dev_report.metadata  # dev rehearses; nothing before it
    # the HTML report a person opens from the page says it too, under its own heading
    index = (chain["data"] / "reports" / "prod" / prod["attempt_key"] / "index.md").read_text()
    section = index[index.index("## How it differs from its rehearsal"):]
    assert section.splitlines()[1] == line, section[:400]
    # one total on the page: the summary's datasets to migrate and the progress line are the answer line's
    answer = report.metadata["answer"].value
    assert f" of {n:,} " in answer, answer
    assert f"**{n:,} datasets to migrate**" in report.metadata["summary"].value
    assert report.metadata["progress"].value.split("; ")[0].endswith(f" of {n:,}"), report.metadata["progress"].value


def test_a_rehearsal_not_rolled_up_yet_is_said_to_exist(tmp_path):
    """Before dev's rehearsal is rolled up, prod's page says it exists and what will appear, not nothing."""
    from cxgm_pipeline.assets.reports.migration_report import rehearsal_line
    from cxgm_pipeline.monitor.attempts.listing import store_tags
    from cxgm_pipeline.monitor.store.frames import FrameStore

    store = FrameStore(str(tmp_path))
    rollup = pd.DataFrame({"dataset_id": ["a"], "state": ["failed"]})
    assert rehearsal_line("prod", "ATTEMPT_2", rollup, pd.DataFrame(), store, True) is None
    store_tags(store, "dev", {"arn:dev:1": "ATTEMPT_2", "arn:dev:2": None}, 0)
    line = rehearsal_line("prod", "ATTEMPT_2", rollup, pd.DataFrame(), store, True)
    assert line is not None and "rehearsed in dev:ATTEMPT_2, not rolled up yet" in line, line
    assert rehearsal_line("dev", "ATTEMPT_2", rollup, pd.DataFrame(), store, True) is None, "nothing before dev"


def test_a_portal_read_after_a_later_attempt_gives_no_count_but_names_that_attempt(chain, truth):
    """The portal is the stage's one state: read after a later attempt started, it is that attempt's result, and
    each attempt counts it over its own datasets ("480 on the old schema" beside the later page's 492). Such a
    reading gives no count on portal_state's metadata, migration_report's portal entry or the report's section: it
    names the later attempt, whose page has the count; the stage's last attempt gives its count."""
    from cxgm_pipeline.monitor.frames.portal_state import OLD_SCHEMA_VERDICTS

    followed = 0
    for m in (m for m in truth["migrations"] if m["datasets"]):
        later = sorted((o for o in truth["migrations"] if o["stage"] == m["stage"] and o["start"] > m["start"]),
                       key=lambda o: o["start"])
        result = chain["results"][(m["stage"], m["attempt_key"])]
        state = result.asset_materializations_for_node("portal_state")[0].metadata
        report = result.asset_materializations_for_node("migration_report")[0].metadata
        index = (chain["data"] / "reports" / m["stage"] / m["attempt_key"] / "index.md").read_text()
        section = index.split("The portal's answer", 1)[1].split("\n## ", 1)[0]
        if not later or "portal_read_after" not in state:
            continue
        author = later[-1]["attempt_key"]
        said = f"the portal now shows a later attempt's result ({author}): see its page"
        assert state["portal_read_after"].value == said and "old_schema_served" not in state
        assert report["portal"].value.startswith(f"**{said}** ([{author}]("), report["portal"].value
        assert "not this attempt's result" in report["portal"].value
        assert f"The portal now shows a later attempt's result ([{author}](" in section, section
        assert "on the old schema" not in section.split("`cxgm describe portal")[0], section
        assert "on the old schema" not in report["portal"].value
        followed += 1
    assert followed
    last = next(m for m in sorted(truth["migrations"], key=lambda o: o["start"], reverse=True)
                if m["stage"] == "dev" and m["datasets"])
    state = chain["results"][("dev", last["attempt_key"])].asset_materializations_for_node("portal_state")[0].metadata
    assert "portal_read_after" not in state
    assert state["old_schema_served"].value == sum(d["portal_verdict"] in OLD_SCHEMA_VERDICTS for d in last["datasets"])
