"""`make prod-check`: the production deployment, run for real on one machine, and what it proves.

    emulated AWS (its own process)          the small scenario; its clock moved by this script
    + a throw-away PostgreSQL server        (Dagster's runs, event logs, schedules: deploy/dagster.prod.yaml)
    + frames on the emulator's S3            (CXGM_DEPLOYMENT=prod, CXGM_DATA=s3://cxgm-frames/cxgm)
    + an SMTP server that keeps every alert  (CXGM_NOTIFY=smtp)
    + `dagster-daemon run`                   (sensors, the queued run coordinator, the default run launcher)

Phase 1, the live prod attempt 20% through: the daemon discovers every attempt, runs each partition, refreshes
prod, announces prod's first alerts. Then the daemon is killed (SIGKILL to its process group: a crash, not a
polite stop) and, while none runs, the attempt moves on to 40% (new failures). Phase 2, a new daemon: the next
ticks continue from the sensors' cursors (stored in Postgres): a refresh with the new failures and their
alerts, nothing requested twice, nothing announced twice or lost. Then the checks, each printed.

The attempt is still running at the end on purpose: the sensors compare Dagster's run start times (the wall
clock) with an attempt's end (AWS's clock), as they must in production, and a clock moved by hand past an end
would break that; the final refresh and `finished` alert are tested in tests/sensors/.

Also the body of tests/deploy/test_prod_check.py, so `make test` (and CI) runs it. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from cxgm_emulator.process import control, read_env_file

REPO = Path(__file__).resolve().parents[1]
BUCKET, PREFIX = "cxgm-frames", "cxgm"
SCENARIO, SEED = "small", 11
PHASES = (0.2, 0.4)  # where the live attempt stands in phase 1 and 2 (seed 11: two new error kinds between)
RUNS_AT_ONCE = 3  # deploy/dagster.prod.yaml allows 8: this machine has 2 cores
REFRESH_S = 90  # CXGM_REFRESH_SECONDS: long enough for an idle moment between refreshes, to kill the daemon in
DB = "dagster"
WAIT_S = 900  # at most, each phase; the whole check takes 6-10 minutes on 2 cores


class CheckFailed(AssertionError):
    pass


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries (or no unprivileged user to run them as root)."""


def say(line: str) -> None:
    print(line, flush=True)


