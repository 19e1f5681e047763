"""Every production variant (INLINE / DISTRIBUTED Maps x old / new ingestion input), every attempt of the
scenario (failed at gather, smoke test, aborted, finished, running, failed at the history quota and re-run,
failed and redriven): `cxgm describe datasets` equals the
truth for every dataset an observer of AWS can know of, and every command answers without a traceback."""

import json

import pandas as pd
import pytest

from cxgm_pipeline.monitor.frames.rollups import UNATTRIBUTED
from tests.cli.running import run
from tests.conftest import VARIANTS, set_clock

# campaign_state/campaign_attempt: the dataset's outcome across its campaign (staging's re-run after the history
# quota; every other attempt is a campaign of its own)
COMPARED = ("state", "failing_step", "error_category", "retries", "new_dataset_version_id", "campaign_state",
            "campaign_attempt", "production_verdict")
BRANCH_COMPARED = ("migration_revision_id",)


def test_describe_datasets_equals_truth_for_every_attempt(account, tmp_path):
    _compare_every_attempt(*account, tmp_path)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v[0]}-{v[1]}")
@pytest.mark.parametrize("seed", [3, 7])
def test_other_seeds_equal_truth_too(variant_emulator, variant, seed, tmp_path):
    env, truth = variant_emulator(*variant, seed=seed)
    _compare_every_attempt({**env, "CXGM_DATA": str(tmp_path / "data")}, truth, tmp_path)


def _compare_every_attempt(env: dict, truth: dict, tmp_path) -> None:
    """Rows keyed by (dataset, collection version gathered): a collection gathered twice is two rows a dataset."""
    key = ["dataset_id", "collection_version_id"]
    for m in truth["migrations"]:
        out = tmp_path / f"{m['stage']}-{m['attempt_key']}.json"
        code, output = run(env, "describe", "datasets", "--env", m["stage"], "--tag", m["attempt_key"], "--refresh",
                           "--out", str(out))
        assert code == 0, output
        got = pd.DataFrame(json.loads(out.read_text()), columns=[*key, *COMPARED, *BRANCH_COMPARED])
        assert not got["dataset_id"].astype(str).str.startswith(UNATTRIBUTED).any(), "every job tied to its dataset"
        got = got.set_index(key)
        expected = pd.DataFrame([d for d in m["datasets"] if d["observable"]], columns=[*key, *COMPARED, *BRANCH_COMPARED])
        expected = expected.set_index(key)
        label = f"{m['map_mode']}/{m['ingestion_input']} {m['stage']}/{m['attempt_key']}"
        assert sorted(got.index) == sorted(expected.index), f"{label}: every dataset exactly once per version gathered"
        for column in (*COMPARED, *BRANCH_COMPARED):
            a = got.loc[expected.index, column].fillna("-").astype(str).str.replace(r"\.0$", "", regex=True)
            b = expected[column].fillna("-").astype(str)
            bad = a != b
            assert not bad.any(), f"{label} {column}: got {a[bad].head(3).to_dict()} expected {b[bad].head(3).to_dict()}"


def test_a_collection_gathered_twice_is_two_rows_a_dataset(account, tmp_path):
    """A curator's open revision: its collection is gathered twice and each version migrated on its own."""
    env, truth = account
    m = next(m for m in truth["migrations"] if m["attempt_key"] == "EDGES")
    known = pd.DataFrame([d for d in m["datasets"] if d["observable"] and d["state"] != "skipped"])
    twice = known.groupby("dataset_id")["collection_version_id"].nunique()
    assert (twice == 2).any(), "the scenario gathers a collection twice, and both versions name their datasets"
    out = tmp_path / "datasets.json"
    code, output = run(env, "describe", "datasets", "--env", "dev", "--tag", "EDGES", "--refresh", "--out", str(out))
    assert code == 0, output
    got = pd.DataFrame(json.loads(out.read_text()))
    branches = got[got["dataset_id"].isin(twice[twice == 2].index) & (got["state"] != "skipped")]
    assert not branches.empty
    for _, rows in branches.groupby("dataset_id"):
        assert len(rows) == 2 and rows["migration_revision_id"].nunique() == 2, rows
        ran = rows.dropna(subset=["new_dataset_version_id"])
        assert ran["new_dataset_version_id"].is_unique  # two ingestions, two new versions, never one for both


