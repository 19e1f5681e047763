"""AWS access (Batch, CloudWatch Logs, Step Functions, S3), one client per stage from the stage config.

Plain Python, no Dagster: the CLI and notebooks use the classes `Batch`, `Logs`, `StepFunctions`, `Artifacts`
directly; `cxgm_pipeline.resources.aws` makes Dagster resources of the same methods (the `*Api` mixins).
Settings left unset come from the stage config (profile, region); `AWS_ENDPOINT_URL` is honoured by boto3.
Every call waits for its API's token (ratelimit.py) and is retried in botocore's standard mode. The methods are
the bulk operations cxgm needs: paginators, 100-id batches, a bounded pool of concurrent calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, ClassVar

import boto3
import botocore.exceptions
import botocore.session
import botocore.utils
from botocore.config import Config

from cxgm_pipeline.config import StageConfig, config_at
from cxgm_pipeline.monitor.aws.pacing import pace

_CLIENTS: dict[tuple, Any] = {}
_CLIENTS_LOCK = threading.Lock()
# boto3 sessions by credentials: a session loads endpoints and models once for all the clients made from it
_SESSIONS: dict[tuple, boto3.session.Session] = {}
_ACCOUNTS: dict[str, str] = {}  # StageAwsApi.account_key -> the account id of those credentials
# AWS's listings are eventually consistent (ListJobs, ListExecutions; FilterLogEvents may find an event minutes
# after its timestamp): a refresh lists again from this far before what it must re-read
RELIST_MARGIN = timedelta(minutes=15)

# Answers whose output shapes hold no timestamp and no blob: their JSON is exactly what botocore's parser builds
# from it, at a tenth of the CPU (a first fetch parses 10,000 job descriptions and summaries, which was a third
# of its CPU). A test checks the two agree; error answers keep botocore's parser.
RAW_JSON_OUTPUTS = ("batch.DescribeJobs", "batch.ListJobs", "cloudwatch-logs.FilterLogEvents")


def raw_json(response_dict: dict, customized_response_dict: dict, **_) -> None:
    """botocore `before-parse` handler: a 200 answer's JSON as the parsed response (the parser sees `{}`)."""
    if response_dict.get("status_code") != 200 or not response_dict.get("body"):
        return
    try:
        decoded = json.loads(response_dict["body"])
    except ValueError:
        return  # not JSON: botocore's parser reports it
    if isinstance(decoded, dict):
        customized_response_dict.update(decoded)
        response_dict["body"] = b"{}"


