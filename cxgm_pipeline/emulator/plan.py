"""The deterministic plan of a scenario: corpus, every job, execution and report file, with their times.

The plan is the ground truth. The emulator shows it to boto3 as time passes (see world.py); the truth
file is written from it. Same scenario, seed and anchor: the same plan, to the id.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cxgm_pipeline.config import StageConfig
from cxgm_pipeline.emulator import failures
from cxgm_pipeline.emulator.failures import FailureLook, LogContext
from cxgm_pipeline.emulator.scenarios import MigrationSpec, ScenarioSpec
from cxgm_pipeline.monitor.attempts import attempt_key_for
from cxgm_pipeline.vocabulary import DatasetState, ErrorCategory as C, Step

INGESTION_CATEGORY_STEPS: dict[C, tuple[Step, ...]] = {
    C.VALIDATION: (Step.VALIDATE_ANNDATA,),
    C.OUT_OF_MEMORY: (Step.CXG, Step.CXG, Step.ADD_LABELS),
    C.CONTAINER_IMAGE: (Step.VALIDATE_ANNDATA, Step.ADD_LABELS, Step.CXG),
    C.HOST_TERMINATED: (Step.CXG, Step.ADD_LABELS),
    C.TIMEOUT: (Step.CXG,),
    C.RESOURCE_INIT: (Step.VALIDATE_ANNDATA, Step.ADD_LABELS, Step.DATASET_MIGRATION),
    C.STORAGE: (Step.DATASET_MIGRATION, Step.CXG),
    C.APPLICATION: (Step.DATASET_MIGRATION, Step.ADD_LABELS),
    C.THROTTLED: (Step.DATASET_MIGRATION,),
}
JOB_TIMEOUT_S = {Step.CXG: 4 * 3600, Step.VALIDATE_ANNDATA: 4 * 3600}
RETRY_ATTEMPTS = 3  # the job definitions retry host terminations, nothing else


def rid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --- corpus --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    dataset_id: str
    dataset_version_id: str
    collection_id: str
    collection_version_id: str
    n_cells: int
    has_atac: bool


@dataclass(frozen=True)
class Collection:
    collection_id: str
    collection_version_id: str
    datasets: tuple[Dataset, ...]


def build_corpus(spec: ScenarioSpec, rng: random.Random) -> list[Collection]:
    # Heavy-tailed collection sizes, as in the real corpus: most small, a few with 50+ datasets.
    weights = [rng.paretovariate(1.3) for _ in range(spec.n_collections)]
    total = sum(weights)
    sizes = [1] * spec.n_collections
    remaining = spec.n_datasets - spec.n_collections
    shares = [w / total * remaining for w in weights]
    for i, s in enumerate(shares):
        sizes[i] += int(s)
    for i in sorted(range(spec.n_collections), key=lambda i: shares[i] - int(shares[i]), reverse=True)[
        : spec.n_datasets - sum(sizes)
    ]:
        sizes[i] += 1
    collections = []
    for size in sizes:
        cid, cvid = rid(rng), rid(rng)
        datasets = tuple(
            Dataset(
                dataset_id=rid(rng),
                dataset_version_id=rid(rng),
                collection_id=cid,
                collection_version_id=cvid,
                n_cells=int(min(2_000_000, max(500, rng.lognormvariate(math.log(30_000), 1.2)))),
                has_atac=rng.random() < spec.atac_rate,
            )
            for _ in range(size)
        )
        collections.append(Collection(cid, cvid, datasets))
    return collections


# --- plan objects --------------------------------------------------------------------------------------


@dataclass
class AttemptPlan:
    """One Batch attempt. start None: the container never started (no log stream)."""

    start: float | None
    stop: float
    look: FailureLook | None  # None: the attempt succeeded
    log_stream: str | None
    task_id: str
    instance_id: str
    truncated: bool = False


@dataclass
class JobPlan:
    job_id: str
    step: Step
    stage: str
    attempt_key: str
    queue: str
    job_definition: str
    log_group: str
    env: dict[str, str]
    created: float
    attempts: list[AttemptPlan]
    category: C | None  # truth: why it failed (None: it succeeded)
    log_ctx: LogContext
    dataset_id: str | None = None
    collection_version_id: str | None = None
    logs_expired: bool = False
    timeout_s: int | None = None
    seed: int = 0

    @property
    def stop(self) -> float:
        return self.attempts[-1].stop

    @property
    def first_start(self) -> float | None:
        starts = [a.start for a in self.attempts if a.start is not None]
        return starts[0] if starts else None

    @property
    def succeeded(self) -> bool:
        return self.category is None

    @property
    def observable_category(self) -> C | None:
        """What anyone reading AWS can know: with the log expired, log-only causes become unknown."""
        if self.category in failures.LOG_ONLY_CATEGORIES and self.logs_expired:
            return C.UNKNOWN
        return self.category

    @property
    def duration_s(self) -> float | None:
        start = self.first_start
        return None if start is None else self.stop - start


@dataclass
class HistoryEvent:
    t: float
    type: str
    details_key: str | None
    details: dict


@dataclass
class ExecutionPlan:
    name: str
    machine: str  # "migration" or "ingestion"
    stage: str
    state_machine: str
    start: float
    stop: float
    status: str  # final status
    input: dict
    events: list[HistoryEvent] = field(default_factory=list)
    output: dict | None = None
    error: str | None = None
    cause: str | None = None


@dataclass
class S3Object:
    t: float
    bucket: str
    key: str
    body: dict | list


@dataclass
class DatasetTruth:
    stage: str
    attempt_key: str
    dataset_id: str
    collection_id: str
    collection_version_id: str
    dataset_version_id: str
    new_dataset_version_id: str | None
    state: DatasetState
    failing_step: str | None
    error_category: str | None
    started_at: float | None
    finished_at: float | None
    retries: int
    step_durations: dict[str, float]


@dataclass
class MigrationPlan:
    spec: MigrationSpec
    stage: StageConfig
    attempt_key: str
    execution: ExecutionPlan
    jobs: list[JobPlan]
    ingestions: list[ExecutionPlan]
    s3_objects: list[S3Object]
    corpus: list[Collection]
    datasets: list[DatasetTruth] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.execution.start

    @property
    def stop(self) -> float:
        return self.execution.stop


@dataclass
class WorldPlan:
    scenario: ScenarioSpec
    seed: int
    anchor: float
    migrations: list[MigrationPlan]

    @property
    def end(self) -> float:
        return max(m.stop for m in self.migrations)

    def jobs(self):
        for m in self.migrations:
            yield from m.jobs


# --- building one migration ----------------------------------------------------------------------------

_BASE_RUN_S = {
    Step.GATHER_COLLECTIONS: lambda n: 120,
    Step.COLLECTION_MIGRATION: lambda n: 45,
    Step.DATASET_MIGRATION: lambda n: 60 + n / 500,
    Step.VALIDATE_ANNDATA: lambda n: 120 + n / 150,
    Step.VALIDATE_ATAC: lambda n: 300 + n / 300,
    Step.ADD_LABELS: lambda n: 90 + n / 250,
    Step.CXG: lambda n: 180 + n / 100,
    Step.COLLECTION_CLEANUP: lambda n: 40,
    Step.REPORT: lambda n: 90,
}


class _MigrationBuilder:
    def __init__(self, scenario: ScenarioSpec, spec: MigrationSpec, stage: StageConfig, corpus, data_faults, rng, anchor):
        self.scenario, self.spec, self.stage, self.corpus, self.rng = scenario, spec, stage, corpus, rng
        self.start = anchor + spec.start_h * 3600
        self.key = attempt_key_for(spec.tag, self.start)
        self.exec_name = f"schema-migration-{datetime.fromtimestamp(self.start, timezone.utc):%Y%m%d-%H%M%S}-{rid(rng)[:8]}"
        self.jobs: list[JobPlan] = []
        self.ingestions: list[ExecutionPlan] = []
        self.s3: list[S3Object] = []
        self.migration_events: list[HistoryEvent] = []
        self.faults = self._draw_faults(data_faults)
        self.migration_arn_prefix = f"arn:aws:states:{stage.region}:123456789012"

    # faults ------------------------------------------------------------------------------------------
    def _draw_faults(self, data_faults: dict[str, tuple[C, Step]]) -> dict[str, tuple[C, Step]]:
        rng = self.rng
        faults = {d: f for d, f in data_faults.items() if rng.random() < self.spec.data_fault_keep}
        datasets = [d for c in self.corpus for d in c.datasets if d.dataset_id not in faults]
        for category, rate in self.scenario.infra_fault_rates.items():
            count = max(1, round(rate * self.scenario.n_datasets))
            for d in rng.sample(datasets, min(count, len(datasets))):
                datasets.remove(d)
                faults[d.dataset_id] = (category, rng.choice(INGESTION_CATEGORY_STEPS[category]))
        return faults

    # jobs --------------------------------------------------------------------------------------------
    def _run_s(self, step: Step, n_cells: int) -> float:
        scale = self.spec.duration_scale.get(step.value, 1.0)
        return _BASE_RUN_S[step](n_cells) * scale * self.rng.lognormvariate(0, 0.15)

    def _wait_s(self) -> float:
        return self.rng.uniform(600, 3600) if self.rng.random() < 0.04 else self.rng.uniform(5, 120)

    def job(self, step: Step, created: float, env: dict[str, str], n_cells: int = 30_000,
            fault: C | None = None, ctx: LogContext | None = None, dataset_id: str | None = None) -> JobPlan:
        rng, stage = self.rng, self.stage
        ingestion = step.value in {s.value for s in (Step.VALIDATE_ANNDATA, Step.VALIDATE_ATAC, Step.ADD_LABELS, Step.CXG)}
        jobdef = f"dp-{stage.name}-{stage.stack}-{'upload' if ingestion else 'schema-migration'}"
        log_group = stage.ingestion_log_group if ingestion else stage.migration_log_group
        run = self._run_s(step, n_cells)
        timeout = JOB_TIMEOUT_S.get(step)
        attempts: list[AttemptPlan] = []
        t = created + self._wait_s()

        def attempt(start: float | None, stop: float, look: FailureLook | None, truncated=False) -> AttemptPlan:
            task = rng.getrandbits(128).to_bytes(16, "big").hex()
            return AttemptPlan(start, stop, look, f"{jobdef}/default/{task}" if start is not None else None,
                               task, f"i-0{rng.getrandbits(64):016x}"[:19], truncated)

        # spot losses before the outcome: each is retried by the job definition's retry strategy
        spot_losses = RETRY_ATTEMPTS if fault is C.HOST_TERMINATED else (1 if rng.random() < self.scenario.retry_rate else 0)
        for _ in range(min(spot_losses, RETRY_ATTEMPTS)):
            stop = t + run * rng.uniform(0.1, 0.9)
            attempts.append(attempt(t, stop, failures.look(C.HOST_TERMINATED, step, stage.name, rng), truncated=True))
            t = stop + self._wait_s()
        if fault is not C.HOST_TERMINATED:
            look = failures.look(fault, step, stage.name, rng) if fault else None
            if look is not None and not look.started:
                attempts.append(attempt(None, t + rng.uniform(20, 90), look))
            elif fault is C.TIMEOUT:
                attempts.append(attempt(t, t + (timeout or 4 * 3600), look, truncated=True))
            elif fault is C.OUT_OF_MEMORY:
                attempts.append(attempt(t, t + run * rng.uniform(0.3, 0.9), look, truncated=True))
            else:
                attempts.append(attempt(t, t + (run if look is None else run * rng.uniform(0.2, 0.9)), look))
        plan = JobPlan(
            job_id=rid(rng), step=step, stage=stage.name, attempt_key=self.key, queue=stage.queue,
            job_definition=jobdef, log_group=log_group, env=env, created=created, attempts=attempts,
            category=fault, log_ctx=ctx or LogContext(stage=stage.name, step=step), dataset_id=dataset_id,
            collection_version_id=env.get("COLLECTION_VERSION_ID"), timeout_s=timeout, seed=rng.getrandbits(32),
        )
        self.jobs.append(plan)
        return plan

    def _base_env(self, step: Step) -> dict[str, str]:
        env = {"STEP_NAME": step.value, "MIGRATE": "true", "EXECUTION_ID": self.exec_name}
        if self.spec.tag:
            env["MIGRATION_ATTEMPT"] = self.spec.tag
        return env

    def _task_token(self) -> str:
        return "AQB" + self.rng.getrandbits(256).to_bytes(32, "big").hex() + "SECRET"

    # history -----------------------------------------------------------------------------------------
    def _task_events(self, events: list[HistoryEvent], job: JobPlan, extra_output: dict | None = None) -> None:
        step = job.step.value
        submitted = {"JobId": job.job_id, "JobName": step, "JobArn": f"arn:aws:batch:{self.stage.region}:123456789012:job/{job.job_id}"}
        summary = {**submitted, "Status": "SUCCEEDED" if job.succeeded else "FAILED",
                   "Attempts": len(job.attempts), "StatusReason": (job.attempts[-1].look.status_reason if job.attempts[-1].look else None)}
        events.append(HistoryEvent(job.created - 0.5, "TaskStateEntered", "stateEnteredEventDetails", {"name": step, "input": "{}"}))
        events.append(HistoryEvent(job.created - 0.2, "TaskScheduled", "taskScheduledEventDetails",
                                   {"resourceType": "batch", "resource": "submitJob.sync", "region": self.stage.region,
                                    "parameters": json_dumps({"JobName": step, "JobQueue": job.queue})}))
        events.append(HistoryEvent(job.created, "TaskSubmitted", "taskSubmittedEventDetails",
                                   {"resourceType": "batch", "resource": "submitJob.sync", "output": json_dumps(submitted)}))
        if job.succeeded:
            out = {**summary, **(extra_output or {})}
            events.append(HistoryEvent(job.stop + 0.5, "TaskSucceeded", "taskSucceededEventDetails",
                                       {"resourceType": "batch", "resource": "submitJob.sync", "output": json_dumps(out)}))
            events.append(HistoryEvent(job.stop + 0.6, "TaskStateExited", "stateExitedEventDetails", {"name": step, "output": json_dumps(out)}))
        else:
            events.append(HistoryEvent(job.stop + 0.5, "TaskFailed", "taskFailedEventDetails",
                                       {"resourceType": "batch", "resource": "submitJob.sync", "error": "States.TaskFailed",
                                        "cause": json_dumps(summary)}))

    # the migration -------------------------------------------------------------------------------------
    def build(self) -> MigrationPlan:
        rng, stage = self.rng, self.stage
        ev = self.migration_events
        gather = self.job(Step.GATHER_COLLECTIONS, self.start + 5, self._base_env(Step.GATHER_COLLECTIONS))
        self._task_events(ev, gather)
        corpus_doc = [
            {"collection_id": c.collection_id, "collection_version_id": c.collection_version_id,
             "datasets": [{"dataset_id": d.dataset_id, "dataset_version_id": d.dataset_version_id} for d in c.datasets]}
            for c in self.corpus
        ]
        self.s3.append(S3Object(gather.stop, stage.artifact_bucket, f"schema_migration/{self.exec_name}/collections.json", corpus_doc))
        order = list(self.corpus)
        rng.shuffle(order)
        failing_collections = {c.collection_id for c in rng.sample(order, self.scenario.collection_fault_count)}
        cleanups = []
        for coll in order:
            created = gather.stop + rng.uniform(0, self.spec.spread_h * 3600)
            env = {**self._base_env(Step.COLLECTION_MIGRATION), "COLLECTION_ID": coll.collection_id,
                   "COLLECTION_VERSION_ID": coll.collection_version_id}
            fault = rng.choice([C.APPLICATION, C.STORAGE]) if coll.collection_id in failing_collections else None
            ctx = LogContext(stage.name, Step.COLLECTION_MIGRATION, collection_version_id=coll.collection_version_id)
            cm = self.job(Step.COLLECTION_MIGRATION, created, env, fault=fault, ctx=ctx)
            self._task_events(ev, cm)
            if not cm.succeeded:
                continue
            ends = [self._dataset(coll, d, cm.stop + rng.uniform(1, 30)) for d in coll.datasets]
            env = {**self._base_env(Step.COLLECTION_CLEANUP), "COLLECTION_VERSION_ID": coll.collection_version_id}
            ctx = LogContext(stage.name, Step.COLLECTION_CLEANUP, collection_version_id=coll.collection_version_id)
            cleanup = self.job(Step.COLLECTION_CLEANUP, max(ends) + 10, env, ctx=ctx)
            self._task_events(ev, cleanup)
            cleanups.append(cleanup)
        report = self.job(Step.REPORT, max(j.stop for j in cleanups) + 30, self._base_env(Step.REPORT))
        self._task_events(ev, report)
        stop = report.stop + 5
        execution = ExecutionPlan(
            name=self.exec_name, machine="migration", stage=stage.name, state_machine=stage.migration_sfn,
            start=self.start, stop=stop, status="SUCCEEDED",
            input={"auto_publish": "false", **({"migration_attempt": self.spec.tag} if self.spec.tag else {})},
            output={"report": f"s3://{stage.artifact_bucket}/schema_migration/{self.exec_name}/report/"},
        )
        ev.insert(0, HistoryEvent(self.start, "ExecutionStarted", "executionStartedEventDetails",
                                  {"input": json_dumps(execution.input), "roleArn": "arn:aws:iam::123456789012:role/sfn"}))
        ev.append(HistoryEvent(stop, "ExecutionSucceeded", "executionSucceededEventDetails", {"output": json_dumps(execution.output)}))
        execution.events = ev
        plan = MigrationPlan(self.spec, stage, self.key, execution, self.jobs, self.ingestions, self.s3, self.corpus)
        if self.spec.abort_at is not None:
            abort(plan, self.start + self.spec.abort_at * (stop - self.start), rng)
        expire_logs(plan, self.spec.expired_log_share, rng)
        return plan

    def _dataset(self, coll: Collection, d: Dataset, created: float) -> float:
        """Plans one dataset's jobs and ingestion execution; returns when its last job stops."""
        rng, stage = self.rng, self.stage
        fault = self.faults.get(d.dataset_id)
        category, fault_step = fault if fault else (None, None)
        if fault_step is Step.VALIDATE_ANNDATA and category is C.VALIDATION and d.has_atac and rng.random() < 0.3:
            fault_step = Step.VALIDATE_ATAC
        if fault_step is Step.VALIDATE_ATAC and not d.has_atac:
            fault_step = Step.VALIDATE_ANNDATA
        new_dvid = rid(rng)
        env = {**self._base_env(Step.DATASET_MIGRATION), "COLLECTION_ID": coll.collection_id,
               "COLLECTION_VERSION_ID": coll.collection_version_id, "DATASET_ID": d.dataset_id,
               "DATASET_VERSION_ID": d.dataset_version_id, "TASK_TOKEN": self._task_token()}
        ctx = LogContext(stage.name, Step.DATASET_MIGRATION, d.dataset_version_id, new_dvid, coll.collection_version_id)
        dm = self.job(Step.DATASET_MIGRATION, created, env, d.n_cells,
                      category if fault_step is Step.DATASET_MIGRATION else None, ctx, d.dataset_id)
        mapping = {"dataset_id": d.dataset_id, "collection_version_id": coll.collection_version_id,
                   "dataset_version_id": d.dataset_version_id, "new_dataset_version_id": new_dvid,
                   "execution_id": self.exec_name}
        self._task_events(self.migration_events, dm, {"migration": mapping} if dm.succeeded else None)
        if not dm.succeeded:
            self._error_report(coll, d, dm, d.dataset_version_id)
            return dm.stop
        steps = [Step.VALIDATE_ANNDATA, *([Step.VALIDATE_ATAC] if d.has_atac else []), Step.ADD_LABELS, Step.CXG]
        start = dm.stop + 2
        name = f"migrate-{new_dvid}"
        ex_input = {"dataset_version_id": new_dvid, "collection_version_id": coll.collection_version_id,
                    "url": f"s3://corpora-data-{stage.name}/{d.dataset_version_id}/raw.h5ad", "job_queue": stage.queue}
        events = [HistoryEvent(start, "ExecutionStarted", "executionStartedEventDetails",
                               {"input": json_dumps(ex_input), "roleArn": "arn:aws:iam::123456789012:role/sfn"})]
        t = start + 1
        last = None
        for step in steps:
            env = {"STEP_NAME": step.value, "DATASET_VERSION_ID": new_dvid}
            if step is not Step.CXG:  # production passes cxg only its dataset version and step
                env.update({"COLLECTION_VERSION_ID": coll.collection_version_id, "MIGRATE": "true",
                            "TASK_TOKEN": self._task_token()})
                if self.spec.tag:
                    env["MIGRATION_ATTEMPT"] = self.spec.tag
            ctx = LogContext(stage.name, step, new_dvid, new_dvid, coll.collection_version_id)
            last = self.job(step, t, env, d.n_cells, category if fault_step is step else None, ctx, d.dataset_id)
            self._task_events(events, last)
            if not last.succeeded:
                self._error_report(coll, d, last, new_dvid)
                break
            t = last.stop + 3
        stop = last.stop + 2
        status = "SUCCEEDED" if last.succeeded else "FAILED"
        ex = ExecutionPlan(name=name, machine="ingestion", stage=stage.name, state_machine=stage.ingestion_sfn,
                           start=start, stop=stop, status=status, input=ex_input)
        if last.succeeded:
            ex.output = {"dataset_version_id": new_dvid, "status": "SUCCEEDED"}
            events.append(HistoryEvent(stop, "ExecutionSucceeded", "executionSucceededEventDetails", {"output": json_dumps(ex.output)}))
        else:
            ex.error, ex.cause = "States.TaskFailed", f"{last.step.value} failed"
            events.append(HistoryEvent(stop, "ExecutionFailed", "executionFailedEventDetails", {"error": ex.error, "cause": ex.cause}))
        ex.events = events
        self.ingestions.append(ex)
        return stop

    def _error_report(self, coll: Collection, d: Dataset, job: JobPlan, dvid: str) -> None:
        body = {"step_name": job.step.value, "dataset_id": d.dataset_id, "dataset_version_id": dvid,
                "collection_id": coll.collection_id, "collection_version_id": coll.collection_version_id,
                "job_id": job.job_id, "status_reason": job.attempts[-1].look.status_reason if job.attempts[-1].look else None}
        key = f"schema_migration/{self.exec_name}/report/errors/{coll.collection_version_id}/{dvid}.json"
        self.s3.append(S3Object(job.stop + 1, self.stage.artifact_bucket, key, body))


