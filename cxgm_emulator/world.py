"""Shows a WorldPlan through moto's in-memory backends, as of the simulated clock.

Jobs, log streams and executions are objects whose status, timestamps, attempts, log events and
history are computed from the plan and `clock.now()`, so advancing the clock is all it takes to move
a migration forward. Only S3 files are written (and, once the report step has read them, deleted) as time
passes (`sync`). Map Runs (DISTRIBUTED Maps) and their child executions are indexed here for the patched
ListMapRuns / DescribeMapRun / ListExecutions(mapRunArn=).
"""

from __future__ import annotations

import bisect
import json
import random
import threading
from datetime import datetime, timezone

from moto.batch.models import Job as MotoJob
from moto.logs.models import LogEvent, LogStream
from moto.stepfunctions.models import Execution as MotoExecution

from cxgm_emulator.clock import SimClock
from cxgm_emulator.failures import ESSENTIAL_EXITED, attempt_log
from cxgm_emulator.plan import AttemptPlan, ExecutionPlan, JobPlan, MapRunPlan, WorldPlan

ACCOUNT = "123456789012"
STARTING_S = 10.0  # STARTING lasts this long before RUNNING
SUBMITTED_S = 2.0  # SUBMITTED lasts this long before RUNNABLE


def _ms(t: float) -> int:
    return int(t * 1000)


class EmulatedJob(MotoJob):
    """A Batch job whose state is read off its plan at the clock's time (never started as a thread)."""

    def __init__(self, plan: JobPlan, clock: SimClock, queue_arn: str, jobdef_arn: str, region: str):  # noqa: D107
        # moto's Job.__init__ starts bookkeeping we do not want (threads, docker): set what describe needs.
        self.plan, self.clock = plan, clock
        self.job_id = plan.job_id
        self.job_name = plan.job_name
        self.arn = f"arn:aws:batch:{region}:{ACCOUNT}:job/{plan.job_id}"
        self.queue_arn, self.jobdef_arn, self.region = queue_arn, jobdef_arn, region

    # moto's list/describe code reads these
    @property
    def status(self) -> str | None:
        return self._state(self.clock.now())[0]

    @property
    def job_created_at(self) -> datetime:
        return datetime.fromtimestamp(self.plan.created, timezone.utc).replace(tzinfo=None)

    def visible(self, now: float) -> bool:
        return self.plan.created <= now

    def _state(self, now: float) -> tuple[str | None, list[AttemptPlan], AttemptPlan | None]:
        """(status, finished attempts, attempt in progress) at `now`."""
        p = self.plan
        if now < p.created:
            return None, [], None
        if now < p.created + SUBMITTED_S:
            return "SUBMITTED", [], None
        done: list[AttemptPlan] = []
        for a in p.attempts:
            if a.stop <= now:
                done.append(a)
                continue
            begin = a.start if a.start is not None else a.stop - STARTING_S
            if now < begin - STARTING_S:
                return "RUNNABLE", done, None
            if now < begin or a.start is None:
                return "STARTING", done, None
            return "RUNNING", done, a
        return ("SUCCEEDED" if p.succeeded else "FAILED"), done, None

    def _attempt_dict(self, a: AttemptPlan) -> dict:
        container = {
            "containerInstanceArn": f"arn:aws:ecs:{self.region}:{ACCOUNT}:container-instance/{a.instance_id}",
            "taskArn": f"arn:aws:ecs:{self.region}:{ACCOUNT}:task/{a.task_id}",
            "networkInterfaces": [],
        }
        if a.log_stream:
            container["logStreamName"] = a.log_stream
        if a.look is None:
            container["exitCode"] = 0
        else:
            if a.look.exit_code is not None:
                container["exitCode"] = a.look.exit_code
            if a.look.container_reason:
                container["reason"] = a.look.container_reason
        out = {"container": container, "stoppedAt": _ms(a.stop),
               "statusReason": a.look.status_reason if a.look else ESSENTIAL_EXITED}
        if a.start is not None:
            out["startedAt"] = _ms(a.start)
        return out

    def describe_short(self) -> dict:
        status, done, current = self._state(self.clock.now())
        out = {"jobArn": self.arn, "jobId": self.job_id, "jobName": self.job_name, "createdAt": _ms(self.plan.created),
               "status": status, "jobDefinition": self.jobdef_arn}
        started = [a.start for a in [*done, *([current] if current else [])] if a.start is not None]
        if started:
            out["startedAt"] = _ms(started[0])
        if status in ("SUCCEEDED", "FAILED"):
            last = done[-1]
            out["stoppedAt"] = _ms(last.stop)
            out["statusReason"] = last.look.status_reason if last.look else ESSENTIAL_EXITED
            container = self._attempt_dict(last)["container"]
            out["container"] = {k: container[k] for k in ("exitCode", "reason") if k in container}
        return out

    def describe(self) -> dict:
        status, done, current = self._state(self.clock.now())
        p = self.plan
        out = self.describe_short()
        env = [{"name": k, "value": v} for k, v in p.env.items()]  # a fresh list each call
        container = {
            "image": f"{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/corpora-upload-{p.stage}:latest",
            "command": ["python3", "-m", "backend.layers.processing.process"],
            "jobRoleArn": f"arn:aws:iam::{ACCOUNT}:role/dp-{p.stage}-batch",
            "environment": env,
            "resourceRequirements": [{"value": "8", "type": "VCPU"}, {"value": "64000", "type": "MEMORY"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": p.log_group,
                                                                       "awslogs-region": self.region,
                                                                       "awslogs-stream-prefix": p.job_definition}},
            "volumes": [], "mountPoints": [], "ulimits": [], "secrets": [], "networkInterfaces": [],
        }
        shown = current or (done[-1] if done else None)
        if shown is not None:
            details = self._attempt_dict(shown)["container"]
            for k in ("taskArn", "containerInstanceArn", "logStreamName"):
                if k in details:
                    container[k] = details[k]
            if current is None:
                for k in ("exitCode", "reason"):
                    if k in details:
                        container[k] = details[k]
        out.update({
            "jobQueue": self.queue_arn,
            "attempts": [self._attempt_dict(a) for a in done],
            "retryStrategy": {"attempts": 3, "evaluateOnExit": [
                {"onStatusReason": "Host EC2*", "action": "RETRY"}, {"onReason": "*", "action": "EXIT"}]},
            "dependsOn": [], "parameters": {}, "container": container, "tags": {}, "propagateTags": False,
            "platformCapabilities": ["EC2"],
        })
        if p.timeout_s:
            out["timeout"] = {"attemptDurationSeconds": p.timeout_s}
        return out


