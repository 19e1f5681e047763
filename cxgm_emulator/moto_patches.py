"""Patches for the gaps in moto that matter to cxgm (see shared notes: moto-as-local-aws.md).

Each patch makes moto behave like AWS where cxgm depends on it, and lets the emulator's objects
appear only once the simulated clock reaches them. tests/emulator/test_moto_patches.py checks over
HTTP that every one still takes effect: moto is pinned, and an upgrade that breaks one fails there.
Map Runs (ListMapRuns, DescribeMapRun, ListExecutions(mapRunArn=)) are stubs in moto 5.2.5: answered here
from the World's index, as are a Map Run's child executions (whose ARNs name no state machine moto knows).
"""

from __future__ import annotations

import bisect
import json
import re
from typing import Any

from moto.batch.exceptions import ClientException
from moto.batch.models import BatchBackend
from moto.batch.responses import BatchResponse
from moto.logs.models import LogGroup, LogStream
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.responses import StepFunctionResponse
from moto.stepfunctions.exceptions import ExecutionDoesNotExist, InvalidArn, ResourceNotFound
from moto.core.responses import BaseResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.utilities.aws_headers import gen_amzn_requestid_long
from moto.utilities.paginator import paginate
from moto.stepfunctions.utils import PAGINATION_MODEL

# The installed World (one per process); None: plain moto behaviour plus the AWS fixes.
WORLD = None
APPLIED: list[str] = []

BATCH_LIST_MAX = 1000  # ListJobs maxResults upper bound
BATCH_DESCRIBE_MAX = 100  # DescribeJobs takes at most 100 ids
SFN_HISTORY_MAX = 1000


def _now() -> float | None:
    return WORLD.clock.now() if WORLD is not None else None


def _visible(obj: Any, now: float | None) -> bool:
    return now is None or not hasattr(obj, "visible") or obj.visible(now)


def _created_ms(job: Any) -> int:
    if hasattr(job, "plan"):
        return int(job.plan.created * 1000)
    return int(job.job_created_at.timestamp() * 1000)


def list_jobs(self: BatchBackend, job_queue_name=None, array_job_id=None, job_status=None, filters=None):
    """AWS semantics: filters (JOB_NAME, AFTER_/BEFORE_CREATED_AT) return every status; no filter and no
    status means RUNNING only."""
    now = _now()
    queue = self.get_job_queue(job_queue_name) if job_queue_name else None
    if job_queue_name and queue is None:
        raise ClientException(f"Job queue {job_queue_name} does not exist")
    candidates = list(queue.jobs) if queue else []
    if array_job_id and (array_job := self.get_job_by_id(array_job_id)):
        candidates.extend(array_job._child_jobs or [])
    candidates = [j for j in candidates if _visible(j, now)]
    if filters and len(filters) > 1:
        # AWS Batch ListJobs: "Only one filter can be used at a time."
        raise ClientException("Only one filter can be used at a time")
    if filters:
        def keep(job) -> bool:
            for f in filters:
                name, values = f["name"], f.get("values") or []
                value = values[0] if values else ""
                if name == "JOB_NAME":
                    if value.endswith("*"):
                        if not job.job_name.lower().startswith(value[:-1].lower()):
                            return False
                    elif job.job_name.lower() != value.lower():
                        return False
                elif name == "AFTER_CREATED_AT" and _created_ms(job) < int(value):
                    return False
                elif name == "BEFORE_CREATED_AT" and _created_ms(job) > int(value):
                    return False
            return True

        return [j for j in candidates if keep(j)]
    wanted = job_status or "RUNNING"
    return [j for j in candidates if j.status == wanted]


_LISTED: dict[str, Any] = {}


def _list_order(job) -> tuple[int, str]:
    return _created_ms(job), job.job_id


