"""The ground-truth file: what the emulated migration really did, for tests and for people to check against."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from cxgm_emulator.plan import WorldPlan
from cxgm_emulator.portal import expected_portal


def attempt_outcome(m) -> str:
    """What the attempt achieved (the monitor's AttemptOutcome words), which its execution's status does not say:
    production's Catch sends a failed gather and a SpanCollections tolerance breach on to `report`, SUCCEEDED."""
    if m.execution.status in ("ABORTED", "FAILED", "TIMED_OUT"):
        return m.execution.status.lower()
    gather = sorted((j for j in m.jobs if j.step.value == "gather_collections"), key=lambda j: j.created)
    if gather and not gather[-1].succeeded:
        return "failed_in_gather"
    if any(r.state_name == "SpanCollections" and r.status == "FAILED" for r in m.execution.map_runs):
        return "tolerance_exceeded"
    if any(d.state in ("failed", "not_started", "running", "pending") for d in m.datasets) \
            or any(c.migration_status == "FAILED" for c in m.collection_truths):
        return "finished_with_failures"
    return "succeeded"


def truth_document(plan: WorldPlan, endpoint_url: str | None = None) -> dict:
    migrations = []
    for m in plan.migrations:
        jobs = []
        for j in m.jobs:
            jobs.append({
                "job_id": j.job_id, "job_name": j.job_name, "step": j.step.value,
                "status": "RUNNABLE" if j.stalled else "SUCCEEDED" if j.succeeded else "FAILED",
                "error_category": j.category.value if j.category else None,
                "observable_category": j.observable_category.value if j.observable_category else None,
                "created_at": j.created, "started_at": j.first_start, "stopped_at": j.stop,
                "duration_s": j.duration_s, "attempts": len(j.attempts), "dataset_id": j.dataset_id,
                "collection_id": j.collection_id, "collection_version_id": j.env.get("COLLECTION_VERSION_ID"),
                "logs_expired": j.logs_expired, "dataset_version_id": j.env.get("DATASET_VERSION_ID"),
            })
        datasets = [asdict(d) for d in m.datasets]  # each with `observable`
        # what the stage's portal serves once the migration has ended, and the verdict it leads to
        portal_final, portal = expected_portal(plan, m)
        for d in datasets:
            d.update(portal[d["dataset_id"]])
        collections = [asdict(c) for c in m.collection_truths]
        executions = m.executions()
        migrations.append({
            "stage": m.stage.name, "attempt_key": m.attempt_key, "tag": m.spec.tag, "live": m.spec.live,
            "map_mode": str(m.map_mode), "ingestion_input": str(m.ingestion_input),
            "limit_migration": m.spec.limit_migration,
            "execution_name": m.execution.name, "execution_arn": m.execution.arn, "status": m.execution.status,
            "start": m.start, "stop": m.stop,
            "queue": m.stage.queue, "migration_state_machine": m.stage.migration_sfn,
            "ingestion_state_machine": m.stage.ingestion_sfn, "artifact_bucket": m.stage.artifact_bucket,
            "ingestion_executions": len(m.ingestions),
            "map_runs": len(m.map_runs()),
            "child_executions": sum(1 for e in executions if e.machine == "child"),
            "collections": collections, "datasets": datasets, "jobs": jobs,
            "portal_final": portal_final,  # no later migration of its stage: the portal still answers so at the end
            # a redriven execution: how it ended first, when, and when it was redriven (campaigns.py)
            "redrive": asdict(m.execution.redrive) if m.execution.redrive else None,
            "error": m.execution.error, "not_redrivable": m.execution.not_redrivable,
            "continues": m.spec.continues,
            "outcome": attempt_outcome(m),
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