def utc_timestamp(value) -> datetime:
    """botocore's timestamp parser, answering in UTC: its default gives the local zone (dateutil's `tzlocal`),
    which costs a system call per comparison and turns pandas' conversion of 2,000 execution times into a
    Python loop."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    parsed = botocore.utils.parse_timestamp(value)
    # a time written without a zone is UTC, as AWS means it (not the local zone `astimezone` would assume)
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _new_session(profile: str | None, region: str, key: str | None, secret: str | None,
                 token: str | None) -> boto3.session.Session:
    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=utc_timestamp)
    return boto3.session.Session(key, secret, token, region_name=region, profile_name=profile, botocore_session=core)


class AwsAccessError(RuntimeError):
    """AWS could not be reached for a stage; the message says what to do about it."""


@dataclass
class FetchStats:
    """Calls made and items fetched, for progress bars and benchmarks."""

    calls: int = 0
    items: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    on_change: Callable[["FetchStats"], None] | None = field(default=None, repr=False)

    def add(self, calls: int = 0, items: int = 0) -> None:
        with self._lock:
            self.calls += calls
            self.items += items
        if self.on_change is not None:
            self.on_change(self)


def access_hint(stage: StageConfig, exc: Exception) -> AwsAccessError:
    profile = stage.profile or "(default credential chain)"
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        msg = (f"AWS profile {stage.profile!r} for stage {stage.name!r} is not configured: add it to ~/.aws/config, "
               f"or set the stage's profile in the file named by CXGM_CONFIG")
    elif isinstance(exc, (botocore.exceptions.NoCredentialsError, botocore.exceptions.SSOTokenLoadError,
                          botocore.exceptions.UnauthorizedSSOTokenError, botocore.exceptions.TokenRetrievalError)):
        hint = f"run `aws sso login --profile {stage.profile}`" if stage.profile else "set AWS credentials"
        msg = f"no valid AWS credentials for stage {stage.name!r} (profile {profile}): {hint}"
    elif isinstance(exc, botocore.exceptions.EndpointConnectionError):
        msg = (f"cannot reach AWS for stage {stage.name!r}: {exc}. If you meant the emulator, start it with "
               f"`cxgm-emulator start` and export the AWS_ENDPOINT_URL it prints")
    else:
        msg = f"AWS call for stage {stage.name!r} failed: {exc}"
    return AwsAccessError(msg)


@dataclass
class AwsSettings:
    """How to reach AWS for every stage (the same fields as dagster-aws's boto3 configuration)."""

    config_path: str | None = None  # stage config file; default: $CXGM_CONFIG over the packaged one
    region_name: str | None = None
    profile_name: str | None = None
    endpoint_url: str | None = None
    use_ssl: bool = True
    verify: bool | str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    max_attempts: int = 10  # botocore retry attempts (standard mode)
    max_pool_connections: int = 32
    max_workers: int = 8  # concurrent requests for bulk operations
    max_events_per_stream: int = 20_000  # read at most this many events of one stream
    connect_timeout: float | None = None  # seconds; None: botocore's (60)
    read_timeout: float | None = None  # seconds; None: botocore's (60)


# The calls are paced at AWS's quotas (ratelimit.py); botocore's "standard" retries (backoff with jitter) are the
# safety net. Its "adaptive" mode would also slow every later call after one throttle, on top of the pacing.
RETRY_MODE = "standard"

# Error codes that mean "AWS kept refusing after every retry", not "this request is wrong".
_GAVE_UP = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
                      "SlowDown", "ServiceUnavailable", "ServiceUnavailableException", "InternalServerError",
                      "InternalFailure", "InternalError"})