def listjobs(self: BatchResponse) -> str:
    """maxResults and nextToken, absent from moto: pages of at most 1000, newest first like AWS. The token is
    a cursor (created, id) of the last job returned, so jobs submitted while paging shift nothing."""
    query = (self._get_param("jobQueue"), self._get_param("arrayJobId"), self._get_param("jobStatus"),
             json.dumps(self._get_param("filters"), sort_keys=True), _now(), len(self.batch_backend._jobs))
    if _LISTED.get("query") != query:  # the pages of one listing share its sorted result (kept oldest first)
        jobs = self.batch_backend.list_jobs(job_queue_name=query[0], array_job_id=query[1], job_status=query[2],
                                            filters=self._get_param("filters"))
        jobs = sorted(jobs, key=_list_order)
        _LISTED.update(query=query, jobs=jobs, keys=[_list_order(j) for j in jobs])
    jobs, keys = _LISTED["jobs"], _LISTED["keys"]
    limit = min(int(self._get_param("maxResults") or BATCH_LIST_MAX), BATCH_LIST_MAX)
    token = self._get_param("nextToken")
    end = len(jobs)  # newest first: a page is read backwards from just older than the cursor
    if token:
        created, job_id = token.split(":", 1)
        end = bisect.bisect_left(keys, (int(created), job_id))
    page = jobs[max(0, end - limit):end][::-1]
    result: dict[str, Any] = {"jobSummaryList": [j.describe_short() for j in page]}
    if end > limit:
        last = _list_order(page[-1])
        result["nextToken"] = f"{last[0]}:{last[1]}"
    return json.dumps(result)


def describe_jobs(self: BatchBackend, jobs: list[str] | None) -> list[dict]:
    """Lookup by id (moto scans every job per call) and AWS's 100-id limit."""
    ids = list(jobs or [])
    if len(ids) > BATCH_DESCRIBE_MAX:
        raise ClientException(f"1 validation error detected: Value at 'jobs' failed to satisfy constraint: "
                              f"Member must have length less than or equal to {BATCH_DESCRIBE_MAX}")
    now = _now()
    index = WORLD.jobs if WORLD is not None else {}
    out = []
    for ident in ids:
        job_id = ident.rsplit("/", 1)[-1]
        job = index.get(job_id) or self._jobs.get(job_id)
        if job is not None and _visible(job, now):
            out.append(job.describe())
    return out


@paginate(pagination_model=PAGINATION_MODEL)
def list_executions(self: StepFunctionBackend, state_machine_arn: str, status_filter: str | None = None,
                    redrive_filter: str | None = None):
    now = _now()
    executions = [e for e in self.describe_state_machine(state_machine_arn).executions if _visible(e, now)]
    if status_filter:
        executions = [e for e in executions if e.status == status_filter]
    executions = _redrive_filter(executions, redrive_filter)
    return sorted(executions, key=lambda x: x.start_date, reverse=True)


def _find_execution(self: StepFunctionBackend, execution_arn: str):
    self._validate_execution_arn(execution_arn)
    execution = WORLD.executions.get(execution_arn) if WORLD is not None else None
    if execution is None:
        sm = self._get_state_machine_for_execution(execution_arn)
        execution = next((x for x in sm.executions if x.execution_arn == execution_arn), None)
    if execution is None or not _visible(execution, _now()):
        raise ExecutionDoesNotExist("Execution Does Not Exist: '" + execution_arn + "'")
    return execution


def describe_execution(self: StepFunctionBackend, execution_arn: str):
    return _find_execution(self, execution_arn)


def get_execution_history(self: StepFunctionBackend, execution_arn: str) -> dict:
    execution = _find_execution(self, execution_arn)
    sm_role = "arn:aws:iam::123456789012:role/sfn"
    return {"events": execution.get_execution_history(sm_role)}


def get_execution_history_response(self: StepFunctionResponse):
    """maxResults, reverseOrder and nextToken, all ignored by moto."""
    from moto.core.responses import ActionResult

    events = self.stepfunction_backend.get_execution_history(self._get_param("executionArn"))["events"]
    if self._get_param("reverseOrder"):
        events = list(reversed(events))
    limit = min(int(self._get_param("maxResults") or SFN_HISTORY_MAX), SFN_HISTORY_MAX)
    offset = int(self._get_param("nextToken") or 0)
    result: dict[str, Any] = {"events": events[offset : offset + limit]}
    if offset + limit < len(events):
        result["nextToken"] = str(offset + limit)
    return ActionResult(result)


# --- Map Runs (DISTRIBUTED Maps): moto 5.2.5 has stubs answering {} and [] -----------------------------------


def _map_run(map_run_arn: str | None):
    run = WORLD.map_runs.get(map_run_arn or "") if WORLD is not None else None
    if run is None or not _visible(run, _now()):
        raise ResourceNotFound(f"Map Run Does Not Exist: '{map_run_arn}'")
    return run


def list_map_runs(self: StepFunctionBackend, execution_arn: str) -> dict:
    """ListMapRuns: the Map Runs an execution has started by now, newest first (the response passes it on)."""
    execution = _find_execution(self, execution_arn)
    now = _now()
    runs = WORLD.map_runs_of.get(execution.execution_arn, []) if WORLD is not None else []
    runs = sorted((r for r in runs if _visible(r, now)), key=lambda r: (r.plan.start, r.arn), reverse=True)
    return {"mapRuns": [r.summary() for r in runs]}