class EmulatedLogStream(LogStream):
    """A log stream whose events appear as the clock passes their timestamps (generated on first read)."""

    def __init__(self, log_group, name: str, job: JobPlan, attempt: AttemptPlan, clock: SimClock):  # noqa: D107
        super().__init__(log_group, name)
        self.creation_time = datetime.fromtimestamp(attempt.start, timezone.utc).replace(tzinfo=None)
        self.last_ingestion_time = self.creation_time
        self._job, self._attempt, self._clock = job, attempt, clock
        self._all: list[LogEvent] | None = None
        self._stamps: list[int] = []

    def _generate(self) -> list[LogEvent]:
        if self._all is None:
            a, j = self._attempt, self._job
            rng = random.Random(f"{j.seed}:{a.task_id}")
            lines = attempt_log(j.log_ctx, a.start, a.stop, a.look, a.truncated, rng)
            self._all = [LogEvent(_ms(t) + 900, {"timestamp": _ms(t), "message": part})
                         for t, m in lines for part in docker_parts(m)]
            self._stamps = [e.timestamp for e in self._all]
        return self._all

    @property
    def events(self) -> list[LogEvent]:
        events = self._generate()
        return events[: bisect.bisect_right(self._stamps, _ms(self._clock.now()))]

    @events.setter
    def events(self, value) -> None:  # LogStream.__init__ assigns []; put_log_events appends
        if value:
            self._generate()
            self._all = sorted([*self._all, *value], key=lambda e: e.timestamp)
            self._stamps = [e.timestamp for e in self._all]