class AwsClock:
    """What time it is at AWS: the `Date` header of its latest answer, per endpoint. A running job's duration
    is counted to this, never to the local clock (which may be minutes off, or, against the emulator, hours)."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def observe(self, endpoint: str, http_response=None, **_) -> None:
        date = http_response.headers.get("Date") if http_response is not None else None
        if not date:
            return
        try:
            at = parsedate_to_datetime(date).astimezone(timezone.utc)
        except (TypeError, ValueError):
            return
        with self._lock:  # the latest answer's, not the greatest: a clock set back (an emulator's) is followed
            self._seen[endpoint] = at

    def now(self, endpoint: str) -> datetime | None:
        with self._lock:
            return self._seen.get(endpoint)


AWS_CLOCK = AwsClock()


class StageAwsApi:
    """A cached, thread-safe boto3 client per stage; the fields come from AwsSettings or the Dagster resource."""

    SERVICE: ClassVar[str] = ""

    def stage_config(self, stage: str) -> StageConfig:
        return config_at(self.config_path).stage(stage)  # cached: this runs on every call

    def client(self, stage: str, service: str | None = None):
        """This API's client for `stage` (or, with `service`, another service's with the same settings)."""
        cfg = self.stage_config(stage)
        profile = self.profile_name or cfg.profile
        region = self.region_name or cfg.region
        service = service or self.SERVICE
        # AWS_ENDPOINT_URL is read by boto3 when the client is made: part of the cache key.
        # quick answers (cxgm doctor) set short timeouts; the Dagster resources have no such field
        timeouts = {k: v for k in ("connect_timeout", "read_timeout") if (v := getattr(self, k, None)) is not None}
        key = (service, profile, region, self.endpoint_url, os.environ.get("AWS_ENDPOINT_URL"),
               self.max_attempts, self.max_pool_connections, self.aws_access_key_id, tuple(sorted(timeouts.items())))
        with _CLIENTS_LOCK:
            if key not in _CLIENTS:
                try:
                    client = self._session(profile, region).client(
                        service, endpoint_url=self.endpoint_url, use_ssl=self.use_ssl, verify=self.verify,
                        config=Config(retries={"mode": RETRY_MODE, "max_attempts": self.max_attempts},
                                      max_pool_connections=self.max_pool_connections, **timeouts))
                    client.meta.events.register("before-call.*.*", pace)  # per-API quotas, process-wide
                    for operation in RAW_JSON_OUTPUTS:
                        client.meta.events.register(f"before-parse.{operation}", raw_json)
                    client.meta.events.register("after-call.*.*", partial(AWS_CLOCK.observe, client.meta.endpoint_url))
                    _CLIENTS[key] = client
                except botocore.exceptions.BotoCoreError as exc:
                    raise access_hint(cfg, exc) from None
            return _CLIENTS[key]

    def _session(self, profile: str | None, region: str) -> boto3.session.Session:
        """The boto3 session of these credentials (the caller holds _CLIENTS_LOCK)."""
        credentials = (self.aws_access_key_id, self.aws_secret_access_key, self.aws_session_token)
        # a session resolves credentials once: the AWS_ variables it read are part of its key
        made_with = (profile, region, *credentials,
                     *sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
        if made_with not in _SESSIONS:
            _SESSIONS[made_with] = _new_session(profile, region, *credentials)
        return _SESSIONS[made_with]

    def account_key(self, stage: str) -> str:
        """What the stage's account id depends on: the STS endpoint, the region and the credentials' access key
        (an access key belongs to one account), hashed. An account kept under this key (`remember_account`) is
        right wherever the key matches, so a store reused with other credentials or another endpoint asks again."""
        sts = self.client(stage, "sts")
        cfg = self.stage_config(stage)
        try:
            with _CLIENTS_LOCK:
                session = self._session(self.profile_name or cfg.profile, self.region_name or cfg.region)
            credentials = session.get_credentials()
            access_key = credentials.get_frozen_credentials().access_key if credentials is not None else ""
        except botocore.exceptions.BotoCoreError as exc:
            raise access_hint(cfg, exc) from None
        made_of = f"{sts.meta.endpoint_url}|{sts.meta.region_name}|{access_key}"
        return hashlib.sha256(made_of.encode()).hexdigest()[:16]

    def aws_now(self, stage: str) -> datetime:
        """AWS's time as of its last answer to this stage's client (the local clock only before any answer)."""
        return AWS_CLOCK.now(self.client(stage).meta.endpoint_url) or datetime.now(timezone.utc)

    def call(self, stage: str, fn: Callable[[], Any]) -> Any:
        """Runs one AWS call, turning credential and connection errors into an actionable AwsAccessError."""
        try:
            return fn()
        except (botocore.exceptions.NoCredentialsError, botocore.exceptions.ProfileNotFound,
                botocore.exceptions.SSOTokenLoadError, botocore.exceptions.UnauthorizedSSOTokenError,
                botocore.exceptions.TokenRetrievalError, botocore.exceptions.EndpointConnectionError) as exc:
            raise access_hint(self.stage_config(stage), exc) from None
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if error.get("Code") in _GAVE_UP or status >= 500:
                endpoint = self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "AWS"
                raise AwsAccessError(f"{exc.operation_name} for stage {stage!r} still failed after {self.max_attempts} "
                                     f"attempts at {endpoint}: {error.get('Code')}: {error.get('Message')}. "
                                     f"Try again later, or lower the load (max_workers).") from None
            if error.get("Code") in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
                raise AwsAccessError(f"{exc.operation_name} denied for stage {stage!r}: {error.get('Message')}. "
                                     f"The role needs the actions listed in docs/security.md.") from None
            if error.get("Code") == "ClientException" and "does not exist" in str(error.get("Message")):
                # Batch's answer for a job queue it does not know: a configured name is wrong
                raise AwsAccessError(f"{exc.operation_name} for stage {stage!r}: {error.get('Message')}. Fix the name "
                                     f"in the file named by CXGM_CONFIG; `cxgm doctor --env {stage}` checks "
                                     f"them all") from None
            raise

    def _pages(self, stage: str, fn: Callable, kwargs: dict, next_key: str, stats: FetchStats | None,
               items: str = "events", then: dict | None = None):
        """The pages of a token-paginated call, until the token ends or comes back unchanged (Logs' GetLogEvents
        returns the same forward token at a stream's end). `then`: arguments for the pages after the first."""
        token = None
        while True:
            args = {**kwargs, **((then or {}) if token else {}), **({"nextToken": token} if token else {})}
            page = self.call(stage, partial(fn, **args))
            if stats:
                stats.add(calls=1, items=len(page[items]))
            yield page
            following = page.get(next_key)
            if not following or following == token:
                return
            token = following

    def pool_map(self, fn: Callable, items: Iterable) -> list:
        items = list(items)
        if len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            return list(pool.map(fn, items))


class BatchApi(StageAwsApi):
    """AWS Batch: list the jobs of a queue in a time window, describe them 100 at a time."""

    SERVICE: ClassVar[str] = "batch"

    def _summary_pages(self, stage: str, queue: str, created_after_ms: int, created_before_ms: int,
                       stats: FetchStats | None, first_page: int = 1000):
        """ListJobs pages of job summaries (AWS's JobSummary: status, reasons, times, exit code), each job once.
        With a filter, ListJobs returns every status (without, only RUNNING). AWS takes ONE filter at a time:
        the window's start goes to AWS, its end is applied here."""
        kwargs = {"jobQueue": queue, "filters": [{"name": "AFTER_CREATED_AT", "values": [str(created_after_ms)]}],
                  "maxResults": first_page}
        seen: set[str] = set()  # a job listed on two pages is one job
        for page in self._pages(stage, self.client(stage).list_jobs, kwargs, "nextToken", stats, "jobSummaryList",
                                then={"maxResults": 1000}):
            summaries = [j for j in page["jobSummaryList"]
                         if j.get("createdAt", 0) <= created_before_ms and j["jobId"] not in seen]
            seen.update(j["jobId"] for j in summaries)
            yield summaries

    def list_and_describe(self, stage: str, queue: str | None, created_after_ms: int, created_before_ms: int,
                          also: list[str], stats: FetchStats | None = None, skip: set[str] = frozenset(),
                          unchanged: Callable[[dict], bool] | None = None,
                          convert: Callable[[list[dict]], list] = list, first_page: int = 1000) -> tuple[list, set[str]]:
        """DescribeJobs (100 ids a call) of `also` and of every job ListJobs finds in the window, except those in
        `skip` and those whose summary `unchanged` accepts. Returns (convert(each batch of descriptions), joined;
        the ids listed and found unchanged). Each ListJobs page's batches are described, and `convert`ed in the
        pool's threads, while the next page is listed: DescribeJobs' quota, not the listing, bounds the time. Ids
        wait until 100 are gathered (the rest once the listing ends): a refresh's few changed jobs per page are
        described in as few calls as they fill, not one part-filled call a page.
        `first_page`: a small first page lets a long listing start describing after one quick call. `queue` None:
        describe `also` only."""
        client = self.client(stage)

        def one(batch: list[str]) -> list:
            jobs = self.call(stage, lambda: client.describe_jobs(jobs=batch)["jobs"])
            if stats:
                stats.add(calls=1, items=len(jobs))
            return convert(jobs)

        queued = set(skip)
        same: set[str] = set()
        futures, waiting = [], []
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            def submit(ids: list[str], last: bool = False) -> None:
                ids = [i for i in dict.fromkeys(ids) if i not in queued]
                queued.update(ids)
                waiting.extend(ids)
                while len(waiting) >= 100 or (last and waiting):
                    futures.append(pool.submit(one, waiting[:100]))
                    del waiting[:100]

            submit(also)
            if queue is not None:
                for summaries in self._summary_pages(stage, queue, created_after_ms, created_before_ms, stats,
                                                        first_page):
                    if unchanged is not None:
                        kept = {j["jobId"] for j in summaries if j["jobId"] not in queued and unchanged(j)}
                        same |= kept
                        queued |= kept
                    submit([j["jobId"] for j in summaries])
            submit([], last=True)
            return [row for f in futures for row in f.result()], same


class LogsApi(StageAwsApi):
    """CloudWatch Logs: many streams a call (FilterLogEvents); one stream by name (GetLogEvents) only to tell gone
    from empty."""

    SERVICE: ClassVar[str] = "logs"

    def stream_events(self, stage: str, group: str, stream: str, stats: FetchStats | None = None) -> list[dict] | None:
        """The stream's events, oldest first; None when the stream does not exist (expired or never written)."""
        client = self.client(stage)
        events: list[dict] = []
        try:
            for page in self._pages(stage, client.get_log_events, {"logGroupName": group, "logStreamName": stream,
                                                                   "startFromHead": True}, "nextForwardToken", stats):
                events.extend(page["events"])
                if not page["events"] or len(events) >= self.max_events_per_stream:
                    break
        except client.exceptions.ResourceNotFoundException:
            return None
        return events

    def filter_streams(self, stage: str, group: str, streams: list[str], pattern: str,
                       stats: FetchStats | None = None, max_events: int | None = None,
                       window_ms: tuple[int, int] | None = None) -> list[dict]:
        """Events matching `pattern` in the named streams of `group`: FilterLogEvents takes up to 100 stream
        names a call, so N streams cost about N/100 calls. A missing group (retention, deletion) gives [].
        `max_events`: stop paging a batch past this many events per stream of it; `window_ms`: only events
        between these two times (epoch ms, the end exclusive)."""
        client = self.client(stage)
        batches = [streams[i : i + 100] for i in range(0, len(streams), 100)]
        window = {"startTime": window_ms[0], "endTime": window_ms[1]} if window_ms else {}

        def one(batch: list[str]) -> list[dict]:
            out, pages = [], 0
            kwargs = {"logGroupName": group, "logStreamNames": batch, "filterPattern": pattern, **window}
            try:
                for page in self._pages(stage, client.filter_log_events, kwargs, "nextToken", stats):
                    pages += 1
                    out.extend(page["events"])
                    if max_events and len(out) >= max_events * len(batch):
                        break
            except (client.exceptions.ResourceNotFoundException, client.exceptions.InvalidParameterException):
                # a group gone, or a stream of the batch expired: halve the batch until the culprit is alone
                if len(batch) == 1 or pages:
                    return out
                half = len(batch) // 2
                return one(batch[:half]) + one(batch[half:])
            return out

        return [e for events in self.pool_map(one, batches) for e in events]

    def filter_group(self, stage: str, group: str, pattern: str, start_ms: int, end_ms: int,
                     stats: FetchStats | None = None) -> list[dict]:
        """Events matching `pattern` anywhere in `group` between two times: a few calls however many streams the
        window holds. A missing group (retention, deletion) gives []."""
        client = self.client(stage)
        kwargs = {"logGroupName": group, "filterPattern": pattern, "startTime": start_ms, "endTime": end_ms}
        try:
            return [e for page in self._pages(stage, client.filter_log_events, kwargs, "nextToken", stats)
                    for e in page["events"]]
        except client.exceptions.ResourceNotFoundException:
            return []

    def read_streams(self, stage: str, streams: list[tuple[str, str]], stats: FetchStats | None = None) -> dict:
        """{(group, stream): events oldest first, or None when the stream does not exist (expired, never
        written)}. Read in bulk (FilterLogEvents, 100 streams a call, at most max_events_per_stream each); only a
        stream that gave nothing is asked for by name (GetLogEvents), to tell an empty stream from a gone one."""
        by_group: dict[str, list[str]] = {}
        for group, stream in streams:
            by_group.setdefault(group, []).append(stream)
        found: dict[tuple[str, str], list[dict]] = {}
        groups = list(by_group.items())  # the groups side by side (FilterLogEvents takes one group a call)
        read = self.pool_map(lambda gn: self.filter_streams(stage, gn[0], gn[1], "", stats, self.max_events_per_stream),
                             groups)
        for (group, _), events in zip(groups, read):
            for event in events:
                found.setdefault((group, event.get("logStreamName")), []).append(event)
        absent = [pair for pair in streams if pair not in found]
        for pair, events in zip(absent, self.pool_map(lambda gs: self.stream_events(stage, gs[0], gs[1], stats), absent)):
            found[pair] = events
        return {pair: sorted(found[pair], key=lambda e: e.get("timestamp", 0))[-self.max_events_per_stream:]
                if found[pair] is not None else None for pair in streams}


class StepFunctionsApi(StageAwsApi):
    """Step Functions: executions of a state machine (by name), their descriptions and full histories."""

    SERVICE: ClassVar[str] = "stepfunctions"

    def state_machine_arn(self, stage: str, name: str, stats: FetchStats | None = None) -> str:
        """The machine's ARN, made from its name, the region and the account: GetCallerIdentity once per
        credentials, unless the account is known (`remember_account`). Listing the account's machines would cost a
        call per 100 of them, at ListStateMachines' 2/s."""
        client = self.client(stage)
        key = self.account_key(stage)
        if key not in _ACCOUNTS:
            sts = self.client(stage, "sts")
            _ACCOUNTS[key] = self.call(stage, lambda: sts.get_caller_identity()["Account"])
            if stats:
                stats.add(calls=1)
        return f"arn:{client.meta.partition}:states:{client.meta.region_name}:{_ACCOUNTS[key]}:stateMachine:{name}"

    def known_account(self, stage: str) -> tuple[str, str] | None:
        """(account_key, account id) of the stage's credentials, once asked (None before)."""
        key = self.account_key(stage)
        return (key, _ACCOUNTS[key]) if key in _ACCOUNTS else None

    def remember_account(self, key: str, account: str) -> None:
        """An account id kept from an earlier process (the frame store), under the key it was asked with."""
        _ACCOUNTS.setdefault(key, account)

    def list_executions(self, stage: str, state_machine: str, stats: FetchStats | None = None,
                        stop_before: float | None = None, none_if_missing: bool = False) -> list[dict] | None:
        """Executions newest first ([], or None with `none_if_missing`, when the machine does not exist);
        `stop_before` (epoch s): stop paging once executions start earlier."""
        arn = self.state_machine_arn(stage, state_machine, stats)
        client = self.client(stage)

        def fetch() -> list[dict]:
            out = []
            pages = client.get_paginator("list_executions").paginate(stateMachineArn=arn,
                                                                      PaginationConfig={"PageSize": 1000})
            try:
                for page in pages:
                    if stats:
                        stats.add(calls=1, items=len(page["executions"]))
                    for ex in page["executions"]:
                        if stop_before is not None and ex["startDate"].timestamp() < stop_before:
                            return out
                        out.append(ex)
            except client.exceptions.StateMachineDoesNotExist:
                return None if none_if_missing else []  # not deployed (yet) in this stage
            return out

        return self.call(stage, fetch)

    def describe_executions(self, stage: str, arns: list[str], stats: FetchStats | None = None) -> list[dict]:
        return self._describe_each(stage, "describe_execution", "executionArn", arns, stats)

    def _describe_each(self, stage: str, operation: str, arn_field: str, arns: list[str],
                       stats: FetchStats | None) -> list[dict]:
        """One Describe call per ARN, on the bounded pool (Step Functions describes one thing a call)."""
        describe = getattr(self.client(stage), operation)

        def one(arn: str) -> dict:
            out = self.call(stage, lambda: describe(**{arn_field: arn}))
            if stats:
                stats.add(calls=1, items=1)
            return out

        return self.pool_map(one, arns)

    def _all_pages(self, stage: str, operation: str, key: str, stats: FetchStats | None, **kwargs) -> list[dict]:
        """Every item of a paginated Step Functions listing; none for an execution Step Functions no longer keeps
        (90 days after it closed: an attempt's Batch jobs can outlive a child's history), as for one that holds none."""
        client = self.client(stage)

        def fetch() -> list[dict]:
            out = []
            try:
                for page in client.get_paginator(operation).paginate(**kwargs):
                    out.extend(page[key])
                    if stats:
                        stats.add(calls=1, items=len(page[key]))
            except client.exceptions.ExecutionDoesNotExist:
                if stats:
                    stats.add(calls=1)
                return []
            return out

        return self.call(stage, fetch)

    def history(self, stage: str, execution_arn: str, stats: FetchStats | None = None) -> list[dict]:
        return self._all_pages(stage, "get_execution_history", "events", stats, executionArn=execution_arn,
                               PaginationConfig={"PageSize": 1000})

    def map_runs(self, stage: str, execution_arn: str, stats: FetchStats | None = None) -> list[dict]:
        """The DISTRIBUTED Map Runs an execution started (none for INLINE Maps)."""
        return self._all_pages(stage, "list_map_runs", "mapRuns", stats, executionArn=execution_arn)

    def map_run_executions(self, stage: str, map_run_arn: str, stats: FetchStats | None = None,
                           status: str | None = None) -> list[dict]:
        """The child executions of one Map Run (one per item); `status`: only those in it (statusFilter)."""
        return self._all_pages(stage, "list_executions", "executions", stats, mapRunArn=map_run_arn,
                               **({"statusFilter": status} if status else {}), PaginationConfig={"PageSize": 1000})

    def describe_map_runs(self, stage: str, arns: list[str], stats: FetchStats | None = None) -> list[dict]:
        """DescribeMapRun of each: status, toleratedFailurePercentage, itemCounts and executionCounts."""
        return self._describe_each(stage, "describe_map_run", "mapRunArn", arns, stats)

    def histories(self, stage: str, arns: list[str], stats: FetchStats | None = None) -> dict[str, list[dict]]:
        return dict(zip(arns, self.pool_map(lambda a: self.history(stage, a, stats), arns)))


class ArtifactsApi(StageAwsApi):
    """The stage's artifact bucket: the migration's corpus list and error reports."""

    SERVICE: ClassVar[str] = "s3"

    def get_json(self, stage: str, key: str, stats: FetchStats | None = None) -> Any | None:
        bucket = self.stage_config(stage).artifact_bucket
        if not bucket:
            # production names it in a secret, not by pattern: unset, this one source is skipped (the logs and
            # histories carry the same lists) rather than guessed
            return None
        client = self.client(stage)
        try:
            body = self.call(stage, lambda: client.get_object(Bucket=bucket, Key=key)["Body"].read())
        except client.exceptions.NoSuchKey:
            return None  # expected: the report step deletes schema_migration/{execution}/ at the end
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "404":
                return None
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                raise AwsAccessError(f"artifact bucket {bucket!r} of stage {stage!r} does not exist: fix "
                                     f"artifact_bucket in the file named by CXGM_CONFIG") from None
            raise
        if stats:
            stats.add(calls=1, items=1)
        return json.loads(body)


class Batch(AwsSettings, BatchApi):
    pass


class Logs(AwsSettings, LogsApi):
    pass


class StepFunctions(AwsSettings, StepFunctionsApi):
    pass


class Artifacts(AwsSettings, ArtifactsApi):
    pass
