"""`cxgm doctor`: can cxgm see this stage's account? One line per thing it reads, OK / WARN / FAIL with the fix.

Answers in seconds: a handful of the cheapest calls, each tried once (botocore retries throttles and network
errors only; an AccessDenied is never retried). A probe of a resource that does not exist (an execution, a log
stream, an S3 key) still tells whether the action is allowed: IAM answers before the service looks the resource
up, so "not found" means allowed and AccessDenied means the action is missing from the role's policy.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import botocore.exceptions
import pandas as pd

from cxgm_pipeline.config import ConfigError, StageConfig, config_at
from cxgm_pipeline.monitor.frames.columns_rows import row_dicts
from cxgm_pipeline.monitor.aws.clients import (
    Artifacts,
    AwsAccessError,
    AwsSettings,
    Batch,
    Logs,
    StageAwsApi,
    StepFunctions,
)

OK, WARN, FAIL = "OK", "WARN", "FAIL"
PROBE = "cxgm-doctor-probe"  # the name of resources that do not exist, probed to test an action
# SigV4 refuses a request signed more than 5 minutes off AWS's clock (RequestTimeTooSkewed / Signature expired)
SKEW_FAIL_S = 300.0
SKEW_WARN_S = 60.0
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
                    "403", "Forbidden"})
# credentials AWS refuses: expired session tokens, keys it does not know, a signature it cannot check
EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "UnrecognizedClientException",
                     "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
                     "InvalidAccessKeyId", "TokenRefreshRequired"})
SKEWED = frozenset({"RequestTimeTooSkewed"})
CREDENTIAL_ERRORS = (botocore.exceptions.NoCredentialsError, botocore.exceptions.SSOTokenLoadError,
                     botocore.exceptions.UnauthorizedSSOTokenError, botocore.exceptions.TokenRetrievalError,
                     botocore.exceptions.ProfileNotFound, botocore.exceptions.CredentialRetrievalError)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's answer."""

    what: str  # the thing read, e.g. "queue schema_migration-prod"
    status: str  # OK, WARN or FAIL
    detail: str  # what was found
    fix: str = ""  # what to do about it (FAIL and WARN)


@dataclass
class Diagnosis:
    stage: str
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed

    def add(self, what: str, status: str, detail: str, fix: str = "") -> Check:
        check = Check(what, status, detail, fix)
        self.checks.append(check)
        return check


class Sts(AwsSettings, StageAwsApi):
    """STS, for who the credentials are (GetCallerIdentity needs no IAM permission)."""

    SERVICE: ClassVar[str] = "sts"


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message") or _code(exc))


def login_fix(stage: StageConfig) -> str:
    if stage.profile:
        return f"run `aws sso login --profile {stage.profile}` (or refresh that profile's credentials)"
    return "set fresh AWS credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN)"


def skew_status(skew_s: float) -> tuple[str, str]:
    """(status, fix) for a clock `skew_s` seconds ahead of (or, negative, behind) AWS's."""
    if abs(skew_s) >= SKEW_FAIL_S:
        return FAIL, ("set this machine's clock (e.g. `sudo chronyc makestep` or enable NTP): AWS refuses requests "
                      "signed more than 5 minutes off its clock")
    if abs(skew_s) >= SKEW_WARN_S:
        return WARN, "sync this machine's clock (NTP): at 5 minutes off AWS refuses every request"
    return OK, ""


class _Probe:
    """Runs one call, classifying its answer: ('ok', value) | ('denied', message) | ('missing', message) |
    ('expired', message) | ('error', message)."""

    def __init__(self, stage: StageConfig):
        self.stage = stage

    def __call__(self, fn: Callable[[], Any], missing: tuple[str, ...] = ()) -> tuple[str, Any]:
        try:
            return "ok", fn()
        except CREDENTIAL_ERRORS as exc:
            return "expired", str(exc)
        except botocore.exceptions.EndpointConnectionError as exc:
            return "unreachable", str(exc)
        except AwsAccessError as exc:
            return "error", str(exc)
        except botocore.exceptions.ClientError as exc:
            code = _code(exc)
            if code in DENIED:
                return "denied", _message(exc)
            if code in EXPIRED:
                return "expired", f"{code}: {_message(exc)}"
            if code in SKEWED:
                return "skewed", f"{code}: {_message(exc)}"
            if code in missing:
                return "missing", _message(exc)
            return "error", f"{code}: {_message(exc)}"
        except botocore.exceptions.BotoCoreError as exc:
            return "error", str(exc)


