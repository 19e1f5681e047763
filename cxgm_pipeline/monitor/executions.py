"""sfn_executions: each dataset's new version (from step_outputs) joined with its ingestion execution.

dataset_migrate answers the new dataset version and `sfn_name`, the name the migration gives the ingestion
execution it starts (`migrate_{version}_{epoch}`). ListExecutions pages give every execution's name,
status and times in bulk, so no execution history is read here. An execution named `migrate_...` that no
answer names (its dataset_migration's log and history are gone) is kept, attributed by its name only.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from cxgm_pipeline.monitor.attempts import Attempt
from cxgm_pipeline.monitor.frame_rows import row_dicts
from cxgm_pipeline.monitor.aws import RELIST_MARGIN, AwsAccessError, FetchStats, StepFunctionsApi
from cxgm_pipeline.schemas import SfnExecutions, empty_frame, validate
from portal_shapes import INGESTION_NAME_RE


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
                         listed: list[dict] | None = None, previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """`listed`: the ingestion executions if already listed (list_ingestion_executions), else they are listed
    here; `previous`: this partition's last frame, for a refresh's listing."""
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
    return validate(SfnExecutions, df.sort_values(["start_at", "new_dataset_version_id"], na_position="last"))
