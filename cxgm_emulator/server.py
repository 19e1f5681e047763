"""Starts the emulated AWS account: a moto server on 127.0.0.1 with a scenario's migrations installed.

Control endpoints beside the AWS APIs (never throttled): GET /_cxgm/status, POST /_cxgm/clock with
{"advance": seconds} | {"set": epoch} | {"speed": x}, POST /_cxgm/access with {"deny": [IAM actions],
"expired": bool, "clear": bool} (access.py: refusals shaped as AWS's). Each stage's Curation API (portal.py):
GET /_portal/{stage}/curation/v1/collections/{id}, exported as CXGM_PORTAL_URL.
"""

from __future__ import annotations

import json
import threading
from email.utils import formatdate
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from moto.batch.models import batch_backends
from moto.core.config import default_user_config
from moto.logs.models import logs_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.s3.models import s3_backends
from moto.stepfunctions.models import stepfunctions_backends
from werkzeug.serving import make_server

from cxgm_emulator import moto_patches, stages as stage_config
from cxgm_emulator.access import AccessFaults, AccessMiddleware
from cxgm_emulator.asl import definition_json, ingestion_definition, migration_definition
from cxgm_emulator.clock import SimClock
from cxgm_emulator.plan import WorldPlan, build_world
from cxgm_emulator.portal import Portal
from cxgm_emulator.scenarios import get_scenario
from cxgm_emulator.stages import StageNames
from cxgm_emulator.throttling import Injection, InjectionMiddleware
from cxgm_emulator.truth import write_truth
from cxgm_emulator.world import ACCOUNT, EmulatedExecution, EmulatedJob, EmulatedLogStream, World
from portal_shapes import IngestionInput, MapMode

LEAD_S = 120.0


class _QuietHandler(MotoRequestHandler):
    """No line per request: thousands of calls a minute would drown the emulator's own output. The `Date`
    header (AWS's clock, which clients time running work to) is the simulated clock's."""

    clock = None  # the serving emulator's SimClock (one emulator per process)

    def log_request(self, *args, **kwargs) -> None:
        pass

    def date_time_string(self, timestamp=None) -> str:
        clock = type(self).clock
        return formatdate(clock.now() if clock is not None and timestamp is None else timestamp, usegmt=True)


CLOCK_MODES = ("live", "end", "start")


@dataclass
class EmulatorOptions:
    scenario: str = "default"
    seed: int = 0
    speed: float | None = 60.0  # simulated seconds per wall second; None: paused
    port: int = 0  # 0: any free port
    host: str = "127.0.0.1"
    clock: str = "live"  # live: the live migration is about to start; end: every migration is over; start: paused before the live one
    lead_s: float = 90.0  # live clock: wall seconds before the live migration starts (time for Dagster to come up)
    injection: Injection = field(default_factory=Injection)
    truth_path: Path | None = None
    map_mode: str = "distributed"  # the migration machine's Maps: "inline" (a4416160) or "distributed" (00e5dcc)
    ingestion_input: str = "new"  # the ingestion execution's input: "new" (manifest, ...) or "old" (url, ...)


