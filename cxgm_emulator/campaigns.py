"""Campaigns as production lives them: an execution that hits the history quota and a re-run of the workflow, and
an execution that fails and is redriven. Applied to a planned migration after it is built (plan.build_world).

- The history quota. Step Functions keeps at most 25,000 events in an execution's history; the schema 4.0.0
  migration reached it and "auto-cancelled before finishing" (single-cell-data-portal issue #6541, which says it was
  "resolved by triggering a re-run"). The execution fails; its cause is Step Functions' own sentence ("The execution
  reached the maximum number of history events (25000)", as quoted in aws-samples/aws-organizations-tag-inventory
  issue #16), and Step Functions will not redrive it (DescribeExecution's redriveStatusReason
  "Execution history event limit exceeded.", AWS API reference, DescribeExecution).
- The re-run. `.github/workflows/schema-migration.yml` starts the migration machine with `{"auto_publish": "True"}`
  only: no execution name (a UUID), no tag. collection_migrate drops the datasets already on the current schema,
  which after the first execution includes every dataset it migrated; the cleanup step logs "skipping dataset" for
  them (backend/layers/processing/schema_migration.py, PY-9).
- The redrive (AWS API reference, RedriveExecution): the failed execution keeps its ARN and input and returns to
  RUNNING; an `ExecutionRedriven` event (executionRedrivenEventDetails.redriveCount) follows its ExecutionFailed
  event; successful steps are not run again: only the Map iterations (INLINE) or the Map Run's child executions
  (DISTRIBUTED, the parent redrives its failed Map Run, which redrives its unsuccessful children) that failed,
  were aborted, or never started. DescribeExecution then shows redriveCount 1 and redriveDate.
  Modelled more coarsely than AWS: a dataset iteration stopped after its dataset_migration succeeded runs again from
  DatasetMigration (AWS would re-enter StepFunctionsStartExecution, whose name is already taken).

Production's DISTRIBUTED machine keeps the parent's history small (the fix #6541 proposed); the scenario fails every
variant's first staging execution the same way, so each machine's shape is tested with a re-run after it.
"""

from __future__ import annotations

import random
from dataclasses import replace

from cxgm_emulator.failures import Fault as C
from cxgm_emulator.failures import LogContext
from cxgm_emulator.plan import (
    ExecutionPlan,
    HistoryEvent,
    JobPlan,
    MapRunPlan,
    MigrationPlan,
    Redrive,
    _History,
    _MigrationBuilder,
    abort,
    json_dumps,
)
from portal_shapes import LOG_SKIPPING_DATASET, Step

HISTORY_QUOTA = 25_000
# The error name of a quota failure is not in AWS's documentation (the cause sentence is, as users quote it);
# cxgm reads neither: it reads the FAILED status and the redrive fields.
HISTORY_QUOTA_ERROR = "States.Runtime"
HISTORY_QUOTA_CAUSE = f"The execution reached the maximum number of history events ({HISTORY_QUOTA})."
NOT_REDRIVABLE_HISTORY = "Execution history event limit exceeded."
RUNTIME_ERROR = "States.Runtime"
RUNTIME_CAUSE = ("An error occurred while executing the state 'StepFunctionsStartExecution'. The JSONPath "
                 "'$.result.manifest' specified for the field 'manifest.$' could not be found in the input")
# the trigger's input (.github/workflows/schema-migration.yml): no name, no tag
WORKFLOW_INPUT = {"auto_publish": "True"}


def _stop(plan: MigrationPlan, at: float, error: str, cause: str, rng: random.Random) -> None:
    """The execution fails at `at` with an uncatchable error: what runs is stopped, as an abort stops it (Step
    Functions stops the .sync jobs and child executions of a stopped execution); the parent reads FAILED."""
    abort(plan, at, rng)
    ex = plan.execution
    ex.status, ex.error, ex.cause = "FAILED", error, cause
    ex.events[-1] = HistoryEvent(at, "ExecutionFailed", "executionFailedEventDetails", {"error": error, "cause": cause})


def hit_history_quota(plan: MigrationPlan, at: float, rng: random.Random) -> None:
    _stop(plan, at, HISTORY_QUOTA_ERROR, HISTORY_QUOTA_CAUSE, rng)
    plan.execution.not_redrivable = NOT_REDRIVABLE_HISTORY