# Docker hands a logging driver a container's output line longer than 16 KB as several partial messages, and the
# awslogs driver sends each as an event of its own, at the line's timestamp (moby/moby#34855, #34620: awslogs does
# not rejoin partials). python-json-logger writes ASCII (json.dumps' ensure_ascii), so bytes are characters.
DOCKER_PART_BYTES = 16 * 1024


def docker_parts(line: str) -> list[str]:
    """The events one logged line becomes."""
    if len(line) <= DOCKER_PART_BYTES:
        return [line]
    return [line[i : i + DOCKER_PART_BYTES] for i in range(0, len(line), DOCKER_PART_BYTES)]


def _naive(t: float) -> datetime:
    """Naive UTC: moto sorts and serialises executions' dates, and crashes on mixing aware values."""
    return datetime.fromtimestamp(t, timezone.utc).replace(tzinfo=None)


class EmulatedExecution(MotoExecution):
    """A Step Functions execution whose status and history follow the clock."""

    def __init__(self, plan: ExecutionPlan, clock: SimClock, state_machine_arn: str, region: str):  # noqa: D107
        self.plan, self.clock = plan, clock
        self.name = plan.name
        self.state_machine_arn = state_machine_arn
        self.execution_arn = plan.arn
        self.execution_input = json.dumps(plan.input)
        self.account_id, self.region_name = ACCOUNT, region
        self.output_details = None
        self._override_status: str | None = None
        self._override_stop: datetime | None = None
        self._history: list[tuple[float, dict]] | None = None

    @property
    def map_run_arn(self) -> str | None:
        """The Map Run that dispatched this execution (a DISTRIBUTED Map's child), else None."""
        return self.plan.map_run.arn if self.plan.map_run is not None else None

    def visible(self, now: float) -> bool:
        return self.plan.start <= now

    def _ended(self) -> bool:
        return self.clock.now() >= self.plan.stop

    def status_at(self, now: float) -> str | None:
        """None before it starts."""
        if now < self.plan.start:
            return None
        if self._override_status:
            return self._override_status
        redrive = self.plan.redrive
        if redrive is not None and redrive.first_stop <= now < redrive.at:
            return redrive.first_status  # ended once; RedriveExecution not called yet
        return self.plan.status if now >= self.plan.stop else "RUNNING"

    def stop_at(self, now: float) -> float | None:
        redrive = self.plan.redrive
        if redrive is not None and redrive.first_stop <= now < redrive.at:
            return redrive.first_stop
        return self.plan.stop if now >= self.plan.stop else None

    def redrive_fields(self) -> dict:
        """DescribeExecution's redriveCount / redriveDate / redriveStatus / redriveStatusReason at the clock's time
        (AWS API reference, DescribeExecution; ListExecutions' items carry the count and date)."""
        now = self.clock.now()
        redrive = self.plan.redrive
        out: dict = {"redriveCount": 0}
        if redrive is not None and now >= redrive.at:
            out = {"redriveCount": redrive.count, "redriveDate": _naive(redrive.at)}
        status = self.status_at(now)
        if status in ("FAILED", "ABORTED", "TIMED_OUT") and not self.plan.not_redrivable:
            out["redriveStatus"] = "REDRIVABLE"
        else:
            out["redriveStatus"] = "NOT_REDRIVABLE"
            out["redriveStatusReason"] = self.plan.not_redrivable if status in ("FAILED", "ABORTED", "TIMED_OUT") \
                else f"Execution is {status} and cannot be redriven."
        return out

    @property
    def start_date(self) -> datetime:  # naive UTC: moto's list_executions crashes on aware values
        return _naive(self.plan.start)

    @property
    def status(self) -> str:
        if self._override_status:
            return self._override_status
        return self.status_at(self.clock.now()) or "RUNNING"

    @status.setter
    def status(self, value: str) -> None:  # moto's stop_execution
        self._override_status = value
        self._override_stop = datetime.now(timezone.utc).replace(tzinfo=None)

    @property
    def stop_date(self) -> datetime | None:
        if self._override_stop:
            return self._override_stop
        stop = self.stop_at(self.clock.now())
        return None if stop is None else _naive(stop)

    @stop_date.setter
    def stop_date(self, value) -> None:
        self._override_stop = value

    @property
    def output(self) -> str | None:
        return json.dumps(self.plan.output) if self._ended() and self.plan.output else None

    @property
    def error(self) -> str | None:
        return self.plan.error if self._ended() else self._first_failure("error")

    @property
    def cause(self) -> str | None:
        return self.plan.cause if self._ended() else self._first_failure("cause")

    def _first_failure(self, field: str) -> str | None:
        """Between a failure and its redrive: the failure's error and cause, as its ExecutionFailed event says."""
        if self.plan.redrive is None or self.status_at(self.clock.now()) != self.plan.redrive.first_status:
            return None
        failed = next((e for e in self.plan.events if e.type == "ExecutionFailed"), None)
        return failed.details.get(field) if failed else None

    def _full_history(self) -> list[tuple[float, dict]]:
        """Every planned event with its id (time order) and previousEventId: the previous event of its thread
        (a Map iteration or Parallel branch), else the previous event overall; thread "" chains to the
        previous event overall."""
        if self._history is None:
            last_of_thread: dict[str, int] = {}
            out = []
            for i, ev in enumerate(sorted(self.plan.events, key=lambda e: e.t)):
                ident = i + 1
                previous = last_of_thread.get(ev.thread, i) if ev.thread else i
                item = {"timestamp": datetime.fromtimestamp(ev.t, timezone.utc), "type": ev.type, "id": ident,
                        "previousEventId": previous}
                if ev.details_key:
                    item[ev.details_key] = ev.details
                last_of_thread[ev.thread] = ident
                out.append((ev.t, item))
            self._history = out
            self._times = [t for t, _ in out]
        return self._history

    def get_execution_history(self, roleArn: str) -> list[dict]:
        now = self.clock.now()
        events = self._full_history()
        return [dict(item) for _, item in events[: bisect.bisect_right(self._times, now)]]


