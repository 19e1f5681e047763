"""child_failures: what Step Functions says failed where no Batch job did.

A DISTRIBUTED Map runs each item as a child execution. An error no Catch takes fails the child outright:
`States.ALL` matches neither `States.Runtime` (e.g. a JSONPath of a state's Parameters missing from its input:
StepFunctionsStartExecution reads `$.result.manifest`, schema_migration/main.tf @ 00e5dcc, which dataset_migrate @
001730b8 does not answer) nor `States.DataLimitExceeded` (AWS Step Functions developer guide, "Error handling in
Step Functions": "States.ALL ... does not catch States.DataLimitExceeded or States.Runtime"). Such a child leaves
no failed job: its dataset would read "running" until the attempt ends. INLINE Maps have no children: the same
error fails the migration execution itself.

Read, and kept bounded: ListMapRuns of the migration execution(s) and DescribeMapRun of each run (itemCounts,
ToleratedFailurePercentage), then only the FAILED children (ListExecutions(mapRunArn, statusFilter=FAILED)) and
their DescribeExecution (input, error, cause). A SpanDatasets run lives in its SpanCollections child: it is looked
up only for a dataset whose dataset_migration answered but whose ingestion never started (a suspect), in the
collection children that ran then. Rows of the previous frame are kept: an ended Map Run is not described again,
a failed child not again, a suspect a row explains is no longer one.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pandas as pd

from cxgm_pipeline.config import refresh_seconds
from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.aws.clients import FetchStats, StepFunctionsApi
from cxgm_pipeline.monitor.frames.columns_rows import row_dicts
from cxgm_pipeline.monitor.frames.columns_missing import none_if_missing
from cxgm_pipeline.monitor.aws.redaction import redact
from cxgm_pipeline.schemas import ChildFailures, empty_frame, validate
from cxgm_pipeline.vocabulary import AttemptState, ErrorCategory, JobStatus, Step
from portal_shapes import MIGRATION_TASK_STATES

# Step Functions' causes name the state: "An error occurred while executing the state 'X' (entered at the event id
# #N). ..." (States.Runtime), "The state/task 'X' returned a result with a size exceeding ..." (DataLimitExceeded)
_STATE_IN_CAUSE = re.compile(r"(?:the state|state/task)\s+'(?P<state>[^']+)'")
_INPUT_IN_CAUSE = re.compile(r"in the input '(?P<input>\{.*\})'", re.DOTALL)
# a state that is no Batch task fails on the answer of the task before it in its Map iteration (main.tf @ 00e5dcc)
_STEP_BEFORE_STATE = {"StepFunctionsStartExecution": Step.DATASET_MIGRATION, "DatasetError": Step.DATASET_MIGRATION,
                      "DatasetsExists": Step.COLLECTION_MIGRATION, "SpanDatasets": Step.COLLECTION_MIGRATION,
                      "CollectionError": Step.COLLECTION_MIGRATION}
_CATEGORY_OF_ERROR = {"States.Timeout": ErrorCategory.TIMEOUT, "States.HeartbeatTimeout": ErrorCategory.TIMEOUT}
# StartExecution follows dataset_migrate's answer within seconds: a dataset whose ingestion has not started this
# long after its dataset_migration ended is looked for among the failed children
SUSPECT_AFTER = timedelta(minutes=5)


def failing_step(state: str | None, child_state_map: str | None) -> str | None:
    """The step whose answer the failed state was handling: a Batch task's own step, else the task before it."""
    if state in MIGRATION_TASK_STATES:
        return MIGRATION_TASK_STATES[state].lower()
    if state in _STEP_BEFORE_STATE:
        return _STEP_BEFORE_STATE[state].value
    return {"SpanDatasets": Step.DATASET_MIGRATION.value, "SpanCollections": Step.COLLECTION_MIGRATION.value}.get(
        child_state_map or "")


def error_category(error: str | None) -> str:
    return _CATEGORY_OF_ERROR.get(error or "", ErrorCategory.APPLICATION).value


def error_signature(error: str | None, state: str | None, cause: str | None) -> str:
    """`States.Runtime in StepFunctionsStartExecution: The JSONPath '$.result.manifest' ... could not be found`:
    the cause without the event id and the input it quotes, so alike failures group."""
    text = _INPUT_IN_CAUSE.sub("in the input", cause or "")
    text = re.sub(r"An error occurred while executing the state '[^']+' \(entered at the event id #\d+\)\.\s*", "", text)
    return f"{error or 'failed'} in {state or 'an unknown state'}: {text.strip()[:300]}"


def _state_map(arn: str | None) -> str | None:
    """The Map state of a Map Run or of its child, from the ARN (`...:mapRun:{machine}/{State}:{id}`,
    `...:execution:{machine}/{State}:{name}`)."""
    if not re.search(r":(?:mapRun|execution):", arn or ""):
        return None
    labels = re.findall(r"/([^/:]+):", arn)  # a nested run's ARN may name its outer label too: the last is its own
    return labels[-1] if labels else None