def test_gather_failure_is_one_line_with_the_reason(account):
    env, truth = account
    failed = next(m for m in truth["migrations"] if not m["datasets"] and m["stage"] == "dev")
    code, output = run(env, "describe", "datasets", "--env", "dev", "--tag", failed["attempt_key"], "--refresh")
    assert code == 0, output
    assert "failed in gather_collections" in output and "OperationalError" in output


def test_smoke_test_attempt_covers_only_its_sample(account, tmp_path):
    env, truth = account
    smoke = next(m for m in truth["migrations"] if m["limit_migration"])
    out = tmp_path / "collections.json"
    code, output = run(env, "describe", "collections", "--env", "dev", "--tag", smoke["attempt_key"], "--refresh",
                       "--out", str(out))
    assert code == 0, output
    assert len(json.loads(out.read_text())) == smoke["limit_migration"]


@pytest.mark.parametrize("command", [
    ["attempts", "--env", "{stage}", "--fetch"],
    ["describe", "jobs", "--env", "{stage}", "--tag", "{key}", "--refresh"],
    ["describe", "executions", "--env", "{stage}", "--tag", "{key}", "--refresh"],
    ["describe", "collections", "--env", "{stage}", "--tag", "{key}", "--refresh"],
    ["describe", "errors", "--env", "{stage}", "--tag", "{key}", "--refresh"],
    ["rerun", "--env", "{stage}", "--tag", "{key}", "--refresh", "--out", "{tmp}/rerun.csv"],
    ["report", "--env", "{stage}", "--tag", "{key}", "--refresh", "--out", "{tmp}/report"],
])
def test_every_command_on_every_attempt_exits_cleanly(account, tmp_path, command):
    env, truth = account
    for m in truth["migrations"]:
        args = [a.format(stage=m["stage"], key=m["attempt_key"], tmp=tmp_path) for a in command]
        code, output = run(env, *args)
        assert code in (0, 1, 2), output
        assert "Traceback" not in output, output
        assert code == 0, f"{args}: {output}"


def test_expired_logs_fall_back_to_the_execution_history(account, tmp_path):
    """Where a dataset_migration's log has expired, its new version comes from the INLINE history or from the
    DISTRIBUTED Map Run's child execution; every other one from its `output` log record."""
    env, truth = account
    m = next(m for m in truth["migrations"] if any(j["logs_expired"] for j in m["jobs"]))
    out = tmp_path / "executions.json"
    code, output = run(env, "describe", "executions", "--env", m["stage"], "--tag", m["attempt_key"], "--refresh",
                       "--out", str(out))
    assert code == 0, output
    sources = pd.DataFrame(json.loads(out.read_text()))["attribution"].value_counts().to_dict()
    fallback = "history" if m["map_mode"] == "inline" else "map_run"
    assert sources.get("log", 0) > 0 and sources.get(fallback, 0) > 0, sources
    assert set(sources) <= {"log", fallback}, sources


@pytest.mark.parametrize("moment", ["gathering", "first_datasets", "midway"])
def test_a_live_attempt_at_any_moment_answers_every_command(account, tmp_path, moment):
    """While prod runs: just started (gather_collections running, no dataset yet), first datasets, midway."""
    env, truth = account
    prod = next(m for m in truth["migrations"] if m["live"])
    gather = min(j["created_at"] for j in prod["jobs"])
    first_dataset = min(j["created_at"] for j in prod["jobs"] if j["step"] == "dataset_migration")
    at = {"gathering": gather + 30, "first_datasets": first_dataset + 120,
          "midway": (prod["start"] + prod["stop"]) / 2}[moment]
    set_clock(env, at)
    try:
        out = tmp_path / "datasets.json"
        code, output = run(env, "describe", "datasets", "--env", "prod", "--tag", prod["attempt_key"], "--refresh",
                           "--out", str(out))
        assert code == 0 and "Traceback" not in output, output
        datasets = pd.DataFrame(json.loads(out.read_text()), columns=["dataset_id", "state"])
        if moment == "gathering":
            assert datasets.empty and "gather_collections is" in output
        else:
            assert not datasets.empty and datasets["state"].isin(["running", "pending", "not_started"]).any()
            assert not datasets["dataset_id"].str.startswith(UNATTRIBUTED).any()
        for args in (["attempts", "--env", "prod", "--fetch"], ["describe", "jobs", "--env", "prod", "--tag", prod["attempt_key"]],
                     ["describe", "errors", "--env", "prod", "--tag", prod["attempt_key"], "--refresh"],
                     ["rerun", "--env", "prod", "--tag", prod["attempt_key"], "--out", str(tmp_path / "r.csv")]):
            code, output = run(env, *args)
            assert code == 0 and "Traceback" not in output, f"{args}: {output}"
    finally:
        set_clock(env, truth["end"] + 30)


