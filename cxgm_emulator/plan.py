"""The deterministic plan of a scenario: corpus, every job, execution, Map Run and S3 file, with their times.

The plan is the ground truth. The emulator shows it to boto3 as time passes (see world.py); the truth
file is written from it. Same scenario, seed and anchor: the same plan, to the id.

What a migration writes follows production (chanzuckerberg/single-cell-data-portal), in the two shapes it
has had: `.happy/terraform/modules/schema_migration/main.tf` with INLINE Maps (commit a4416160: every task of
every collection and dataset in the one execution's history, `Collection_publish`, ingestion input `url,
dataset_id, collection_id`) and with DISTRIBUTED Maps (commit 00e5dcc: items read from S3 by an ItemReader,
one child execution per item, `Collection_cleanup`, a Retry of States.TaskFailed on every Batch task);
the ingestion machine of `.happy/terraform/modules/sfn/main.tf` (commit 0032817: Parallel{ValidateAnndata,
ValidateAtac} -> AddLabels -> Cxg -> HandleSuccess, or HandleErrors -> RaiseError); and the responses, log
records and S3 files of `backend/layers/processing/schema_migration.py` (PY-8 for INLINE, PY-9 for
DISTRIBUTED).
"""

from __future__ import annotations

import json
import math
import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from cxgm_emulator import failures
from cxgm_emulator.failures import Fault as C
from cxgm_emulator.failures import FailureLook, LogContext
from cxgm_emulator.scenarios import MigrationSpec, ScenarioSpec
from cxgm_emulator.stages import StageNames
from portal_shapes import (
    INGESTION_FAIL_CAUSE,
    INGESTION_STEPS,
    INPUT_ATTEMPT_TAG,
    INPUT_LIMIT_MIGRATION,
    LOG_DOWNLOADED_FROM_S3,
    LOG_REPORT_MESSAGE,
    LOG_SKIPPING_DATASET,
    S3_LOG_ERRORS_AND_CLEANUP,
    S3_MIGRATE_CHANGES,
    S3_PUBLISH_AND_CLEANUP,
    S3_REPORT_ERRORS,
    S3_SPAN_COLLECTIONS,
    S3_SPAN_DATASETS,
    STARTED_BY_FIELD,
    DATASET_STEPS,
    STEP_NAME_OF_JOB,
    IngestionInput,
    MapMode,
    Step,
)

ACCOUNT = "123456789012"
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
DATA_FAULTS = frozenset({C.VALIDATION, C.APPLICATION})  # a retry fails the same way
JOB_TIMEOUT_S = {Step.CXG: 4 * 3600, Step.VALIDATE_ANNDATA: 4 * 3600}
# the ingestion machine's task TimeoutSeconds (sfn/main.tf @ 0032817: h5ad_timeout, atac_timeout, cxg_timeout)
INGESTION_TASK_TIMEOUT_S = {Step.VALIDATE_ANNDATA: 86400, Step.VALIDATE_ATAC: 86400, Step.ADD_LABELS: 86400,
                            Step.CXG: 172800}
STALLED_FOR_S = 400 * 86400  # a job no compute environment takes stays RUNNABLE past any scenario's end
RETRY_ATTEMPTS = 3  # the job definitions retry host terminations, nothing else
SFN_RETRY_DELAY_S = 30.0  # main.tf Retry: {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 30, "MaxAttempts": 1}
INFRA_RETRY_RECOVERS = 0.5  # share of infrastructure failures that a Step Functions retry gets past
# Task state of each step, per machine (schema_migration/main.tf, sfn/main.tf)
STATE_OF_STEP = {
    Step.GATHER_COLLECTIONS: "GatherCollections", Step.COLLECTION_MIGRATION: "CollectionMigration",
    Step.DATASET_MIGRATION: "DatasetMigration", Step.COLLECTION_PUBLISH: "CollectionPublish",
    Step.COLLECTION_CLEANUP: "CollectionCleanup", Step.REPORT: "report", Step.VALIDATE_ANNDATA: "ValidateAnndata",
    Step.VALIDATE_ATAC: "ValidateAtac", Step.ADD_LABELS: "AddLabels", Step.CXG: "Cxg",
}
JOB_NAME_OF_STEP = {Step.COLLECTION_PUBLISH: "Collection_publish", Step.COLLECTION_CLEANUP: "Collection_cleanup"}


def rid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def json_dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def attempt_key(tag: str | None, start: float) -> str:
    """The emulator's own statement of which attempt a migration is (truth): its tag, else its start minute."""
    if tag:
        return tag
    return "untagged-" + datetime.fromtimestamp(start, timezone.utc).strftime("%Y%m%dT%H%M")


# --- corpus --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    dataset_id: str
    dataset_version_id: str
    collection_id: str
    collection_version_id: str
    n_cells: int
    has_atac: bool
    current: bool  # already on the current schema: collection_migrate drops it ("skipping dataset" at cleanup)
    # a re-run's dataset an earlier execution migrated into a revision not published: the version the portal's
    # published collection still serves, on the old schema (dataset_version_id is the new one, in the revision)
    published_before: str | None = None


@dataclass(frozen=True)
class Collection:
    collection_id: str
    collection_version_id: str
    published: bool
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
                current=rng.random() < spec.current_rate,
            )
            for _ in range(size)
        )
        collections.append(Collection(cid, cvid, rng.random() < 0.85, datasets))
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
    job_name: str  # Batch JobName as production submits it (e.g. "Collection_cleanup")
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
    collection_id: str | None = None
    logs_expired: bool = False
    timeout_s: int | None = None
    seed: int = 0
    stalled: bool = False  # never placed: RUNNABLE until Step Functions gives up on it (its task's TimeoutSeconds)
    branch: str | None = None  # the collection version gathered whose migration made this job (None: not a collection's)

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
        last = self.attempts[-1].look if self.attempts else None
        if self.logs_expired and last is not None and last.needs_log:
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
    thread: str = ""  # one Map iteration or Parallel branch: previousEventId chains within it


@dataclass
class ExecutionPlan:
    name: str
    machine: str  # "migration", "ingestion" or "child" (a Map Run's item)
    stage: str
    state_machine: str
    arn: str
    start: float
    stop: float
    status: str  # final status
    input: dict
    events: list[HistoryEvent] = field(default_factory=list)
    output: dict | list | None = None
    error: str | None = None
    cause: str | None = None
    map_run: "MapRunPlan | None" = None  # set for a DISTRIBUTED Map's child execution
    map_runs: list["MapRunPlan"] = field(default_factory=list)  # the Map Runs this execution started
    redrive: "Redrive | None" = None  # it ended once (first_status at first_stop) and was redriven
    not_redrivable: str | None = None  # DescribeExecution's redriveStatusReason when Step Functions refuses


@dataclass
class MapRunPlan:
    """A DISTRIBUTED Map state's run (ListMapRuns / DescribeMapRun / ListExecutions(mapRunArn=))."""

    arn: str
    state_name: str
    parent: ExecutionPlan
    start: float
    stop: float
    status: str
    max_concurrency: int
    tolerated_failure_percentage: float
    children: list[ExecutionPlan] = field(default_factory=list)
    redrive: "Redrive | None" = None  # redriven with its parent: only its unsuccessful children ran again


@dataclass(frozen=True)
class Redrive:
    """An execution (or Map Run) that ended `first_status` at `first_stop` and was redriven at `at` (RedriveExecution:
    same ARN, RUNNING again, redriveCount 1, an ExecutionRedriven history event); its final status and stop are the
    plan's own."""

    first_status: str
    first_stop: float
    at: float
    count: int = 1


@dataclass
class S3Object:
    t: float
    bucket: str
    key: str
    body: dict | list
    deleted: float | None = None  # the report step reads then deletes schema_migration/{execution}/...


@dataclass
class DatasetTruth:
    stage: str
    attempt_key: str
    dataset_id: str
    collection_id: str
    collection_version_id: str
    dataset_version_id: str
    new_dataset_version_id: str | None
    state: str
    failing_step: str | None
    error_category: str | None
    started_at: float | None
    finished_at: float | None
    retries: int
    step_durations: dict[str, float]
    observable: bool = True  # False: its collection failed before naming it; nothing in AWS lists it
    campaign_state: str | None = None  # its outcome across the campaign (campaigns.campaign_truths)
    campaign_attempt: str | None = None  # the attempt whose outcome that is
    # what production's cleanup step said of it, as an observer can read it (its records, or the report's):
    # rolled_back / not_latest_schema, None when it raised nothing (or its records are gone)
    production_verdict: str | None = None
    # the collection version its new version went into (collection_migrate's answer): None when none was listed
    migration_revision_id: str | None = None


@dataclass
class CollectionTruth:
    collection_id: str
    collection_version_id: str
    migration_status: str  # SUCCEEDED / FAILED / NOT_STARTED
    datasets: int  # datasets it set out to migrate
    skipped: int
    execution_error: str | None = None  # its SpanCollections child failed: '<error> in <state>'


