"""Every `cxgm` command against the emulator, outputs compared with the truth file."""

import json
import tarfile

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxgm_pipeline.cli import app
from cxgm_pipeline.monitor.session import MonitorSession
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from tests.conftest import migration, named_by_the_portal, observable, once_each

runner = CliRunner()


@pytest.fixture
def cli(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("CXGM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "160")

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result

    return run


def test_help_of_every_command(cli):
    for command in ("attempts", "describe", "plot", "compare", "report", "rerun", "export", "import"):
        text = cli(command, "--help").output
        assert "Usage" in text
        assert "--help" in text and "<bool>" not in text, "a flag takes no value: no type beside it"
    assert "--refresh " in cli("report", "--help").output


def test_attempts_lists_keys_states_and_counts(cli, truth, tmp_path):
    assert "counts left blank" in cli("attempts", "--env", "dev").output  # nothing rolled up yet: unknown, not 0
    out = tmp_path / "attempts.csv"
    cli("attempts", "--env", "dev", "--fetch", "--out", str(out))
    frame = pd.read_csv(out).set_index("attempt")
    gather_failed, never_started = [], 0
    for m in [m for m in truth["migrations"] if m["stage"] == "dev"]:
        assert frame.loc[m["attempt_key"], "state"] == m["status"].lower()
        assert frame.loc[m["attempt_key"], "failed"] == sum(d["state"] == "failed" for d in once_each(observable(m)))
        gather = [j for j in m["jobs"] if j["step"] == "gather_collections"]
        if gather and gather[-1]["status"] == "FAILED":  # the execution succeeds all the same: the note says why
            gather_failed.append(m["attempt_key"])
            assert frame.loc[m["attempt_key"], "datasets"] == 0
            assert frame.loc[m["attempt_key"], "note"].startswith("failed in gather_collections: ")
            assert "failed in gather_collections" in frame.loc[m["attempt_key"], "answer"].split(" - ")[0]
        else:
            assert pd.isna(frame.loc[m["attempt_key"], "note"])
            listed = [d for d in once_each(observable(m)) if d["state"] != "skipped"]
            failed = sum(d["state"] == "failed" for d in listed)
            ended = sum(d["state"] in ("succeeded", "failed") for d in listed)  # never started: not ended
            assert f" of {len(listed):,} ({100 * ended // len(listed)}%) ended - {failed:,} failed - " \
                in frame.loc[m["attempt_key"], "answer"]
            # ended: what it did not start is never started, not remaining (dev's ATTEMPT_2 said 5 remaining)
            assert pd.isna(frame.loc[m["attempt_key"], "remaining"])
            assert frame.loc[m["attempt_key"], "never_started"] == sum(d["state"] == "not_started" for d in listed)
            never_started += frame.loc[m["attempt_key"], "never_started"]
    assert gather_failed, "the default scenario has an attempt whose gather_collections failed"
    assert never_started, "the scenario has an ended attempt that left datasets never started"
    shown = cli("attempts", "--env", "dev", "--fetch").output
    answers = [line for line in shown.splitlines() if line.startswith(tuple(f"{k}: " for k in frame.index))]
    assert len(answers) >= len(frame) and shown.index(answers[0]) < shown.index("┏"), "the answers come first"
    assert f"{gather_failed[0]}: no dataset: failed in gather_collections" in shown.replace("\n", "")
    # what --fetch rolled up is kept: the plain listing shows it without reading the attempts again, and says
    # the moment its jobs were read (after every dev attempt ended), not "before its end" from the rollup's times
    plain = cli("attempts", "--env", "dev").output
    assert "counts left blank" not in plain and "before its end" not in plain.replace("\n", ""), plain


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_describe_datasets_matches_truth(cli, truth, tmp_path, suffix):
    out = tmp_path / f"datasets{suffix}"
    cli("describe", "datasets", "--env", "prod", "--tag", "ATTEMPT_2", "--out", str(out))
    frame = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".json": pd.read_json}[suffix](out)
    expected = {d["dataset_id"]: d["state"] for d in observable(migration(truth, "prod"))}
    assert dict(zip(frame["dataset_id"], frame["state"])) == expected


def test_describe_filters_by_status_and_step(cli, truth, tmp_path):
    out = tmp_path / "failed.csv"
    cli("describe", "jobs", "--env", "dev", "--tag", "ATTEMPT_2", "--status", "FAILED", "--step", "cxg", "--out", str(out))
    expected = {j["job_id"] for j in migration(truth, "dev", "ATTEMPT_2")["jobs"] if j["status"] == "FAILED" and j["job_name"] == "cxg"}
    assert set(pd.read_csv(out)["job_id"]) == expected


def test_describe_by_time_window(cli, truth, tmp_path):
    m = migration(truth, "dev", "ATTEMPT_2")
    start = pd.Timestamp(m["start"], unit="s", tz="UTC").isoformat()
    end = pd.Timestamp(m["stop"] + 30, unit="s", tz="UTC").isoformat()
    out = tmp_path / "window.csv"
    cli("describe", "jobs", "--env", "dev", "--start", start, "--end", end, "--out", str(out))
    assert set(pd.read_csv(out)["job_id"]) == {j["job_id"] for j in m["jobs"]}


def test_errors_a_user_can_act_on(cli, tmp_path, monkeypatch):
    unknown = cli("describe", "jobs", "--env", "dev", "--tag", "NOPE", code=2).output
    assert "known attempts" in unknown and "ATTEMPT_2" in unknown
    assert "[stages.qa]" in cli("describe", "jobs", "--env", "qa", "--tag", "X", code=2).output
    assert "does not exist" in cli("describe", "jobs", "--env", "dev", "--tag", "ATTEMPT_2",
                                   "--out", str(tmp_path / "no" / "x.csv"), code=2).output
    assert "extension" in cli("describe", "jobs", "--env", "dev", "--tag", "ATTEMPT_2", "--out", str(tmp_path / "x.xlsx"), code=2).output
    cli("describe", "jobs", "--env", "dev", "--tag", "ATTEMPT_2", "--out", str(tmp_path), code=2)  # a folder is no file
    assert "empty window" in cli("describe", "jobs", "--env", "dev", "--start", "2026-11-02", "--end", "2026-11-01", code=2).output
    assert "--tag" in cli("describe", "jobs", "--env", "dev", code=2).output


def test_missing_profile_names_it(cli, tmp_path, monkeypatch):
    config = tmp_path / "stages.toml"
    config.write_text('[stages.dev]\nprofile = "single-cell-nowhere"\n')
    monkeypatch.setenv("CXGM_CONFIG", str(config))
    output = cli("attempts", "--env", "dev", code=1).output
    assert "single-cell-nowhere" in output


def test_plot_writes_a_png(cli, tmp_path):
    out = tmp_path / "plot_jobs.png"
    cli("plot", "jobs", "--y", "count", "--x", "job_name", "--color", "status", "--env", "dev", "--tag", "ATTEMPT_2", "--out", str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cli("plot", "datasets", "--y", "duration", "--x", "state", "--color", "state", "--env", "dev", "--tag", "ATTEMPT_2",
        "--out", str(tmp_path / "d.png"))
    assert "unknown column" in cli("plot", "jobs", "--x", "nope", "--env", "dev", "--tag", "ATTEMPT_2",
                                   "--out", str(tmp_path / "x.png"), code=2).output


def test_compare_outcome_changes_match_truth(cli, truth, tmp_path):
    out = tmp_path / "deltas.csv"
    cli("compare", "--base", "dev:ATTEMPT_2", "--other", "prod:ATTEMPT_2", "--step", "cxg", "--top", "50", "--out", str(out))
    deltas = pd.read_csv(out)
    dev = {d["dataset_id"]: d["state"] for d in observable(migration(truth, "dev", "ATTEMPT_2"))}
    prod = {d["dataset_id"]: d["state"] for d in observable(migration(truth, "prod"))}
    got = set(deltas.loc[deltas["outcome_change"] == "failed_to_succeeded", "dataset_id"])
    assert got == {i for i in dev if dev[i] == "failed" and prod[i] == "succeeded"}
    png = tmp_path / "top.png"
    cli("compare", "--base", "dev:ATTEMPT_2", "--other", "prod:latest", "--out", str(png))
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_a_cut_listing_says_how_many_it_shows_and_how_to_get_them_all(cli, tmp_path):
    """`describe datasets` printed its first 50 rows with no word of how to get the rest."""
    out = tmp_path / "edges.csv"
    cli("describe", "datasets", "--env", "dev", "--tag", "EDGES", "--out", str(out))
    total = len(pd.read_csv(out))
    assert total > 50, "EDGES lists more datasets than a table shows"
    shown = " ".join(cli("describe", "datasets", "--env", "dev", "--tag", "EDGES").output.split())
    assert f"datasets of dev/EDGES (50 of {total} rows shown; all: --out FILE.csv)" in shown, shown[:400]
    deltas = tmp_path / "deltas.csv"
    cli("compare", "--base", "dev:ATTEMPT_2", "--other", "prod:ATTEMPT_2", "--out", str(deltas))
    cxg = pd.read_csv(deltas).query("step == 'cxg'")["delta_s"].notna().sum()
    assert cxg > 3
    shown = " ".join(cli("compare", "--base", "dev:ATTEMPT_2", "--other", "prod:ATTEMPT_2", "--top", "3").output.split())
    assert f"(3 of {cxg} rows shown; all: --top {cxg}, or --out FILE.csv (every step's))" in shown, shown[:600]


def test_report_and_rerun(cli, truth, tmp_path):
    folder = tmp_path / "report"
    cli("report", "--env", "prod", "--tag", "ATTEMPT_2", "--out", str(folder))
    assert {"index.md", "index.html", "dataset_states.png", "rerun.csv"} <= {p.name for p in folder.iterdir()}
    out = tmp_path / "rerun.json"
    cli("rerun", "--env", "prod", "--tag", "ATTEMPT_2", "--out", str(out))
    m = migration(truth, "prod")
    lost = named_by_the_portal(truth, m)  # of a collection whose migration failed before naming them
    assert lost
    expected = {d["dataset_id"] for d in observable(m) + lost if d["state"] in ("failed", "not_started")}
    assert {r["dataset_id"] for r in json.loads(out.read_text())} == expected


def test_errors_and_report_show_the_evidence(cli, tmp_path, monkeypatch):
    """Every classified cause names the rule that decided it and the line it matched; the report shows it."""
    from cxgm_pipeline.monitor.classify.classifier import NO_RULE, current_rules

    out = tmp_path / "errors.json"
    cli("describe", "errors", "--env", "prod", "--tag", "ATTEMPT_2", "--out", str(out))
    rows = json.loads(out.read_text())
    classified = [r for r in rows if r["error_category"] != "unknown"]
    assert classified and all(" @ " in (r["error_evidence"] or "") for r in classified)
    assert {r["error_evidence"].split(" @ ")[0] for r in classified} <= {rule.id for rule in current_rules()}
    # unknown says which fields there were to read (and which were empty)
    assert all(r["error_evidence"].startswith(f"{NO_RULE} @ ") for r in rows if r["error_category"] == "unknown")
    listed = [r for r in rows if "{term_id}" in r["error_signature"] or "{instance}" in r["error_signature"]]
    assert listed and all(r["examples"] for r in listed)
    assert all("<" not in r["error_signature"] for r in rows)
    monkeypatch.delenv("COLUMNS")  # captured output with no width asked for: no cell folds
    shown = cli("describe", "errors", "--env", "prod", "--tag", "ATTEMPT_2").output
    assert "error_evidence" in shown and classified[0]["error_evidence"].split(": ")[0] in shown
    folder = tmp_path / "report"
    cli("report", "--env", "prod", "--tag", "ATTEMPT_2", "--out", str(folder))
    markdown = (folder / "index.md").read_text()
    assert "error_evidence" in markdown
    for r in classified[:10]:  # the report's top signatures
        assert r["error_evidence"].split(" @ ")[0] in markdown


def test_reuses_fresh_frames_and_refreshes_from_them(cli, emulator, tmp_path):
    session = MonitorSession(store=FrameStoreResource(base_path=str(tmp_path / "data")))
    session.save(session.frames("prod", "ATTEMPT_2"))  # as a Dagster materialization would
    stored = cli("describe", "errors", "--env", "prod", "--tag", "ATTEMPT_2").output
    assert "prod/ATTEMPT_2: the frames stored at " in stored and "to check they are fresh" in stored
    assert "from AWS" not in stored, "one source, said once"
    refreshed = cli("describe", "errors", "--env", "prod", "--tag", "ATTEMPT_2", "--refresh").output
    # an ended attempt whose stored frames saw its end: a check that it has not run again, not a fetch (prod's
    # stage has one execution; resolving an attempt describes each execution of the stage once)
    assert "final" in refreshed and "from AWS" not in refreshed
    calls = int(refreshed.split("; ")[1].split(" AWS call")[0])
    assert calls <= 5, refreshed


def test_export_then_import_without_aws(cli, truth, tmp_path, monkeypatch, emulator):
    bundle = tmp_path / "prod.tar.gz"
    cli("export", "--env", "prod", "--tag", "ATTEMPT_2", "--out", str(bundle))
    with tarfile.open(bundle) as tar:  # the report as people read it, and the re-run list, travel with the frames
        members = {m.name: m for m in tar}
        assert {"report/index.html", "report/dataset_states.png", "report/rerun.csv", "report/rerun.json"} <= set(members)
        rerun = pd.read_csv(tar.extractfile(members["report/rerun.csv"]))
    m = migration(truth, "prod")
    assert set(rerun["dataset_id"]) == {d["dataset_id"] for d in observable(m) if d["state"] == "failed"} | {
        d["dataset_id"] for d in named_by_the_portal(truth, m)}
    monkeypatch.setenv("CXGM_DATA", str(tmp_path / "colleague"))
    cli("import", str(bundle))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: the bundle must suffice
    out = tmp_path / "imported.csv"
    output = cli("describe", "datasets", "--env", "prod", "--tag", "ATTEMPT_2", "--out", str(out)).output
    assert "imported bundle" in output
    assert set(pd.read_csv(out)["dataset_id"]) == {d["dataset_id"] for d in observable(migration(truth, "prod"))}
    # live data wins when asked: --refresh reads AWS, not the bundle
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint_url)
    again = cli("describe", "datasets", "--env", "prod", "--tag", "ATTEMPT_2", "--refresh", "--out", str(out)).output
    assert "imported bundle" not in again and "AWS calls" in again


def test_tampered_or_truncated_bundle_is_refused(cli, tmp_path):
    bundle = tmp_path / "b.tar.gz"
    cli("export", "--env", "dev", "--tag", "ATTEMPT_2", "--out", str(bundle))
    with tarfile.open(bundle) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}
    members["frames/dataset_rollup.parquet"] = members["frames/dataset_rollup.parquet"][:-10] + b"0123456789"
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(tampered, "w:gz") as tar:
        import io

        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert "frames/dataset_rollup.parquet" in cli("import", str(tampered), code=1).output
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    assert "truncated" in cli("import", str(truncated), code=1).output