# The IAM policy the README documents: read-only, and nothing else (alerts add sns:Publish).
ALLOWED_ACTIONS = {
    "stepfunctions": {"ListExecutions", "DescribeExecution", "GetExecutionHistory", "ListMapRuns", "DescribeMapRun"},
    "sts": {"GetCallerIdentity"},  # needs no permission (AWS STS API reference)
    "batch": {"ListJobs", "DescribeJobs"},
    "logs": {"FilterLogEvents", "GetLogEvents"},
    "s3": {"GetObject"},
}


def test_only_the_documented_read_only_aws_actions_are_called(account, tmp_path, monkeypatch):
    import botocore.client

    env, truth = account
    called: set[tuple[str, str]] = set()
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        called.add((self.meta.service_model.service_name, operation_name))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    for m in truth["migrations"]:
        for what in ("datasets", "errors", "collections", "executions"):
            code, output = run(env, "describe", what, "--env", m["stage"], "--tag", m["attempt_key"], "--refresh")
            assert code == 0, output
    assert called, "the recorder saw the calls"
    outside = {(s, op) for s, op in called if op not in ALLOWED_ACTIONS.get(s, set())}
    assert not outside, f"AWS actions outside the documented policy: {sorted(outside)}"


def test_an_incremental_refresh_equals_a_full_fetch_for_fewer_calls(account, monkeypatch):
    """While prod runs: a refresh from the last frames (ended jobs kept, answers and logs not read again)
    gives the same datasets as fetching everything anew."""
    from cxgm_pipeline.monitor.aws.clients import FetchStats
    from cxgm_pipeline.monitor.session import MonitorSession

    env, truth = account
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    prod = next(m for m in truth["migrations"] if m["live"])
    span = prod["stop"] - prod["start"]
    try:
        set_clock(env, prod["start"] + span * 0.5)
        first = MonitorSession(stats=FetchStats())
        attempt = first.resolve("prod", prod["attempt_key"])
        before = first.fetch("prod", attempt)
        set_clock(env, prod["start"] + span * 0.52)
        full_session, inc_session = MonitorSession(stats=FetchStats()), MonitorSession(stats=FetchStats())
        attempt = full_session.resolve("prod", prod["attempt_key"])
        full = full_session.fetch("prod", attempt)
        inc = inc_session.fetch("prod", attempt, previous=before)
    finally:
        set_clock(env, truth["end"] + 30)

    def datasets(frames):  # a running job's seconds are counted to the moment of the fetch: compare outcomes
        shown = ["dataset_id", "state", "current_step", "last_step", "failing_step", "error_category", "retries",
                 "new_dataset_version_id", "jobs"]
        return frames["dataset_rollup"][shown].sort_values("dataset_id").reset_index(drop=True)

    pd.testing.assert_frame_equal(datasets(inc), datasets(full), check_dtype=False)
    collections = ["collection_id", "datasets", "succeeded", "failed", "running", "not_started", "skipped"]
    pd.testing.assert_frame_equal(inc["collection_rollup"][collections].reset_index(drop=True),
                                  full["collection_rollup"][collections].reset_index(drop=True), check_dtype=False)
    # the rows themselves: a job kept or found unchanged by its summary equals its fresh description (but for
    # a running job's seconds, counted to each fetch's moment), an execution taken from the last frame its listing
    def same(name, drop=()):
        a, b = (f[name].drop(columns=list(drop)).sort_values(f[name].columns[2]).reset_index(drop=True)
                for f in (inc, full))
        pd.testing.assert_frame_equal(a, b, check_dtype=False)

    same("migration_jobs", drop=["duration_s", "observed_at"])
    same("sfn_executions", drop=["duration_s"])
    failed = lambda f: f["enriched_jobs"].query("status == 'FAILED'")[["job_id", "error_category", "error_signature"]]  # noqa: E731
    pd.testing.assert_frame_equal(failed(inc).sort_values("job_id").reset_index(drop=True),
                                  failed(full).sort_values("job_id").reset_index(drop=True))
    # a first fetch is already a handful of bulk calls here: the refresh makes fewer and reads less (a summary
    # listed to see that a job has not changed counts as an item read)
    inc_stats, full_stats = inc_session.stats, full_session.stats
    assert inc_stats.calls <= full_stats.calls / 2 and inc_stats.items < full_stats.items / 2, (inc_stats, full_stats)