ITEM_COUNT_KEYS = ("pending", "running", "succeeded", "failed", "timedOut", "aborted", "total", "resultsWritten")


class EmulatedMapRun:
    """A DISTRIBUTED Map's run, as DescribeMapRun shows it at the clock's time."""

    def __init__(self, plan: MapRunPlan, clock: SimClock, state_machine_arn: str, world: "World"):  # noqa: D107
        self.plan, self.clock, self.state_machine_arn, self.world = plan, clock, state_machine_arn, world
        self.arn = plan.arn
        self.execution_arn = plan.parent.arn

    def visible(self, now: float) -> bool:
        return self.plan.start <= now

    def status_at(self, now: float) -> str:
        redrive = self.plan.redrive
        if redrive is not None and redrive.first_stop <= now < redrive.at:
            return redrive.first_status
        return self.plan.status if now >= self.plan.stop else "RUNNING"

    def stop_at(self, now: float) -> float | None:
        redrive = self.plan.redrive
        if redrive is not None and redrive.first_stop <= now < redrive.at:
            return redrive.first_stop
        return self.plan.stop if now >= self.plan.stop else None

    def children(self) -> list[EmulatedExecution]:
        return [self.world.executions[c.arn] for c in self.plan.children]

    def _counts(self, now: float) -> dict[str, int]:
        counts = dict.fromkeys(ITEM_COUNT_KEYS, 0)
        key = {"RUNNING": "running", "SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timedOut",
               "ABORTED": "aborted"}
        for child in self.children():
            status = child.status_at(now)
            counts[key.get(status, "pending") if status else "pending"] += 1
        counts["total"] = len(self.plan.children)
        return counts

    def summary(self) -> dict:
        now = self.clock.now()
        out = {"executionArn": self.execution_arn, "mapRunArn": self.arn, "stateMachineArn": self.state_machine_arn,
               "startDate": _naive(self.plan.start)}
        stop = self.stop_at(now)
        if stop is not None:
            out["stopDate"] = _naive(stop)
        return out

    def describe(self) -> dict:
        now = self.clock.now()
        counts = self._counts(now)
        out = {"mapRunArn": self.arn, "executionArn": self.execution_arn, "status": self.status_at(now),
               "startDate": _naive(self.plan.start), "maxConcurrency": self.plan.max_concurrency,
               "toleratedFailurePercentage": float(self.plan.tolerated_failure_percentage),
               "toleratedFailureCount": 0, "itemCounts": counts, "executionCounts": dict(counts)}
        stop = self.stop_at(now)
        if stop is not None:
            out["stopDate"] = _naive(stop)
        redrive = self.plan.redrive
        if redrive is not None and now >= redrive.at:  # DescribeMapRun: redriveCount, redriveDate
            out.update(redriveCount=redrive.count, redriveDate=_naive(redrive.at))
        return out