def as_workflow_rerun(plan: MigrationPlan) -> None:
    """The re-run's input is the workflow's, whatever the machine's defaults."""
    ex = plan.execution
    ex.input = dict(WORKFLOW_INPUT)
    first = ex.events[0]
    ex.events[0] = HistoryEvent(first.t, first.type, first.details_key, {**first.details, "input": json_dumps(ex.input)},
                                first.thread)


def rerun_corpus(corpus, previous: MigrationPlan):
    """The corpus as the re-run finds it: every dataset the previous execution migrated is current, as the version it
    made (production's gather_collections takes a collection's open migration revision rather than its published
    version, backend/layers/processing/schema_migration.py @ 001730b8): where that revision was published, the portal
    serves the new version; where not, its published version still holds the old one (`published_before`). Modelled
    more coarsely than production: the collection version gathered stays the published one."""
    from cxgm_emulator.portal import PUBLISH_REVISIONS_DELAY_S, _Index

    made = {d.dataset_id: d.new_dataset_version_id for d in previous.datasets
            if d.state == "succeeded" and d.new_dataset_version_id}
    index, after = _Index(previous), previous.stop + PUBLISH_REVISIONS_DELAY_S + 1
    out = []
    for c in corpus:
        if not any(d.dataset_id in made for d in c.datasets):
            out.append(c)
            continue
        served = {d.dataset_id: d.dataset_version_id for d in index.served(c, after).datasets}
        out.append(replace(c, datasets=tuple(
            replace(d, current=True, dataset_version_id=made[d.dataset_id],
                    published_before=None if served.get(d.dataset_id) == made[d.dataset_id] else d.dataset_version_id)
            if d.dataset_id in made else d for d in c.datasets)))
    return out


def campaign_truths(migrations: list[MigrationPlan]) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    """{(stage, attempt_key, dataset_id, collection version gathered): (campaign_state, campaign_attempt)} for every
    migration: the latest execution of its campaign that processed the dataset decides (skipped and never-started
    rows decide nothing); a dataset no execution processed keeps the latest one's state. An attempt alone decides
    each of its rows (a dataset gathered twice is two)."""
    campaigns: list[list[MigrationPlan]] = []
    last_of_stage: dict[str, list[MigrationPlan]] = {}
    for m in sorted(migrations, key=lambda m: m.start):
        if m.spec.continues and m.stage.name in last_of_stage:
            last_of_stage[m.stage.name].append(m)
        else:
            campaigns.append([m])
            last_of_stage[m.stage.name] = campaigns[-1]
    out = {}
    for members in campaigns:
        if len(members) == 1:
            m = members[0]
            out.update({(m.stage.name, m.attempt_key, d.dataset_id, d.collection_version_id): (d.state, m.attempt_key)
                        for d in m.datasets})
            continue
        states = [{d.dataset_id: d.state for d in m.datasets} for m in members]
        for m in members:
            for d in m.datasets:
                decided = (d.state, m.attempt_key)
                for member, seen in reversed(list(zip(members, states))):
                    state = seen.get(d.dataset_id)
                    if state is not None and state not in ("skipped", "not_started"):
                        decided = (state, member.attempt_key)
                        break
                else:
                    latest = next(mm for mm, seen in reversed(list(zip(members, states))) if d.dataset_id in seen)
                    decided = (states[members.index(latest)][d.dataset_id], latest.attempt_key)
                out[(m.stage.name, m.attempt_key, d.dataset_id, d.collection_version_id)] = decided
    return out


# --- redrive ------------------------------------------------------------------------------------------------


def _latest(jobs: list[JobPlan], step: Step | tuple[Step, ...], key) -> dict:
    steps = step if isinstance(step, tuple) else (step,)
    out = {}
    for j in sorted(jobs, key=lambda j: j.created):
        if j.step in steps:
            out[key(j)] = j
    return out


def _resume(ex: ExecutionPlan, at: float) -> _History:
    """An execution stopped before, redriven at `at`: its history goes on after an ExecutionRedriven event."""
    ex.redrive = Redrive(ex.status, ex.stop, at)
    ex.status, ex.error, ex.cause, ex.output = "SUCCEEDED", None, None, None
    history = _History(ex.arn)
    history.events = ex.events
    history.add(at, "ExecutionRedriven", "executionRedrivenEventDetails", {"redriveCount": 1})
    return history


def _end(ex: ExecutionPlan, history: _History, stop: float, output) -> None:
    ex.stop, ex.output = stop, output
    history.add(stop, "ExecutionSucceeded", "executionSucceededEventDetails", {"output": json_dumps(output)})
    ex.events = history.events