def json_dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


# --- what happens after planning: an operator's abort, log retention ------------------------------------


def abort(plan: MigrationPlan, at: float, rng: random.Random) -> None:
    """The operator stops the migration at `at`: running jobs are terminated, nothing new is submitted."""
    stage = plan.stage.name
    kept = []
    for job in plan.jobs:
        if job.created >= at:
            continue
        if job.stop > at:
            look = failures.look(C.CANCELLED, job.step, stage, rng)
            done = [a for a in job.attempts if a.stop <= at]
            current = next((a for a in job.attempts if a.stop > at), None)
            if current is not None and current.start is not None and current.start <= at:
                current.stop, current.look, current.truncated = at, look, True
                done.append(current)
            else:
                done.append(AttemptPlan(None, at, look, None, "", "", True))
            job.attempts = done
            job.category = C.CANCELLED
        kept.append(job)
    plan.jobs[:] = kept
    cancelled = {"error": "States.Aborted", "cause": "Stopped by the operator"}
    for ex in [plan.execution, *plan.ingestions]:
        if ex.stop > at:
            ex.status, ex.stop, ex.output = "ABORTED", at, None
            ex.events = [e for e in ex.events if e.t < at]
            ex.events.append(HistoryEvent(at, "ExecutionAborted", "executionAbortedEventDetails", cancelled))
    plan.ingestions[:] = [ex for ex in plan.ingestions if ex.start < at]
    plan.s3_objects[:] = [o for o in plan.s3_objects if o.t < at]