def test_unknown_status_or_step_is_a_usage_error_not_an_empty_table(cli):
    assert "expected one of" in cli("describe", "jobs", "--env", "dev", "--tag", "ATTEMPT_2", "--status", "BOGUS",
                                     code=2).output
    assert "expected one of" in cli("describe", "datasets", "--env", "dev", "--tag", "ATTEMPT_2", "--step", "bogus",
                                     code=2).output


def test_datasets_list_failures_first_and_errors_roll_up_by_category(cli, truth, tmp_path):
    """`describe datasets` showed 50 succeeded rows before any failure; `describe errors` showed signatures
    without their category's total, hiding the biggest cause."""
    from collections import Counter

    out = tmp_path / "datasets.csv"
    cli("describe", "datasets", "--env", "dev", "--tag", "ATTEMPT_2", "--out", str(out))
    states = pd.read_csv(out)["state"].tolist()
    failed = sum(d["state"] == "failed" for d in observable(migration(truth, "dev", "ATTEMPT_2")))
    assert failed and states[:failed] == ["failed"] * failed
    errors = tmp_path / "errors.csv"
    cli("describe", "errors", "--env", "dev", "--tag", "ATTEMPT_2", "--out", str(errors))
    rows = pd.read_csv(errors)
    by_category = rows.groupby("error_category", sort=False)["datasets"].sum()
    assert list(by_category.index) == list(rows["error_category"].drop_duplicates()), "a category's rows are together"
    assert by_category.is_monotonic_decreasing, "the biggest category first"
    shown = cli("describe", "errors", "--env", "dev", "--tag", "ATTEMPT_2").output
    assert shown.index("causes by category") < shown.index("errors of dev/ATTEMPT_2")
    biggest = Counter(d["error_category"] for d in observable(migration(truth, "dev", "ATTEMPT_2"))
                      if d["state"] == "failed").most_common(1)[0][0]
    assert biggest in shown.split("errors of dev/ATTEMPT_2")[0]


