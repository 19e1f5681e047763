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
from cxgm_pipeline.monitor.aws import FetchStats, StepFunctionsApi
from cxgm_pipeline.schemas import SfnExecutions, empty_frame, validate
from portal_shapes import INGESTION_NAME_RE


def fetch_sfn_executions(stage: str, attempt: Attempt | None, outputs: pd.DataFrame, sfn: StepFunctionsApi,
                         stats: FetchStats | None = None, now: datetime | None = None) -> pd.DataFrame:
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
    # with new versions made, their ingestions must be somewhere: a missing machine is a misnamed one
    listed = sfn.list_executions(stage, cfg.ingestion_sfn, stats, stop_before=after.timestamp(), must_exist=bool(rows))
    now = given_now or sfn.aws_now(stage)  # running executions are timed to AWS's clock as it answered
    for ex in listed:
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
