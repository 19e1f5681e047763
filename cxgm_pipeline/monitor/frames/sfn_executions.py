"""sfn_executions: each dataset's new version (from step_outputs) joined with its ingestion execution.

dataset_migrate answers the new dataset version and `sfn_name`, the name the migration gives the ingestion
execution it starts (`migrate_{version}_{epoch}`). ListExecutions pages give every execution's name,
status and times in bulk, so no execution history is read here. An execution named `migrate_...` that no
answer names (its dataset_migration's log and history are gone) is kept, attributed by its name only.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.frames.columns_rows import row_dicts
from cxgm_pipeline.monitor.aws.clients import RELIST_MARGIN, AwsAccessError, FetchStats, StepFunctionsApi
from cxgm_pipeline.monitor.aws.redaction import redact
from cxgm_pipeline.schemas import SfnExecutions, empty_frame, validate
from cxgm_pipeline.vocabulary import JobStatus
from portal_shapes import INGESTION_NAME_RE, INGESTION_TASK_STATES


def list_ingestion_executions(stage: str, attempt: Attempt, sfn: StepFunctionsApi, stats: FetchStats | None = None,
                              previous: pd.DataFrame | None = None) -> list[dict] | None:
    """The ingestion machine's executions back to the attempt's start, newest first (None: no such machine).
    Needs no other frame, so a fetch starts it at once, beside the job listing. `previous`: this partition's last
    sfn_executions; an ended execution never changes, so a refresh lists back only to the oldest one still
    running then (or the newest it knew), and takes the older ones from `previous`."""
    machine = sfn.stage_config(stage).ingestion_sfn
    after, _ = attempt.window(sfn.aws_now(stage))
    known = previous[previous["execution_arn"].notna() & previous["start_at"].notna()] \
        if previous is not None and not previous.empty and (previous["attempt"] == attempt.key).all() else None
    if known is None or known.empty:
        return sfn.list_executions(stage, machine, stats, stop_before=after.timestamp(), none_if_missing=True)
    running = known.loc[known["status"] == "RUNNING", "start_at"]
    since = max(after, (min(running.min(), known["start_at"].max()) if not running.empty
                        else known["start_at"].max()).to_pydatetime() - RELIST_MARGIN)
    listed = sfn.list_executions(stage, machine, stats, stop_before=since.timestamp(), none_if_missing=True)
    if listed is None:
        return None
    older = known[known["start_at"] < since]
    return listed + [{"executionArn": r["execution_arn"], "name": r["execution_name"], "status": r["status"],
                      "startDate": r["start_at"].to_pydatetime(),
                      "stopDate": None if pd.isna(r["stop_at"]) else r["stop_at"].to_pydatetime()}
                     for r in row_dicts(older)]


def fetch_sfn_executions(stage: str, attempt: Attempt | None, outputs: pd.DataFrame, sfn: StepFunctionsApi,
                         stats: FetchStats | None = None, now: datetime | None = None,
                         listed: list[dict] | None = None, previous: pd.DataFrame | None = None,
                         jobs: pd.DataFrame | None = None) -> pd.DataFrame:
    """`listed`: the ingestion executions if already listed (list_ingestion_executions), else they are listed
    here; `previous`: this partition's last frame, for a refresh's listing; `jobs`: the attempt's Batch jobs, to
    find the executions that failed with no failed job of their own (their failure is read from their history)."""
    if attempt is None:
        return empty_frame(SfnExecutions)
    given_now = now
    now = now or sfn.aws_now(stage)
    cfg = sfn.stage_config(stage)
    versions = outputs[outputs["kind"] == "dataset_version"] if not outputs.empty else outputs
    rows: dict[str, dict] = {}
    by_name: dict[str, str] = {}
    for r in row_dicts(versions) if not versions.empty else []:
        new = r["new_dataset_version_id"]
        if not new or new in rows:
            continue
        rows[new] = {"stage": stage, "attempt": attempt.key, "new_dataset_version_id": new, "execution_arn": None,
                     "execution_name": r["sfn_name"], "status": None, "start_at": None, "stop_at": None,
                     "duration_s": None, "dataset_id": r["dataset_id"], "collection_version_id": r["collection_version_id"],
                     "old_dataset_version_id": r["dataset_version_id"], "attribution": r["source"]}
        if r["sfn_name"]:
            by_name[r["sfn_name"]] = new
    new_of_old = {r["old_dataset_version_id"]: new for new, r in rows.items() if r["old_dataset_version_id"]}
    after, before = attempt.window(now)
    if listed is None:
        listed = list_ingestion_executions(stage, attempt, sfn, stats, previous)
    if listed is None and rows:
        # with new versions made, their ingestions must be somewhere: a missing machine is a misnamed one
        raise AwsAccessError(f"state machine {cfg.ingestion_sfn!r} does not exist in stage {stage!r}: fix its name "
                             f"in the file named by CXGM_CONFIG (see `cxgm_pipeline/stages.toml`)")
    now = given_now or sfn.aws_now(stage)  # running executions are timed to AWS's clock as it answered
    for ex in listed or []:
        if not after <= ex["startDate"] <= before:
            continue
        new = by_name.get(ex["name"])
        if new is None:
            match = INGESTION_NAME_RE.match(ex["name"])
            if match is None:
                continue  # an ordinary upload, not a migration's ingestion
            # the name holds the NEW version from PY-8 on, the OLD one before (sfn_name_generator)
            new = new_of_old.get(match["version"], match["version"])
            if new not in rows:
                rows[new] = {"stage": stage, "attempt": attempt.key, "new_dataset_version_id": new,
                             "dataset_id": None, "collection_version_id": None, "old_dataset_version_id": None,
                             "attribution": "execution_name"}
        stop = ex.get("stopDate")
        rows[new].update(execution_arn=ex["executionArn"], execution_name=ex["name"], status=ex["status"],
                         start_at=ex["startDate"], stop_at=stop,
                         duration_s=max(0.0, ((stop or now) - ex["startDate"]).total_seconds()))
    if not rows:
        return empty_frame(SfnExecutions)
    df = pd.DataFrame(list(rows.values()))
    df = _failures_in_history(stage, df, jobs, sfn, stats, previous)
    return validate(SfnExecutions, df.sort_values(["start_at", "new_dataset_version_id"], na_position="last"))


def _failures_in_history(stage: str, df: pd.DataFrame, jobs: pd.DataFrame | None, sfn: StepFunctionsApi,
                         stats: FetchStats | None, previous: pd.DataFrame | None) -> pd.DataFrame:
    """The error and state an ingestion execution failed with, for the executions that FAILED with no failed Batch
    job of their own: each task of the ingestion machine sets TimeoutSeconds (24 h validations and labels, 48 h
    cxg) under a States.ALL retrier and a Catch to HandleErrors -> RaiseError (sfn/main.tf @ 0032817), so a task
    that timed out (its job never placed, say) ends the execution FAILED, never TIMED_OUT, with States.Timeout in
    its history only. A Batch task's failure keeps its cause, the job's description (its reasons, its exit code),
    redacted: it may say why before the job's own log is read. Each such history is read once: `previous` keeps
    what was read."""
    df = df.assign(failure_error=None, failure_state=None, failure_cause=None, history_read=False)
    if jobs is None or jobs.empty:
        return df
    failed_versions = set(jobs.loc[jobs["status"] == JobStatus.FAILED.value, "dataset_version_id"].dropna())
    wanted = (df["status"] == "FAILED") & df["execution_arn"].notna() & ~df["new_dataset_version_id"].isin(failed_versions)
    if not wanted.any():
        return df
    known = {}
    if previous is not None and not previous.empty and "history_read" in previous:
        read = previous[previous["history_read"].fillna(False).astype(bool)]
        # a frame stored before failure_cause: its failures were read without their cause
        known = {r["execution_arn"]: (r["failure_error"], r["failure_state"], r.get("failure_cause"))
                 for r in row_dicts(read)}
    arns = [a for a in df.loc[wanted, "execution_arn"] if a not in known]
    for arn, events in sfn.histories(stage, arns, stats).items():
        known[arn] = ingestion_failure(events or [])
    for i in df.index[wanted]:
        error, state, cause = known.get(df.at[i, "execution_arn"], (None, None, None))
        df.at[i, "failure_error"], df.at[i, "failure_state"], df.at[i, "history_read"] = error, state, True
        df.at[i, "failure_cause"] = redact(cause)
    return df


_FAILURE_EVENTS = {"TaskTimedOut": "taskTimedOutEventDetails", "TaskFailed": "taskFailedEventDetails",
                   "ActivityTimedOut": "activityTimedOutEventDetails"}


def ingestion_failure(events: list[dict]) -> tuple[str | None, str | None, str | None]:
    """(error, task state, cause) of the last task failure before the execution went to HandleErrors: e.g.
    ("States.Timeout", "AddLabels", ""), or ("States.TaskFailed", "ValidateAnndata", the Batch job's description).
    The state is the TaskStateEntered its previousEventId chain leads to."""
    by_id = {e.get("id"): e for e in events}
    for e in reversed(events):
        details = _FAILURE_EVENTS.get(e.get("type"))
        if details is None or (e.get(details) or {}).get("resourceType") == "lambda":
            continue
        error, cause = (e.get(details) or {}).get("error"), (e.get(details) or {}).get("cause")
        prev, hops = by_id.get(e.get("previousEventId")), 0
        while prev is not None and prev.get("type") != "TaskStateEntered" and hops < 100:  # retries chain on
            prev, hops = by_id.get(prev.get("previousEventId")), hops + 1
        state = ((prev or {}).get("stateEnteredEventDetails") or {}).get("name")
        return error, state if state in INGESTION_TASK_STATES else None, cause or None
    return None, None, None
