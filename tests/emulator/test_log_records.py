"""Production's records as the emulator writes them and cxgm reads them back over HTTP: lines past 16 KB split
into 16,384-byte events as Docker's awslogs driver sends them, the cleanup step's verdicts, and the datasets a
collection listed but never started once the report step has emptied S3 (the default variant, DISTRIBUTED)."""

import json

import pytest

from cxgm_emulator.truth import load_truth
from cxgm_emulator.world import DOCKER_PART_BYTES
from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.session import MonitorSession
from tests.cli.test_variants import _compare_every_attempt, run
from tests.conftest import VARIANTS, migration, start_emulator_process
from tests.emulator.aws import all_jobs, client


def _split_lines(emulator, job: dict) -> list[dict]:
    """The records of a job's stream that arrived in parts: consecutive events of one timestamp."""
    logs = client("logs", emulator)
    try:
        events = logs.get_log_events(logGroupName=job["container"]["logConfiguration"]["options"]["awslogs-group"],
                                     logStreamName=job["container"]["logStreamName"], startFromHead=True)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []  # expired, as the truth says
    assert all(len(e["message"]) <= DOCKER_PART_BYTES for e in events), "no event longer than Docker's part"
    lines, i = [], 0
    while i < len(events):
        j = i + 1
        while j < len(events) and events[j]["timestamp"] == events[i]["timestamp"] \
                and len(events[j - 1]["message"]) == DOCKER_PART_BYTES:
            j += 1
        if j - i > 1:
            lines.append(json.loads("".join(e["message"] for e in events[i:j])))
        i = j
    return lines


def test_records_past_16_kb_arrive_in_parts_and_cxgm_reads_them_whole(emulator, truth):
    m = migration(truth, "dev", "ATTEMPT_2")
    versions = {d["new_dataset_version_id"] for d in m["datasets"]} - {None}
    jobs = [j for j in all_jobs(emulator, "schema_migration-dev")
            if {e["name"]: e["value"] for e in j["container"]["environment"]}.get("EXECUTION_ID") == m["execution_name"]
            or {e["name"]: e["value"] for e in j["container"]["environment"]}.get("DATASET_VERSION_ID") in versions]
    split = {j["jobId"]: _split_lines(emulator, j) for j in jobs
             if j["container"].get("logStreamName") and j["jobName"] in ("Collection_cleanup", "validate_anndata",
                                                                          "validate_atac", "report")}
    split = {k: v for k, v in split.items() if v}
    by_name = {j["jobId"]: j["jobName"] for j in jobs}
    names = {by_name[k] for k in split}
    # the long validation message: in the failed job's status record, and in the cleanup's error record and answer
    assert {"Collection_cleanup"} <= names and names & {"validate_anndata", "validate_atac"}, names
    cleanup_lines = [r for k, v in split.items() if by_name[k] == "Collection_cleanup" for r in v]
    assert any(r.get("rollback") is True and r["levelname"] == "ERROR" for r in cleanup_lines)
    failed_validation = next(k for k, v in split.items() if by_name[k].startswith("validate"))

    session = MonitorSession(stats=FetchStats())
    frames = session.fetch("dev", session.resolve("dev", "ATTEMPT_2"))
    enriched = frames["enriched_jobs"].set_index("job_id").loc[failed_validation]
    # read whole, the status record is one application record whose errors the validator rule reads
    assert enriched["runtime_lines"] == 0 and enriched["error_category"] == "validation", enriched.to_dict()
    assert "validator-value-in-column" in enriched["error_evidence"]

    datasets = frames["dataset_rollup"].set_index("dataset_id")
    expected = {d["dataset_id"]: d for d in m["datasets"] if d["observable"]}
    flagged = {k: d["production_verdict"] for k, d in expected.items() if d["production_verdict"]}
    assert {"rolled_back", "not_latest_schema"} <= set(flagged.values())
    assert datasets.loc[list(flagged), "production_verdict"].to_dict() == flagged
    # production's verdict alone failed these: every job of theirs succeeded
    alone = [k for k, d in expected.items() if d["failing_step"] == "collection_cleanup"]
    assert alone and (datasets.loc[alone, "state"] == "failed").all()
    assert (datasets.loc[alone, "error_category"] == "application").all()


def test_datasets_listed_but_never_started_stay_not_started_after_the_report_step(emulator, truth):
    """SpanDatasets' ItemReader failed for one collection: its datasets never started, and the report step deleted
    schema_migration/{execution}/; only the cleanup's "Downloaded from S3" record names them. A first fetch."""
    m = migration(truth, "dev", "ATTEMPT_2")
    never = {d["dataset_id"] for d in m["datasets"] if d["state"] == "not_started" and d["observable"]}
    assert never, "the scenario has a collection whose datasets never started"
    s3 = client("s3", emulator)
    listed = s3.list_objects_v2(Bucket=m["artifact_bucket"], Prefix=f"schema_migration/{m['execution_name']}/")
    assert listed.get("KeyCount", 0) == 0, "the report step emptied the prefix"
    session = MonitorSession(stats=FetchStats())
    frames = session.fetch("dev", session.resolve("dev", "ATTEMPT_2"))
    datasets = frames["dataset_rollup"].set_index("dataset_id")
    assert set(datasets.index) >= never
    assert (datasets.loc[list(never), "state"] == "not_started").all()
    assert (datasets.loc[list(never), "production_verdict"] == "not_latest_schema").all()
    outputs = frames["step_outputs"]
    from_log = outputs[(outputs["kind"] == "listed_dataset") & outputs["dataset_id"].isin(never)]
    assert set(from_log["source"]) == {"log"}


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v[0]}-{v[1]}")
def test_ingestions_that_timed_out_read_timeout_in_add_labels_in_every_variant(tmp_path, variant):
    """The `timeouts` scenario: add_labels jobs never placed, AddLabels' TimeoutSeconds passed four times, the
    ingestion FAILED through RaiseError. `cxgm describe datasets` equals the truth for every dataset."""
    emu = start_emulator_process(tmp_path / "emu", *variant, scenario="timeouts")
    try:
        env = emu.wait_ready()
        truth = load_truth(emu.truth_file)
        timed_out = [d for m in truth["migrations"] for d in m["datasets"] if d["error_category"] == "timeout"
                     and d["failing_step"] == "add_labels"]
        assert len(timed_out) == 2
        env = {**env, "CXGM_DATA": str(tmp_path / "data")}
        _compare_every_attempt(env, truth, tmp_path)
        out = tmp_path / "errors.json"
        code, output = run(env, "describe", "errors", "--env", "dev", "--tag", "TIMEOUTS", "--out", str(out))
        assert code == 0, output
        causes = [c for c in json.loads(out.read_text()) if c["error_category"] == "timeout" and c["step"] == "add_labels"]
        assert sum(c["datasets"] for c in causes) == 2 and "States.Timeout" in causes[0]["error_signature"]
    finally:
        emu.stop()