def test_without_env_the_running_stage_is_used_and_said(cli, truth, clock):
    """`--env` defaulted to dev: `describe dataset X --tag ATTEMPT_2` silently showed dev. Now it defaults to the
    stage of the newest running migration and says so; when none runs, of the newest that ran, said too."""
    import re

    ended = cli("attempts").output
    said = re.search(r"--env not given and none runs now: (\w+), where the newest migration ran \((\S+),", ended)
    assert said, ended
    stage, name = said.groups()
    started = {m["execution_name"]: m for m in truth["migrations"] if m.get("execution_name")}
    assert started[name]["stage"] == stage and f"attempts in {stage}" in ended.replace("\n", " ")
    live = next(m for m in truth["migrations"] if m["live"])
    clock.set(live["start"] + (live["stop"] - live["start"]) / 2)
    shown = cli("attempts").output
    assert f"--env not given: {live['stage']}, where the newest running migration is ({live['execution_name']}" in shown
    assert f"attempts in {live['stage']}" in shown.replace("\n", " ")


def test_describe_errors_says_what_it_counts_beside_the_failed_datasets_the_pages_count(cli, truth):
    """`describe errors` said application 64, out_of_memory 23, cancelled 12 where the page's failures said 55,
    16, 0: it counts every dataset a cause touched (retried jobs, cancelled siblings), and nothing said so."""
    from collections import Counter

    dev = migration(truth, "dev", "ATTEMPT_2")
    failed = Counter(d["error_category"] for d in once_each(observable(dev)) if d["state"] == "failed")
    shown = cli("describe", "errors", "--env", "dev", "--tag", "ATTEMPT_2").output
    table = shown.split("causes by category", 1)[1].split("errors of dev/ATTEMPT_2", 1)[0]
    header = next(line for line in table.splitlines() if "error_category" in line)
    assert "failed_datasets" in header
    names = [c.strip() for c in header.split("┃")[1:-1]]
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines() if line.count("│") > 2]
    rows = {r[names.index("error_category")]: int(r[names.index("failed_datasets")]) for r in cells}
    assert {c: n for c, n in rows.items() if n} == dict(failed), (rows, failed)
    touched = {r[names.index("error_category")]: int(r[names.index("datasets")]) for r in cells}
    assert any(touched[c] > rows[c] for c in rows), "the scenario has causes that touched more than they failed"
    note = " ".join(shown.split())
    assert "every dataset it touched" in note and "--status failed" in note


def test_attempts_answer_says_what_an_ended_attempt_left_on_the_old_schema(cli, truth, tmp_path):
    """prod's page ended its answer with "554 still on the old schema in the portal"; `cxgm attempts`' answer
    column, the same line, did not: it never passed the portal's reading on."""
    prod = migration(truth, "prod", "ATTEMPT_2")
    expected = sum(d["portal_verdict"] in ("migrated_not_published", "published_on_old_schema")
                   for d in prod["datasets"])
    assert expected
    cli("describe", "portal", "--env", "prod", "--tag", "ATTEMPT_2", "--out", str(tmp_path / "portal.csv"))
    out = tmp_path / "attempts.csv"
    cli("attempts", "--env", "prod", "--out", str(out))
    answer = pd.read_csv(out).set_index("attempt").loc["ATTEMPT_2", "answer"]
    assert f"{expected:,} still on the old schema in the portal" in answer, answer