def _resume_run(b: _MigrationBuilder, run: MapRunPlan, at: float) -> None:
    run.redrive = Redrive(run.status, run.stop, at)
    run.status = "SUCCEEDED"


def fail_and_redrive(b: _MigrationBuilder, plan: MigrationPlan, failed_at: float, redrive_at: float,
                     rng: random.Random) -> None:
    """The execution fails at `failed_at` (States.Runtime) and is redriven at `redrive_at`: the unfinished
    collections and datasets run again under the same execution (same EXECUTION_ID in their jobs)."""
    _stop(plan, failed_at, RUNTIME_ERROR, RUNTIME_CAUSE, rng)
    if not any(j.step is Step.GATHER_COLLECTIONS and j.succeeded for j in plan.jobs):
        raise ValueError(f"{plan.attempt_key}: a redrive before gather_collections ended is not modelled")
    cm = _latest(plan.jobs, Step.COLLECTION_MIGRATION, lambda j: j.collection_id)
    cleanup = _latest(plan.jobs, (Step.COLLECTION_CLEANUP, Step.COLLECTION_PUBLISH), lambda j: j.collection_id)
    dm = _latest(plan.jobs, Step.DATASET_MIGRATION, lambda j: j.dataset_id)
    ingestion = {ex.input.get("dataset_version_id") or ex.input.get("dataset_id"): ex for ex in plan.ingestions}
    new_version = {dataset_id: v for (dataset_id, _), v in b.new_versions.items()}  # a redrive is of one branch

    def dataset_done(dataset_id: str) -> bool:
        job = dm.get(dataset_id)
        if job is None or job.category is C.CANCELLED:
            return False
        if not job.succeeded:
            return True  # caught: DatasetError, the iteration succeeded
        ing = ingestion.get(new_version.get(dataset_id))
        return ing is not None and ing.status in ("SUCCEEDED", "FAILED")

    parent = plan.execution
    h = _resume(parent, redrive_at)
    span_collections = next((r for r in parent.map_runs if r.state_name == "SpanCollections"), None)
    if b.distributed:
        _resume_run(b, span_collections, redrive_at)
    t = redrive_at + 5
    ends = []
    for idx, coll in enumerate(plan.corpus):
        done = cleanup.get(coll.collection_id)
        if done is not None and done.succeeded:
            continue
        t += rng.uniform(1, 60)
        item = {"collection_id": coll.collection_id, "collection_version_id": coll.collection_version_id,
                "execution_id": b.exec_name}
        child, history, thread = None, h, f"r{idx}"
        if b.distributed:
            child = next((c for c in span_collections.children if c.input.get("collection_id") == coll.collection_id), None)
            if child is None:
                child, history = b._child("SpanCollections", item, t - 2)
                child.map_run = span_collections
                span_collections.children.append(child)
            else:
                history = _resume(child, t - 2)
            thread = ""
        else:
            b._iteration_started(h, "SpanCollections", idx, t - 1, thread)
        before = {k: list(v) for k, v in b.map_runs.items()}
        job = cm.get(coll.collection_id)
        if job is None or job.category is C.CANCELLED:
            end = b._collection(coll, t, item, history, thread, False)
        else:
            end = _finish_collection(b, coll, job, history, thread, t, dataset_done, child, redrive_at)
        if child is not None:
            for arn, runs in b.map_runs.items():  # Map Runs the re-run started belong to their execution
                for run in runs[len(before.get(arn, [])):]:
                    if arn == child.arn:
                        child.map_runs.append(run)
                        run.parent = child
            _end(child, history, end + 1, {"collection_version_id": coll.collection_version_id})
        else:
            b._iteration_succeeded(h, "SpanCollections", idx, end + 0.5, thread)
        ends.append(end)
    if span_collections is not None and b.distributed:
        span_collections.stop = max([span_collections.stop, *ends]) + 2
    # the report step (it never ran before the failure): reads then deletes schema_migration/{execution}/
    report = b.task(h, "", Step.REPORT, max(ends, default=redrive_at) + 30, b._migration_env(Step.REPORT), {},
                    {"errors": [], "migrate_changes": []}, sfn_retry=b.distributed)
    for obj in plan.s3_objects:
        obj.deleted = report.stop - 1
    parent.status = "SUCCEEDED"
    _end(parent, h, report.stop + 5, {"errors": [], "migrate_changes": []})
    seen = {}
    for truth in plan.collection_truths:  # a collection migrated again replaces its first truth
        seen[truth.collection_id] = truth
    plan.collection_truths[:] = list(seen.values())