def describe_map_run(self: StepFunctionBackend, map_run_arn: str) -> dict:
    """DescribeMapRun: status and item/execution counts at the clock's time."""
    return _map_run(map_run_arn).describe()


_MAP_RUN_PAGINATION = {"list_map_run_executions": PAGINATION_MODEL["list_executions"]}


@paginate(pagination_model=_MAP_RUN_PAGINATION)
def list_map_run_executions(self: StepFunctionBackend, map_run_arn: str, status_filter: str | None = None):
    """ListExecutions(mapRunArn=): the run's child executions started by now."""
    now = _now()
    executions = [e for e in _map_run(map_run_arn).children() if _visible(e, now)]
    if status_filter:
        executions = [e for e in executions if e.status == status_filter]
    return sorted(executions, key=lambda x: (x.start_date, x.execution_arn), reverse=True)


def _listed(execution, state_machine_arn: str) -> dict:
    item = {"executionArn": execution.execution_arn, "name": execution.name, "startDate": execution.start_date,
            "stateMachineArn": state_machine_arn, "status": execution.status}
    if execution.status in ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"):
        item["stopDate"] = execution.stop_date
    if getattr(execution, "map_run_arn", None):
        item["mapRunArn"] = execution.map_run_arn
    if hasattr(execution, "redrive_fields"):  # ExecutionListItem: redriveCount, redriveDate
        redrive = execution.redrive_fields()
        item.update({k: redrive[k] for k in ("redriveCount", "redriveDate") if k in redrive})
    return item


def _redrive_filter(executions: list, redrive_filter: str | None) -> list:
    """ListExecutions' redriveFilter (AWS API reference): REDRIVEN keeps the executions redriven at least once,
    NOT_REDRIVEN the others; moto 5.2.5 ignores it."""
    if not redrive_filter:
        return executions
    if redrive_filter not in ("REDRIVEN", "NOT_REDRIVEN"):
        raise InvalidArn(f"redriveFilter: {redrive_filter!r} is not REDRIVEN or NOT_REDRIVEN")

    def count(e) -> int:
        return e.redrive_fields()["redriveCount"] if hasattr(e, "redrive_fields") else 0

    return [e for e in executions if (count(e) > 0) == (redrive_filter == "REDRIVEN")]


def list_executions_response(self: StepFunctionResponse):
    """ListExecutions by stateMachineArn (moto's, minus executions not yet started) or by mapRunArn (moto
    has none). A Map Run's children are never listed under the state machine, as on AWS."""
    from moto.core.responses import ActionResult

    max_results = self._get_int_param("maxResults")
    next_token = self._get_param("nextToken")
    status_filter = self._get_param("statusFilter")
    map_run_arn = self._get_param("mapRunArn")
    arn = self._get_param("stateMachineArn")
    if map_run_arn and arn:
        raise InvalidArn("Specify either stateMachineArn or mapRunArn, not both")
    if map_run_arn:
        results, next_token = self.stepfunction_backend.list_map_run_executions(
            map_run_arn, status_filter=status_filter, max_results=max_results, next_token=next_token)
        executions = [_listed(e, e.state_machine_arn) for e in results]
    else:
        state_machine = self.stepfunction_backend.describe_state_machine(arn)
        results, next_token = self.stepfunction_backend.list_executions(
            arn, status_filter=status_filter, redrive_filter=self._get_param("redriveFilter"),
            max_results=max_results, next_token=next_token)
        executions = [_listed(e, state_machine.arn) for e in results]
    return ActionResult({"executions": executions, "nextToken": next_token})


def describe_execution_response(self: StepFunctionResponse):
    """moto's DescribeExecution, plus mapRunArn for a Map Run's child execution."""
    result = _ORIGINAL["describe_execution_response"](self)
    execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    map_run_arn = getattr(execution, "map_run_arn", None)
    if map_run_arn:
        result.result["mapRunArn"] = map_run_arn
    if hasattr(execution, "redrive_fields"):  # redriveCount, redriveDate, redriveStatus(Reason): moto has none
        result.result.update(execution.redrive_fields())
        if execution.error:
            result.result.update(error=execution.error, cause=execution.cause)
    return result


_TERM = re.compile(r'(\?|-)?("[^"]*"|[^\s"]+)')