class Emulator:
    def __init__(self, options: EmulatorOptions | None = None, stages: dict[str, StageNames] | None = None):
        self.options = options or EmulatorOptions()
        if self.options.clock not in CLOCK_MODES:
            raise ValueError(f"clock must be one of {CLOCK_MODES}, not {self.options.clock!r}")
        self.map_mode = MapMode(self.options.map_mode)
        self.ingestion_input = IngestionInput(self.options.ingestion_input)
        self.stages = stages or stage_config.load_stages()
        self.plan: WorldPlan | None = None
        self.world: World | None = None
        self.clock: SimClock | None = None
        self.middleware: InjectionMiddleware | None = None
        self._server = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.access = AccessFaults()  # staged refusals: denied actions, expired credentials
        self.portal: Portal | None = None

    # --- planning -----------------------------------------------------------------------------------
    def _plan(self) -> WorldPlan:
        """Plans twice: once to learn the live migration's span, once anchored so times line up."""
        o, scenario = self.options, get_scenario(self.options.scenario)
        probe = build_world(scenario, o.seed, 0.0, self.stages, self.map_mode, self.ingestion_input)
        live = next((m for m in probe.migrations if m.spec.live), probe.migrations[-1])
        live_span = live.stop - live.start
        wall = time.time()
        if o.clock == "live" and o.speed:
            # the live migration starts lead_s wall seconds from now, and simulated time reaches the wall
            # clock just as it ends
            anchor = wall + o.lead_s + live_span / o.speed - live_span
            start = anchor - o.lead_s * o.speed
        else:
            # everything planned lies in the past; the clock waits at the start or the end
            anchor = wall - probe.end - 60
            start = anchor - LEAD_S if o.clock != "end" else None
        plan = build_world(scenario, o.seed, anchor, self.stages, self.map_mode, self.ingestion_input)
        speed = o.speed if o.clock == "live" else None
        self.clock = SimClock(start if start is not None else plan.end + 30, speed)
        return plan

    # --- serving ------------------------------------------------------------------------------------
    def _control(self, app):
        def wsgi(environ, start_response):
            path = environ.get("PATH_INFO", "")
            if path.startswith("/_portal/") and self.portal is not None:
                return self.portal.wsgi(environ, start_response)
            if not path.startswith("/_cxgm/"):
                return app(environ, start_response)
            if path == "/_cxgm/access" and environ["REQUEST_METHOD"] == "POST":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                payload = json.dumps(self.access.update(json.loads(environ["wsgi.input"].read(size) or b"{}"))).encode()
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
                return [payload]
            if path == "/_cxgm/clock" and environ["REQUEST_METHOD"] == "POST":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                body = json.loads(environ["wsgi.input"].read(size) or b"{}")
                if "set" in body:
                    self.clock.set(float(body["set"]))
                if "advance" in body:
                    self.clock.advance(float(body["advance"]))
                if "speed" in body:
                    self.clock.set_speed(body["speed"])
                self.world.sync()
            if self.world is None:
                start_response("503 Service Unavailable", [("Content-Type", "application/json")])
                return [b'{"ready": false}']
            payload = json.dumps(self.status()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
            return [payload]

        return wsgi

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        """The variables a process needs to use this emulator (boto3 reads AWS_ENDPOINT_URL itself)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": next(iter(self.stages.values())).region,
            "CXGM_CONFIG": str(stage_config.config_path()),
            "CXGM_TRUTH": str(self.truth_path.resolve()),
            "CXGM_PORTAL_URL": f"{self.endpoint_url}/_portal/{{stage}}",
        }

    @property
    def truth_path(self) -> Path:
        return self.options.truth_path or Path(".cxgm") / f"truth-{self.options.scenario}-{self.options.seed}.json"

    def status(self) -> dict:
        return {"now": self.clock.now(), "speed": self.clock.speed, "scenario": self.options.scenario,
                "seed": self.options.seed, "map_mode": str(self.map_mode),
                "ingestion_input": str(self.ingestion_input), "endpoint_url": self.endpoint_url, "truth": str(self.truth_path),
                "migrations": self.world.progress() if self.world else [],
                # AWS calls answered and throttled so far, by API (benchmarks read them)
                "calls": dict(self.middleware.counts), "throttled": dict(self.middleware.throttled),
                # the emulated portal's requests so far, all and those of its datasets index
                "portal_requests": self.portal.requests if self.portal else 0,
                "portal_index_requests": self.portal.index_requests if self.portal else 0}

    def start(self) -> "Emulator":
        if moto_patches.WORLD is not None:
            raise RuntimeError("an emulator already runs in this process (moto's backends are process-wide): "
                               "stop it first, or start another in its own process")
        moto_patches.apply()
        default_user_config["batch"] = {"use_docker": False}
        self.plan = self._plan()
        self.portal = Portal(self.plan, self.clock)
        app = InjectionMiddleware(AccessMiddleware(DomainDispatcherApplication(create_backend_app), self.access),
                                  self.options.injection)
        self.middleware = app
        _QuietHandler.clock = self.clock
        self._server = make_server(self.options.host, self.options.port, self._control(app), threaded=True,
                                   request_handler=_QuietHandler)
        self._spawn(self._server.serve_forever)
        self._install()
        write_truth(self.plan, self.truth_path, self.endpoint_url)
        self._spawn(self._tick)
        return self

    def set_clock(self, sim: float) -> None:
        """Moves the simulated clock and brings S3 to it at once (the ticker would, within half a second)."""
        self.clock.set(sim)
        self.world.sync()

    def _spawn(self, target) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self.world.sync()

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
        moto_patches.WORLD = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- installing the plan ------------------------------------------------------------------------
    def _client(self, service: str, region: str):
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint_url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def _install(self) -> None:
        world = World(self.plan, self.clock)
        region = next(iter(self.stages.values())).region
        iam = self._client("iam", region)
        role = iam.create_role(RoleName="dp-batch-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        sfn_role = iam.create_role(RoleName="dp-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        queues, jobdefs, machines = {}, {}, {}
        jobdef_names = {j.job_definition for j in self.plan.jobs()}
        for stage in self.stages.values():
            batch, logs = self._client("batch", stage.region), self._client("logs", stage.region)
            sfn, s3 = self._client("stepfunctions", stage.region), self._client("s3", stage.region)
            ce = batch.create_compute_environment(computeEnvironmentName=f"dp-{stage.name}-{stage.stack}",
                                                  type="UNMANAGED", state="ENABLED", serviceRole=role)
            q = batch.create_job_queue(jobQueueName=stage.queue, state="ENABLED", priority=1,
                                       computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}])
            queues[stage.queue] = q["jobQueueArn"]
            names = {f"dp-{stage.name}-{stage.stack}-{kind}" for kind in ("upload", "schema-migration")}
            names |= {n for n in jobdef_names if n.startswith(f"dp-{stage.name}-{stage.stack}-")}
            for name in sorted(names):
                jd = batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties={
                    "image": f"{ACCOUNT}.dkr.ecr.{stage.region}.amazonaws.com/corpora-upload-{stage.name}:latest",
                    "vcpus": 8, "memory": 64000})
                jobdefs[name] = jd["jobDefinitionArn"]
            for group in (stage.migration_log_group, stage.ingestion_log_group):
                logs.create_log_group(logGroupName=group)
                logs.put_retention_policy(logGroupName=group, retentionInDays=30)
            definitions = {
                stage.migration_sfn: migration_definition(stage, self.map_mode, self.ingestion_input),
                stage.ingestion_sfn: ingestion_definition(stage),
            }
            for sm, definition in definitions.items():
                machines[sm] = sfn.create_state_machine(name=sm, definition=definition_json(definition),
                                                        roleArn=sfn_role)["stateMachineArn"]
            s3.create_bucket(Bucket=stage.artifact_bucket, CreateBucketConfiguration={"LocationConstraint": stage.region})
        batch_backend = batch_backends[ACCOUNT][region]
        logs_backend = logs_backends[ACCOUNT][region]
        sfn_backend = stepfunctions_backends[ACCOUNT][region]
        s3_backend = s3_backends[ACCOUNT]["aws"]
        world._s3_put = lambda bucket, key, body: s3_backend.put_object(bucket, key, body)
        world._s3_delete = lambda bucket, key: s3_backend.delete_object(bucket, key)
        for m in self.plan.migrations:
            queue = batch_backend.get_job_queue(m.stage.queue)
            for plan in m.jobs:
                job = EmulatedJob(plan, self.clock, queues[m.stage.queue], jobdefs[plan.job_definition], region)
                batch_backend._jobs[plan.job_id] = job
                queue.jobs.append(job)
                world.jobs[plan.job_id] = job
                if plan.logs_expired:
                    continue
                group = logs_backend.groups[plan.log_group]
                for attempt in plan.attempts:
                    if attempt.log_stream and attempt.start is not None:
                        group.streams[attempt.log_stream] = EmulatedLogStream(group, attempt.log_stream, plan, attempt, self.clock)
            for ex_plan in m.executions():
                sm_arn = machines[ex_plan.state_machine]
                ex = EmulatedExecution(ex_plan, self.clock, sm_arn, region)
                if ex_plan.machine != "child":  # a Map Run's children are listed by mapRunArn only, as on AWS
                    sfn_backend.describe_state_machine(sm_arn).executions.append(ex)
                world.executions[ex.execution_arn] = ex
            for run in m.map_runs():
                world.add_map_run(run, machines[run.parent.state_machine])
        self.world = world
        moto_patches.WORLD = world
        world.sync()
