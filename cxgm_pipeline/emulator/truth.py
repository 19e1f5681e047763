"""The ground-truth file: what the emulated migration really did, for tests and for people to check against."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from cxgm_pipeline.emulator.plan import WorldPlan


def truth_document(plan: WorldPlan, endpoint_url: str | None = None) -> dict:
    migrations = []
    for m in plan.migrations:
        jobs = []
        for j in m.jobs:
            jobs.append({
                "job_id": j.job_id, "job_name": j.step.value, "status": "SUCCEEDED" if j.succeeded else "FAILED",
                "error_category": j.category.value if j.category else None,
                "observable_category": j.observable_category.value if j.observable_category else None,
                "created_at": j.created, "started_at": j.first_start, "stopped_at": j.stop,
                "duration_s": j.duration_s, "attempts": len(j.attempts), "dataset_id": j.dataset_id,
                "collection_version_id": j.collection_version_id, "logs_expired": j.logs_expired,
                "dataset_version_id": j.env.get("DATASET_VERSION_ID"),
            })
        datasets = []
        for d in m.datasets:
            row = asdict(d)
            row["state"] = d.state.value
            datasets.append(row)
        migrations.append({
            "stage": m.stage.name, "attempt_key": m.attempt_key, "tag": m.spec.tag, "live": m.spec.live,
            "execution_name": m.execution.name, "status": m.execution.status, "start": m.start, "stop": m.stop,
            "queue": m.stage.queue, "migration_state_machine": m.stage.migration_sfn,
            "ingestion_executions": len(m.ingestions), "datasets": datasets, "jobs": jobs,
        })
    return {"scenario": plan.scenario.name, "seed": plan.seed, "anchor": plan.anchor, "end": plan.end,
            "endpoint_url": endpoint_url, "migrations": migrations}


def write_truth(plan: WorldPlan, path: Path, endpoint_url: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(truth_document(plan, endpoint_url)))
    tmp.replace(path)
    return path


def load_truth(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
