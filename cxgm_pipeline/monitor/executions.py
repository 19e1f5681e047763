"""sfn_executions: the attempt's ingestion executions with per-step timings, and the version mapping.

`dataset_migration` creates a new dataset version; ingestion jobs (cxg above all) only carry that new
DATASET_VERSION_ID. The mapping old -> new (and so to DATASET_ID) comes from the dataset_migration task
outputs in the migration execution's history; an ingestion execution belongs to the attempt when its
input names one of those new versions (or, with no mapping, when it started inside the window).
"""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

from cxgm_pipeline.monitor.attempts import Attempt, utcnow
from cxgm_pipeline.resources.aws import FetchStats, StepFunctionsResource
from cxgm_pipeline.schemas import SfnExecutions, empty_frame, validate
from cxgm_pipeline.vocabulary import INGESTION_STEPS


def _json(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def version_mapping(histories: dict[str, list[dict]]) -> dict[str, dict]:
    """{new_dataset_version_id: {dataset_id, dataset_version_id (old), collection_version_id}}."""
    mapping = {}
    for events in histories.values():
        for ev in events:
            if ev["type"] != "TaskSucceeded":
                continue
            out = _json(ev.get("taskSucceededEventDetails", {}).get("output"))
            m = out.get("migration")
            if isinstance(m, dict) and m.get("new_dataset_version_id"):
                mapping[m["new_dataset_version_id"]] = m
    return mapping


_END_DETAILS = {"ExecutionFailed": "executionFailedEventDetails", "ExecutionAborted": "executionAbortedEventDetails",
                "ExecutionTimedOut": "executionTimedOutEventDetails"}


def step_timings(events: list[dict]) -> tuple[dict[str, float], str | None, list[str], dict, dict]:
    """({step: seconds}, failed step, batch job ids, execution input, {error, cause}) from one history."""
    entered: dict[str, datetime] = {}
    current = None
    durations, jobs, failed, ex_input, ending = {}, [], None, {}, {}
    for ev in events:
        kind = ev["type"]
        if kind in _END_DETAILS:
            details = ev.get(_END_DETAILS[kind], {})
            ending = {"error": details.get("error"), "cause": details.get("cause")}
        elif kind == "ExecutionStarted":
            ex_input = _json(ev.get("executionStartedEventDetails", {}).get("input"))
        elif kind == "TaskStateEntered":
            current = ev["stateEnteredEventDetails"]["name"]
            entered[current] = ev["timestamp"]
        elif kind == "TaskSubmitted":
            job_id = _json(ev["taskSubmittedEventDetails"].get("output")).get("JobId")
            if job_id:
                jobs.append(job_id)
        elif kind in ("TaskSucceeded", "TaskFailed", "TaskTimedOut") and current in entered:
            durations[current] = max(0.0, (ev["timestamp"] - entered[current]).total_seconds())
            if kind != "TaskSucceeded":
                failed = current
    return durations, failed, jobs, ex_input, ending


ENDED = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}


def fetch_sfn_executions(stage: str, attempt: Attempt | None, sfn: StepFunctionsResource,
                         stats: FetchStats | None = None, now: datetime | None = None,
                         previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """`previous`: this partition's last frame. An execution that had ended then is immutable: its row is
    reused and its history not fetched again, so a refresh during a long migration reads only what moved."""
    if attempt is None:
        return empty_frame(SfnExecutions)
    now = now or utcnow()
    cfg = sfn.stage_config(stage)
    mapping = version_mapping(sfn.histories(stage, list(attempt.execution_arns), stats))
    after, before = attempt.window(now)
    listed = [e for e in sfn.list_executions(stage, cfg.ingestion_sfn, stats, stop_before=after.timestamp())
              if after <= e["startDate"] <= before]
    reusable = {}
    if previous is not None and not previous.empty:
        done = previous[previous["status"].isin(ENDED)]
        reusable = {r["execution_arn"]: r for r in done.to_dict("records")}
    kept = [reusable[e["executionArn"]] for e in listed if e["executionArn"] in reusable]
    listed = [e for e in listed if e["executionArn"] not in reusable]
    histories = sfn.histories(stage, [e["executionArn"] for e in listed], stats)
    rows = list(kept)
    for ex in listed:
        durations, failed, job_ids, ex_input, ending = step_timings(histories[ex["executionArn"]])
        new_id = ex_input.get("dataset_version_id")
        m = mapping.get(new_id)
        if mapping and m is None:
            continue  # an ordinary upload in the same window, not part of this migration
        m = m or {}
        stop = ex.get("stopDate")
        end = stop or now
        rows.append({
            "stage": stage, "attempt": attempt.key, "execution_arn": ex["executionArn"], "execution_name": ex["name"],
            "status": ex["status"], "start_at": ex["startDate"], "stop_at": stop,
            "duration_s": max(0.0, (end - ex["startDate"]).total_seconds()),
            "dataset_id": m.get("dataset_id"),
            "collection_version_id": ex_input.get("collection_version_id") or m.get("collection_version_id"),
            "old_dataset_version_id": m.get("dataset_version_id"), "new_dataset_version_id": new_id,
            **{f"{s.value}_s": durations.get(s.value) for s in INGESTION_STEPS},
            "failed_step": failed, "batch_job_ids": ",".join(job_ids) or None,
            "error": ending.get("error"), "cause": ending.get("cause"),
        })
    if not rows:
        return empty_frame(SfnExecutions)
    return validate(SfnExecutions, pd.DataFrame(rows).sort_values("start_at"))