def test_a_child_that_dies_fails_its_dataset_where_it_died(account, tmp_path):
    """States.Runtime after dataset_migration answered (no Catch takes it, no job fails): DISTRIBUTED, the dataset's
    child execution fails; INLINE, the whole execution. Either way the dataset is failed in dataset_migration with
    Step Functions' cause, not running and not an unknown failure."""
    env, truth = account
    m = next(m for m in truth["migrations"] if m["attempt_key"] == "DIES")
    answered = {(j["dataset_id"], j["collection_version_id"]) for j in m["jobs"]
                if j["step"] == "dataset_migration" and j["status"] == "SUCCEEDED"}
    died = [d for d in m["datasets"] if d["state"] == "failed" and d["failing_step"] == "dataset_migration"
            and d["error_category"] == "application"
            and any(k[0] == d["dataset_id"] for k in answered)]
    assert died, "the scenario has a dataset whose execution died after its dataset_migration succeeded"
    assert (m["status"] == "FAILED") == (m["map_mode"] == "inline")
    out = tmp_path / "datasets.json"
    code, output = run(env, "describe", "datasets", "--env", "dev", "--tag", "DIES", "--refresh", "--out", str(out))
    assert code == 0, output
    got = pd.DataFrame(json.loads(out.read_text())).set_index("dataset_id")
    for d in died:
        row = got.loc[d["dataset_id"]]
        assert row["state"] == "failed" and row["failing_step"] == "dataset_migration", row
        assert row["error_signature"].startswith("States.Runtime in StepFunctionsStartExecution"), row["error_signature"]
    errors = tmp_path / "errors.json"
    code, output = run(env, "describe", "errors", "--env", "dev", "--tag", "DIES", "--refresh", "--out", str(errors))
    assert code == 0, output
    causes = pd.DataFrame(json.loads(errors.read_text()))
    died_here = causes[causes["error_signature"].str.startswith("States.Runtime")]
    assert len(died_here) == 1 and died_here["jobs"].iloc[0] == 0 and died_here["datasets"].iloc[0] == len(died)


def test_attempt_outcomes_are_not_execution_statuses(account, tmp_path):
    """`cxgm attempts` says what each attempt achieved: a failed gather and a SpanCollections tolerance breach end
    SUCCEEDED through report, yet are failed attempts; a States.Runtime ends an INLINE execution FAILED."""
    env, truth = account
    for stage in ("dev", "prod"):
        out = tmp_path / f"{stage}.json"
        code, output = run(env, "attempts", "--env", stage, "--fetch", "--out", str(out))
        assert code == 0, output
        got = {r["attempt"]: r["outcome"] for r in json.loads(out.read_text())}
        expected = {m["attempt_key"]: m["outcome"] for m in truth["migrations"] if m["stage"] == stage}
        assert got == expected
    outcomes = {m["outcome"] for m in truth["migrations"] if m["stage"] == "dev"}  # staging's quota stop: FAILED
    assert {"failed_in_gather", "aborted", "finished_with_failures"} <= outcomes
    distributed = truth["migrations"][0]["map_mode"] == "distributed"
    assert ("tolerance_exceeded" in outcomes) == distributed and ("failed" in outcomes) != distributed