def _item(payload) -> dict:
    try:
        item = json.loads(payload) if isinstance(payload, str) else payload
    except json.JSONDecodeError:
        return {}
    return item if isinstance(item, dict) else {}


def _failure_row(stage: str, attempt: str, kind: str, d: dict, map_run_arn: str | None, item: dict) -> dict:
    cause = redact(d.get("cause") or "")
    match = _STATE_IN_CAUSE.search(cause)
    state = match["state"] if match else None
    return {"stage": stage, "attempt": attempt, "kind": kind, "execution_arn": d["executionArn"],
            "map_run_arn": map_run_arn, "state_name": _state_map(map_run_arn), "status": d.get("status"),
            "items_failed": None, "items_total": None, "tolerated_failure_percentage": None,
            "error": d.get("error"), "cause": cause or None, "failed_state": state,
            "failing_step": failing_step(state, _state_map(map_run_arn)),
            "collection_id": item.get("collection_id"), "collection_version_id": item.get("collection_version_id"),
            "dataset_id": item.get("dataset_id"), "dataset_version_id": item.get("dataset_version_id"),
            "stopped_at": d.get("stopDate"), "read_at": None}


def _map_run_row(stage: str, attempt: str, d: dict, read_at) -> dict:
    counts = d.get("itemCounts") or {}
    return {"stage": stage, "attempt": attempt, "kind": "map_run", "execution_arn": d.get("executionArn"),
            "map_run_arn": d["mapRunArn"], "state_name": _state_map(d["mapRunArn"]), "status": d.get("status"),
            "items_failed": counts.get("failed"), "items_total": counts.get("total"),
            "tolerated_failure_percentage": d.get("toleratedFailurePercentage"), "error": None, "cause": None,
            "failed_state": None, "failing_step": None, "collection_id": None, "collection_version_id": None,
            "dataset_id": None, "dataset_version_id": None, "stopped_at": d.get("stopDate"), "read_at": read_at}


def _suspects(jobs: pd.DataFrame, executions: pd.DataFrame) -> pd.DataFrame:
    """dataset_migration jobs that answered a new version whose ingestion had not started SUSPECT_AFTER later."""
    if jobs.empty or executions.empty:
        return jobs.iloc[0:0]
    answered, started = set(), set()
    for old, revision, arn in zip(executions["old_dataset_version_id"], executions["collection_version_id"],
                                  executions["execution_arn"]):
        key = (none_if_missing(old), none_if_missing(revision))
        answered.add(key)
        if none_if_missing(arn) is not None:
            started.add(key)
    done = jobs[(jobs["step"] == Step.DATASET_MIGRATION.value) & (jobs["status"] == JobStatus.SUCCEEDED.value)]
    late = done["stopped_at"] < done["observed_at"] - SUSPECT_AFTER
    keys = [(none_if_missing(v), none_if_missing(c)) for v, c in zip(done["dataset_version_id"], done["collection_version_id"])]
    waiting = pd.Series([k in answered and k not in started for k in keys], index=done.index, dtype=bool)
    return done[waiting & late]