@dataclass
class MigrationPlan:
    spec: MigrationSpec
    stage: StageNames
    attempt_key: str
    map_mode: MapMode
    ingestion_input: IngestionInput
    execution: ExecutionPlan
    jobs: list[JobPlan]
    ingestions: list[ExecutionPlan]
    s3_objects: list[S3Object]
    corpus: list[Collection]  # what gather_collections returned (a sample when LIMIT_MIGRATION > 0)
    collection_truths: list[CollectionTruth] = field(default_factory=list)
    datasets: list[DatasetTruth] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.execution.start

    @property
    def stop(self) -> float:
        return self.execution.stop

    def executions(self):
        """Every execution of the attempt: the migration, its Map Run children (nested), the ingestions."""
        out = [self.execution]
        i = 0
        while i < len(out):
            for run in out[i].map_runs:
                out.extend(run.children)
            i += 1
        return out + self.ingestions

    def map_runs(self):
        return [run for ex in self.executions() for run in ex.map_runs]


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
    Step.COLLECTION_PUBLISH: lambda n: 40,
    Step.REPORT: lambda n: 90,
}


class _History:
    """Events of one execution, with Map iterations and Parallel branches as threads."""

    def __init__(self, execution_arn: str):
        self.events: list[HistoryEvent] = []
        self.arn = execution_arn

    def add(self, t: float, kind: str, key: str | None, details: dict, thread: str = "") -> None:
        self.events.append(HistoryEvent(t, kind, key, details, thread))