def _finish_collection(b: _MigrationBuilder, coll, cm_job: JobPlan, history: _History, thread: str, t: float,
                       dataset_done, child: ExecutionPlan | None, redrive_at: float) -> float:
    """A collection whose collection_migration had ended: its unfinished datasets, then its cleanup (the tail of
    `_MigrationBuilder._collection`), its jobs on the branch of the version gathered."""
    b._branch = coll.collection_version_id
    try:
        return _finish_collection_jobs(b, coll, cm_job, history, thread, t, dataset_done, child, redrive_at)
    finally:
        b._branch = None


def _finish_collection_jobs(b: _MigrationBuilder, coll, cm_job: JobPlan, history: _History, thread: str, t: float,
                            dataset_done, child: ExecutionPlan | None, redrive_at: float) -> float:
    to_migrate = [d for d in coll.datasets if not d.current]
    skipped = [d for d in coll.datasets if d.current]
    cvid = (cm_job.log_ctx.response or {}).get("collection_version_id") if cm_job.succeeded else coll.collection_version_id
    ends = [t]
    if cm_job.succeeded:
        items = [{"collection_id": coll.collection_id,
                  "collection_url": f"https://cellxgene.cziscience.com/collections/{coll.collection_id}",
                  "collection_version_id": cvid, "dataset_id": d.dataset_id,
                  "dataset_version_id": d.dataset_version_id, "execution_id": b.exec_name} for d in to_migrate]
        pending = [(d, i) for d, i in zip(to_migrate, items) if not dataset_done(d.dataset_id)]
        if b.distributed and pending:
            run = next((r for r in child.map_runs if r.state_name == "SpanDatasets"), None) if child else None
            children = []
            for k, (d, item) in enumerate(pending):
                created = t + b.rng.uniform(0, 60) * (k // 10)
                existing = next((c for c in (run.children if run else []) if c.input.get("dataset_id") == d.dataset_id), None)
                if existing is not None:
                    sub_history = _resume(existing, created - 1)
                    sub = existing
                else:
                    sub, sub_history = b._child("SpanDatasets", item, created - 1)
                    children.append(sub)
                end = b._dataset(coll, d, item, created, sub_history, "", sub.arn)
                _end(sub, sub_history, end + 1, item)
                ends.append(end)
            if run is not None:
                _resume_run(b, run, redrive_at)
                for sub in children:
                    sub.map_run = run
                run.children.extend(children)
                run.stop = max([run.stop, *ends]) + 1
            else:
                b._map_run("SpanDatasets", history, t - 2, children, max(ends) + 1, 10, 100.0)
        else:
            for k, (d, item) in enumerate(pending):
                created = t + b.rng.uniform(0, 60) * (k // 10)
                sub_thread = f"{thread}/r{k}"
                b._iteration_started(history, "SpanDatasets", k, created - 0.7, sub_thread)
                end = b._dataset(coll, d, item, created, history, sub_thread, b.exec_arn)
                b._iteration_succeeded(history, "SpanDatasets", k, end + 0.5, sub_thread)
                ends.append(end)
    step = Step.COLLECTION_CLEANUP if b.distributed else Step.COLLECTION_PUBLISH
    env = {**b._migration_env(step), "COLLECTION_VERSION_ID": cvid}
    if not b.distributed:
        env["CAN_PUBLISH"] = "False"
    records = [(LOG_SKIPPING_DATASET, {"dataset_id": d.dataset_id, "dataset_version_id": d.dataset_version_id})
               for d in skipped]
    if cm_job.succeeded:
        records += [("checking dataset", {"dataset_id": d.dataset_id, "previous_dataset_version_id": d.dataset_version_id})
                    for d in to_migrate]
    # the cleanup's verdicts, as in a run that never stopped (plan._MigrationBuilder._verdicts)
    errors = b._verdicts(coll, to_migrate, cvid) if cm_job.succeeded else []
    ctx = LogContext(b.stage.name, step, collection_version_id=cvid, records=records, error_records=errors)
    b.task(history, thread, step, max(ends) + 10, env, {"collection_version_id": cvid}, errors, ctx=ctx,
           collection_id=coll.collection_id, sfn_retry=b.distributed)
    return b.jobs[-1].stop


__all__ = ["as_workflow_rerun", "campaign_truths", "fail_and_redrive", "hit_history_quota", "rerun_corpus"]