def _similar(name: str, names: list[str], n: int = 5) -> str:
    import difflib

    close = difflib.get_close_matches(name, names, n=n, cutoff=0.4)
    return f"; found instead: {', '.join(close)}" if close else (f"; there are {len(names)} others" if names else "")


class Doctor:
    """Everything `cxgm doctor` tries for one stage. `settings`: the AWS settings every client uses (the CLI's
    defaults; the Dagster check passes the resources' config path)."""

    def __init__(self, stage: str, config_path: str | None = None, max_attempts: int = 3):
        self.stage_name = stage
        self.config_path = config_path
        # an unreachable network answers in seconds, not botocore's 60 s per attempt
        kwargs = {"config_path": config_path, "max_attempts": max_attempts, "connect_timeout": CONNECT_TIMEOUT_S,
                  "read_timeout": READ_TIMEOUT_S}
        self.sts, self.sfn, self.batch = Sts(**kwargs), StepFunctions(**kwargs), Batch(**kwargs)
        self.logs, self.s3 = Logs(**kwargs), Artifacts(**kwargs)

    def run(self) -> Diagnosis:
        d = Diagnosis(self.stage_name)
        try:
            stage = config_at(self.config_path).stage(self.stage_name)
        except ConfigError as exc:
            d.add("configuration", FAIL, str(exc), "fix the stage configuration (stages.toml / CXGM_CONFIG)")
            return d
        d.add("configuration", OK, f"stage {stage.name}: stack {stage.stack}, {config_at(self.config_path).source}")
        probe = _Probe(stage)
        account = self._credentials(d, stage, probe)
        if account is None:
            return d  # every other call would fail the same way
        self._region(d, stage)
        arns = self._state_machines(d, stage, probe, account)
        self._queue(d, stage, probe)
        self._log_groups(d, stage, probe)
        self._bucket(d, stage, probe)
        self._actions(d, stage, probe, arns)
        return d

    # --- credentials, region, clock ---------------------------------------------------------------------------
    def _credentials(self, d: Diagnosis, stage: StageConfig, probe: _Probe) -> str | None:
        profile = f"profile {stage.profile}" if stage.profile else "the default credential chain"
        what = f"credentials ({profile})"
        try:
            client = self.sts.client(stage.name)
        except AwsAccessError as exc:
            d.add(what, FAIL, str(exc), login_fix(stage))
            return None
        sent = time.time()
        status, answer = probe(lambda: client.get_caller_identity())
        received = time.time()
        if status == "ok":
            d.add(what, OK, f"account {answer['Account']} as {answer['Arn']}")
            self._clock(d, answer, (sent + received) / 2, client.meta.endpoint_url)
            return answer["Account"]
        if status == "expired":
            d.add(what, FAIL, f"refused: {answer}", login_fix(stage))
        elif status == "skewed":
            d.add(what, FAIL, f"refused: {answer}", skew_status(SKEW_FAIL_S)[1])
        elif status == "unreachable":
            d.add(what, FAIL, f"AWS not reachable: {answer}",
                  "check the network or proxy; for the emulator, start it and export the AWS_ENDPOINT_URL it prints")
        else:
            d.add(what, FAIL, str(answer), login_fix(stage))
        return None

    def _clock(self, d: Diagnosis, answer: dict, local: float, endpoint: str) -> None:
        date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
        if not date:
            d.add("clock", WARN, "AWS's answer had no Date header: skew not measured")
            return
        aws = parsedate_to_datetime(date).astimezone(timezone.utc).timestamp()
        skew = local - aws  # Date is to the second: a skew under a second is noise
        at = datetime.fromtimestamp(aws, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        if _is_aws(endpoint):
            status, fix = skew_status(skew)
            d.add("clock", status, f"this machine is {skew:+.0f} s from AWS's clock ({at})", fix)
        else:
            d.add("clock", OK, f"{endpoint} is not AWS: its clock ({at}, {skew:+.0f} s from this machine's) is "
                               f"its own and not checked")

    def _region(self, d: Diagnosis, stage: StageConfig) -> None:
        client = self.sfn.client(stage.name)
        region = client.meta.region_name
        import boto3

        regions = boto3.session.Session().get_available_regions("stepfunctions")
        if region in regions:
            d.add("region", OK, region)
        else:
            d.add("region", FAIL, f"{region!r} is not an AWS region", "fix `region` of the stage (e.g. us-west-2)")

    # --- names ------------------------------------------------------------------------------------------------
    def _state_machines(self, d: Diagnosis, stage: StageConfig, probe: _Probe, account: str) -> dict[str, str]:
        client = self.sfn.client(stage.name)
        region = client.meta.region_name
        listed: list[str] | None = None
        arns = {}
        for key, name in (("migration_sfn", stage.migration_sfn), ("ingestion_sfn", stage.ingestion_sfn)):
            what = f"state machine {name}"
            arn = f"arn:aws:states:{region}:{account}:stateMachine:{name}"
            status, answer = probe(lambda arn=arn: client.describe_state_machine(stateMachineArn=arn),
                                   missing=("StateMachineDoesNotExist",))
            if status == "ok":
                d.add(what, OK, f"{answer.get('status', 'ACTIVE')}, created {answer['creationDate']:%Y-%m-%d}")
                arns[key] = arn
                continue
            if status == "denied":
                # ListExecutions is in cxgm's own policy: on the ARN made from the name it says whether it exists
                s2, _ = probe(lambda arn=arn: client.list_executions(stateMachineArn=arn, maxResults=1),
                              missing=("StateMachineDoesNotExist",))
                if s2 == "ok":
                    d.add(what, OK, "found by ListExecutions (states:DescribeStateMachine not granted)")
                    arns[key] = arn
                elif s2 == "missing":
                    status = "missing"
                else:
                    d.add(what, WARN, "not confirmed: neither states:DescribeStateMachine nor states:ListExecutions "
                                      "is allowed", "grant states:ListExecutions (cxgm needs it to list attempts)")
                if status == "denied":
                    continue
            if status == "missing":
                if listed is None:  # names to suggest, where the role may list them
                    s, listed_answer = probe(lambda: [m["name"] for p in client.get_paginator("list_state_machines")
                                                      .paginate() for m in p["stateMachines"]])
                    listed = listed_answer if s == "ok" else []
                d.add(what, FAIL, f"no state machine {name} in account {account}, {region}{_similar(name, listed)}",
                      f"fix `{key}` of stage {stage.name} (or `stack`, which it is made from) in the file named "
                      f"by CXGM_CONFIG, or use the profile of the account that runs the migration")
            else:
                d.add(what, FAIL, str(answer), login_fix(stage) if status == "expired" else "")
        return arns

    def _queue(self, d: Diagnosis, stage: StageConfig, probe: _Probe) -> None:
        client = self.batch.client(stage.name)
        what = f"queue {stage.queue}"
        status, answer = probe(lambda: client.describe_job_queues(jobQueues=[stage.queue]))
        if status == "ok" and answer.get("jobQueues"):
            q = answer["jobQueues"][0]
            d.add(what, OK, f"{q.get('state')}, {q.get('status')}")
        elif status == "ok":
            _, others = probe(lambda: [q["jobQueueName"] for q in client.describe_job_queues()["jobQueues"]])
            d.add(what, FAIL, f"no such job queue{_similar(stage.queue, others if isinstance(others, list) else [])}: "
                              f"ListJobs on it would answer nothing, as if no job had run",
                  f"fix `queue` of stage {stage.name} in the file named by CXGM_CONFIG "
                  f"(production's: schema_migration-{{stage}})")
        elif status == "denied":
            d.add(what, WARN, "not confirmed: batch:DescribeJobQueues not granted, and ListJobs on a missing queue "
                              "answers nothing", "grant batch:DescribeJobQueues to confirm it")
        else:
            d.add(what, FAIL, str(answer))

    def _log_groups(self, d: Diagnosis, stage: StageConfig, probe: _Probe) -> None:
        client = self.logs.client(stage.name)
        for key, group in (("migration_log_group", stage.migration_log_group),
                           ("ingestion_log_group", stage.ingestion_log_group)):
            what = f"log group {group}"
            status, answer = probe(lambda group=group: client.describe_log_groups(logGroupNamePrefix=group, limit=50))
            if status == "ok":
                names = [g["logGroupName"] for g in answer.get("logGroups", [])]
                if group in names:
                    g = next(g for g in answer["logGroups"] if g["logGroupName"] == group)
                    retention = g.get("retentionInDays")
                    d.add(what, OK, f"retention {retention} days" if retention else "kept forever")
                    continue
                _, near = probe(lambda group=group: [g["logGroupName"] for g in client.describe_log_groups(
                    logGroupNamePrefix="/".join(group.split("/")[:3]), limit=50)["logGroups"]])
                d.add(what, FAIL, f"no such log group{_similar(group, near if isinstance(near, list) else [])}",
                      f"fix `{key}` of stage {stage.name} in the file named by CXGM_CONFIG")
            elif status == "denied":
                # FilterLogEvents is in cxgm's policy: it tells a missing group without DescribeLogGroups
                s, msg = probe(lambda group=group: client.filter_log_events(logGroupName=group, limit=1,
                                                                 startTime=int((time.time() - 60) * 1000)),
                               missing=("ResourceNotFoundException",))
                if s == "ok":
                    d.add(what, OK, "answers FilterLogEvents (logs:DescribeLogGroups not granted)")
                elif s == "missing":
                    d.add(what, FAIL, f"no such log group: {msg}",
                          f"fix `{key}` of stage {stage.name} in the file named by CXGM_CONFIG")
                else:
                    d.add(what, WARN, f"not confirmed ({s}: {msg})", "grant logs:DescribeLogGroups to confirm it")
            else:
                d.add(what, FAIL, str(answer))

    def _bucket(self, d: Diagnosis, stage: StageConfig, probe: _Probe) -> None:
        bucket = stage.artifact_bucket
        if not bucket:
            d.add("artifact bucket", WARN, "not set: one source skipped (the S3 item lists; the logs carry the same)",
                  "set `artifact_bucket` of the stage (production's is in its happy config secret, "
                  "`s3_buckets.artifact.name`) to also read it")
            return
        client = self.s3.client(stage.name)
        what = f"artifact bucket {bucket}"
        status, answer = probe(lambda: client.head_bucket(Bucket=bucket), missing=("404", "NoSuchBucket", "NotFound"))
        if status == "ok":
            headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            d.add(what, OK, f"exists, region {answer.get('BucketRegion') or headers.get('x-amz-bucket-region', '?')}")
        elif status == "missing":
            d.add(what, FAIL, "no such bucket", f"fix `artifact_bucket` of stage {stage.name} in the file named by "
                                                f"CXGM_CONFIG, or set it empty to skip that source")
        elif status == "denied":
            d.add(what, WARN, "exists, but HeadBucket is refused (s3:ListBucket not granted; cxgm itself needs only "
                              "s3:GetObject): whose bucket it is is not confirmed",
                  "grant s3:ListBucket on it to confirm, or check the name")
        else:
            d.add(what, FAIL, str(answer))

    # --- the policy's actions ---------------------------------------------------------------------------------
    def _actions(self, d: Diagnosis, stage: StageConfig, probe: _Probe, arns: dict[str, str]) -> None:
        sfn, batch, logs = (self.sfn.client(stage.name), self.batch.client(stage.name), self.logs.client(stage.name))
        region = sfn.meta.region_name
        machine = arns.get("migration_sfn") or f"arn:aws:states:{region}:000000000000:stateMachine:{stage.migration_sfn}"
        status, listed = probe(lambda: sfn.list_executions(stateMachineArn=machine, maxResults=1),
                               missing=("StateMachineDoesNotExist",))
        executions = listed.get("executions", []) if status == "ok" else []
        execution = (executions[0]["executionArn"] if executions else
                     machine.replace(":stateMachine:", ":execution:") + f":{PROBE}")
        since = int((time.time() - 60) * 1000)
        not_found = ("ExecutionDoesNotExist", "ResourceNotFoundException", "StateMachineDoesNotExist",
                     "NoSuchKey", "404", "NoSuchBucket", "InvalidArn")
        tries: list[tuple[str, Callable[[], Any]]] = [
            ("states:ListExecutions", lambda: listed if status == "ok" else
             sfn.list_executions(stateMachineArn=machine, maxResults=1)),
            ("states:DescribeExecution", lambda: sfn.describe_execution(executionArn=execution)),
            ("states:GetExecutionHistory", lambda: sfn.get_execution_history(executionArn=execution, maxResults=1)),
            ("states:ListMapRuns", lambda: sfn.list_map_runs(executionArn=execution, maxResults=1)),
            ("batch:ListJobs", lambda: batch.list_jobs(jobQueue=stage.queue, maxResults=1)),
            ("batch:DescribeJobs", lambda: batch.describe_jobs(jobs=[PROBE])),
            ("logs:FilterLogEvents", lambda: logs.filter_log_events(logGroupName=stage.migration_log_group, limit=1,
                                                                     startTime=since)),
            ("logs:GetLogEvents", lambda: logs.get_log_events(logGroupName=stage.migration_log_group,
                                                              logStreamName=PROBE, limit=1)),
        ]
        bucket = stage.artifact_bucket
        if bucket:
            s3 = self.s3.client(stage.name)
            tries.append(("s3:GetObject", lambda: s3.get_object(Bucket=bucket, Key=f"schema_migration/{PROBE}")))
        bucket_listable = any(c.what == f"artifact bucket {bucket}" and c.status == OK for c in d.checks)
        for action, call in tries:
            # a queue that does not exist: the queue's own line says so; IAM let the call through
            missing = (*not_found, "ClientException") if action == "batch:ListJobs" else not_found
            s, answer = probe(call, missing=missing)
            what = f"action {action}"
            if s in ("ok", "missing"):
                d.add(what, OK, "allowed")
            elif s == "denied" and action == "s3:GetObject" and not bucket_listable:
                # without s3:ListBucket, S3 answers AccessDenied for a key that does not exist too
                d.add(what, WARN, f"AccessDenied on a key that does not exist: without s3:ListBucket S3 says so for "
                                  f"a missing key too, so not confirmed ({answer})",
                      f"grant s3:GetObject on arn:aws:s3:::{bucket}/schema_migration/*")
            elif s == "denied":
                resource = (f"arn:aws:s3:::{bucket}/schema_migration/*" if action.startswith("s3:") else "*")
                d.add(what, FAIL, f"denied: {answer}", f"grant {action} on {resource} to the role "
                                                       f"(the IAM policy in docs/security.md)")
            elif s == "expired":
                d.add(what, FAIL, str(answer), login_fix(stage))
            else:
                d.add(what, FAIL, str(answer), "see the message; docs/security.md lists the policy")


def _is_aws(endpoint: str) -> bool:
    from urllib.parse import urlparse

    host = urlparse(endpoint).hostname or ""
    return host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn")


def diagnose(stage: str, config_path: str | None = None) -> Diagnosis:
    """Runs every check for `stage`; never raises for AWS's answers (each becomes a line)."""
    return Doctor(stage, config_path).run()


def _fingerprint(stage: str, config_path: str | None) -> str | None:
    """What a diagnosis depends on besides AWS itself: the stage's configuration and the endpoint (None: no valid
    configuration, so nothing to reuse)."""
    try:
        config = config_at(config_path).stage(stage)
    except ConfigError:
        return None
    return hashlib.sha256(f"{config!r}|{os.environ.get('AWS_ENDPOINT_URL', '')}".encode()).hexdigest()[:16]


ACCESS_FRAME = "aws_access"  # per stage in the frame store: the last diagnosis that passed, and when
RECHECK_VAR, DEFAULT_RECHECK_S = "CXGM_ACCESS_RECHECK_SECONDS", 3600.0


def diagnose_remembered(stage: str, store, config_path: str | None = None,
                        now: datetime | None = None) -> tuple[Diagnosis, datetime]:
    """(the stage's diagnosis, when it was made): a passing one is kept in `store` and reused for
    $CXGM_ACCESS_RECHECK_SECONDS (default an hour). The doctor makes ~17 calls; run after every refresh of a running
    attempt it would cost more than the refresh. A failing one is never reused: once fixed, the next run says so; nor
    one made for another configuration of the stage (names, profile, endpoint)."""
    now = now or datetime.now(timezone.utc)
    made_for = _fingerprint(stage, config_path)
    raw = os.environ.get(RECHECK_VAR, "").strip()
    try:
        max_age = float(raw) if raw else DEFAULT_RECHECK_S
    except ValueError:
        raise ConfigError(f"{RECHECK_VAR}={raw!r} is not a number of seconds") from None
    if store.exists(ACCESS_FRAME, stage):
        kept = store.read(ACCESS_FRAME, stage)
        at = kept["checked_at"].max() if not kept.empty else None
        same = made_for is not None and "made_for" in kept and (kept["made_for"] == made_for).all()
        if same and at is not None and (kept["status"] != FAIL).all() and \
                (now - at.to_pydatetime()).total_seconds() < max_age:
            return Diagnosis(stage, [Check(r["what"], r["status"], r["detail"], r["fix"]) for r in row_dicts(kept)]), \
                at.to_pydatetime()
    found = diagnose(stage, config_path)
    rows = pd.DataFrame([{**asdict(c), "checked_at": now, "made_for": made_for} for c in found.checks],
                        columns=["what", "status", "detail", "fix", "checked_at", "made_for"])
    rows["checked_at"] = pd.to_datetime(rows["checked_at"], utc=True)
    store.write(rows, ACCESS_FRAME, stage)
    return found, now