def check(ok: bool, what: str, detail: str = "") -> None:
    if not ok:
        raise CheckFailed(f"FAILED: {what}" + (f"\n{detail}" if detail else ""))
    say(f"  ok  {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, condition, timeout: float = WAIT_S, every: float = 1.0, on_timeout=lambda: ""):
    """Polls `condition()` until it returns something truthy; CheckFailed after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"FAILED: {what}: not within {timeout:.0f} s\n{on_timeout()}")
        time.sleep(every)


# --- PostgreSQL -----------------------------------------------------------------------------------------


def postgres_bin() -> Path:
    """The server's binaries: on PATH, else Debian's /usr/lib/postgresql/<version>/bin (the newest)."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return Path(versions[-1]).parent
    raise PostgresUnavailable("no PostgreSQL server (pg_ctl, initdb): `make postgres` installs Debian's package "
                              "as root (apt-get install postgresql)")


@dataclass
class ThrowawayPostgres:
    """initdb + pg_ctl in a temporary folder, on a free localhost port, trust auth; removed on exit. PostgreSQL
    refuses to run as root: as root it runs as the `postgres` user Debian's package creates."""

    port: int = 0
    folder: Path | None = None
    runas: list[str] = field(default_factory=list)

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self.runas, *args], capture_output=True, text=True, timeout=120)
        if result.returncode:
            log = (self.folder / "server.log") if self.folder else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise PostgresUnavailable(f"{' '.join(args[:2])} failed: {result.stderr.strip()}\n{tail}")

    def __enter__(self) -> ThrowawayPostgres:
        bindir = postgres_bin()
        self.folder = Path(tempfile.mkdtemp(prefix="cxgm-pg-"))  # in /tmp: reachable by the postgres user
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.folder)
                raise PostgresUnavailable("running as root and there is no `postgres` user to run the server as "
                                          "(Debian's postgresql package creates it)") from None
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.runas = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        data = self.folder / "data"
        self._run(str(bindir / "initdb"), "-D", str(data), "-U", "dagster", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self._run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="dagster", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DB}")
        connection.close()
        return self

    def env(self) -> dict[str, str]:
        """The variables deploy/dagster.prod.yaml reads."""
        return {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": "dagster",
                "DAGSTER_PG_PASSWORD": "unused-with-trust-auth", "DAGSTER_PG_DB": DB}

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            self._run(str(postgres_bin() / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


# --- the other processes --------------------------------------------------------------------------------


class Process:
    """A subprocess in its own process group, its output in a file; stop() ends the whole group."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path, cwd: Path = REPO):
        self.name, self.log = name, log
        with log.open("a") as out:
            self.proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def tail(self, chars: int = 4000) -> str:
        return f"--- {self.name} ({self.log}) ---\n" + (self.log.read_text()[-chars:] if self.log.exists() else "")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


class Inbox:
    """An SMTP server (aiosmtpd) that keeps every message: where the alerts go."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[float, str, str]] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        message = message_from_bytes(envelope.content, policy=default)
        self.messages.append((time.time(), str(message["Subject"]), message.get_content().replace("\r\n", "\n")))
        return "250 OK"

    def __enter__(self) -> Inbox:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


# --- the check ------------------------------------------------------------------------------------------


def instance_yaml(home: Path) -> dict:
    """deploy/dagster.prod.yaml as shipped, with one small machine's queue: RUNS_AT_ONCE, dequeued every second."""
    import yaml

    config = yaml.safe_load((REPO / "deploy" / "dagster.prod.yaml").read_text())
    config["run_queue"].update({"max_concurrent_runs": RUNS_AT_ONCE, "dequeue_interval_seconds": 1})
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return config


@contextlib.contextmanager
def environment(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(workdir: Path) -> dict:
    """The whole check; returns what it found (for the test), raises CheckFailed or PostgresUnavailable."""
    workdir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    say("cxgm prod-check: emulated AWS + PostgreSQL + frames on S3 + SMTP alerts + dagster-daemon, restarted")
    with ThrowawayPostgres() as pg, Inbox() as inbox, contextlib.ExitStack() as stack:
        say(f"postgres   {postgres_bin()} on 127.0.0.1:{pg.port} (db {DB}, in {pg.folder})")
        env_file = workdir / "emulator.env"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CXGM_", "DAGSTER_"))}
        emulator = Process("emulator", [sys.executable, "-m", "cxgm_emulator", "start", "--scenario", SCENARIO,
                                        "--seed", str(SEED), "--at-start", "--port", "0", "--truth",
                                        str(workdir / "truth.json"), "--env-file", str(env_file)],
                           {**base, "COLUMNS": "200"}, workdir / "emulator.log")
        stack.callback(emulator.stop)
        wait_for("the emulator is ready", lambda: env_file.exists() and read_env_file(env_file), timeout=180,
                 every=0.3, on_timeout=emulator.tail)
        aws = read_env_file(env_file)
        endpoint = aws["AWS_ENDPOINT_URL"]
        wait_for("the emulator answers", lambda: _answers(endpoint), timeout=60, every=0.3, on_timeout=emulator.tail)
        truth = json.loads((workdir / "truth.json").read_text())
        live = next(m for m in truth["migrations"] if m["live"])
        partitions = {f"{m['attempt_key']}|{m['stage']}" for m in truth["migrations"]}
        say(f"emulator   {endpoint}: {len(partitions)} attempts, live {live['stage']}/{live['attempt_key']} "
            f"({len(live['datasets'])} datasets), clock paused before it")

        home = workdir / "dagster_home"
        instance_yaml(home)
        env = {**base, **aws, **pg.env(), "DAGSTER_HOME": str(home), "CXGM_DEPLOYMENT": "prod",
               "CXGM_DATA": f"s3://{BUCKET}/{PREFIX}", "CXGM_NOTIFY": "smtp", "CXGM_SMTP_HOST": "127.0.0.1",
               "CXGM_SMTP_PORT": str(inbox.controller.port), "CXGM_MAIL_TO": "oncall@example.org",
               "CXGM_MAIL_FROM": "cxgm@example.org", "CXGM_SENSOR_SECONDS": "5", "CXGM_REFRESH_SECONDS": str(REFRESH_S),
               "CXGM_AWS_RATES": "off", "PYTHONUNBUFFERED": "1",
               # a digest per tick: the check counts the alerts before and after the crash, minutes apart
               "CXGM_DIGEST_SECONDS": "0"}
        with environment({**aws, **pg.env(), "DAGSTER_HOME": str(home), "CXGM_DATA": env["CXGM_DATA"]}):
            import boto3
            from dagster import DagsterInstance

            boto3.client("s3", region_name="us-west-2").create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
            say(f"frames     {env['CXGM_DATA']} (bucket made in the emulator's S3)")
            say(f"alerts     SMTP 127.0.0.1:{inbox.controller.port}")
            instance = stack.enter_context(DagsterInstance.from_config(str(home)))
            found = _phases(instance, env, workdir, endpoint, live, partitions, inbox, stack)
            _checks(instance, found, live, partitions, inbox)
    say(f"prod-check passed in {time.monotonic() - began:.0f} s")
    return found


def _answers(endpoint: str) -> bool:
    try:
        return bool(control(endpoint, "status", timeout=10))
    except OSError:
        return False


def _daemon(env: dict, workdir: Path, n: int) -> Process:
    return Process(f"dagster-daemon #{n}", [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w",
                                            str(REPO / "workspace.yaml")], env, workdir / f"daemon-{n}.log")


def _runs(instance):
    return instance.get_run_records()


def _idle(instance) -> bool:
    from dagster import DagsterRunStatus, RunsFilter

    busy = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
            DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    return not instance.get_run_records(filters=RunsFilter(statuses=busy), limit=1)


def _with_tag(instance, **tags):
    from dagster import RunsFilter

    return instance.get_run_records(filters=RunsFilter(tags=tags))


def _sensor_ticks(instance, name: str):
    from dagster._core.scheduler.instigation import InstigatorType

    states = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR) if s.name == name]
    if not states:
        return None, []
    state = states[0]
    return state, instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1000)


