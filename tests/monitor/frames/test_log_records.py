"""Production's log records beyond the steps' answers, on hand-written events shaped like production's (no
emulator): a record Docker's awslogs driver split at 16,384 bytes, rejoined in the failed jobs' logs and in the
output-record sweep; the cleanup step's verdicts (python-json-logger's dict message), the report's `Report`, the
cleanup's "Downloaded from S3", and what they make of a dataset in the rollup."""

import json
from datetime import datetime, timezone

import pandas as pd

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.classify.logparse import AWSLOGS_PART_BYTES, parse_events, reassemble
from cxgm_pipeline.monitor.frames.step_outputs import OUTPUT_RECORDS_PATTERN, collect_outputs, sweep_output_records
from cxgm_pipeline.monitor.frames.rollups import dataset_rollup
from cxgm_pipeline.schemas import EnrichedJobs, SfnExecutions, StepOutputs, empty_frame
from cxgm_pipeline.vocabulary import AttemptState

T0 = int(datetime(2026, 11, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
ERRORS = [f"ERROR: 'ENSG{i:011d}' in 'var.index' is not a valid feature ID." for i in range(600)]


def _record(level: str, message, **fields) -> str:
    """One python-json-logger line: the LOG_FORMAT fields first, the extras (or a dict message's keys) after."""
    return json.dumps({"levelname": level, "asctime": "2026-11-01T01:00:00.000Z", "name": "processing",
                       "message": message, "lineno": 200, "pathname": "/x/schema_migration.py", **fields})


def _parts(line: str, stream: str, ts: int, first_id: int) -> list[dict]:
    """What the awslogs driver sends for one line: 16,384-byte parts, one event each, at the line's time."""
    chunks = [line[i : i + AWSLOGS_PART_BYTES] for i in range(0, len(line), AWSLOGS_PART_BYTES)]
    return [{"logStreamName": stream, "timestamp": ts, "eventId": f"{first_id + k:056d}", "message": c}
            for k, c in enumerate(chunks)]


def test_a_record_split_at_16384_bytes_is_rejoined_and_read_as_one_record():
    status = _record("INFO", "Updating processing status", validation_message="\n".join(ERRORS),
                     status_key="validation", status_value="INVALID")
    parts = _parts(status, "s", T0, 1)
    assert len(parts) == 3 and all(len(p["message"]) == AWSLOGS_PART_BYTES for p in parts[:-1])
    before = {"logStreamName": "s", "timestamp": T0 - 5, "eventId": "0", "message": _record("INFO", "Validating")}
    after = {"logStreamName": "s", "timestamp": T0, "eventId": "9", "message": "Traceback (most recent call last):"}
    events = [before, *parts, after]
    joined = reassemble(events)
    assert [e["eventId"] for e in joined] == ["0", parts[0]["eventId"], "9"]
    assert json.loads(joined[1]["message"])["validation_message"].count("\n") == len(ERRORS) - 1
    log = parse_events(joined)  # the failed job's log as enrich reads it
    assert (log.app_lines, log.runtime_lines) == (2, 1) and ERRORS[0] in log.errors
    split = parse_events(events)  # unjoined, the parts were three runtime lines and the errors were lost
    assert split.runtime_lines == 4 and ERRORS[0] not in split.errors


def test_parts_that_never_add_up_to_a_record_stay_as_they_came():
    line = _record("INFO", "output", response={"datasets": ["x" * 40_000]})
    parts = _parts(line, "s", T0, 1)
    other_stream = {**parts[1], "logStreamName": "other"}
    events = [parts[0], other_stream, parts[2]]  # a part of another stream between: not one line
    assert reassemble(events) == events


class _Logs:
    """A migration log group as FilterLogEvents answers: with the pattern, only the events holding one of its
    terms; by stream and time, every event."""

    def __init__(self, events: list[dict]):
        self.events = events
        self.calls: list[tuple] = []

    def stage_config(self, stage):
        class C:
            migration_log_group = "/dp/dev/devstack/schema-migration-batch"
        return C()

    def filter_group(self, stage, group, pattern, start_ms, end_ms, stats=None):
        assert pattern == OUTPUT_RECORDS_PATTERN
        terms = [t.strip('"') for t in pattern.replace("?", "").split('" "')]
        self.calls.append(("group", start_ms))
        return [e for e in self.events if any(t.strip('"') in e["message"] for t in terms)]

    def filter_streams(self, stage, group, streams, pattern, stats=None, max_events=None, window_ms=None):
        self.calls.append(("streams", tuple(streams), window_ms))
        return [e for e in self.events if e["logStreamName"] in streams and not pattern
                and window_ms[0] <= e["timestamp"] < window_ms[1]]


class _NoArtifacts:
    """An artifact bucket the report step emptied."""

    def pool_map(self, fn, items):
        return [fn(i) for i in items]

    def get_json(self, stage, key, stats=None):
        return None


class _NoHistory:
    """Execution histories past their retention."""

    def histories(self, stage, arns, stats=None):
        return {}

    def map_runs(self, stage, arn, stats=None):
        return []

    def map_run_executions(self, stage, arn, stats=None, status=None):
        return []

    def describe_map_runs(self, stage, arns, stats=None):
        return []

    def history(self, stage, arn, stats=None):
        return []

    def pool_map(self, fn, items):
        return [fn(i) for i in items]

    def aws_now(self, stage):
        return datetime.now(timezone.utc)


def _attempt() -> Attempt:
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    return Attempt("dev", "untagged-20261101T0000", None, ("e1",), ("arn:e1",), start,
                   datetime(2026, 11, 2, tzinfo=timezone.utc), AttemptState.SUCCEEDED)


def _job(job_id, step, stream, **env) -> dict:
    row = {c: None for c in EnrichedJobs.to_schema().columns}
    row.update(stage="dev", attempt="untagged-20261101T0000", job_id=job_id, job_name=step, step=step,
               status="SUCCEEDED", attempts=1, queue="schema_migration-dev", log_status="not_fetched", log_lines=0,
               app_lines=0, runtime_lines=0, log_group="/dp/dev/devstack/schema-migration-batch", log_stream=stream,
               created_at=pd.Timestamp("2026-11-01 01:00", tz="UTC"), started_at=pd.Timestamp("2026-11-01 01:00", tz="UTC"),
               stopped_at=pd.Timestamp("2026-11-01 01:05", tz="UTC"), duration_s=300.0,
               observed_at=pd.Timestamp("2026-11-02", tz="UTC"), execution_id="e1", **env)
    return row


def test_the_sweep_rejoins_split_records_and_reads_production_verdicts_and_lists():
    """DISTRIBUTED (schema_migration.py @ 0e2996c0): the cleanup logs "Downloaded from S3" with the object it read
    (the datasets collection_migrate listed) and one error record per dataset it did not migrate; the long one
    (a validation message of 600 errors) reaches CloudWatch in parts, `rollback` in the last of them only."""
    cleanup, cm = "cleanup-stream", "cm-stream"
    items = [{"collection_id": "C", "collection_version_id": "REV", "dataset_id": d, "dataset_version_id": f"old-{d}",
              "execution_id": "e1"} for d in ("D1", "D2", "D3")]
    long_error = {"message": "\n".join(ERRORS), "dataset_status": {"processing_status": "FAILURE"},
                  "collection_id": "C", "collection_version_id": "REV", "dataset_version_id": "new-D1",
                  "dataset_id": "D1", "rollback": True}
    short_error = {"message": None, "dataset_status": "n/a", "collection_id": "C", "collection_version_id": "REV",
                   "dataset_version_id": "new-D2", "dataset_id": "D2", "rollback": False}
    events = [
        {"logStreamName": cm, "timestamp": T0, "eventId": "1",
         "message": _record("INFO", "output", response={"collection_version_id": "REV", "execution_id": "e1",
                                                        "key_name": "schema_migration/e1/span_datasets/REV.json"})},
        {"logStreamName": cleanup, "timestamp": T0 + 10, "eventId": "2",
         "message": _record("INFO", "Downloaded from S3", file_name="./data.json", bucket="b",
                            key="schema_migration/e1/log_errors_and_cleanup/REV.json",
                            data={"collection_version_id": "REV", "datasets": items, "collection_url": "u"})},
        *_parts(_record("ERROR", **long_error), cleanup, T0 + 20, 3),
        {"logStreamName": cleanup, "timestamp": T0 + 21, "eventId": "8", "message": _record("ERROR", **short_error)},
        {"logStreamName": cleanup, "timestamp": T0 + 22, "eventId": "9", "message": _record("INFO", "Deleting files")},
    ]
    logs = _Logs(events)
    records = sweep_output_records("dev", _attempt(), logs)
    assert ("streams", (cleanup,), (T0 + 20, T0 + 21)) in logs.calls, "the split record's stream read at its time"
    assert len(logs.calls) == 2, "one call for the split record, none for the whole ones"
    rejoined = [json.loads(m) for m in records["message"]]
    assert any(r.get("dataset_id") == "D1" and r["message"] == long_error["message"] for r in rejoined)
    assert all(r["message"] != "Deleting files" for r in rejoined), "only the records the sweep asks for are kept"

    jobs = pd.DataFrame([_job("cm", "collection_migration", cm, collection_id="C", collection_version_id="PUB"),
                         _job("cl", "collection_cleanup", cleanup, collection_version_id="REV"),
                         _job("rp", "report", "report-stream")])  # after the report step: S3 is empty
    outputs = collect_outputs("dev", _attempt(), jobs, records, logs, _NoHistory(), _NoArtifacts())
    listed = outputs[outputs["kind"] == "listed_dataset"]
    assert sorted(listed["dataset_id"]) == ["D1", "D2", "D3"] and set(listed["collection_version_id"]) == {"PUB"}
    verdicts = outputs[outputs["kind"] == "verdict"].set_index("dataset_id")
    assert verdicts.loc["D1", "verdict"] == "rolled_back" and verdicts.loc["D2", "verdict"] == "not_latest_schema"
    assert verdicts.loc["D1", "verdict_message"] == long_error["message"]

    datasets = dataset_rollup("dev", "k", jobs, empty_frame(SfnExecutions), outputs, ended=True).set_index("dataset_id")
    # listed but never started: not_started, with production's word on it; none is dropped
    assert list(datasets["state"]) == ["not_started"] * 3
    assert datasets.loc["D1", "production_verdict"] == "rolled_back"
    assert datasets.loc["D3", "production_verdict"] is None


def _dataset_jobs(dataset: str) -> list[dict]:
    """A dataset every job of which succeeded: dataset_migration, then the ingestion of its new version."""
    migration = _job(f"{dataset}-dm", "dataset_migration", f"{dataset}-dm-stream", dataset_id=dataset, collection_id="C",
                     collection_version_id="REV", dataset_version_id=f"old-{dataset}")
    return [migration, *(_job(f"{dataset}-{s}", s, f"{dataset}-{s}-stream", dataset_version_id=f"new-{dataset}")
                         for s in ("validate_anndata", "validate_atac", "add_labels", "cxg"))]


def _ingestions(*datasets: str) -> pd.DataFrame:
    rows = [{"stage": "dev", "attempt": "k", "new_dataset_version_id": f"new-{d}", "execution_arn": f"arn:{d}",
             "execution_name": f"migrate_new-{d}", "status": "SUCCEEDED", "start_at": pd.Timestamp("2026-11-01", tz="UTC"),
             "stop_at": pd.Timestamp("2026-11-01 02:00", tz="UTC"), "duration_s": 7200.0, "dataset_id": d,
             "collection_version_id": "REV", "old_dataset_version_id": f"old-{d}", "attribution": "log"}
            for d in datasets]
    return pd.DataFrame(rows)


def test_a_dataset_whose_jobs_succeeded_but_production_rolled_back_is_failed_with_its_words():
    """python-json-logger takes a dict message as the record's fields (the research note said the message was
    the dict's repr); the report's `Report` repeats the cleanup's errors, one list per collection."""
    error = {"message": "ERROR: Dataframe 'obs' is missing column 'tissue_type'.", "dataset_status": {},
             "collection_id": "C", "collection_version_id": "REV", "dataset_version_id": "new-D1", "dataset_id": "D1",
             "rollback": True}
    silent = {**error, "message": None, "dataset_id": "D2", "rollback": False}
    events = [{"logStreamName": "report-stream", "timestamp": T0, "eventId": "1",
               "message": _record("INFO", "Report", errors=[[error, silent], {"step": "dataset_migrate", "error": "x",
                                                                              "args": [], "kwargs": {}}],
                                  migrate_changes=[])}]
    logs = _Logs(events)
    records = sweep_output_records("dev", _attempt(), logs)
    jobs = pd.DataFrame([*_dataset_jobs("D1"), *_dataset_jobs("D2"), *_dataset_jobs("D3"),
                         _job("cl", "collection_cleanup", "cleanup-stream", collection_version_id="REV"),
                         _job("rp", "report", "report-stream")])
    outputs = collect_outputs("dev", _attempt(), jobs, records, logs, _NoHistory(), _NoArtifacts())
    datasets = dataset_rollup("dev", "k", jobs, _ingestions("D1", "D2", "D3"), outputs, ended=True).set_index("dataset_id")
    d1, d2, d3 = datasets.loc["D1"], datasets.loc["D2"], datasets.loc["D3"]
    assert (d1["state"], d1["failing_step"], d1["production_verdict"]) == ("failed", "collection_cleanup", "rolled_back")
    assert d1["error_category"] == "validation" and "is missing column" in d1["error_signature"]
    assert d1["production_message"] == error["message"]
    assert (d2["state"], d2["error_category"], d2["production_verdict"]) == ("failed", "application", "not_latest_schema")
    assert "not on the latest schema" in d2["error_signature"]
    assert (d3["state"], d3["production_verdict"]) == ("succeeded", None)


def _ev(i, prev, kind, key=None, details=None):
    return {"id": i, "previousEventId": prev, "type": kind, **({key: details} if key else {})}


class _Histories:
    def __init__(self, by_arn):
        self.by_arn, self.read = by_arn, []

    def histories(self, stage, arns, stats=None):
        self.read.extend(arns)
        return {a: self.by_arn[a] for a in arns}


def test_an_ingestion_that_timed_out_is_a_timeout_in_its_step_read_once():
    """sfn/main.tf @ 0032817: AddLabels' TimeoutSeconds (24 h) passes four times under its States.ALL retrier (its
    jobs never placed, still RUNNABLE), the Catch goes to HandleErrors, RaiseError fails the execution: FAILED, not
    TIMED_OUT, with no failed job; the cause is in the history alone, which is read once."""
    from cxgm_pipeline.monitor.frames.sfn_executions import _failures_in_history, ingestion_failure

    batch = {"resourceType": "batch", "resource": "submitJob.sync"}
    events = [_ev(1, 0, "ExecutionStarted"), _ev(2, 1, "TaskStateEntered", "stateEnteredEventDetails", {"name": "AddLabels"})]
    for k in range(4):
        base = 3 + 4 * k
        events += [_ev(base, base - 1, "TaskScheduled", "taskScheduledEventDetails", batch),
                   _ev(base + 1, base, "TaskStarted", "taskStartedEventDetails", batch),
                   _ev(base + 2, base + 1, "TaskSubmitted", "taskSubmittedEventDetails", batch),
                   _ev(base + 3, base + 2, "TaskTimedOut", "taskTimedOutEventDetails",
                       {**batch, "error": "States.Timeout", "cause": ""})]
    events += [_ev(20, 18, "TaskStateEntered", "stateEnteredEventDetails", {"name": "HandleErrors"}),
               _ev(21, 20, "TaskScheduled", "taskScheduledEventDetails", {"resourceType": "lambda"}),
               _ev(22, 21, "TaskSucceeded", "taskSucceededEventDetails", {"resourceType": "lambda"}),
               _ev(23, 22, "FailStateEntered", "stateEnteredEventDetails", {"name": "RaiseError"}),
               _ev(24, 23, "ExecutionFailed", "executionFailedEventDetails", {"cause": "Failed to ingest dataset."})]
    assert ingestion_failure(events)[:2] == ("States.Timeout", "AddLabels")

    jobs = pd.DataFrame([*_dataset_jobs("D1"), *_dataset_jobs("D2")])
    for i in jobs.index[jobs["step"].isin(["add_labels", "cxg"])]:
        jobs.loc[i, ["status", "started_at", "stopped_at"]] = ["RUNNABLE", None, None]
    jobs = jobs[~((jobs["step"] == "cxg"))]
    failed_job = jobs.index[(jobs["dataset_version_id"] == "new-D2") & (jobs["step"] == "add_labels")]
    jobs.loc[failed_job, ["status", "error_category", "error_kind", "error_signature"]] = [
        "FAILED", "out_of_memory", "infrastructure", "out_of_memory: OutOfMemoryError: Container killed"]
    # D2 has a failed job of its own: its history is not read
    executions = _ingestions("D1", "D2").assign(status="FAILED")
    sfn = _Histories({"arn:D1": events})
    read = _failures_in_history("dev", executions, jobs, sfn, None, None)
    assert sfn.read == ["arn:D1"]
    again = _failures_in_history("dev", executions, jobs, sfn, None, read)
    assert sfn.read == ["arn:D1"], "a refresh keeps what was read"
    assert again.set_index("dataset_id").loc["D1", "failure_error"] == "States.Timeout"

    datasets = dataset_rollup("dev", "k", jobs, read, empty_frame(StepOutputs), ended=True).set_index("dataset_id")
    d1 = datasets.loc["D1"]
    assert (d1["state"], d1["error_category"], d1["failing_step"]) == ("failed", "timeout", "add_labels")
    assert "States.Timeout" in d1["error_signature"]
    from cxgm_pipeline.monitor.frames.rollups import error_signatures

    causes = error_signatures(jobs, read, datasets.reset_index())
    timeout = causes[causes["error_category"] == "timeout"]
    assert list(timeout["step"]) == ["add_labels"] and timeout["example_datasets"].iloc[0] == "D1"


def test_the_report_shows_production_verdicts_beside_cxgm_s_conclusion():
    from cxgm_pipeline.monitor.report.document import _verdicts

    rows = pd.DataFrame({"dataset_id": ["D1", "D2", "D3"], "state": ["failed", "failed", "succeeded"],
                         "production_verdict": ["rolled_back", "not_latest_schema", None],
                         "production_message": ["\n".join(ERRORS), None, None], "jobs": [5, 5, 5],
                         "failing_step": ["validate_anndata", "collection_cleanup", None],
                         "error_category": ["validation", "application", None]})

    class Report:
        def frame(self, name):
            assert name == "dataset_rollup"
            return rows

    text = _verdicts(Report())
    assert text.startswith("2 datasets (1 rolled_back, 1 not_latest_schema)") and "1 of them failed by that verdict" in text
    assert f"{ERRORS[0]} (+{len(ERRORS) - 1} lines)".replace("_", "\\_") in text.replace("\\'", "'")


def test_split_records_of_many_streams_are_read_back_in_one_call():
    """Two answers split in two streams an hour apart: one unfiltered read of both streams over that span, the
    streams' other events in it (a log line of another time) left out, both records whole."""
    answer = {"collection_version_id": "REV", "execution_id": "e1",
              "datasets": [{"dataset_id": f"D{i}", "dataset_version_id": f"V{i}" * 40} for i in range(400)]}
    first, second = _record("INFO", "output", response=answer), _record("INFO", "output", response={**answer, "x": 1})
    assert len(first) > AWSLOGS_PART_BYTES
    events = [*_parts(first, "a", T0, 10), *_parts(second, "b", T0 + 3_600_000, 20),
              {"logStreamName": "a", "timestamp": T0 + 60_000, "eventId": "99", "message": "Starting collection_migrate"}]
    logs = _Logs(events)
    records = sweep_output_records("dev", _attempt(), logs)
    assert logs.calls[1:] == [("streams", ("a", "b"), (T0, T0 + 3_600_001))]
    assert sorted(json.loads(m)["response"].get("x", 0) for m in records["message"]) == [0, 1]


def test_a_refresh_rejoins_the_parts_a_stored_frame_kept_as_they_came():
    line = _record("INFO", "output", response={"collection_version_id": "REV", "datasets": [
        {"dataset_id": f"D{i}", "dataset_version_id": f"old-{i}"} for i in range(300)]})
    parts = _parts(line, "cm-stream", T0, 1)
    later = {"logStreamName": "other", "timestamp": T0 + 3_600_000, "eventId": "9", "message": _record("INFO", "output")}
    logs = _Logs([*parts, later])
    kept = [parts[0], later]  # as a frame stored before records were rejoined holds them
    stored = pd.DataFrame({"stage": "dev", "attempt": _attempt().key, "log_group": "/dp/dev/devstack/schema-migration-batch",
                           "log_stream": [p["logStreamName"] for p in kept], "event_id": [p["eventId"] for p in kept],
                           "timestamp": pd.to_datetime([p["timestamp"] for p in kept], unit="ms", utc=True),
                           "message": [p["message"] for p in kept]})
    records = sweep_output_records("dev", _attempt(), logs, previous=stored)
    assert len(records) == 2
    whole = json.loads(records.set_index("event_id").loc[parts[0]["eventId"], "message"])
    assert whole["response"]["datasets"][299]["dataset_id"] == "D299"


def test_a_plain_line_holding_a_term_never_moves_the_sweep_back():
    plain = {"logStreamName": "s", "timestamp": T0, "eventId": "1", "message": "WARNING: no output written"}
    later = {"logStreamName": "s", "timestamp": T0 + 3_600_000, "eventId": "2", "message": _record("INFO", "output")}
    logs = _Logs([plain, later])
    stored = pd.DataFrame({"stage": "dev", "attempt": _attempt().key, "log_group": "/dp/dev/devstack/schema-migration-batch",
                           "log_stream": "s", "event_id": ["1", "2"],
                           "timestamp": pd.to_datetime([T0, T0 + 3_600_000], unit="ms", utc=True),
                           "message": [plain["message"], later["message"]]})
    sweep_output_records("dev", _attempt(), logs, previous=stored)
    start = next(c[1] for c in logs.calls if c[0] == "group")
    assert start == T0 + 3_600_000 - 15 * 60_000, "from the newest record less the relist margin, as always"


def test_a_plain_line_holding_a_term_costs_no_extra_call():
    plain = {"logStreamName": "s", "timestamp": T0, "eventId": "1", "message": "WARNING: no output written"}
    logs = _Logs([plain])
    records = sweep_output_records("dev", _attempt(), logs)
    assert len(records) == 1 and [c[0] for c in logs.calls] == ["group"]