class World:
    """The installed plan: indexes the patched moto methods use, and the S3 files written as time passes."""

    def __init__(self, plan: WorldPlan, clock: SimClock):
        self.plan, self.clock = plan, clock
        self.jobs: dict[str, EmulatedJob] = {}
        self.jobs_by_queue: dict[str, list[EmulatedJob]] = {}
        self.executions: dict[str, EmulatedExecution] = {}  # every execution by ARN, Map Run children included
        self.map_runs: dict[str, EmulatedMapRun] = {}
        self.map_runs_of: dict[str, list[EmulatedMapRun]] = {}  # execution ARN -> the Map Runs it started
        self._s3 = sorted((o for m in plan.migrations for o in m.s3_objects), key=lambda o: o.t)
        self._s3_present = [False] * len(self._s3)
        self._s3_synced_at: float | None = None
        self._lock = threading.Lock()
        self._s3_put = None
        self._s3_delete = None

    def add_map_run(self, run: MapRunPlan, state_machine_arn: str) -> EmulatedMapRun:
        emulated = EmulatedMapRun(run, self.clock, state_machine_arn, self)
        self.map_runs[run.arn] = emulated
        self.map_runs_of.setdefault(run.parent.arn, []).append(emulated)
        return emulated

    def sync(self) -> int:
        """Brings S3 to the clock: writes the files whose time has come, deletes those the report step has
        deleted (the clock may also have been set back: then the reverse). Returns how many changed."""
        now, changed = self.clock.now(), 0
        with self._lock:
            if now == self._s3_synced_at:
                return 0
            for i, obj in enumerate(self._s3):
                wanted = obj.t <= now and (obj.deleted is None or obj.deleted > now)
                if wanted == self._s3_present[i]:
                    continue
                if wanted:
                    self._s3_put(obj.bucket, obj.key, json.dumps(obj.body).encode())
                else:
                    self._s3_delete(obj.bucket, obj.key)
                self._s3_present[i] = wanted
                changed += 1
            self._s3_synced_at = now
        return changed

    def progress(self) -> list[dict]:
        """Per migration: how far the clock has gone through it (for `cxgm-emulator status`)."""
        now = self.clock.now()
        out = []
        for m in self.plan.migrations:
            jobs = [self.jobs[j.job_id] for j in m.jobs]
            visible = [j for j in jobs if j.visible(now)]
            done = sum(1 for j in visible if j._state(now)[0] in ("SUCCEEDED", "FAILED"))
            ex = self.executions.get(m.execution.arn)  # indexed by ARN (the name never matched: NOT_STARTED always)
            status = ex.status_at(now) if ex is not None else None
            out.append({
                "stage": m.stage.name, "attempt": m.attempt_key, "execution": m.execution.name,
                "map_mode": str(m.map_mode), "ingestion_input": str(m.ingestion_input),
                "status": status or "NOT_STARTED",
                "jobs_visible": len(visible), "jobs_finished": done, "jobs_planned": len(jobs),
                "start": m.start, "stop": m.stop,
            })
        return out