def expire_logs(plan: MigrationPlan, share: float, rng: random.Random) -> None:
    """Some streams of an old migration are gone by the time anyone looks (log group retention)."""
    if share <= 0:
        return
    for job in plan.jobs:
        if any(a.start is not None for a in job.attempts) and rng.random() < share:
            job.logs_expired = True


# --- truth ---------------------------------------------------------------------------------------------


def dataset_truths(plan: MigrationPlan) -> list[DatasetTruth]:
    """Each corpus dataset's final outcome in this migration, from the plan alone."""
    by_dataset: dict[str, list[JobPlan]] = {}
    coll_jobs = {}
    for job in plan.jobs:
        if job.dataset_id:
            by_dataset.setdefault(job.dataset_id, []).append(job)
        elif job.step is Step.COLLECTION_MIGRATION:
            coll_jobs[job.collection_version_id] = job
    mapping = {}
    for ev in plan.execution.events:
        if ev.type == "TaskSucceeded" and '"migration"' in ev.details.get("output", ""):
            m = json.loads(ev.details["output"])["migration"]
            mapping[m["dataset_id"]] = m["new_dataset_version_id"]
    ended = True  # truths describe the plan's end state
    out = []
    for coll in plan.corpus:
        cjob = coll_jobs.get(coll.collection_version_id)
        for d in coll.datasets:
            jobs = sorted(by_dataset.get(d.dataset_id, []), key=lambda j: j.created)
            failing = next((j for j in jobs if not j.succeeded), None)
            state, step, category = DatasetState.SUCCEEDED, None, None
            if not jobs:
                state = DatasetState.NOT_STARTED
                if cjob is not None and not cjob.succeeded:
                    step, category = Step.COLLECTION_MIGRATION.value, cjob.observable_category
            elif failing is not None:
                state, step, category = DatasetState.FAILED, failing.step.value, failing.observable_category
            elif jobs[-1].step is not Step.CXG:
                # stopped between two steps: only an abort does that once the migration has ended
                state, category = (DatasetState.FAILED, C.CANCELLED) if ended else (DatasetState.RUNNING, None)
            durations = {}
            for j in jobs:
                if j.duration_s is not None:
                    durations[j.step.value] = durations.get(j.step.value, 0.0) + j.duration_s
            starts = [j.created for j in jobs]
            out.append(DatasetTruth(
                stage=plan.stage.name, attempt_key=plan.attempt_key, dataset_id=d.dataset_id,
                collection_id=coll.collection_id, collection_version_id=coll.collection_version_id,
                dataset_version_id=d.dataset_version_id, new_dataset_version_id=mapping.get(d.dataset_id),
                state=state, failing_step=step, error_category=category.value if category else None,
                started_at=min(starts) if starts else None, finished_at=max(j.stop for j in jobs) if jobs else None,
                retries=sum(len(j.attempts) - 1 for j in jobs), step_durations=durations,
            ))
    return out


def build_world(scenario: ScenarioSpec, seed: int, anchor: float, stages: dict[str, StageConfig]) -> WorldPlan:
    """Plan every migration of the scenario. Deterministic in (scenario, seed, anchor)."""
    rng = random.Random(f"{scenario.name}:{seed}")
    corpus = build_corpus(scenario, rng)
    all_datasets = [d for c in corpus for d in c.datasets]
    data_faults: dict[str, tuple[C, Step]] = {}
    for category, rate in scenario.data_fault_rates.items():
        for d in rng.sample(all_datasets, max(1, round(rate * len(all_datasets)))):
            if d.dataset_id not in data_faults:
                data_faults[d.dataset_id] = (category, rng.choice(INGESTION_CATEGORY_STEPS[category]))
    migrations = []
    for spec in scenario.migrations:
        mrng = random.Random(f"{scenario.name}:{seed}:{spec.stage}:{spec.tag}:{spec.start_h}")
        plan = _MigrationBuilder(scenario, spec, stages[spec.stage], corpus, data_faults, mrng, anchor).build()
        plan.datasets = dataset_truths(plan)
        migrations.append(plan)
    return WorldPlan(scenario, seed, anchor, migrations)