def test_a_refresh_does_not_read_dead_children_again(account, monkeypatch):
    """The failed children and ended Map Runs a fetch read are kept in child_failures: a refresh from that frame
    describes none of them again, and reads no execution history."""
    import botocore.client

    from cxgm_pipeline.monitor.aws.clients import FetchStats
    from cxgm_pipeline.monitor.session import MonitorSession

    env, truth = account
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    m = next(m for m in truth["migrations"] if m["attempt_key"] == "DIES")
    session = MonitorSession(stats=FetchStats())
    attempt = session.resolve("dev", "DIES")
    first = session.fetch("dev", attempt)
    failures = first["child_failures"]
    kind = "child" if m["map_mode"] == "distributed" else "execution"
    assert (failures["kind"] == kind).any() and failures["error"].isin(["States.Runtime"]).any()
    called: list[tuple[str, dict]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        called.append((operation_name, dict(api_params)))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    again = MonitorSession(stats=FetchStats()).fetch("dev", attempt, previous=first)
    known = set(failures["execution_arn"].dropna()) | set(failures["map_run_arn"].dropna())
    # the migration's own execution is described by the stage's attempt listing (a campaign's lookup), not re-read
    # as a failure
    reread = [(op, p) for op, p in called if op in ("DescribeExecution", "DescribeMapRun")
              and (p.get("executionArn") in known - set(attempt.execution_arns) or p.get("mapRunArn") in known)]
    assert not reread, reread
    assert not [op for op, p in called if op == "GetExecutionHistory" or p.get("statusFilter")]
    pd.testing.assert_frame_equal(again["child_failures"], failures)


def test_a_collection_whose_child_died_says_so(account, tmp_path):
    """DIES (DISTRIBUTED): SpanCollections children failed with States.DataLimitExceeded past the tolerance: each
    such collection version shows Step Functions' error and cannot publish; no other does."""
    env, truth = account
    m = next(m for m in truth["migrations"] if m["attempt_key"] == "DIES")
    out = tmp_path / "collections.json"
    code, output = run(env, "describe", "collections", "--env", "dev", "--tag", "DIES", "--refresh", "--out", str(out))
    assert code == 0, output
    got = pd.DataFrame(json.loads(out.read_text()))
    got = {(r["collection_id"], r["collection_version_id"]): r for r in got.to_dict("records")}
    expected = {(c["collection_id"], c["collection_version_id"]): c["execution_error"] for c in m["collections"]}
    assert (m["map_mode"] == "distributed") == any(expected.values())
    for key, error in expected.items():
        if key in got:
            assert (got[key]["execution_error"] or None) == error, key
            assert not (error and got[key]["can_publish"])
    assert {k for k, e in expected.items() if e} <= set(got)


def test_can_publish_is_productions_rule(account, tmp_path):
    """can_publish says whether production would publish the migration's revision: only an auto revision of a
    published collection (a private one is migrated in place), its collection_migration and every dataset it set
    out to migrate succeeded, and the cleanup raised no error (publish_and_cleanup @ 001730b8, publish_revisions)."""
    env, truth = account
    m = next(m for m in truth["migrations"] if m["stage"] == "dev" and m["attempt_key"] == "ATTEMPT_2")
    out = tmp_path / "collections.json"
    code, output = run(env, "describe", "collections", "--env", "dev", "--tag", "ATTEMPT_2", "--refresh",
                       "--out", str(out))
    assert code == 0, output
    got = {(r["collection_id"], r["collection_version_id"]): bool(r["can_publish"]) for r in json.loads(out.read_text())}
    status = {(c["collection_id"], c["collection_version_id"]): c["migration_status"] for c in m["collections"]}
    by_collection: dict = {}
    for d in m["datasets"]:
        by_collection.setdefault((d["collection_id"], d["collection_version_id"]), []).append(d)
    expected = {}
    for key, datasets in by_collection.items():
        migrating = [d for d in datasets if d["state"] != "skipped"]
        revisions = {d["migration_revision_id"] for d in migrating if d["migration_revision_id"]}
        expected[key] = (status.get(key) == "SUCCEEDED" and bool(revisions) and key[1] not in revisions
                         and all(d["state"] == "succeeded" and not d["production_verdict"] for d in migrating))
    compared = {k: v for k, v in expected.items() if k in got}
    assert {k: got[k] for k in compared} == compared
    assert set(compared.values()) == {True, False}, "the scenario has revisions production publishes and ones it does not"