def term_matcher(pattern: str):
    """CloudWatch Logs' filter pattern for unstructured events (AWS docs, "Filter pattern syntax for
    unstructured log events"): terms all required, `?term` any of those, `-term` none; a "quoted phrase" is one
    term. moto matches everything for `?` patterns and parses the pattern again for every event. JSON and
    space-delimited patterns (`{...}`, `[...]`) still match everything, as in moto."""
    pattern = (pattern or "").strip()
    if not pattern or pattern[0] in "{[":
        return lambda message: True
    required, anyof, excluded = [], [], []
    for sign, term in _TERM.findall(pattern):
        term = term[1:-1] if term.startswith('"') else term
        {"?": anyof, "-": excluded}.get(sign, required).append(term)

    def matches(message: str) -> bool:
        return (all(t in message for t in required) and (not anyof or any(t in message for t in anyof))
                and not any(t in message for t in excluded))

    return matches


def stream_filter_log_events(self: LogStream, start_time: int, end_time: int, filter_pattern: str) -> list[dict]:
    matches = term_matcher(filter_pattern)
    events = []
    for event in sorted((e for e in self.events if (not start_time or e.timestamp >= start_time)
                         and (not end_time or e.timestamp <= end_time) and matches(e.message)),
                        key=lambda e: e.timestamp):
        events.append({**event.to_filter_dict(), "logStreamName": self.log_stream_name})
    return events


def group_filter_log_events(self: LogGroup, log_group_name, log_stream_names, *args, **kwargs):
    """The stream names as a set (moto tests `name in names` for every stream of the group)."""
    return _ORIGINAL["group_filter_log_events"](self, log_group_name, frozenset(log_stream_names or ()), *args, **kwargs)


def backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
    """moto matches the host against every service's URL patterns, under the dispatcher's global lock, on every
    request (a third of the emulator's time under a bulk fetch); the answer for a host never changes."""
    cache = self.__dict__.setdefault("_cxgm_backends", {})
    if host not in cache:
        cache[host] = _ORIGINAL["get_backend_for_host"](self, host)
    return cache[host]


def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
    """moto sets the request id into XML bodies by a regular expression over the whole body, JSON ones too (a
    megabyte of job descriptions scanned for nothing); only bodies that hold a <RequestId> need it."""
    if isinstance(body, str) and "<RequestId>" not in body:
        if "status" in headers:
            headers["status"] = str(headers["status"])
        gen_amzn_requestid_long(headers)
        return headers, body
    return _ORIGINAL["enrich_response"](headers, body)


_ORIGINAL: dict[str, Any] = {}


def apply() -> list[str]:
    """Installs every patch once per process; returns their names."""
    if APPLIED:
        return APPLIED
    BatchBackend.list_jobs = list_jobs
    BatchResponse.listjobs = listjobs
    BatchBackend.describe_jobs = describe_jobs
    StepFunctionBackend.list_executions = list_executions
    StepFunctionBackend.describe_execution = describe_execution
    StepFunctionBackend.get_execution_history = get_execution_history
    StepFunctionResponse.get_execution_history = get_execution_history_response
    StepFunctionBackend.list_map_runs = list_map_runs
    StepFunctionBackend.describe_map_run = describe_map_run
    StepFunctionBackend.list_map_run_executions = list_map_run_executions
    StepFunctionResponse.list_executions = list_executions_response
    _ORIGINAL["describe_execution_response"] = StepFunctionResponse.describe_execution
    StepFunctionResponse.describe_execution = describe_execution_response
    LogStream.filter_log_events = stream_filter_log_events
    _ORIGINAL["group_filter_log_events"] = LogGroup.filter_log_events
    LogGroup.filter_log_events = group_filter_log_events
    _ORIGINAL["get_backend_for_host"] = DomainDispatcherApplication.get_backend_for_host
    DomainDispatcherApplication.get_backend_for_host = backend_for_host
    _ORIGINAL["enrich_response"] = BaseResponse._enrich_response
    BaseResponse._enrich_response = staticmethod(enrich_response)
    APPLIED.extend(["batch.list_jobs", "batch.listjobs.pagination", "batch.describe_jobs", "sfn.list_executions",
                    "sfn.describe_execution", "sfn.get_execution_history", "sfn.get_execution_history.pagination",
                    "sfn.list_map_runs", "sfn.describe_map_run", "sfn.list_executions.map_run",
                    "sfn.describe_execution.map_run_arn", "sfn.describe_execution.redrive",
                    "sfn.list_executions.redrive_filter", "logs.filter_log_events.pattern",
                    "moto_server.backend_for_host.cached", "responses.enrich_response.xml_only"])
    return APPLIED