def _move_clock(endpoint: str, live: dict, share: float) -> None:
    control(endpoint, "clock", {"set": live["start"] + share * (live["stop"] - live["start"])}, timeout=10)


def _phases(instance, env, workdir, endpoint, live, partitions, inbox, stack) -> dict:
    prod, where = f"{live['attempt_key']}|{live['stage']}", f"{live['stage']}/{live['attempt_key']}"
    status = lambda: "\n".join(f"{r.dagster_run.job_name} {r.dagster_run.tags.get('dagster/partition', '')} "  # noqa: E731
                               f"{r.dagster_run.status.value}" for r in _runs(instance))

    def successful(reason: str, since: float = 0.0):
        return [r for r in _with_tag(instance, **{"cxgm/reason": reason})
                if r.dagster_run.is_success and r.create_timestamp.timestamp() > since]

    def phase(n: int, what: str, done) -> Process:
        """Starts daemon #n and waits until `done()` holds with no run queued or running."""
        daemon = _daemon(env, workdir, n)
        stack.callback(daemon.stop, signal.SIGKILL)

        def settled():
            if not daemon.alive():
                raise CheckFailed(f"FAILED: dagster-daemon #{n} exited\n" + daemon.tail())
            return done() and _idle(instance)

        wait_for(what, settled, on_timeout=lambda: status() + "\n" + daemon.tail())
        return daemon

    _move_clock(endpoint, live, PHASES[0])
    say(f"\nphase 1: {where} {PHASES[0]:.0%} through; dagster-daemon #1 starts")
    daemon = phase(1, "every attempt discovered and run, prod refreshed, its first alerts mailed", lambda: (
        {r.dagster_run.tags.get("dagster/partition") for r in successful("discovered")} == partitions
        and successful("refresh") and inbox.messages))
    say(f"  {len(_runs(instance))} runs, {len(inbox.messages)} alert(s) mailed")
    discovery_before, _ = _sensor_ticks(instance, "attempt_discovery_sensor")
    alerts_before = len(inbox.messages)
    daemon.stop(signal.SIGKILL)
    killed_at = time.time()
    say("dagster-daemon #1 killed (SIGKILL to its process group)")

    def ticks_since_restart() -> int:
        _, ticks = _sensor_ticks(instance, "attempt_discovery_sensor")
        return sum(1 for t in ticks if t.timestamp > killed_at and t.status.value in ("SUCCESS", "SKIPPED"))

    _move_clock(endpoint, live, PHASES[1])
    say(f"\nphase 2: while no daemon runs, {where} moves on to {PHASES[1]:.0%}; dagster-daemon #2 starts")
    daemon = phase(2, "a refresh after the restart, its new alerts mailed, two discovery ticks", lambda: (
        successful("refresh", killed_at) and len(inbox.messages) > alerts_before and ticks_since_restart() >= 2))
    daemon.stop(signal.SIGTERM)
    say(f"dagster-daemon #2 stopped; {len(_runs(instance))} runs, {len(inbox.messages)} alert(s) mailed")
    return {"prod": prod, "where": where, "killed_at": killed_at, "alerts_before": alerts_before,
            "discovery_cursor_before": json.loads(discovery_before.instigator_data.cursor or "{}")}