class _MigrationBuilder:
    def __init__(self, scenario: ScenarioSpec, spec: MigrationSpec, stage: StageNames, corpus, data_faults, rng, anchor,
                 map_mode: MapMode, ingestion_input: IngestionInput):
        self.scenario, self.spec, self.stage, self.rng = scenario, spec, stage, rng
        self.map_mode, self.ingestion_input = map_mode, ingestion_input
        self.distributed = map_mode is MapMode.DISTRIBUTED
        self.start = anchor + spec.start_h * 3600
        self.key = attempt_key(spec.tag, self.start)
        self.exec_name = rid(rng)  # the console's default execution name is a UUID
        self.sm_prefix = f"arn:aws:states:{stage.region}:{ACCOUNT}"
        self.exec_arn = f"{self.sm_prefix}:execution:{stage.migration_sfn}:{self.exec_name}"
        self.full_corpus = corpus
        self.jobs: list[JobPlan] = []
        self.ingestions: list[ExecutionPlan] = []
        self.s3: list[S3Object] = []
        self.history = _History(self.exec_arn)
        # Map Runs by the ARN of the execution that started them (the migration, or a SpanCollections child)
        self.map_runs: dict[str, list[MapRunPlan]] = {}
        self.faults = self._draw_faults(data_faults)
        self.collection_truths: list[CollectionTruth] = []
        self.new_versions: dict[tuple[str, str], str] = {}  # (dataset, collection version gathered) -> new version
        self.skipped: set[tuple[str, str]] = set()
        self.revisions: dict[str, str] = {}  # collection version gathered -> its migration revision
        self._branch: str | None = None  # the collection version being migrated while its jobs are planned
        self.runtime_failing: set[str] = set()  # datasets whose dataset_migrate answer breaks the next state
        # (dataset, collection version gathered) -> (time, error, cause) of a States.Runtime no Catch took
        self.runtime_failed: dict[tuple[str, str], tuple[float, str, str]] = {}
        self._child_failure: tuple[str, str] | None = None
        self.cut_at: float | None = None  # the SpanCollections Map Run failed then: its work stopped as in an abort
        # (dataset, collection version gathered) -> (verdict, production's message): what the cleanup step's error
        # records say
        self.verdicts: dict[tuple[str, str], tuple[str, str | None]] = {}
        # (dataset, collection version gathered) -> ("migration_failed" | "ingestion_failed" | "succeeded", validation
        # message, failed step)
        self.outcomes: dict[tuple[str, str], tuple[str, str | None, Step | None]] = {}
        self.long_messages_left = spec.long_validation_messages
        self._failed_ingestion_job: JobPlan | None = None
        self.timeouts_left = spec.ingestion_timeouts
        self.reader_fails_left = spec.span_datasets_reader_fails if self.distributed else 0

    # faults ------------------------------------------------------------------------------------------
    def _draw_faults(self, data_faults: dict[str, tuple[C, Step]]) -> dict[str, tuple[C, Step]]:
        rng = self.rng
        faults = {d: f for d, f in data_faults.items() if rng.random() < self.spec.data_fault_keep}
        datasets = [d for c in self.full_corpus for d in c.datasets if d.dataset_id not in faults and not d.current]
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
            fault: C | None = None, ctx: LogContext | None = None, dataset_id: str | None = None,
            collection_id: str | None = None) -> JobPlan:
        rng, stage = self.rng, self.stage
        ingestion = step in INGESTION_STEPS
        jobdef = f"dp-{stage.name}-{stage.stack}-{'upload' if ingestion else 'schema-migration'}"
        log_group = stage.ingestion_log_group if ingestion else stage.migration_log_group
        timeout = JOB_TIMEOUT_S.get(step)
        # Batch kills a job at its attemptDurationSeconds: a run the scenario drew longer ends just inside it
        # (a timeout is a fault of its own, below), never past it
        run = min(self._run_s(step, n_cells), timeout * 0.98) if timeout else self._run_s(step, n_cells)
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
            job_id=rid(rng), step=step, job_name=JOB_NAME_OF_STEP.get(step, step.value), stage=stage.name,
            attempt_key=self.key, queue=stage.queue, job_definition=jobdef, log_group=log_group, env=env,
            created=created, attempts=attempts, category=fault,
            log_ctx=ctx or LogContext(stage=stage.name, step=step), dataset_id=dataset_id,
            collection_id=collection_id, timeout_s=timeout, seed=rng.getrandbits(32),
            branch=self._branch if collection_id else None,
        )
        plan.log_ctx.step_name = env.get("STEP_NAME")
        plan.log_ctx.migration = "MIGRATE" in env
        self.jobs.append(plan)
        return plan

    def _task_token(self) -> str:
        return "AQB" + self.rng.getrandbits(256).to_bytes(32, "big").hex() + "SECRET"

    def _migration_env(self, step: Step, execution_id: str | None = None) -> dict[str, str]:
        """ContainerOverrides.Environment of a schema-migration task (main.tf): STEP_NAME, MIGRATE, TASK_TOKEN
        ($$.Task.Token) and EXECUTION_ID (the top-level execution's name)."""
        return {"STEP_NAME": STEP_NAME_OF_JOB[JOB_NAME_OF_STEP.get(step, step.value)], "MIGRATE": "True",
                "TASK_TOKEN": self._task_token(), "EXECUTION_ID": execution_id or self.exec_name}

    def task(self, history: _History, thread: str, step: Step, created: float, env: dict[str, str], item: dict,
             response, n_cells: int = 30_000, fault: C | None = None, ctx: LogContext | None = None,
             dataset_id: str | None = None, collection_id: str | None = None, sfn_retry: bool = False) -> JobPlan:
        """One Batch task state: its job (and, when the state machine retries States.TaskFailed, the retry job),
        with its events in `history`. Returns the last job."""
        ctx = ctx or LogContext(self.stage.name, step)
        ctx.response = response
        job = self.job(step, created, dict(env), n_cells, fault, ctx, dataset_id, collection_id)
        self._task_events(history, thread, job, item, response)
        if not job.succeeded and sfn_retry:
            again = fault if fault in DATA_FAULTS or self.rng.random() > INFRA_RETRY_RECOVERS else None
            retry_env = {**env, **({"TASK_TOKEN": self._task_token()} if "TASK_TOKEN" in env else {})}
            rctx = LogContext(ctx.stage, step, ctx.dataset_version_id, ctx.new_dataset_version_id, ctx.collection_version_id,
                              records=list(ctx.records))
            rctx.response = response
            job = self.job(step, job.stop + SFN_RETRY_DELAY_S, retry_env, n_cells, again, rctx, dataset_id, collection_id)
            self._task_events(history, thread, job, item, response, retry=True)
        return job

    def _task_events(self, history: _History, thread: str, job: JobPlan, item: dict, response, retry: bool = False) -> None:
        """The events a `batch:submitJob.sync` task writes; its output is the step's SendTaskSuccess output."""
        state = STATE_OF_STEP[job.step]
        arn = f"arn:aws:batch:{self.stage.region}:{ACCOUNT}:job/{job.job_id}"
        params = {"JobName": job.job_name, "JobQueue": f"arn:aws:batch:{self.stage.region}:{ACCOUNT}:job-queue/{job.queue}",
                  "JobDefinition": job.job_definition,
                  "ContainerOverrides": {"Environment": [{"Name": k, "Value": v} for k, v in job.env.items()]}}
        resource = {"resourceType": "batch", "resource": "submitJob.sync"}
        if not retry:
            history.add(job.created - 0.5, "TaskStateEntered", "stateEnteredEventDetails", {"name": state, "input": json_dumps(item)}, thread)
        history.add(job.created - 0.2, "TaskScheduled", "taskScheduledEventDetails",
                    {**resource, "region": self.stage.region, "parameters": json_dumps(params)}, thread)
        history.add(job.created - 0.1, "TaskStarted", "taskStartedEventDetails", dict(resource), thread)
        history.add(job.created, "TaskSubmitted", "taskSubmittedEventDetails",
                    {**resource, "output": json_dumps({"JobArn": arn, "JobId": job.job_id, "JobName": job.job_name})}, thread)
        if job.succeeded:
            history.add(job.stop + 0.5, "TaskSucceeded", "taskSucceededEventDetails", {**resource, "output": json_dumps(response)}, thread)
            history.add(job.stop + 0.6, "TaskStateExited", "stateExitedEventDetails", {"name": state, "output": json_dumps(response)}, thread)
        else:
            last = job.attempts[-1]
            cause = {"JobId": job.job_id, "JobName": job.job_name, "JobArn": arn, "Status": "FAILED",
                     "StatusReason": last.look.status_reason if last.look else None, "Attempts": [],
                     "Container": {"Environment": [{"Name": k, "Value": v} for k, v in job.env.items()],
                                   "ExitCode": last.look.exit_code if last.look else None,
                                   "Reason": last.look.container_reason if last.look else None,
                                   "LogStreamName": last.log_stream}}
            history.add(job.stop + 0.5, "TaskFailed", "taskFailedEventDetails",
                        {**resource, "error": "States.TaskFailed", "cause": json_dumps(cause)}, thread)

    def _s3(self, t: float, key: str, body) -> None:
        self.s3.append(S3Object(t, self.stage.artifact_bucket, key, body))

    # the migration -------------------------------------------------------------------------------------
    def build(self) -> MigrationPlan:
        rng, stage, spec = self.rng, self.stage, self.spec
        h = self.history
        ex_input = ({INPUT_LIMIT_MIGRATION: str(spec.limit_migration)} if self.distributed
                    else {"auto_publish": "False"})
        if spec.tag:
            ex_input[INPUT_ATTEMPT_TAG] = spec.tag
        h.add(self.start, "ExecutionStarted", "executionStartedEventDetails",
              {"input": json_dumps(ex_input), "roleArn": f"arn:aws:iam::{ACCOUNT}:role/dp-sfn"})
        for i, name in enumerate(("DefineDefaults", "ApplyDefaults")):
            h.add(self.start + 0.1 + i * 0.1, "PassStateEntered", "stateEnteredEventDetails", {"name": name, "input": json_dumps(ex_input)})
            h.add(self.start + 0.15 + i * 0.1, "PassStateExited", "stateExitedEventDetails", {"name": name, "output": json_dumps(ex_input)})
        # gather_collections (PY-8/PY-9): unpublished first, then published; LIMIT_MIGRATION: a random sample
        collections = list(self.full_corpus)
        if spec.limit_migration:
            collections = rng.sample(collections, min(spec.limit_migration, len(collections)))
        collections = self._curator_revisions(collections) + collections
        if spec.runtime_failures:
            fine = [d for c in collections for d in c.datasets if not d.current and d.dataset_id not in self.faults]
            self.runtime_failing = {d.dataset_id for d in rng.sample(fine, min(spec.runtime_failures, len(fine)))}
        self.corpus = collections
        env = self._migration_env(Step.GATHER_COLLECTIONS)
        if self.distributed:
            env["LIMIT_MIGRATION"] = str(spec.limit_migration)
        else:
            env["AUTO_PUBLISH"] = "False"
        items = [{"collection_id": c.collection_id, "collection_version_id": c.collection_version_id,
                  "execution_id": self.exec_name} for c in collections]
        if not self.distributed:
            items = [{"can_publish": "False", **i} for i in items]
        gather_key = S3_SPAN_COLLECTIONS.format(execution=self.exec_name)
        gather_response = {"key_name": gather_key} if self.distributed else items
        fault = C.APPLICATION if spec.gather_fails else None
        gather = self.task(h, "", Step.GATHER_COLLECTIONS, self.start + 5, env, ex_input, gather_response, fault=fault,
                           sfn_retry=self.distributed)
        ends = [gather.stop]
        if gather.succeeded:
            if self.distributed:
                self._s3(gather.stop, gather_key, items)
            ends = self._collections(gather.stop, collections)
            if spec.span_collections_breach and self.distributed:
                ends = self._breach(ends)
        else:
            self._s3(gather.stop, S3_REPORT_ERRORS.format(execution=self.exec_name, name="gather_collections"),
                     {"step": "gather_collections", "error": gather.attempts[-1].look.app_errors[0], "args": [], "kwargs": {}})
            self.corpus = []  # nobody learns which collections it would have gathered
        report_env = self._migration_env(Step.REPORT)
        # report (schema_migration.py @ 0e2996c0, @ 001730b8): every report/errors and report/migrate_changes file
        # read into {errors, migrate_changes}, logged as "Report" with the dict's keys as fields, and answered
        report_response = {"errors": [o.body for o in self.s3 if "/report/errors/" in o.key],
                           "migrate_changes": [o.body for o in self.s3 if "/report/migrate_changes/" in o.key]}
        ctx = LogContext(stage.name, Step.REPORT, records=[(LOG_REPORT_MESSAGE, report_response)])
        report = self.task(h, "", Step.REPORT, max(ends) + 30, report_env, {}, report_response, ctx=ctx,
                           sfn_retry=self.distributed)
        for obj in self.s3:  # report: read, then delete_prefix(schema_migration/{execution})
            obj.deleted = report.stop - 1 if obj.deleted is None else min(obj.deleted, report.stop - 1)
        stop = report.stop + 5
        execution = ExecutionPlan(
            name=self.exec_name, machine="migration", stage=stage.name, state_machine=stage.migration_sfn,
            arn=self.exec_arn, start=self.start, stop=stop, status="SUCCEEDED", input=ex_input,
            output=report_response, map_runs=self.map_runs.get(self.exec_arn, []),
        )
        h.add(stop, "ExecutionSucceeded", "executionSucceededEventDetails", {"output": json_dumps(report_response)})
        execution.events = h.events
        for run in execution.map_runs:
            run.parent = execution
        return MigrationPlan(spec, stage, self.key, self.map_mode, self.ingestion_input, execution, self.jobs,
                             self.ingestions, self.s3, self.corpus, self.collection_truths)

    def _curator_revisions(self, collections: list[Collection]) -> list[Collection]:
        """Open revisions curators made of published collections (same datasets, a new collection version, not an
        auto version). gather_collections (schema_migration.py @ 001730b8) lists unpublished versions first and
        skips a published one only when its revision `is_auto_version`: each of these is gathered, and so is its
        published version."""
        if not self.spec.curator_revisions:
            return []
        published = [c for c in collections if c.published and any(not d.current for d in c.datasets)]
        out = []
        for coll in self.rng.sample(published, min(self.spec.curator_revisions, len(published))):
            cvid = rid(self.rng)
            datasets = tuple(replace(d, collection_version_id=cvid) for d in coll.datasets)
            out.append(Collection(coll.collection_id, cvid, False, datasets))
        return out

    def _map_run(self, state_name: str, parent_history: _History, start: float, children: list[ExecutionPlan],
                 stop: float, concurrency: int, tolerated: float, thread: str = "") -> MapRunPlan:
        run_id = rid(self.rng)
        arn = f"{self.sm_prefix}:mapRun:{self.stage.migration_sfn}/{state_name}:{run_id}"
        run = MapRunPlan(arn, state_name, None, start, stop, "SUCCEEDED", concurrency, tolerated, children)
        for child in children:
            child.map_run = run
        parent_history.add(start - 0.2, "MapStateEntered", "stateEnteredEventDetails", {"name": state_name, "input": "{}"}, thread)
        parent_history.add(start, "MapRunStarted", "mapRunStartedEventDetails", {"mapRunArn": arn}, thread)
        parent_history.add(stop, "MapRunSucceeded", None, {}, thread)
        parent_history.add(stop + 0.1, "MapStateExited", "stateExitedEventDetails", {"name": state_name, "output": "[]"}, thread)
        self.map_runs.setdefault(parent_history.arn, []).append(run)
        return run

    def _child(self, state_name: str, item: dict, start: float) -> tuple[ExecutionPlan, _History]:
        name = rid(self.rng)
        arn = f"{self.sm_prefix}:execution:{self.stage.migration_sfn}/{state_name}:{name}"
        child = ExecutionPlan(name=name, machine="child", stage=self.stage.name, state_machine=self.stage.migration_sfn,
                              arn=arn, start=start, stop=start, status="SUCCEEDED", input=item)
        history = _History(arn)
        history.add(start, "ExecutionStarted", "executionStartedEventDetails",
                    {"input": json_dumps(item), "roleArn": f"arn:aws:iam::{ACCOUNT}:role/dp-sfn"})
        return child, history

    def _end_child(self, child: ExecutionPlan, history: _History, stop: float, output) -> None:
        child.stop = stop
        child.output = output
        history.add(stop, "ExecutionSucceeded", "executionSucceededEventDetails", {"output": json_dumps(output)})
        child.events = history.events

    def _breach(self, ends: list[float]) -> list[float]:
        """SpanCollections children fail past the run's ToleratedFailurePercentage (20, main.tf @ 00e5dcc). Each
        fails with States.DataLimitExceeded once its SpanDatasets Map has run: a DISTRIBUTED Map without a
        ResultWriter (none at 00e5dcc) returns its children's outputs as its own, and past 256 KB that is a
        terminal error no Catch takes (AWS Step Functions developer guide, "Error handling": States.ALL does not
        match States.DataLimitExceeded; "Quotas": 256 KB of state payload). When failed items pass the tolerance the
        Map Run fails (States.ExceedToleratedFailureThreshold), its running children are stopped and the rest never
        start; the Map state's Catch (States.ALL, Next report) goes on to `report`, and the execution SUCCEEDS.
        Returns when the collections' work ended."""
        rng = self.rng
        run = self.map_runs[self.exec_arn][-1]
        candidates = [c for c in run.children if self.map_runs.get(c.arn)]
        k = int(len(run.children) * run.tolerated_failure_percentage / 100) + 1
        if len(candidates) < k:
            return ends
        fail_at = {c.arn: self.map_runs[c.arn][-1].stop + 0.5 for c in rng.sample(candidates, k)}
        at = max(fail_at.values())
        cause = ("The state/task 'SpanDatasets' returned a result with a size exceeding the maximum number of bytes "
                 "service limit.")
        for child in run.children:
            if child.arn not in fail_at:
                continue
            t, version = fail_at[child.arn], child.input["collection_version_id"]
            self.jobs[:] = [j for j in self.jobs if not (j.branch == version and j.created >= t)]  # no cleanup
            # nor what the cleanup would have written (its report/errors file, read by the report step)
            written = {version, self.revisions.get(version)}
            self.s3[:] = [o for o in self.s3 if not (o.t >= t and any(v and v in o.key for v in written))]
            history = _History(child.arn)
            history.events = [e for e in child.events if e.t < t]
            child.output = None
            self._fail_child(child, history, t, "States.DataLimitExceeded", cause)
            for truth in self.collection_truths:
                if truth.collection_version_id == version:
                    truth.execution_error = "States.DataLimitExceeded in SpanDatasets"
        self.cut_at = at
        cancelled = {"error": "States.Aborted", "cause": "The Map Run was stopped"}
        kept = []
        for job in self.jobs:
            if job.branch is None or job.created < at and job.stop <= at:
                kept.append(job)
            elif job.created < at:
                _cancel(job, at, self.stage.name, rng)
                kept.append(job)
        self.jobs[:] = kept
        nested = [r for c in run.children for r in self.map_runs.get(c.arn, [])]
        for ex in [*run.children, *(c for r in nested for c in r.children), *self.ingestions]:
            if ex.start < at < ex.stop and ex.status != "FAILED":
                ex.status, ex.stop, ex.output = "ABORTED", at, None
                ex.events = [e for e in ex.events if e.t < at]
                ex.events.append(HistoryEvent(at, "ExecutionAborted", "executionAbortedEventDetails", cancelled))
        for r in nested:
            r.children[:] = [c for c in r.children if c.start < at]
            if r.stop > at:
                r.status, r.stop = "ABORTED", at
        for c in run.children:
            if c.arn in self.map_runs:
                self.map_runs[c.arn][:] = [r for r in self.map_runs[c.arn] if r.start < at]
        run.children[:] = [c for c in run.children if c.start < at]
        run.status, run.stop = "FAILED", at
        self.ingestions[:] = [ex for ex in self.ingestions if ex.start < at]
        self.s3[:] = [o for o in self.s3 if o.t < at]
        threshold = {"error": "States.ExceedToleratedFailureThreshold",
                     "cause": "The specified tolerated failure threshold was exceeded"}
        self.history.events = [e for e in self.history.events
                               if not (e.type in ("MapRunSucceeded", "MapStateExited") and e.t > at - 1 and not e.thread)]
        self.history.add(at, "MapRunFailed", "mapRunFailedEventDetails", threshold)
        self.history.add(at + 0.1, "MapStateFailed", None, {})
        return [at]

    def _fail_child(self, child: ExecutionPlan, history: _History, stop: float, error: str, cause: str) -> None:
        child.stop, child.status, child.error, child.cause = stop, "FAILED", error, cause
        history.add(stop, "ExecutionFailed", "executionFailedEventDetails", {"error": error, "cause": cause})
        child.events = history.events

    def _collections(self, begin: float, collections: list[Collection]) -> list[float]:
        rng = self.rng
        order = list(collections)
        failing = {c.collection_version_id for c in rng.sample(order, min(self.scenario.collection_fault_count, len(order)))}
        children, ends = [], []
        for idx, coll in enumerate(order):
            created = begin + 5 + rng.uniform(0, self.spec.spread_h * 3600)
            item = {"collection_id": coll.collection_id, "collection_version_id": coll.collection_version_id,
                    "execution_id": self.exec_name}
            if self.distributed:
                child, history = self._child("SpanCollections", item, created - 2)
                thread = ""
            else:
                child, history, thread = None, self.history, f"c{idx}"
                self._iteration_started(history, "SpanCollections", idx, created - 1, thread)
            end = self._collection(coll, created, item, history, thread, coll.collection_version_id in failing)
            if child is not None:
                self._end_child(child, history, end + 1, {"collection_version_id": coll.collection_version_id})
                children.append(child)
            else:
                self._iteration_succeeded(history, "SpanCollections", idx, end + 0.5, thread)
            ends.append(end)
        if self.distributed:
            self._map_run("SpanCollections", self.history, begin + 2, children, max(ends) + 2, 10, 20.0)
        elif order:  # INLINE: the iterations are threads of the one history
            self.history.add(begin + 1, "MapStateEntered", "stateEnteredEventDetails", {"name": "SpanCollections", "input": "[]"})
            self.history.add(max(ends) + 2, "MapStateExited", "stateExitedEventDetails", {"name": "SpanCollections", "output": "[]"})
        return ends

    @staticmethod
    def _iteration_started(history: _History, state: str, index: int, t: float, thread: str) -> None:
        history.add(t, "MapIterationStarted", "mapIterationStartedEventDetails", {"name": state, "index": index}, thread)

    @staticmethod
    def _iteration_succeeded(history: _History, state: str, index: int, t: float, thread: str) -> None:
        history.add(t, "MapIterationSucceeded", "mapIterationSucceededEventDetails", {"name": state, "index": index}, thread)

    def _collection(self, coll: Collection, created: float, item: dict, history: _History, thread: str, fails: bool) -> float:
        self._branch = coll.collection_version_id
        try:
            return self._collection_jobs(coll, created, item, history, thread, fails)
        finally:
            self._branch = None

    def _collection_jobs(self, coll: Collection, created: float, item: dict, history: _History, thread: str,
                         fails: bool) -> float:
        rng, stage = self.rng, self.stage
        to_migrate = [d for d in coll.datasets if not d.current]
        skipped = [d for d in coll.datasets if d.current]
        self.skipped.update((d.dataset_id, coll.collection_version_id) for d in skipped)
        private_cvid = rid(rng) if coll.published else coll.collection_version_id  # published: a new revision
        self.revisions[coll.collection_version_id] = private_cvid
        exe = self.exec_name
        dataset_items = [{"collection_id": coll.collection_id, "collection_url": f"https://cellxgene.cziscience.com/collections/{coll.collection_id}",
                          "collection_version_id": private_cvid, "dataset_id": d.dataset_id,
                          "dataset_version_id": d.dataset_version_id, "execution_id": exe} for d in to_migrate]
        env = {**self._migration_env(Step.COLLECTION_MIGRATION), "COLLECTION_ID": coll.collection_id,
               "COLLECTION_VERSION_ID": coll.collection_version_id}
        if self.distributed:
            span_key = S3_SPAN_DATASETS.format(execution=exe, collection_version_id=private_cvid)
            response = {"collection_version_id": private_cvid, "execution_id": exe,
                        **({"key_name": span_key} if to_migrate else {})}
        else:
            env["CAN_PUBLISH"] = "False"
            response = {"can_publish": "False", "collection_version_id": private_cvid,
                        "collection_url": dataset_items[0]["collection_url"] if dataset_items else None,
                        "datasets": [{"can_publish": "False", **d} for d in dataset_items], "execution_id": exe,
                        **({} if to_migrate else {"no_datasets": "True"})}
        records = [] if to_migrate else [("All datasets in the collection have been migrated", {"dataset_count": len(coll.datasets)})]
        ctx = LogContext(stage.name, Step.COLLECTION_MIGRATION, collection_version_id=coll.collection_version_id, records=records)
        fault = rng.choice([C.APPLICATION, C.STORAGE]) if fails else None
        cm = self.task(history, thread, Step.COLLECTION_MIGRATION, created, env, item, response, fault=fault, ctx=ctx,
                       collection_id=coll.collection_id, sfn_retry=self.distributed)
        truth = CollectionTruth(coll.collection_id, coll.collection_version_id, "SUCCEEDED" if cm.succeeded else "FAILED",
                                len(to_migrate), len(skipped))
        self.collection_truths.append(truth)
        ends = [cm.stop]
        cleanup_cvid = coll.collection_version_id
        if cm.succeeded:
            cleanup_cvid = private_cvid
            if self.distributed:
                if to_migrate:
                    self._s3(cm.stop, span_key, dataset_items)
                self._s3(cm.stop, S3_LOG_ERRORS_AND_CLEANUP.format(execution=exe, collection_version_id=private_cvid),
                         {"collection_version_id": private_cvid, "datasets": dataset_items,
                          "collection_url": response.get("collection_url")})
            else:
                self._s3(cm.stop, S3_PUBLISH_AND_CLEANUP.format(execution=exe, collection_id=coll.collection_id), response)
            if to_migrate and self.reader_fails_left and len(to_migrate) > 1:
                self.reader_fails_left -= 1
                ends = [self._span_datasets_reader_failed(history, cm.stop + 5, to_migrate)]
            elif to_migrate:
                ends = self._datasets(coll, to_migrate, dataset_items, cm.stop + rng.uniform(1, 30), history, thread)
        else:
            self._s3(cm.stop, S3_REPORT_ERRORS.format(execution=exe, name=coll.collection_id),
                     {"step": "collection_migrate", "error": (cm.attempts[-1].look.app_errors or ("",))[0],
                      "args": [], "kwargs": {"collection_id": coll.collection_id}})
        # CollectionPublish (INLINE) / CollectionCleanup (DISTRIBUTED) runs after the datasets, or after a failed
        # collection_migrate (its Catch goes there too)
        step = Step.COLLECTION_CLEANUP if self.distributed else Step.COLLECTION_PUBLISH
        env = {**self._migration_env(step), "COLLECTION_VERSION_ID": cleanup_cvid}
        if not self.distributed:
            env["CAN_PUBLISH"] = "False"
        records = []
        if cm.succeeded and self.distributed:
            # _retrieve_sfn_response @ 0e2996c0 (PR #7131): the object read is logged whole, then deleted
            key = S3_LOG_ERRORS_AND_CLEANUP.format(execution=exe, collection_version_id=private_cvid)
            records.append((LOG_DOWNLOADED_FROM_S3, {"file_name": "./data.json", "bucket": stage.artifact_bucket,
                                                     "key": key, "data": next(o.body for o in self.s3 if o.key == key)}))
        records += [(LOG_SKIPPING_DATASET, {"dataset_id": d.dataset_id, "dataset_version_id": d.dataset_version_id}) for d in skipped]
        records += [("checking dataset", {"dataset_id": d.dataset_id, "previous_dataset_version_id": d.dataset_version_id})
                    for d in to_migrate] if cm.succeeded else []
        errors = self._verdicts(coll, to_migrate, cleanup_cvid) if cm.succeeded else []
        ctx = LogContext(stage.name, step, collection_version_id=cleanup_cvid, records=records, error_records=errors)
        cleanup = self.task(history, thread, step, max(ends) + 10, env, {"collection_version_id": cleanup_cvid}, errors,
                            ctx=ctx, collection_id=coll.collection_id, sfn_retry=self.distributed)
        if cm.succeeded and self.distributed:
            for obj in self.s3:
                if obj.key == S3_LOG_ERRORS_AND_CLEANUP.format(execution=exe, collection_version_id=private_cvid):
                    obj.deleted = cleanup.stop - 1  # deleted once read
        if errors:  # _store_sfn_response("report/errors", collection_version_id, errors)
            self._s3(cleanup.stop - 0.5, S3_REPORT_ERRORS.format(execution=exe, name=cleanup_cvid), errors)
        return self.jobs[-1].stop

    def _verdicts(self, coll: Collection, to_migrate: list[Dataset], revision: str) -> list[dict]:
        """The cleanup step's error dicts, one per dataset it did not migrate, in production's order of tests:
        log_errors_and_cleanup @ 0e2996c0 (DISTRIBUTED) asks the processing status first (not SUCCESS: rollback,
        the previous version restored; message: the validation message), then the schema (message: the AnnData and
        ATAC validation messages "\n"-joined, taken as empty for a dataset that validated); publish_and_cleanup @
        001730b8 (INLINE) asks the schema first (message: the validation message), then the processing status. A
        dataset whose migration failed or never started is still its old version: processing SUCCESS, old schema.
        A failed ingestion is processing FAILURE (HandleErrors); its version is on the new schema only once
        add_labels wrote its metadata (a failure in cxg)."""
        errors = []
        for d in to_migrate:
            # a cleanup run again (after a redrive) says anew what it finds: an earlier, stopped one said nothing
            self.verdicts.pop((d.dataset_id, coll.collection_version_id), None)
            outcome, message, failed_step = self.outcomes.get((d.dataset_id, coll.collection_version_id),
                                                              ("migration_failed", None, None))
            if outcome == "succeeded":
                pick = random.Random(f"{self.key}:{d.dataset_id}:verdict")
                if pick.random() >= self.spec.verdict_share:
                    continue
                # every job succeeded, yet the cleanup finds it not SUCCESS or not on the latest schema
                processing_ok, latest = (False, True) if pick.random() < 0.5 else (True, False)
                message = None
            elif outcome == "ingestion_failed":
                processing_ok, latest = False, failed_step is Step.CXG
            else:
                processing_ok, latest = True, False
            if self.distributed:
                rollback = not processing_ok
                if not rollback:
                    message = "\n".join(["", ""])
            else:
                rollback = latest and not processing_ok
            error = {"message": message, "dataset_status": {
                         "processing_status": "SUCCESS" if processing_ok else "FAILURE",
                         "validation_status": "INVALID" if message and message.strip() else "VALID",
                         "validation_message": message},
                     "collection_id": coll.collection_id, "collection_version_id": revision,
                     "dataset_version_id": self.new_versions.get((d.dataset_id, coll.collection_version_id),
                                                                 d.dataset_version_id),
                     "dataset_id": d.dataset_id, "rollback": rollback}
            self.verdicts[(d.dataset_id, coll.collection_version_id)] = ("rolled_back" if rollback else "not_latest_schema",
                                                                         message)
            errors.append(error)
        return errors

    def _span_datasets_reader_failed(self, history: _History, t: float, datasets: list[Dataset]) -> float:
        """SpanDatasets whose ItemReader cannot read its item file (States.ItemReaderFailed): the Map Run fails
        before starting any item and the Map state's Catch (States.ALL) goes on to CollectionCleanup
        (schema_migration/main.tf @ 00e5dcc). Every dataset listed stays unstarted."""
        run = self._map_run("SpanDatasets", history, t, [], t + 1, 10, 100.0)
        run.status = "FAILED"
        for e in history.events[-2:]:
            if e.type == "MapRunSucceeded":
                e.type, e.details_key = "MapRunFailed", "mapRunFailedEventDetails"
                e.details = {"error": "States.ItemReaderFailed",
                             "cause": "Amazon S3 responded with SlowDown: reduce your request rate."}
        for d in datasets:
            self.outcomes[(d.dataset_id, self._branch)] = ("not_started", None, None)
        return t + 2

    def _datasets(self, coll: Collection, datasets: list[Dataset], items: list[dict], begin: float, history: _History,
                  thread: str) -> list[float]:
        children, ends = [], []
        for k, (d, item) in enumerate(zip(datasets, items)):
            created = begin + self.rng.uniform(0, 60) * (k // 10)  # MaxConcurrency 10 (DISTRIBUTED) / 32 (INLINE)
            if self.distributed:
                child, child_history = self._child("SpanDatasets", item, created - 1)
                self._child_failure = None
                end = self._dataset(coll, d, item, created, child_history, "", child.arn)
                if self._child_failure is not None:
                    self._fail_child(child, child_history, end + 0.5, *self._child_failure)
                else:
                    self._end_child(child, child_history, end + 1, item)
                children.append(child)
            else:
                self._iteration_started(history, "SpanDatasets", k, created - 0.7, f"{thread}/d{k}")
                end = self._dataset(coll, d, item, created, history, f"{thread}/d{k}", self.exec_arn)
                self._iteration_succeeded(history, "SpanDatasets", k, end + 0.5, f"{thread}/d{k}")
            ends.append(end)
        if not self.distributed:
            history.add(begin - 0.8, "MapStateEntered", "stateEnteredEventDetails", {"name": "SpanDatasets", "input": "{}"}, thread)
            history.add(max(ends) + 1, "MapStateExited", "stateExitedEventDetails", {"name": "SpanDatasets", "output": "[]"}, thread)
        if self.distributed:
            self._map_run("SpanDatasets", history, begin - 2, children, max(ends) + 1, 10, 100.0)
        return ends

    def _dataset(self, coll: Collection, d: Dataset, item: dict, created: float, history: _History, thread: str,
                 started_by: str) -> float:
        """dataset_migration, then StepFunctionsStartExecution of the ingestion machine; returns when it ends."""
        rng, stage = self.rng, self.stage
        fault = self.faults.get(d.dataset_id)
        category, fault_step = fault if fault else (None, None)
        if fault_step is Step.VALIDATE_ANNDATA and category is C.VALIDATION and d.has_atac and rng.random() < 0.3:
            fault_step = Step.VALIDATE_ATAC
        new_dvid = rid(rng)
        sfn_name = f"migrate_{new_dvid}_{int(created)}"  # sfn_name_generator(new version, prefix="migrate")
        uri = f"s3://{stage.artifact_bucket}/{d.dataset_version_id}/migrated.h5ad"
        response = {"collection_version_id": item["collection_version_id"], "dataset_version_id": new_dvid, "uri": uri,
                    "sfn_name": sfn_name, "execution_id": self.exec_name}
        if self.ingestion_input is IngestionInput.NEW:
            response["manifest"] = {"anndata": uri, "atac_fragment": None}  # main.tf @ 00e5dcc reads $.result.manifest
        # the field StepFunctionsStartExecution's Parameters read from the answer (`manifest.$: $.result.manifest`
        # @ 00e5dcc, `url.$: $.result.uri` @ a4416160); dataset_migrate @ 001730b8 answers no `manifest` at all
        read_field, read_path = ("manifest.$", "$.result.manifest") if self.ingestion_input is IngestionInput.NEW \
            else ("url.$", "$.result.uri")
        breaks = d.dataset_id in self.runtime_failing
        if breaks:
            response.pop(read_path.rsplit(".", 1)[1], None)
        env = {**self._migration_env(Step.DATASET_MIGRATION), "DATASET_ID": d.dataset_id,
               "DATASET_VERSION_ID": d.dataset_version_id, "COLLECTION_VERSION_ID": item["collection_version_id"],
               "COLLECTION_ID": coll.collection_id}
        ctx = LogContext(stage.name, Step.DATASET_MIGRATION, d.dataset_version_id, new_dvid, item["collection_version_id"])
        dm = self.task(history, thread, Step.DATASET_MIGRATION, created, env, item, response, d.n_cells,
                       category if fault_step is Step.DATASET_MIGRATION else None, ctx, d.dataset_id, coll.collection_id,
                       sfn_retry=self.distributed)
        if not dm.succeeded:
            self.outcomes[(d.dataset_id, coll.collection_version_id)] = ("migration_failed", None, None)
            self._s3(dm.stop, S3_REPORT_ERRORS.format(execution=self.exec_name, name=f"{item['collection_version_id']}_{d.dataset_id}"),
                     {"step": "dataset_migrate", "error": (dm.attempts[-1].look.app_errors or (dm.attempts[-1].look.status_reason,))[0],
                      "args": [], "kwargs": {"dataset_id": d.dataset_id}})
            history.add(dm.stop + 0.7, "PassStateEntered", "stateEnteredEventDetails", {"name": "DatasetError", "input": "{}"}, thread)
            history.add(dm.stop + 0.8, "PassStateExited", "stateExitedEventDetails", {"name": "DatasetError", "output": "{}"}, thread)
            return dm.stop + 1
        self.new_versions[(d.dataset_id, coll.collection_version_id)] = new_dvid
        if breaks:
            return self._runtime_error(coll, d, item, response, dm.stop + 2, history, thread, read_field, read_path)
        self._s3(dm.stop, S3_MIGRATE_CHANGES.format(execution=self.exec_name, collection_id=coll.collection_id, dataset_id=d.dataset_id),
                 {f"{coll.collection_id}_{d.dataset_id}": ["obs: renamed 'development_stage_ontology_term_id' terms"]})
        start = dm.stop + 2
        stall = fault is None and self.timeouts_left > 0
        self.timeouts_left -= stall
        ing = self._ingestion(coll, d, new_dvid, item["collection_version_id"], sfn_name, uri, start, started_by,
                              category if fault_step in INGESTION_STEPS else None,
                              fault_step, stall)
        self.outcomes[(d.dataset_id, coll.collection_version_id)] = self._ingestion_outcome(ing)
        resource = {"resourceType": "states", "resource": "startExecution.sync:2"}
        history.add(start - 1, "TaskStateEntered", "stateEnteredEventDetails",
                    {"name": "StepFunctionsStartExecution", "input": json_dumps({**item, "result": response})}, thread)
        history.add(start - 0.5, "TaskScheduled", "taskScheduledEventDetails", {**resource, "region": stage.region,
                    "parameters": json_dumps({"Name": sfn_name, "StateMachineArn": f"{self.sm_prefix}:stateMachine:{stage.ingestion_sfn}",
                                              "Input": ing.input})}, thread)
        history.add(start - 0.4, "TaskStarted", "taskStartedEventDetails", dict(resource), thread)
        history.add(start, "TaskSubmitted", "taskSubmittedEventDetails",
                    {**resource, "output": json_dumps({"ExecutionArn": ing.arn, "StartDate": int(start * 1000)})}, thread)
        described = json_dumps({"ExecutionArn": ing.arn, "Name": sfn_name, "Status": ing.status, "Input": json_dumps(ing.input),
                                **({"Cause": ing.cause} if ing.cause else {})})
        if ing.status == "SUCCEEDED":
            history.add(ing.stop + 0.5, "TaskSucceeded", "taskSucceededEventDetails", {**resource, "output": described}, thread)
            history.add(ing.stop + 0.6, "TaskStateExited", "stateExitedEventDetails", {"name": "StepFunctionsStartExecution", "output": "{}"}, thread)
        else:
            history.add(ing.stop + 0.5, "TaskFailed", "taskFailedEventDetails", {**resource, "error": "States.TaskFailed", "cause": described}, thread)
            history.add(ing.stop + 0.7, "PassStateEntered", "stateEnteredEventDetails", {"name": "DatasetError", "input": "{}"}, thread)
            history.add(ing.stop + 0.8, "PassStateExited", "stateExitedEventDetails", {"name": "DatasetError", "output": "{}"}, thread)
        return ing.stop + 1

    def _ingestion_outcome(self, ing: ExecutionPlan) -> tuple[str, str | None, Step | None]:
        """How the ingestion left the dataset's status: its validation message is the validator's errors
        (process.py: "Updating processing status" with validation_message)."""
        if ing.status == "SUCCEEDED":
            return "succeeded", None, None
        failed = self._failed_ingestion_job
        look = failed.attempts[-1].look if failed is not None and failed.attempts else None
        if failed is not None and failed.category is C.VALIDATION and self.long_messages_left > 0:
            self.long_messages_left -= 1
            failed.attempts[-1].look = look = failures.long_validation(failed.step, failed.log_ctx.new_dataset_version_id)
        message = None
        for _, _text, extra in look.app_records if look is not None else ():
            message = extra.get("validation_message", message)
        return "ingestion_failed", message, failed.step if failed is not None else None

    def _timed_out_task(self, h: _History, step: Step, t: float, env: dict[str, str], ctx: LogContext, d: Dataset,
                        coll: Collection) -> tuple[JobPlan, float]:
        """A task whose job is never placed (RUNNABLE: no compute environment takes it): its TimeoutSeconds passes
        (24 h for AddLabels, sfn/main.tf @ 0032817: h5ad_timeout), the States.ALL retrier (IntervalSeconds 2,
        BackoffRate 5, MaxAttempts 3) submits it again, three times; the fourth timeout goes to the Catch. Step
        Functions leaves the jobs in the queue. Returns the last job and when its task timed out."""
        timeout = INGESTION_TASK_TIMEOUT_S[step]
        job = None
        for k in range(4):
            job = self.job(step, t, dict(env), d.n_cells, None, ctx, d.dataset_id, coll.collection_id)
            job.attempts = [AttemptPlan(None, t + STALLED_FOR_S, None, None, job.attempts[-1].task_id, "")]
            job.stalled = True
            resource = {"resourceType": "batch", "resource": "submitJob.sync"}
            arn = f"arn:aws:batch:{self.stage.region}:{ACCOUNT}:job/{job.job_id}"
            if k == 0:
                h.add(t - 0.5, "TaskStateEntered", "stateEnteredEventDetails", {"name": STATE_OF_STEP[step], "input": "{}"})
            h.add(t - 0.2, "TaskScheduled", "taskScheduledEventDetails", {**resource, "region": self.stage.region,
                                                                          "parameters": "{}"})
            h.add(t - 0.1, "TaskStarted", "taskStartedEventDetails", dict(resource))
            h.add(t, "TaskSubmitted", "taskSubmittedEventDetails",
                  {**resource, "output": json_dumps({"JobArn": arn, "JobId": job.job_id, "JobName": job.job_name})})
            t += timeout
            h.add(t, "TaskTimedOut", "taskTimedOutEventDetails", {**resource, "error": "States.Timeout", "cause": ""})
            t += 2 * 5 ** k if k < 3 else 0
        return job, t
    def _runtime_error(self, coll: Collection, d: Dataset, item: dict, response: dict, at: float, history: _History,
                       thread: str, field_name: str, path: str) -> float:
        """StepFunctionsStartExecution cannot build its input: a JSONPath of its Parameters is missing from the
        state input. Step Functions fails the state with States.Runtime, which no Catch takes (States.ALL does not
        match it: AWS Step Functions developer guide, "Error handling", error names), so the execution running it
        fails: a DISTRIBUTED Map's child (its Map Run counts it failed), or, INLINE, the whole execution. The cause
        is Step Functions' own text, naming the state and quoting its input."""
        state_input = json_dumps({**item, "result": response})
        entered = len(history.events) + 1
        history.add(at - 1, "TaskStateEntered", "stateEnteredEventDetails",
                    {"name": "StepFunctionsStartExecution", "input": state_input}, thread)
        cause = (f"An error occurred while executing the state 'StepFunctionsStartExecution' (entered at the event id "
                 f"#{entered}). The JSONPath '{path}' specified for the field '{field_name}' could not be found in the "
                 f"input '{state_input}'")
        self.runtime_failed[(d.dataset_id, coll.collection_version_id)] = (at, "States.Runtime", cause)
        self._child_failure = ("States.Runtime", cause)
        return at

    def _ingestion(self, coll: Collection, d: Dataset, new_dvid: str, cvid: str, name: str, uri: str, start: float,
                   started_by: str, category: C | None, fault_step: Step | None, stall: bool = False) -> ExecutionPlan:
        """One execution of the ingestion machine (sfn/main.tf @ 0032817)."""
        rng, stage = self.rng, self.stage
        if self.ingestion_input is IngestionInput.NEW:
            ex_input = {"manifest": {"anndata": uri, "atac_fragment": None}, "dataset_version_id": new_dvid,
                        "collection_version_id": cvid}
        else:  # the ids hold VERSION ids (main.tf @ a4416160: dataset_id.$ = $.result.dataset_version_id)
            ex_input = {"url": uri, "dataset_id": new_dvid, "collection_id": cvid}
        ex_input = {STARTED_BY_FIELD: started_by, **ex_input,
                    "job_queue": f"arn:aws:batch:{stage.region}:{ACCOUNT}:job-queue/{stage.queue}"}
        arn = f"{self.sm_prefix}:execution:{stage.ingestion_sfn}:{name}"
        h = _History(arn)
        h.add(start, "ExecutionStarted", "executionStartedEventDetails",
              {"input": json_dumps(ex_input), "roleArn": f"arn:aws:iam::{ACCOUNT}:role/dp-sfn"})
        t = start + 1

        def env_for(step: Step) -> dict[str, str]:
            env = {"DATASET_VERSION_ID": new_dvid, "STEP_NAME": step.value}
            if step is not Step.CXG:  # production passes cxg only its dataset version and step
                env["COLLECTION_VERSION_ID"] = cvid
            if step in (Step.VALIDATE_ANNDATA, Step.VALIDATE_ATAC):
                env["MANIFEST"] = json_dumps(ex_input.get("manifest") or {"anndata": uri})
            return env

        def ctx_for(step: Step) -> LogContext:
            return LogContext(stage.name, step, new_dvid, new_dvid, cvid)

        failed: JobPlan | None = None
        stall_end = 0.0
        h.add(t - 0.5, "ParallelStateEntered", "stateEnteredEventDetails", {"name": "Parallel", "input": json_dumps(ex_input)})
        branch_jobs = []
        for step in (Step.VALIDATE_ANNDATA, Step.VALIDATE_ATAC):
            n = d.n_cells if (step is Step.VALIDATE_ANNDATA or d.has_atac) else 500  # no fragment: a quick no-op
            job = self.job(step, t, env_for(step), n, category if fault_step is step else None, ctx_for(step), d.dataset_id,
                           coll.collection_id)
            self._task_events(h, step.value, job, ex_input, {})
            branch_jobs.append(job)
        failed_branch = [j for j in branch_jobs if not j.succeeded]
        if failed_branch:
            failed = min(failed_branch, key=lambda j: j.stop)
            for j in branch_jobs:  # the Parallel state stops its other branch: Step Functions terminates the job
                if j.succeeded and j.stop > failed.stop:
                    cut = failed.stop + 1
                    current = next(a for a in j.attempts if a.stop > failed.stop)
                    j.attempts = [a for a in j.attempts if a.stop <= failed.stop]
                    if current.start is not None and current.start < cut:
                        current.stop, current.truncated = cut, True
                        current.look = failures.stopped_by_step_functions(j.step, stage.name, rng)
                        j.attempts.append(current)
                    else:
                        j.attempts.append(AttemptPlan(None, cut, failures.stopped_by_step_functions(j.step, stage.name, rng),
                                                      None, "", ""))
                    j.category = C.CANCELLED
        t = max(j.stop for j in branch_jobs) + 2
        if failed is None:
            h.add(t - 1, "ParallelStateExited", "stateExitedEventDetails", {"name": "Parallel", "output": json_dumps(ex_input)})
            for step in (Step.ADD_LABELS, Step.CXG):
                if step is Step.ADD_LABELS and stall:
                    failed, stall_end = self._timed_out_task(h, step, t, env_for(step), ctx_for(step), d, coll)
                    break
                fault = category if fault_step is step else None
                job = self.job(step, t, env_for(step), d.n_cells, fault, ctx_for(step), d.dataset_id, coll.collection_id)
                self._task_events(h, "", job, ex_input, {})
                if not job.succeeded and step is Step.ADD_LABELS:
                    # AddLabels: Retry States.TaskFailed once after 30 s
                    again = fault if fault in DATA_FAULTS or rng.random() > INFRA_RETRY_RECOVERS else None
                    job = self.job(step, job.stop + SFN_RETRY_DELAY_S, env_for(step), d.n_cells, again, ctx_for(step),
                                   d.dataset_id, coll.collection_id)
                    self._task_events(h, "", job, ex_input, {}, retry=True)
                if not job.succeeded:
                    failed = job
                    break
                t = job.stop + 3
        if failed is None:
            stop = t + 2
            h.add(stop - 1, "TaskStateEntered", "stateEnteredEventDetails", {"name": "HandleSuccess", "input": "{}"})
            h.add(stop - 0.5, "TaskSucceeded", "taskSucceededEventDetails", {"resourceType": "lambda", "resource": "invoke", "output": "{}"})
            h.add(stop, "ExecutionSucceeded", "executionSucceededEventDetails", {"output": json_dumps(ex_input)})
            status, cause = "SUCCEEDED", None
        else:
            end = stall_end if failed.stalled else failed.stop
            stop = end + 5
            h.add(end + 1, "TaskStateEntered", "stateEnteredEventDetails", {"name": "HandleErrors", "input": "{}"})
            h.add(end + 3, "TaskSucceeded", "taskSucceededEventDetails", {"resourceType": "lambda", "resource": "invoke", "output": "{}"})
            h.add(end + 4, "FailStateEntered", "stateEnteredEventDetails", {"name": "RaiseError", "input": "{}"})
            h.add(stop, "ExecutionFailed", "executionFailedEventDetails", {"cause": INGESTION_FAIL_CAUSE})
            status, cause = "FAILED", INGESTION_FAIL_CAUSE
        ex = ExecutionPlan(name=name, machine="ingestion", stage=stage.name, state_machine=stage.ingestion_sfn, arn=arn,
                           start=start, stop=stop, status=status, input=ex_input, events=h.events, cause=cause)
        self._failed_ingestion_job = failed
        self.ingestions.append(ex)
        return ex


# --- what happens after planning: an operator's abort, log retention ------------------------------------


def _cancel(job: JobPlan, at: float, stage: str, rng: random.Random) -> None:
    """A job Step Functions stops at `at` (an abort, a failed Map Run): its attempt in progress is terminated."""
    look = failures.stopped_by_step_functions(job.step, stage, rng)
    done = [a for a in job.attempts if a.stop <= at]
    current = next((a for a in job.attempts if a.stop > at), None)
    if current is not None and current.start is not None and current.start <= at:
        current.stop, current.look, current.truncated = at, look, True
        done.append(current)
    else:
        done.append(AttemptPlan(None, at, look, None, "", "", True))
    job.attempts = done
    job.category = C.CANCELLED


def abort(plan: MigrationPlan, at: float, rng: random.Random, failure: tuple[str, str] | None = None) -> None:
    """The operator stops the migration at `at`: running jobs are terminated, nothing new is submitted.
    `failure` (error, cause): the migration execution itself fails then (an error no Catch takes), which stops
    its work as an abort does; the execution ends FAILED with that error."""
    stage = plan.stage.name
    kept = []
    for job in plan.jobs:
        if job.created >= at:
            continue
        if job.stop > at:
            _cancel(job, at, stage, rng)
        kept.append(job)
    plan.jobs[:] = kept
    cancelled = {"error": "States.Aborted", "cause": "Stopped by the operator"}
    executions = plan.executions()
    for ex in executions:
        ex.map_runs[:] = [r for r in ex.map_runs if r.start < at]  # a Map state it never reached
        if failure is not None and ex is plan.execution:
            ex.status, ex.stop, ex.output, (ex.error, ex.cause) = "FAILED", at, None, failure
            ex.events = [e for e in ex.events if e.t <= at]
            ex.events.append(HistoryEvent(at + 0.001, "ExecutionFailed", "executionFailedEventDetails",
                                          {"error": failure[0], "cause": failure[1]}))
        elif ex.stop > at and ex.start < at:
            ex.status, ex.stop, ex.output = "ABORTED", at, None
            ex.events = [e for e in ex.events if e.t < at]
            ex.events.append(HistoryEvent(at, "ExecutionAborted", "executionAbortedEventDetails", cancelled))
    for run in plan.map_runs():
        if run.stop > at:
            run.status, run.stop = "ABORTED", at
        run.children[:] = [c for c in run.children if c.start < at]
    plan.ingestions[:] = [ex for ex in plan.ingestions if ex.start < at]
    plan.s3_objects[:] = [o for o in plan.s3_objects if o.t < at]
    for obj in plan.s3_objects:
        obj.deleted = None  # the report step never ran


def expire_logs(plan: MigrationPlan, share: float, rng: random.Random) -> None:
    """Some streams of an old migration are gone by the time anyone looks (log group retention)."""
    if share <= 0:
        return
    for job in plan.jobs:
        if any(a.start is not None for a in job.attempts) and rng.random() < share:
            job.logs_expired = True


# --- truth ---------------------------------------------------------------------------------------------


def dataset_truths(plan: MigrationPlan, new_versions: dict[tuple[str, str], str], skipped: set[tuple[str, str]],
                   revisions: dict[str, str] | None = None,
                   runtime_failed: dict[tuple[str, str], tuple] | None = None, stopped: bool = False,
                   verdicts: dict[tuple[str, str], tuple[str, str | None]] | None = None) -> list[DatasetTruth]:
    """Each dataset's final outcome in this migration, from the plan alone: one per collection version gathered
    (a collection gathered twice migrates its datasets twice)."""
    revisions = revisions or {}
    by_dataset: dict[tuple[str, str | None], list[JobPlan]] = {}
    for job in plan.jobs:
        if job.dataset_id:
            by_dataset.setdefault((job.dataset_id, job.branch), []).append(job)
    latest_coll: dict[str | None, JobPlan] = {}
    cleanups: dict[str | None, JobPlan] = {}
    for job in sorted(plan.jobs, key=lambda j: j.created):
        if job.step is Step.COLLECTION_MIGRATION:
            latest_coll[job.branch] = job
        elif job.step in (Step.COLLECTION_CLEANUP, Step.COLLECTION_PUBLISH):
            cleanups[job.branch] = job
    for c in plan.collection_truths:  # after an abort: what really ran
        job = latest_coll.get(c.collection_version_id)
        c.migration_status = "NOT_STARTED" if job is None else ("SUCCEEDED" if job.succeeded else "FAILED")
    coll_status = {c.collection_version_id: c.migration_status for c in plan.collection_truths}
    # a migration execution that failed (history quota, States.Runtime) stopped its work as an abort does
    aborted = plan.execution.status in ("ABORTED", "FAILED") or stopped  # stopped: a failed Map Run's work
    reports = [j for j in plan.jobs if j.step is Step.REPORT]
    # the report's "Report" record repeats every verdict of a cleanup that ran to its end
    report_read = bool(reports) and reports[-1].succeeded and not reports[-1].logs_expired
    ingestion_status = {}
    for ex in plan.ingestions:
        ingestion_status[ex.input.get("dataset_version_id") or ex.input.get("dataset_id")] = ex.status
    out = []
    for coll in plan.corpus:
        branch = coll.collection_version_id
        for d in coll.datasets:
            jobs = sorted(by_dataset.get((d.dataset_id, branch), []), key=lambda j: (j.created, j.stop))
            latest = {j.step: j for j in jobs}  # a step's outcome is its latest job (Step Functions retries)
            failed = [j for j in latest.values() if not j.succeeded]
            migrated = latest.get(Step.DATASET_MIGRATION)
            state, step, category, observable = "succeeded", None, None, True
            if (d.dataset_id, branch) in skipped:
                # only the cleanup's "skipping dataset" log record names it
                state = "skipped"
                cleanup = cleanups.get(branch)
                observable = cleanup is not None and cleanup.succeeded and not cleanup.logs_expired
            elif not jobs:
                state = "not_started"
                # only collection_migrate's answer names it; DISTRIBUTED, its S3 item file, which the report step
                # deletes, and then the cleanup's "Downloaded from S3" record alone
                observable = coll_status.get(branch) == "SUCCEEDED"
                if observable and plan.map_mode is MapMode.DISTRIBUTED and reports and reports[-1].succeeded:
                    cleanup = cleanups.get(branch)
                    observable = cleanup is not None and cleanup.succeeded and not cleanup.logs_expired
            elif any(j.stalled for j in jobs) and ingestion_status.get(new_versions.get((d.dataset_id, branch))) == "FAILED":
                # its task timed out with the job still queued: the execution failed, no job did
                state, step, category = "failed", next(j for j in jobs if j.stalled).step.value, C.TIMEOUT
            elif failed:
                # jobs stopped at once (an abort cancels both branches of the Parallel state): the first step
                f = min(failed, key=lambda j: (j.stop, j.created, DATASET_STEPS.index(j.step)))
                state, step, category = "failed", f.step.value, f.observable_category
            elif (d.dataset_id, branch) in (runtime_failed or {}):
                # its answer broke the state after dataset_migration: its execution failed there (States.Runtime)
                state, step, category = "failed", Step.DATASET_MIGRATION.value, C.APPLICATION
            elif latest.get(Step.CXG) is None or not latest[Step.CXG].succeeded:
                # stopped between two steps: only an abort does that once the migration has ended
                state, category = ("failed", C.CANCELLED) if aborted else ("running", None)
            verdict = None
            cleanup = cleanups.get(branch)
            if (d.dataset_id, branch) in (verdicts or {}) and cleanup is not None and cleanup.succeeded \
                    and (not cleanup.logs_expired or report_read):
                verdict = verdicts[(d.dataset_id, branch)][0]
                if state == "succeeded":  # every job succeeded: production's verdict alone fails it
                    state, step, category = "failed", cleanup.step.value, C.APPLICATION
            durations = {}
            for j in jobs:
                if j.duration_s is not None:
                    durations[j.step.value] = durations.get(j.step.value, 0.0) + j.duration_s
            steps_seen: dict[Step, int] = {}
            for j in jobs:
                steps_seen[j.step] = steps_seen.get(j.step, 0) + 1
            out.append(DatasetTruth(
                stage=plan.stage.name, attempt_key=plan.attempt_key, dataset_id=d.dataset_id,
                collection_id=coll.collection_id, collection_version_id=coll.collection_version_id,
                dataset_version_id=d.dataset_version_id,
                new_dataset_version_id=new_versions.get((d.dataset_id, branch)) if migrated and migrated.succeeded else None,
                state=state, failing_step=step, error_category=category.value if category else None,
                started_at=min(j.created for j in jobs) if jobs else None,
                finished_at=max(j.stop for j in jobs) if jobs else None,
                retries=sum(len(j.attempts) - 1 for j in jobs) + sum(n - 1 for n in steps_seen.values()),
                step_durations=durations, observable=observable, production_verdict=verdict,
                migration_revision_id=revisions.get(branch)
                if state != "skipped" and coll_status.get(branch) == "SUCCEEDED" else None,
            ))
    return out


def build_world(scenario: ScenarioSpec, seed: int, anchor: float, stages: dict[str, StageNames],
                map_mode: MapMode = MapMode.DISTRIBUTED, ingestion_input: IngestionInput = IngestionInput.NEW) -> WorldPlan:
    """Plan every migration of the scenario. Deterministic in (scenario, seed, anchor, variant)."""
    rng = random.Random(f"{scenario.name}:{seed}")
    corpus = build_corpus(scenario, rng)
    all_datasets = [d for c in corpus for d in c.datasets if not d.current]
    data_faults: dict[str, tuple[C, Step]] = {}
    for category, rate in scenario.data_fault_rates.items():
        for d in rng.sample(all_datasets, max(1, round(rate * len(all_datasets)))):
            if d.dataset_id not in data_faults:
                data_faults[d.dataset_id] = (category, rng.choice(INGESTION_CATEGORY_STEPS[category]))
    from cxgm_emulator import campaigns

    migrations = []
    seen: dict[str, tuple[list[Collection], MigrationPlan]] = {}  # per stage: the corpus its last migration found
    for spec in scenario.migrations:
        mrng = random.Random(f"{scenario.name}:{seed}:{spec.stage}:{spec.tag}:{spec.start_h}")
        found = corpus
        if spec.continues and spec.stage in seen:
            found = campaigns.rerun_corpus(*seen[spec.stage])
        builder = _MigrationBuilder(scenario, spec, stages[spec.stage], found, data_faults, mrng, anchor,
                                    map_mode, ingestion_input)
        plan = builder.build()
        _attach_nested_runs(plan, builder.map_runs)
        if spec.continues:
            campaigns.as_workflow_rerun(plan)
        if spec.abort_at is not None:
            abort(plan, plan.start + spec.abort_at * (plan.stop - plan.start), mrng)
        if spec.history_quota_at is not None:
            campaigns.hit_history_quota(plan, plan.start + spec.history_quota_at * (plan.stop - plan.start), mrng)
        if spec.fail_at is not None:
            failed_at = plan.start + spec.fail_at * (plan.stop - plan.start)
            campaigns.fail_and_redrive(builder, plan, failed_at, failed_at + (spec.redrive_after_h or 1.0) * 3600, mrng)
        if builder.runtime_failed and map_mode is MapMode.INLINE:
            # INLINE: the iteration's States.Runtime fails the Map state and, uncaught, the execution
            at, error, cause = min(builder.runtime_failed.values())
            abort(plan, at, mrng, failure=(error, cause))
            builder.runtime_failed = {k: v for k, v in builder.runtime_failed.items() if v[0] <= at}
        expire_logs(plan, spec.expired_log_share, mrng)
        plan.datasets = dataset_truths(plan, builder.new_versions, builder.skipped, builder.revisions,
                                       builder.runtime_failed, stopped=builder.cut_at is not None,
                                       verdicts=builder.verdicts)
        seen[spec.stage] = (found, plan)
        migrations.append(plan)
    decided = campaigns.campaign_truths(migrations)
    for m in migrations:
        for d in m.datasets:
            d.campaign_state, d.campaign_attempt = decided[(m.stage.name, m.attempt_key, d.dataset_id,
                                                            d.collection_version_id)]
    return WorldPlan(scenario, seed, anchor, migrations)


def _attach_nested_runs(plan: MigrationPlan, nested: dict[str, list[MapRunPlan]]) -> None:
    """SpanDatasets Map Runs belong to the SpanCollections child execution that started them."""
    for run in plan.execution.map_runs:
        for child in run.children:
            child.map_runs = nested.get(child.arn, [])
            for sub in child.map_runs:
                sub.parent = child