def fetch_child_failures(stage: str, attempt: Attempt | None, jobs: pd.DataFrame, executions: pd.DataFrame,
                         sfn: StepFunctionsApi, stats: FetchStats | None = None,
                         previous: pd.DataFrame | None = None) -> pd.DataFrame:
    if attempt is None or attempt.window_only:
        return empty_frame(ChildFailures)
    kept = previous if previous is not None and not previous.empty and (previous["attempt"] == attempt.key).all() \
        else empty_frame(ChildFailures)
    rows: dict[str, dict] = {}  # by execution ARN (failures) or Map Run ARN
    for r in row_dicts(kept):
        rows[r["map_run_arn"] if r["kind"] == "map_run" else r["execution_arn"]] = r
    if attempt.ended and attempt.state in (AttemptState.FAILED, AttemptState.TIMED_OUT):
        for d in sfn.describe_executions(stage, [a for a in attempt.execution_arns if a not in rows], stats):
            if d.get("status") in ("FAILED", "TIMED_OUT"):
                match = _INPUT_IN_CAUSE.search(d.get("cause") or "")  # INLINE: the failed iteration's input
                rows[d["executionArn"]] = _failure_row(stage, attempt.key, "execution", d, None,
                                                       _item(match["input"]) if match else {})

    now = sfn.aws_now(stage)

    def due(arn: str, hold: bool) -> bool:
        """A run not known, or known running: read again, the top one (`hold`) once per refresh interval while the
        attempt runs, as the running jobs' logs are. Its children fail where no Batch job did (rare): a refresh a
        minute would pay a call for each, at 2,000 datasets a tenth of the refresh's calls."""
        if arn not in rows:
            return True
        if rows[arn]["status"] != "RUNNING":
            return False
        read_at = rows[arn].get("read_at")
        return not hold or attempt.ended or read_at is None or pd.isna(read_at) or \
            (now - read_at).total_seconds() >= refresh_seconds()

    def read_runs(runs: list[dict], hold: bool = False) -> None:
        """DescribeMapRun of the runs not known to have ended (`due`), then their failed children not read yet."""
        fresh = [r["mapRunArn"] for r in runs if due(r["mapRunArn"], hold)]
        for d in sfn.describe_map_runs(stage, fresh, stats):
            before = rows.get(d["mapRunArn"])
            rows[d["mapRunArn"]] = _map_run_row(stage, attempt.key, d, now)
            failed = (d.get("itemCounts") or {}).get("failed") or 0
            if not failed or (before is not None and before["items_failed"] == failed):
                continue
            children = sfn.map_run_executions(stage, d["mapRunArn"], stats, status="FAILED")
            new = [c["executionArn"] for c in children if c["executionArn"] not in rows]
            for c in sfn.describe_executions(stage, new, stats):
                rows[c["executionArn"]] = _failure_row(stage, attempt.key, "child", c, d["mapRunArn"], _item(c.get("input")))

    def top_runs(arn: str) -> list[dict]:
        """The Map Runs the execution started: as the last frame knows them once it knows one (production's machine
        starts one at its top, SpanCollections), listed again after a redrive."""
        known = [{"mapRunArn": r["map_run_arn"]} for r in rows.values()
                 if r["kind"] == "map_run" and r["execution_arn"] == arn]
        return known if known and not attempt.redrive_count else sfn.map_runs(stage, arn, stats)

    top = [run for arn in attempt.execution_arns for run in top_runs(arn)]
    read_runs(top, hold=True)
    suspects = _suspects(jobs, executions)
    explained = {(r["dataset_id"], r["collection_version_id"]) for r in rows.values() if r["kind"] != "map_run"}
    if not suspects.empty:
        suspects = suspects[pd.Series([(d, c) not in explained for d, c in
                                       zip(suspects["dataset_id"], suspects["collection_version_id"])],
                                      index=suspects.index, dtype=bool)]
    if not suspects.empty and top:
        # the collection children that were running when a suspect's dataset_migration was submitted
        children = [c for run in top for c in sfn.map_run_executions(stage, run["mapRunArn"], stats)]
        created = list(suspects["created_at"])
        candidates = [c["executionArn"] for c in children
                      if any(c["startDate"] <= t and (c.get("stopDate") is None or t <= c["stopDate"]) for t in created)]
        read_runs([run for arn in candidates for run in sfn.map_runs(stage, arn, stats)])
    if not rows:
        return empty_frame(ChildFailures)
    df = pd.DataFrame(list(rows.values()))
    return validate(ChildFailures, df.sort_values(["kind", "map_run_arn", "execution_arn"], na_position="last"))


def apply_child_failures(rollup: pd.DataFrame, failures: pd.DataFrame, outputs: pd.DataFrame | None) -> pd.DataFrame:
    """The datasets a failed execution names (or, for a collection's, the datasets of that version that had no
    outcome of their own) fail where it failed: failing step, category `application` (or what the error says), the
    cause as their signature. A dataset whose own jobs already failed keeps that failure."""
    from cxgm_pipeline.monitor.frames.rollups import (
        branch_of,
        gathered_versions,
        revision_index,
    )

    if rollup.empty or failures is None or failures.empty:
        return rollup
    failed = failures[failures["kind"] != "map_run"]
    if failed.empty:
        return rollup
    revisions, gathered = revision_index(outputs), gathered_versions(outputs)
    rollup = rollup.copy()
    undecided = rollup["state"].isin(["running", "pending"]) | (
        (rollup["state"] == "failed") & rollup["failing_step"].isna())
    for f in row_dicts(failed):
        if none_if_missing(f["dataset_id"]) is not None:
            branch = branch_of(f["collection_id"], f["collection_version_id"], revisions, gathered)
            hit = (rollup["dataset_id"] == f["dataset_id"]) & (
                (rollup["collection_version_id"] == branch) | (rollup["migration_revision_id"] == f["collection_version_id"]))
        elif none_if_missing(f["collection_id"]) is not None:
            hit = (rollup["collection_id"] == f["collection_id"]) & undecided & (
                (rollup["collection_version_id"] == f["collection_version_id"])
                | (rollup["migration_revision_id"] == f["collection_version_id"]))
        else:
            continue
        hit &= undecided
        if not hit.any():
            continue
        rollup.loc[hit, "state"] = "failed"
        rollup.loc[hit, "failing_step"] = f["failing_step"]
        rollup.loc[hit, "error_category"] = error_category(f["error"])
        rollup.loc[hit, "error_signature"] = error_signature(f["error"], f["failed_state"], f["cause"])
        rollup.loc[hit, "current_step"] = None
        if none_if_missing(f["stopped_at"]) is not None:
            rollup.loc[hit, "finished_at"] = rollup.loc[hit, "finished_at"].fillna(f["stopped_at"])
    return rollup
