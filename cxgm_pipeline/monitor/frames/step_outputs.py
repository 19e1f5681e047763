"""step_outputs: what the migration's steps answered, read in bulk from wherever production keeps it.

A step's answer (its SendTaskSuccess output) is the only place that says which NEW dataset version
dataset_migrate made, which collections gather_collections chose and which datasets each collection set
out to migrate. Production keeps it in three places, each of which can be missing:
- the `output` JSON log record every step writes before answering (output_records: one FilterLogEvents
  sweep of the migration log group over the attempt's window; gone when the group's retention has passed);
- the execution history: INLINE Maps put every task's output in the migration execution's own history;
  DISTRIBUTED Maps put each item in a child execution of a Map Run (read only for what the logs missed);
- the S3 artifacts under schema_migration/{execution}/ (DISTRIBUTED: the item lists), deleted by the
  report step when the attempt ends.
What none of them answers falls back to the jobs' own environment (DATASET_ID, old DATASET_VERSION_ID).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd
from pandera.typing import DataFrame

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.frames.columns_epoch import epoch_to_utc
from cxgm_pipeline.monitor.frames.columns_rows import row_dicts
from cxgm_pipeline.monitor.classify.logparse import AWSLOGS_PART_BYTES, reassemble
from cxgm_pipeline.monitor.frames.columns_missing import none_if_missing
from cxgm_pipeline.monitor.aws.clients import RELIST_MARGIN, ArtifactsApi, FetchStats, LogsApi, StepFunctionsApi
from cxgm_pipeline.monitor.aws.redaction import redact
from cxgm_pipeline.monitor.frames.budget import Budget
from cxgm_pipeline.monitor.frames.history_fallback import Histories, history_budget, targets_of
from cxgm_pipeline.schemas import MigrationJobs, OutputRecords, StepOutputs, empty_frame, validate
from cxgm_pipeline.vocabulary import JobStatus, ProductionVerdict, Step
from portal_shapes import (
    DATASET_RESPONSE_NEW_VERSION,
    DATASET_RESPONSE_SFN_NAME,
    LOG_DOWNLOADED_FROM_S3,
    LOG_FIELDS,
    LOG_OLD_RESPONSE_MESSAGE,
    LOG_OUTPUT_MESSAGE,
    LOG_REPORT_MESSAGE,
    LOG_SKIPPING_DATASET,
    MIGRATION_TASK_STATES,
    RESPONSE_KEY_NAME,
    VERDICT_ROLLBACK_FIELD,
)

_STATE_STEP = {state: job.lower() for state, job in MIGRATION_TASK_STATES.items()}
_ANSWERING = {Step.GATHER_COLLECTIONS.value, Step.COLLECTION_MIGRATION.value, Step.DATASET_MIGRATION.value}
_CLEANUP = {Step.COLLECTION_CLEANUP.value, Step.COLLECTION_PUBLISH.value}


def _json(text) -> dict | list | None:
    if isinstance(text, (dict, list)):
        return text
    try:
        return json.loads(text) if text else None
    except (json.JSONDecodeError, TypeError):
        return None


@dataclass
class _Collected:
    """Answers by job id ({job_id: (response, source)}), plus what names no job."""

    answers: dict[str, tuple[object, str]] = field(default_factory=dict)
    skipped: list[tuple[str, dict]] = field(default_factory=list)  # (job_id, record)
    listed: list[tuple[dict, str, str]] = field(default_factory=list)  # (dataset item, source, job id)
    gathered: list[tuple[dict, str, str]] = field(default_factory=list)  # (collection item, source, job id)
    verdicts: list[tuple[str, dict]] = field(default_factory=list)  # (job id, the cleanup's error dict)
    downloaded: list[tuple[str, dict]] = field(default_factory=list)  # (job id, "Downloaded from S3" data)

    def answer(self, job_id: str | None, response, source: str) -> None:
        if job_id and response is not None and job_id not in self.answers:
            self.answers[job_id] = (response, source)


# one pattern for every record an answer, a skip, a verdict or a list is read from (an OR; every record is still
# checked here): the cleanup's error records hold no fixed message, only their `rollback` field
_SWEPT_TERMS = (LOG_OUTPUT_MESSAGE, LOG_OLD_RESPONSE_MESSAGE, LOG_SKIPPING_DATASET, VERDICT_ROLLBACK_FIELD,
                LOG_REPORT_MESSAGE, LOG_DOWNLOADED_FROM_S3)
OUTPUT_RECORDS_PATTERN = " ".join(f'?"{term}"' for term in _SWEPT_TERMS)


def _verdict_of(record) -> dict | None:
    """A cleanup error dict (rollback + dataset_id), as its record, its step's answer or the report's entry."""
    if isinstance(record, dict) and isinstance(record.get(VERDICT_ROLLBACK_FIELD), bool) and record.get("dataset_id"):
        return record
    return None


def sweep_output_records(stage: str, attempt: Attempt | None, logs: LogsApi, stats: FetchStats | None = None,
                         previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """The OutputRecords of the attempt's window in the stage's migration log group: a sweep by time, not by
    stream, so it needs no job list. `previous`: a refresh sweeps only from its newest record on."""
    if attempt is None:
        return empty_frame(OutputRecords)
    group = logs.stage_config(stage).migration_log_group
    after, before = attempt.window()
    start_ms, kept = int(after.timestamp() * 1000), None
    if previous is not None and not previous.empty and (previous["attempt"] == attempt.key).all():
        kept = previous
        start_ms = max(start_ms, int((previous["timestamp"].max() - RELIST_MARGIN).timestamp() * 1000))
        # parts of a split record kept as they came (a frame from before records were rejoined): swept again, once.
        # A record's first part is a whole Docker part opening a JSON object that does not parse; a plain line
        # that happens to hold a term is no part and never moves the sweep back
        first = kept["message"].str.startswith("{") & (kept["message"].str.len() == AWSLOGS_PART_BYTES) \
            & kept["message"].map(_json).isna()
        if first.any():
            start_ms = min(start_ms, int(kept.loc[first, "timestamp"].min().timestamp() * 1000))
            split = set(zip(kept.loc[first, "log_stream"], kept.loc[first, "timestamp"]))
            kept = kept[[key not in split for key in zip(kept["log_stream"], kept["timestamp"])]]
    events = logs.filter_group(stage, group, OUTPUT_RECORDS_PATTERN, start_ms, int(before.timestamp() * 1000), stats)
    events = _whole_records(stage, group, events, logs, stats)
    swept = pd.DataFrame({"log_stream": [e["logStreamName"] for e in events],
                          "event_id": [e["eventId"] for e in events],
                          "timestamp": epoch_to_utc(pd.Series([e["timestamp"] for e in events], dtype="float64"), "ms"),
                          "message": [redact(e.get("message") or "") for e in events]})
    swept = swept.assign(stage=stage, attempt=attempt.key, log_group=group)
    frames = [f for f in (kept, swept) if f is not None and not f.empty]
    if not frames:
        return empty_frame(OutputRecords)
    df = pd.concat(frames, ignore_index=True).drop_duplicates("event_id")
    return validate(OutputRecords, df.sort_values(["timestamp", "event_id"]))


def _may_be_part(message: str) -> bool:
    """A part of a split JSON record: every part but the last is a whole 16,384 bytes, the last closes the object.
    A plain line that happens to hold a term (a warning with "output" in it) is neither and costs no call."""
    if len(message) != AWSLOGS_PART_BYTES and not message.rstrip().endswith("}"):
        return False
    return _json(message) is None


def _whole_records(stage: str, group: str, events: list[dict], logs: LogsApi, stats) -> list[dict]:
    """The swept events with every record Docker split rejoined. The pattern matches only the parts holding its
    terms (the first part holds `message`; a cleanup error's `rollback` is in its last), so the streams of the
    swept events that do not parse are read again, unfiltered, 100 streams a call over the span of those events
    (a step's stream holds a few lines), and only the events at their timestamps kept: a call or a few for all
    the split records, none when nothing is split."""
    broken = {(e["logStreamName"], e["timestamp"]) for e in events if _may_be_part(e.get("message") or "")}
    if not broken:
        return events
    streams, stamps = sorted({s for s, _ in broken}), [ts for _, ts in broken]
    parts: dict[tuple[str, int], list[dict]] = {}
    for e in logs.filter_streams(stage, group, streams, "", stats, window_ms=(min(stamps), max(stamps) + 1)):
        key = (e.get("logStreamName"), e.get("timestamp"))
        if key in broken:  # each stream's events come in its order: a record's parts stay in theirs
            parts.setdefault(key, []).append(e)
    rejoined = {key: reassemble(found) for key, found in parts.items()}
    out = [e for e in events if (e["logStreamName"], e["timestamp"]) not in rejoined]
    for found in rejoined.values():
        out.extend(e for e in found if any(term in (e.get("message") or "") for term in _SWEPT_TERMS))
    return sorted(out, key=lambda e: (e["timestamp"], e["eventId"]))


def _read_record(found: _Collected, job: dict, message: str) -> None:
    record = _json(message)
    if not isinstance(record, dict):
        return
    if record.get("message") == LOG_OUTPUT_MESSAGE and "response" in record:
        found.answer(job["job_id"], record["response"], "log")
    elif record.get("message") == LOG_OLD_RESPONSE_MESSAGE:  # PY-1: the response's keys at top level
        found.answer(job["job_id"], {k: v for k, v in record.items() if k not in LOG_FIELDS}, "log")
    elif record.get("message") == LOG_SKIPPING_DATASET and record.get("dataset_id"):
        found.skipped.append((job["job_id"], record))


def _read_verdicts(found: _Collected, job: dict, message: str) -> None:
    """Production's verdicts and the lists it logged on reading them: the cleanup's error records and its answer,
    the report's `Report`, the cleanup's "Downloaded from S3"."""
    record = _json(message)
    if not isinstance(record, dict):
        return
    if _verdict_of(record) is not None and record.get("levelname") in (None, "ERROR"):
        found.verdicts.append((job["job_id"], record))
    elif record.get("message") == LOG_OUTPUT_MESSAGE and isinstance(record.get("response"), list):
        found.verdicts.extend((job["job_id"], v) for v in record["response"] if _verdict_of(v) is not None)
    elif record.get("message") in (LOG_REPORT_MESSAGE, LOG_OUTPUT_MESSAGE):
        report = record if record.get("message") == LOG_REPORT_MESSAGE else record.get("response")
        for entry in (report or {}).get("errors") or [] if isinstance(report, dict) else []:
            for item in entry if isinstance(entry, list) else [entry]:
                if _verdict_of(item) is not None:
                    found.verdicts.append((job["job_id"], item))
    elif record.get("message") == LOG_DOWNLOADED_FROM_S3 and isinstance(record.get("data"), dict):
        found.downloaded.append((job["job_id"], record["data"]))


def _from_logs(stage: str, jobs: list[dict], records: pd.DataFrame, logs: LogsApi, found: _Collected, stats) -> None:
    """The answers in the swept records; jobs that log elsewhere than the swept group (a job definition of
    another shape) are read by stream name, 100 streams a FilterLogEvents call."""
    by_stream = {(j["log_group"], j["log_stream"]): j for j in jobs if none_if_missing(j["log_stream"])}
    for group, stream, message in zip(records["log_group"], records["log_stream"], records["message"]):
        if (job := by_stream.get((group, stream))) is not None:
            _read_record(found, job, message)
    swept = set(records["log_group"]) | {logs.stage_config(stage).migration_log_group}
    elsewhere: dict[str, list[str]] = {}
    for (group, stream), job in by_stream.items():
        if group not in swept and job["status"] == JobStatus.SUCCEEDED.value and job["step"] in _ANSWERING | _CLEANUP:
            elsewhere.setdefault(group, []).append(stream)
    for group, streams in elsewhere.items():
        for event in logs.filter_streams(stage, group, streams, OUTPUT_RECORDS_PATTERN, stats):
            if (job := by_stream.get((group, event.get("logStreamName")))) is not None:
                _read_record(found, job, event.get("message"))


def _downloaded_lists(found: _Collected, by_id: dict, row, kept: pd.DataFrame) -> None:
    """The datasets each collection set out to migrate, from the cleanup's "Downloaded from S3" record of its
    log_errors_and_cleanup object (DISTRIBUTED): after the report step deleted the S3 items, the only list left of
    datasets listed but never started. Rows carry the gathered collection version, as the other lists do."""
    if not found.downloaded:
        return
    listed = {(item.get("collection_id"), item.get("_collection_version_id"), item["dataset_id"])
              for item, _, _ in found.listed}
    if not kept.empty:
        old = kept[kept["kind"] == "listed_dataset"]
        listed |= set(zip(old["collection_id"], old["collection_version_id"], old["dataset_id"]))
    gathered_version = {r["collection_id"]: none_if_missing(r["collection_version_id"]) for r in by_id.values()
                        if r["step"] == Step.COLLECTION_MIGRATION.value and none_if_missing(r["collection_id"])}
    # the object names the revision it cleans up; a collection gathered twice has one per version gathered
    gathered_of_revision = {}
    for job_id, (response, _) in found.answers.items():
        job = by_id.get(job_id)
        if job is not None and job["step"] == Step.COLLECTION_MIGRATION.value and isinstance(response, dict) \
                and isinstance(response.get("collection_version_id"), str):
            gathered_of_revision[response["collection_version_id"]] = none_if_missing(job["collection_version_id"])
    if not kept.empty and "migration_revision_id" in kept:
        known = kept[kept["kind"] == "migration_revision"]
        for revision, gathered in zip(known["migration_revision_id"], known["collection_version_id"]):
            gathered_of_revision.setdefault(revision, none_if_missing(gathered))
    for job_id, data in found.downloaded:
        for item in data.get("datasets") or []:
            if not isinstance(item, dict) or not item.get("dataset_id"):
                continue
            revision = item.get("collection_version_id") or data.get("collection_version_id")
            gathered = gathered_of_revision.get(revision) or gathered_version.get(item.get("collection_id"))
            key = (item.get("collection_id"), gathered, item["dataset_id"])
            if key in listed:
                continue
            listed.add(key)
            row("listed_dataset", "log", by_id.get(job_id), collection_id=item.get("collection_id"),
                collection_version_id=gathered, dataset_id=item["dataset_id"],
                dataset_version_id=item.get("dataset_version_id"), migration_revision_id=revision)


def _task_answers(events: list[dict], found: _Collected, source: str) -> None:
    """TaskSucceeded outputs of Batch tasks, tied to their job through the TaskSubmitted event that precedes
    them in the same Map iteration (previousEventId chain)."""
    by_id = {e["id"]: e for e in events}
    for e in events:
        if e["type"] != "TaskSucceeded" or e.get("taskSucceededEventDetails", {}).get("resourceType") != "batch":
            continue
        prev = by_id.get(e.get("previousEventId"))
        hops = 0
        while prev is not None and prev["type"] != "TaskSubmitted" and hops < 5:
            prev, hops = by_id.get(prev.get("previousEventId")), hops + 1
        if prev is None or prev["type"] != "TaskSubmitted":
            continue
        job_id = (_json(prev["taskSubmittedEventDetails"].get("output")) or {}).get("JobId")
        output = _json(e["taskSucceededEventDetails"].get("output"))
        if isinstance(output, dict) and ("JobId" in output or "JobName" in output):
            continue  # `.sync` without SendTaskSuccess: the output is the Batch job's description, not an answer
        found.answer(job_id, output, source)


def _from_s3(stage: str, key: str, artifacts: ArtifactsApi, stats) -> list | None:
    doc = artifacts.get_json(stage, key, stats)
    return doc if isinstance(doc, list) else None


# --- what the last frame holds --------------------------------------------------------------------------------
_BOOKKEEPING = {"execution", "map_run"}


def _previous_parts(previous: pd.DataFrame | None, attempt: Attempt) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the answers read before, the executions and Map Runs the history fallback listed and read). A missing
    answer's row is not kept: it is looked for again."""
    if previous is None or previous.empty or not (previous["attempt"] == attempt.key).all():
        return pd.DataFrame(), pd.DataFrame()
    kinds = previous["kind"]
    answers = previous[~kinds.isin(_BOOKKEEPING | {"answer_missing"}) & (previous["source"] != "job_env")
                       & previous["job_id"].notna()]
    return answers, previous[kinds.isin(_BOOKKEEPING)]


# --- one builder per answering source ------------------------------------------------------------------------
def _answers_from_logs(stage: str, attempt: Attempt, by_id: dict[str, dict], pending: list[dict],
                       records: DataFrame[OutputRecords], logs: LogsApi, found: _Collected, stats) -> None:
    """The swept records' answers, skips and verdicts; then, while the attempt runs, the streams of the jobs that
    answered after the sweep passed them (a job that ended between the sweep and its description), by name."""
    _from_logs(stage, pending, records, logs, found, stats)
    by_stream = {(r["log_group"], r["log_stream"]): r for r in by_id.values() if none_if_missing(r["log_stream"])}
    for group, stream, message in zip(records["log_group"], records["log_stream"], records["message"]):
        if (job := by_stream.get((group, stream))) is not None and job["step"] in _CLEANUP | {Step.REPORT.value}:
            _read_verdicts(found, job, message)
    if attempt.ended:
        return  # its records were all swept: what is missing has expired, and the histories tell it
    unanswered = _wanted(pending) - set(found.answers)  # once: per job it made this quadratic in the jobs
    late = [j for j in pending if j["job_id"] in unanswered and none_if_missing(j["log_stream"])]
    by_group: dict[str, list[str]] = {}
    for job in late:
        by_group.setdefault(job["log_group"], []).append(job["log_stream"])
    for group, streams in by_group.items():
        for event in logs.filter_streams(stage, group, streams, OUTPUT_RECORDS_PATTERN, stats):
            if (job := by_stream.get((group, event.get("logStreamName")))) is not None:
                _read_record(found, job, event.get("message"))


def _wanted(jobs: list[dict]) -> set[str]:
    """The jobs that answered something worth reading: the answering steps that succeeded."""
    return {r["job_id"] for r in jobs if r["step"] in _ANSWERING and r["status"] == JobStatus.SUCCEEDED.value}


def _answers_from_histories(stage: str, attempt: Attempt, jobs: DataFrame[MigrationJobs], missing: set[str],
                            sfn: StepFunctionsApi, found: _Collected, known: pd.DataFrame, budget: Budget,
                            stats) -> tuple[set[str], set[str], list[dict]]:
    """The missing answers from the histories that can hold them (history_fallback.py). Returns (not read yet,
    not found, the executions' and Map Runs' rows to keep)."""
    histories = Histories(stage, attempt, sfn, budget, stats, known, lambda events, source: _task_answers(events, found, source))
    if not missing:
        return set(), set(), histories.rows(stage, attempt.key)
    not_read, not_found = histories.find(targets_of(jobs, missing), lambda: set(found.answers))
    return not_read, not_found, histories.rows(stage, attempt.key)


def _s3_lists(stage: str, by_id: dict[str, dict], found: _Collected, artifacts: ArtifactsApi, stats) -> dict:
    """DISTRIBUTED answers name S3 item lists: read them all at once, unless the report step already succeeded
    (it deletes schema_migration/{execution}/, so nothing is left to read)."""
    if any(r["step"] == Step.REPORT.value and r["status"] == JobStatus.SUCCEEDED.value for r in by_id.values()):
        return {}
    keys = sorted({r[RESPONSE_KEY_NAME] for r, _ in found.answers.values()
                   if isinstance(r, dict) and isinstance(r.get(RESPONSE_KEY_NAME), str)})
    return dict(zip(keys, artifacts.pool_map(lambda k: _from_s3(stage, k, artifacts, stats), keys)))


# --- rows ----------------------------------------------------------------------------------------------------
class _Rows(list):
    def __init__(self, stage: str, attempt: str):
        super().__init__()
        self.stage, self.attempt = stage, attempt

    def add(self, kind: str, source: str, job: dict | None, **values) -> None:
        self.append({"stage": self.stage, "attempt": self.attempt, "kind": kind, "source": source,
                     "job_id": job["job_id"] if job else None, "collection_id": None, "collection_version_id": None,
                     "dataset_id": None, "dataset_version_id": None, "new_dataset_version_id": None, "sfn_name": None,
                     "verdict": None, "verdict_message": None, "migration_revision_id": None, **values})


def _job_ids(job: dict) -> dict:
    return {"collection_id": none_if_missing(job["collection_id"]),
            "collection_version_id": none_if_missing(job["collection_version_id"]),
            "dataset_id": none_if_missing(job["dataset_id"]), "dataset_version_id": none_if_missing(job["dataset_version_id"])}


def _answer_rows(found: _Collected, by_id: dict[str, dict], s3_items: dict, rows: _Rows) -> None:
    """Each answer's rows: a dataset's new version, a collection's revision; the lists they name go to `found`."""
    for job_id, (response, source) in found.answers.items():
        job = by_id.get(job_id)
        if job is None:
            continue
        if job["step"] == Step.DATASET_MIGRATION.value and isinstance(response, dict):
            rows.add("dataset_version", source, job, **_job_ids(job),
                     new_dataset_version_id=response.get(DATASET_RESPONSE_NEW_VERSION),
                     sfn_name=response.get(DATASET_RESPONSE_SFN_NAME),
                     migration_revision_id=none_if_missing(job["collection_version_id"]))
        elif job["step"] == Step.GATHER_COLLECTIONS.value:
            items, item_source = response, source
            if isinstance(response, dict) and response.get(RESPONSE_KEY_NAME):  # DISTRIBUTED: the list is in S3
                items, item_source = s3_items.get(response[RESPONSE_KEY_NAME]), "s3"
            found.gathered.extend((item, item_source, job_id) for item in (items if isinstance(items, list) else [])
                                  if isinstance(item, dict) and item.get("collection_id"))
        elif job["step"] == Step.COLLECTION_MIGRATION.value and isinstance(response, dict):
            _collection_answer(job, response, source, s3_items, found, rows)


def _collection_answer(job: dict, response: dict, source: str, s3_items: dict, found: _Collected, rows: _Rows) -> None:
    # the version gathered -> the revision it was migrated into (collection_migrate @ 001730b8: a new auto revision
    # of a published version, the version itself otherwise)
    if isinstance(response.get("collection_version_id"), str):
        rows.add("migration_revision", source, job, collection_id=none_if_missing(job["collection_id"]),
                 collection_version_id=none_if_missing(job["collection_version_id"]),
                 migration_revision_id=response["collection_version_id"])
    items, item_source = response.get("datasets"), source
    if response.get(RESPONSE_KEY_NAME):
        items, item_source = s3_items.get(response[RESPONSE_KEY_NAME]), "s3"
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("dataset_id"):
            found.listed.append(({**item, "_collection_version_id": none_if_missing(job["collection_version_id"]),
                                  "_revision": item.get("collection_version_id") or response.get("collection_version_id")},
                                 item_source, job["job_id"]))


def _collection_rows(found: _Collected, by_id: dict[str, dict], kept: pd.DataFrame, rows: _Rows) -> None:
    """A collection is gathered once per version: a curator's open revision and its published version are two
    (gather_collections @ 001730b8 skips a published version only for an auto revision). A collection migrated is a
    collection gathered, whatever the sources kept."""
    seen = set(zip(kept.loc[kept["kind"] == "collection", "collection_id"],
                   kept.loc[kept["kind"] == "collection", "collection_version_id"])) if not kept.empty else set()
    for item, source, job_id in found.gathered:
        if (item["collection_id"], item.get("collection_version_id")) not in seen:
            seen.add((item["collection_id"], item.get("collection_version_id")))
            rows.add("collection", source, by_id.get(job_id), collection_id=item["collection_id"],
                     collection_version_id=item.get("collection_version_id"))
    for r in by_id.values():
        key = (none_if_missing(r["collection_id"]), none_if_missing(r["collection_version_id"]))
        if r["step"] == Step.COLLECTION_MIGRATION.value and key[0] and key not in seen:
            seen.add(key)
            rows.add("collection", "job_env", r, collection_id=r["collection_id"], collection_version_id=key[1])


def _listed_rows(found: _Collected, by_id: dict[str, dict], rows: _Rows) -> None:
    for item, source, job_id in found.listed:
        rows.add("listed_dataset", source, by_id.get(job_id), collection_id=item.get("collection_id"),
                 collection_version_id=item.get("_collection_version_id"), dataset_id=item["dataset_id"],
                 dataset_version_id=item.get("dataset_version_id"), migration_revision_id=item.get("_revision"))


def _skipped_rows(found: _Collected, by_id: dict[str, dict], kept: pd.DataFrame, rows: _Rows) -> None:
    """A cleanup job knows only the collection's version it cleans: for a published collection, the private
    revision collection_migrate made (its answer's collection_version_id)."""
    collection_of_revision = {}
    for job_id, (response, _) in found.answers.items():
        job = by_id.get(job_id)
        if job is not None and job["step"] == Step.COLLECTION_MIGRATION.value and isinstance(response, dict):
            collection_of_revision[response.get("collection_version_id")] = none_if_missing(job["collection_id"])
    if not kept.empty:  # answers read before: their rows carry the gathered version, the revision's for an
        # unpublished collection (a published one's revision is resolved in the rollup, through its datasets' jobs)
        revisions = kept[kept["kind"] == "listed_dataset"]
        collection_of_revision.update({k: v for k, v in zip(revisions["collection_version_id"], revisions["collection_id"])
                                       if k not in collection_of_revision})
    for job_id, record in found.skipped:
        job = by_id[job_id]
        collection = none_if_missing(job["collection_id"]) or \
            collection_of_revision.get(none_if_missing(job["collection_version_id"]))
        rows.add("skipped_dataset", "log", job, collection_id=collection,
                 collection_version_id=none_if_missing(job["collection_version_id"]), dataset_id=record["dataset_id"],
                 dataset_version_id=record.get("dataset_version_id"))


def _verdict_rows(found: _Collected, by_id: dict[str, dict], rows: _Rows) -> None:
    for job_id, record in found.verdicts:
        job = by_id[job_id]
        rows.add("verdict", "log", job,
                 collection_id=none_if_missing(record.get("collection_id")) or none_if_missing(job["collection_id"]),
                 collection_version_id=record.get("collection_version_id") or none_if_missing(job["collection_version_id"]),
                 dataset_id=record["dataset_id"], dataset_version_id=record.get("dataset_version_id"),
                 verdict=(ProductionVerdict.ROLLED_BACK if record[VERDICT_ROLLBACK_FIELD]
                          else ProductionVerdict.NOT_LATEST_SCHEMA).value,
                 verdict_message=None if record.get("message") is None else str(record["message"]))


def _missing_rows(not_read: set[str], not_found: set[str], by_id: dict[str, dict], rows: _Rows) -> None:
    """The answers still missing, said so: a rollup holds their datasets as not read yet instead of guessing."""
    for source, ids in (("not_read", not_read), ("not_found", not_found)):
        for job_id in sorted(ids):
            rows.add("answer_missing", source, by_id[job_id], **_job_ids(by_id[job_id]))


# --- the assembler -------------------------------------------------------------------------------------------
def collect_outputs(stage: str, attempt: Attempt | None, jobs: DataFrame[MigrationJobs],
                    records: DataFrame[OutputRecords], logs: LogsApi, sfn: StepFunctionsApi, artifacts: ArtifactsApi,
                    stats: FetchStats | None = None, previous: pd.DataFrame | None = None,
                    budget: Budget | None = None) -> DataFrame[StepOutputs]:
    """The StepOutputs frame of an attempt: one sweep of the logs, then the histories and S3 only for what is
    still unanswered. `previous`: this partition's last frame; a job whose answer it holds is not read again, nor
    a history it read after its execution closed. `budget`: what the history fallback may spend in this build
    (default: history_budget()); what it leaves is marked `answer_missing` / `not_read`."""
    if attempt is None or jobs.empty:
        return empty_frame(StepOutputs)
    kept, known = _previous_parts(previous, attempt)
    # what the answers were read into (a record per job, the parsed log records) is gone before the frame is built
    rows, bookkeeping = _read_answers(stage, attempt, jobs, records, logs, sfn, artifacts, stats, kept, known, budget)
    return _assemble(kept, rows, bookkeeping)


# the job fields the answers are read by: a record of every column of 100,000 jobs was a quarter of what this
# build held at its peak
_JOB_FIELDS = ["job_id", "step", "status", "log_group", "log_stream", "collection_id", "collection_version_id",
               "dataset_id", "dataset_version_id"]


def _read_answers(stage: str, attempt: Attempt, jobs: DataFrame[MigrationJobs], records: DataFrame[OutputRecords],
                  logs: LogsApi, sfn: StepFunctionsApi, artifacts: ArtifactsApi, stats, kept: pd.DataFrame,
                  known: pd.DataFrame, budget: Budget | None) -> tuple[_Rows, list[dict]]:
    """The rows of what the logs, the histories and S3 answered (and of what is still missing), and the history
    fallback's bookkeeping rows."""
    answered = set(kept["job_id"]) if not kept.empty else set()
    by_id = {r["job_id"]: r for r in row_dicts(jobs[_JOB_FIELDS], times="drop")}
    pending = [r for r in by_id.values() if r["job_id"] not in answered]
    found = _Collected()
    _answers_from_logs(stage, attempt, by_id, pending, records, logs, found, stats)
    missing = _wanted(pending) - set(found.answers)
    not_read, not_found, bookkeeping = set(), set(), []
    if not attempt.window_only and (missing or not known.empty):
        not_read, not_found, bookkeeping = _answers_from_histories(
            stage, attempt, jobs, missing, sfn, found, known, budget or history_budget(), stats)
    rows = _Rows(stage, attempt.key)
    _answer_rows(found, by_id, _s3_lists(stage, by_id, found, artifacts, stats), rows)
    _collection_rows(found, by_id, kept, rows)
    _listed_rows(found, by_id, rows)
    _skipped_rows(found, by_id, kept, rows)
    _downloaded_lists(found, by_id, rows.add, kept)
    _verdict_rows(found, by_id, rows)
    _missing_rows(not_read, not_found, by_id, rows)
    return rows, bookkeeping


def _assemble(kept: pd.DataFrame, rows: list[dict], bookkeeping: list[dict]) -> DataFrame[StepOutputs]:
    frames = [f for f in (kept, pd.DataFrame(rows), pd.DataFrame(bookkeeping)) if not f.empty]
    if not frames:
        return empty_frame(StepOutputs)
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for column in StepOutputs.to_schema().columns:  # a frame stored before a column was added
        if column not in df:
            df[column] = None
    df = df.drop_duplicates(subset=["kind", "job_id", "collection_id", "collection_version_id", "dataset_id",
                                    "execution_arn"])
    # one verdict per dataset and revision, whichever record told it (the error record, the cleanup's answer, the
    # report): the first read, a cleanup's before the report's
    verdicts = df["kind"] == "verdict"
    df = df[~verdicts | ~df.duplicated(subset=["kind", "dataset_id", "collection_version_id"])]
    return validate(StepOutputs, df.sort_values(["kind", "collection_id", "dataset_id", "execution_arn"],
                                                na_position="last"))


def history_progress(outputs: pd.DataFrame) -> tuple[int, int]:
    """(answers read from histories, answers the logs lacked): "reading histories, N of M" while N < M counts those
    not read yet; once every history that could hold one was read, an answer not found there no longer counts."""
    if outputs.empty:
        return 0, 0
    answers = outputs[outputs["source"].isin(["history", "map_run"]) & ~outputs["kind"].isin(_BOOKKEEPING)]
    read = int(answers["job_id"].nunique())
    waiting = int(((outputs["kind"] == "answer_missing") & (outputs["source"] == "not_read")).sum())
    return read, read + waiting


def histories_reading(outputs: pd.DataFrame | None) -> str | None:
    """While the history fallback has answers left to read, what every page of the attempt says before its counts:
    the datasets whose answers are not read yet are held pending and their jobs unattributed, so the totals, the
    failures and the re-run list are not the attempt's yet. None once every answer is read."""
    if outputs is None:
        return None
    read, of = history_progress(outputs)
    if of <= read:
        return None
    return f"partial: reading execution histories ({read:,} of {of:,} answers), the counts will change"


def answers_not_read(store, stage: str, key: str) -> int:
    """How many answers the partition's stored step_outputs has left for the history fallback to read."""
    if not store.exists("step_outputs", stage, key):
        return 0
    read, of = history_progress(store.read("step_outputs", stage, key, columns=["kind", "source", "job_id"]))
    return of - read


def outputs_summary(frame: pd.DataFrame, _build=None) -> dict:
    """The asset's metadata: rows by kind and source, and how far the history fallback is."""
    counts = {}
    if not frame.empty:
        answers = frame[~frame["kind"].isin(_BOOKKEEPING)]
        counts = {**{str(k): int(v) for k, v in answers["kind"].value_counts().items()},
                  **{f"from_{k}": int(v) for k, v in answers["source"].value_counts().items()}}
    read, of = history_progress(frame)
    if of > read:
        counts["histories"] = f"reading histories, {read} of {of}"
    counts["answers_not_read"] = of - read
    return counts


NOT_READ_YET = "answer not read yet (reading histories)"


def hold_unread(rollup: pd.DataFrame, outputs: pd.DataFrame) -> pd.DataFrame:
    """Datasets whose dataset_migration answer is not read yet: without their new version, their ingestion is not
    theirs yet, so the jobs alone would call them failed (stopped between two steps) or running when neither is
    known. They are `pending`, saying why, until a later build reads the history that holds the answer."""
    if rollup.empty or outputs.empty:
        return rollup
    waiting = outputs[(outputs["kind"] == "answer_missing") & (outputs["source"] == "not_read")
                      & outputs["dataset_id"].notna()]
    if waiting.empty:
        return rollup
    # the job's COLLECTION_VERSION_ID is the revision it migrated into; a dataset gathered once is one row anyway
    keys = set(zip(waiting["dataset_id"], waiting["collection_version_id"]))
    rows_of = rollup["dataset_id"].value_counts()
    revision = rollup["migration_revision_id"] if "migration_revision_id" in rollup else rollup["collection_version_id"]
    ids = set(waiting["dataset_id"])
    held = pd.Series([d in ids and (rows_of[d] == 1 or (d, r) in keys or (d, c) in keys)
                      for d, r, c in zip(rollup["dataset_id"], revision, rollup["collection_version_id"])],
                     index=rollup.index, dtype=bool)
    held &= ~rollup["state"].isin(["skipped"])
    if not held.any():
        return rollup
    out = rollup.copy()
    out.loc[held, ["current_step", "failing_step", "error_category", "finished_at"]] = None
    out.loc[held, "state"] = "pending"
    out.loc[held, "error_signature"] = NOT_READ_YET
    return out