def _checks(instance, found, live, partitions, inbox) -> None:
    from cxgm_pipeline.monitor.store.frames import FrameStore

    say("\nchecks")
    storages = {type(instance.run_storage).__name__, type(instance.event_log_storage).__name__,
                type(instance.schedule_storage).__name__}
    check(storages == {"PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"},
          f"Dagster's runs, event logs and schedules are in PostgreSQL ({', '.join(sorted(storages))})")
    records = _runs(instance)
    runs = [r.dagster_run for r in records]
    failed = [f"{r.job_name} {r.tags.get('dagster/partition')} {r.status.value}" for r in runs if not r.is_success]
    check(not failed, f"all {len(runs)} runs succeeded", "\n".join(failed))

    killed_at, prod, where = found["killed_at"], found["prod"], found["where"]
    reasons = defaultdict(Counter)
    for r in records:
        run = r.dagster_run
        if "cxgm/reason" in run.tags and "dagster/partition" in run.tags:  # the views' runs have no partition
            phase = "after" if r.create_timestamp.timestamp() > killed_at else "before"
            reasons[run.tags["dagster/partition"]][f"{run.tags['cxgm/reason']} {phase}"] += 1
    empty = {p for p, c in reasons.items() if "not run in this stage before" in c}
    check({p for p, c in reasons.items() if c["discovered before"]} == partitions and all(
        reasons[p]["discovered before"] == 1 and not reasons[p]["discovered after"] for p in partitions),
          f"each of the {len(partitions)} attempts discovered exactly once, none again after the restart",
          json.dumps({k: dict(v) for k, v in reasons.items()}))
    check(all(reasons[p]["not run in this stage before"] == 1 and len(reasons[p]) == 1 for p in empty),
          f"the {len(empty)} cells of a stage that never ran the attempt: materialized once as empty frames")
    check(reasons[prod]["refresh before"] >= 1 and reasons[prod]["refresh after"] >= 1,
          f"{where} refreshed while it runs: {reasons[prod]['refresh before']} time(s) before the crash, "
          f"{reasons[prod]['refresh after']} after")
    keys = [r.tags.get("dagster/run_key") for r in runs if r.tags.get("dagster/run_key")]
    check(len(keys) == len(set(keys)), f"{len(keys)} sensor runs, no run key twice")
    # a campaign's other attempts re-build their views from stored frames (sensors/campaign_views.py): no AWS fetch
    views = {p: sum(n for k, n in c.items() if k.startswith("campaign view")) for p, c in reasons.items()}
    check(all({k for k in reasons[p] if not k.startswith("campaign view")} == {"discovered before"}
              for p in partitions - {prod}),
          "the attempts that had ended were run once and left alone (but for campaign views)")
    say(f"  --  campaign views re-built from stored frames: {sum(views.values())} run(s) of "
        f"{sum(1 for n in views.values() if n)} partition(s)")

    _, ticks = _sensor_ticks(instance, "attempt_discovery_sensor")
    before = set(found["discovery_cursor_before"].get("requested", []))
    later = sorted((t for t in ticks if t.timestamp > killed_at), key=lambda t: t.timestamp)
    first = json.loads(later[0].cursor or "{}") if later else {}
    check(bool(before) and set(first.get("requested", [])) == before and not any(
        k.startswith("discover:") for t in later for k in t.run_keys),
        f"the discovery sensor's first tick after the restart went on from its stored cursor "
        f"({len(before)} attempts already requested) and requested none of them again")

    by_partition = defaultdict(list)
    for r in records:
        if r.dagster_run.tags.get("dagster/partition") and r.start_time:
            by_partition[r.dagster_run.tags["dagster/partition"]].append((r.start_time, r.end_time or time.time()))
    overlaps = [(p, a, b) for p, spans in by_partition.items()
                for a, b in zip(sorted(spans), sorted(spans)[1:]) if b[0] < a[1]]
    check(not overlaps, "never two runs of one partition at once (start and end times from Postgres)", repr(overlaps))
    spans = sorted((s, e, p) for p, ss in by_partition.items() for s, e in ss)
    side = sum(1 for (s1, e1, p1), (s2, e2, p2) in zip(spans, spans[1:]) if s2 < e1 and p1 != p2)
    say(f"  --  runs of different partitions side by side: {side} time(s) (the queue allows {RUNS_AT_ONCE} at once)")

    announce = [r for r in runs if r.job_name == "announce_alerts"]
    mails = inbox.messages
    check(len(mails) == len(announce) and len({(s, b) for _, s, b in mails}) == len(mails),
          f"{len(mails)} alert e-mails, one per announce_alerts run, no two alike")
    state, _ = _sensor_ticks(instance, "migration_alerts_sensor")
    # the alerts sensor's cursor, in Postgres: what it has announced, by attempt (`prod:ATTEMPT_2`)
    announced = json.loads(state.instigator_data.cursor or "{}").get(f"{live['stage']}:{live['attempt_key']}", [])
    text = [f"{s}\n{b}" for _, s, b in mails]
    signatures = [k.removeprefix("signature:") for k in announced if k.startswith("signature:")]
    lost = [s for s in signatures if sum(s in t for t in text) != 1]
    check(signatures and not lost,
          f"each of the {len(signatures)} error signatures the alerts sensor recorded as announced for {where} "
          f"is in exactly one e-mail: none lost, none repeated", "\n".join(lost))
    rate = [t for t in text if "failure rate" in t]
    check(("failure_rate" in announced) == (len(rate) == 1) and len(rate) <= 1,
          f"the failure-rate alert: {'in exactly one e-mail' if rate else 'not due, not sent'}")
    after = [m for m in mails if m[0] > killed_at]
    check(found["alerts_before"] >= 1 and after and not any(s in t for t in text[:found["alerts_before"]]
                                                            for s in _signatures_in(after, signatures)),
          f"{found['alerts_before']} alert(s) before the crash, {len(after)} after it, about new failures only")
    stale = [m[1] for m in mails if where not in m[1]]
    check(not stale, "no alert for the attempts that had ended days before (history, not news)", "\n".join(stale))

    store = FrameStore()
    cells = partitions | empty
    stored = {f"{a}|{stage}" for stage in {p.split("|")[1] for p in cells} for a in store.attempts("dataset_rollup", stage)}
    check(stored == cells, f"every cell's dataset_rollup is on S3 under {store.base_path} ({len(cells)} cells)",
          f"stored {sorted(stored)}, expected {sorted(cells)}")
    rollup = store.read("dataset_rollup", live["stage"], live["attempt_key"])
    modified = store.modified("dataset_rollup", live["stage"], live["attempt_key"])
    check(modified > killed_at and {"failed", "running"} <= set(rollup["state"]),
          f"{where}'s rollup on S3 is the refresh after the restart: {len(rollup)} datasets, "
          f"{int((rollup['state'] == 'failed').sum())} failed, {int((rollup['state'] == 'running').sum())} running")


def _signatures_in(mails, signatures: list[str]) -> list[str]:
    return [s for s in signatures if any(s in f"{subject}\n{body}" for _, subject, body in mails)]


if __name__ == "__main__":
    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="cxgm-prod-check-"))
    try:
        run(work)
    except (CheckFailed, PostgresUnavailable) as exc:
        say(str(exc))
        say(f"(logs in {work})")
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
