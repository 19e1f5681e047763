"""Migration attempts: one (or several re-started) executions of a stage's schema-migration state machine.

An attempt's key is its `MIGRATION_ATTEMPT` tag when it has one: the same campaign rehearsed in dev and
then run in prod shares the key, so `ATTEMPT_2|dev` and `ATTEMPT_2|prod` compare like with like. An
untagged attempt's key is its start minute, `untagged-YYYYMMDDTHHMM` (UTC). Its jobs are those carrying
its tag, or, untagged, those created inside its execution window.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.aws.clients import AwsAccessError, FetchStats, StepFunctionsApi
from cxgm_pipeline.vocabulary import ATTEMPT_STATE_OF_EXECUTION, AttemptState, ExecutionStatus

WINDOW_MARGIN = timedelta(minutes=1)


def attempt_key_for(tag: str | None, start: float | datetime) -> str:
    """An attempt's readable key: its MIGRATION_ATTEMPT tag, else its start minute (UTC)."""
    if tag:
        return tag
    if not isinstance(start, datetime):
        start = datetime.fromtimestamp(start, timezone.utc)
    return "untagged-" + start.astimezone(timezone.utc).strftime("%Y%m%dT%H%M")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Attempt:
    stage: str
    key: str
    tag: str | None
    execution_names: tuple[str, ...]
    execution_arns: tuple[str, ...]
    start: datetime
    stop: datetime | None
    state: AttemptState
    # RedriveExecution keeps the execution's ARN (so the attempt's key) and returns it to RUNNING: DescribeExecution's
    # redriveCount (AWS API reference) tells a redriven attempt from the one that ended before
    redrive_count: int = 0
    redrive_date: datetime | None = None

    @property
    def fingerprint(self) -> str:
        """Changes when the attempt does in a way that asks for a refresh: a new state, or a redrive."""
        return f"{self.state.value}#{self.redrive_count}"
    outcome: str | None = None  # AttemptOutcome, once its frames are read (outcome.with_outcome)

    @property
    def ref(self) -> AttemptRef:
        return AttemptRef(self.stage, self.key)

    @property
    def ended(self) -> bool:
        return self.stop is not None

    @property
    def window_only(self) -> bool:
        """An ad-hoc time window (no execution, no tag): every job created inside it belongs to it."""
        return not self.tag and not self.execution_names

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """Creation-time window of its jobs: from its start to its end (or now), with a margin."""
        end = self.stop or max(now or utcnow(), self.start)
        return self.start - WINDOW_MARGIN, end + WINDOW_MARGIN


class AttemptNotFound(LookupError):
    def __init__(self, stage: str, key: str, known: list[str]):
        self.stage, self.key, self.known = stage, key, known
        listing = ", ".join(known) if known else "none"
        super().__init__(f"no attempt {key!r} in stage {stage!r}; known attempts: {listing}")


def _tag_of(description: dict) -> str | None:
    try:
        payload = json.loads(description.get("input") or "{}")
    except json.JSONDecodeError:
        return None
    tag = payload.get("migration_attempt") if isinstance(payload, dict) else None
    return str(tag) if tag else None


def _descriptions(stage: str, executions: list[dict], sfn: StepFunctionsApi, stats: FetchStats | None,
                  tags: MutableMapping[str, str | None] | None) -> list[dict]:
    """Each listed execution with its tag. ListExecutions says all an attempt needs but the input, which never
    changes (a redrive re-runs it): an execution whose tag `tags` holds is not described again; the others are,
    and their tags are added to it (None: every execution is described)."""
    tags = {} if tags is None else tags
    unknown = [e["executionArn"] for e in executions if e["executionArn"] not in tags]
    for d in sfn.describe_executions(stage, unknown, stats):
        tags[d["executionArn"]] = _tag_of(d)
    return [{**e, "tag": tags[e["executionArn"]]} for e in executions if e["executionArn"] in tags]


def list_attempts(stage: str, sfn: StepFunctionsApi, stats: FetchStats | None = None,
                  tags: MutableMapping[str, str | None] | None = None) -> list[Attempt]:
    """Every attempt of `stage`, oldest first, with start, end and state. `tags`: the executions' tags as known
    (by ARN; see `stored_tags`), so that only new executions are described."""
    cfg = sfn.stage_config(stage)
    executions = sfn.list_executions(stage, cfg.migration_sfn, stats)
    descriptions = _descriptions(stage, executions, sfn, stats, tags)
    groups: dict[str, list[dict]] = {}
    tags: dict[str, str | None] = {}
    for d in descriptions:
        tag = d["tag"]
        key = attempt_key_for(tag, d["startDate"])
        groups.setdefault(key, []).append(d)
        tags[key] = tag
    attempts = []
    for key, group in groups.items():
        group.sort(key=lambda d: d["startDate"])
        latest = group[-1]
        running = any(d["status"] == ExecutionStatus.RUNNING for d in group)
        stops = [d.get("stopDate") for d in group]
        stop = None if running or any(s is None for s in stops) else max(stops)
        attempts.append(Attempt(
            stage=stage, key=key, tag=tags[key],
            execution_names=tuple(d["name"] for d in group),
            execution_arns=tuple(d["executionArn"] for d in group),
            start=group[0]["startDate"].astimezone(timezone.utc),
            stop=stop.astimezone(timezone.utc) if stop else None,
            state=AttemptState.RUNNING if running else ATTEMPT_STATE_OF_EXECUTION.get(latest["status"], AttemptState.DISCOVERED),
            redrive_count=sum(int(d.get("redriveCount") or 0) for d in group),
            redrive_date=max((d["redriveDate"].astimezone(timezone.utc) for d in group if d.get("redriveDate")), default=None),
        ))
    return sorted(attempts, key=lambda a: a.start)


def find_attempt(stage: str, key: str, sfn: StepFunctionsApi, stats: FetchStats | None = None) -> Attempt:
    attempts = list_attempts(stage, sfn, stats)
    for attempt in attempts:
        if attempt.key == key:
            return attempt
    raise AttemptNotFound(stage, key, [a.key for a in attempts])


def list_all_attempts(sfn: StepFunctionsApi, stages: list[str], log=None, stats: FetchStats | None = None,
                      store=None) -> list[Attempt]:
    """Attempts of every stage; a stage AWS refuses is logged and skipped, not fatal to the others. With `store`,
    through each stage's tag cache: the sensors list every stage every tick."""
    found = []
    for stage in stages:
        try:
            found.extend(list_attempts(stage, sfn, stats) if store is None else
                         list_attempts_stored(stage, sfn, store, stats))
        except AwsAccessError as exc:
            if log is not None:
                log.warning(str(exc))
    return found


def rehearsal_candidates(sfn: StepFunctionsApi, stage: str, running: bool, log=None,
                         stats: FetchStats | None = None, store=None, keys: set[str] | None = None) -> list[Attempt]:
    """Attempts of the other stages that may have rehearsed a running attempt of `stage` (for its ETA); none
    looked up when nothing runs. A stage AWS refuses gives no rehearsal; the rest still count. With `store` and the
    running attempts' `keys`, only stages holding a rollup of one of those keys are listed: a rehearsal is read from
    the store, so another stage's listing without one is a call for nothing, every refresh."""
    from cxgm_pipeline.config import get_config
    from cxgm_pipeline.monitor.chain import Frame

    if not running:
        return []
    stages = [s for s in get_config().stage_names if s != stage]
    if store is not None and keys is not None:
        stages = [s for s in stages if any(store.exists(Frame.dataset_rollup, s, k) for k in keys)]
    return list_all_attempts(sfn, stages, log, stats, store)


def window_attempt(stage: str, start: datetime, end: datetime) -> Attempt:
    """An ad-hoc attempt for a time window, as the old notebook helpers took (start, end)."""
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    if end <= start:
        raise ValueError(f"empty window: end {end.isoformat()} is not after start {start.isoformat()}")
    key = f"window-{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}"
    state = AttemptState.SUCCEEDED if end <= utcnow() else AttemptState.RUNNING
    return Attempt(stage=stage, key=key, tag=None, execution_names=(), execution_arns=(), start=start,
                   stop=end if end <= utcnow() else None, state=state)


TAGS_FRAME = "execution_tags"  # per stage in the frame store, beside the attempts' frames


def stored_tags(store, stage: str) -> dict[str, str | None]:
    """The stage's executions' tags as the store keeps them (empty when it has none, or an unreadable file)."""
    try:
        if not store.exists(TAGS_FRAME, stage):
            return {}
        frame = store.read(TAGS_FRAME, stage)
        return {a: (t if isinstance(t, str) else None) for a, t in zip(frame["execution_arn"], frame["tag"])}
    except Exception:  # a cache: whatever is wrong with it costs only the descriptions it would have saved
        return {}


def store_tags(store, stage: str, tags: dict[str, str | None], known: int) -> None:
    """Writes the tags when the listing added any (`known`: how many there were before)."""
    if len(tags) > known:
        import pandas as pd

        store.write(pd.DataFrame({"execution_arn": list(tags), "tag": list(tags.values())}), TAGS_FRAME, stage)


ACCOUNT_FRAME = "aws_account"  # per stage: the account id of the credentials that listed it, under their key


def recall_account(store, stage: str, sfn: StepFunctionsApi) -> str | None:
    """Gives `sfn` the account the store keeps for `stage` (its machines' ARNs are made from it, which saves the
    GetCallerIdentity of every command); `sfn` uses it only for the same endpoint and credentials. Returns its key."""
    try:
        if not store.exists(ACCOUNT_FRAME, stage):
            return None
        frame = store.read(ACCOUNT_FRAME, stage)
        key, account = str(frame["account_key"].iloc[0]), str(frame["account"].iloc[0])
    except Exception:  # a cache: whatever is wrong with it costs one call
        return None
    sfn.remember_account(key, account)
    return key


def keep_account(store, stage: str, sfn: StepFunctionsApi, kept_key: str | None) -> None:
    """Writes the stage's account when the store keeps none, or one of other credentials."""
    known = sfn.known_account(stage)
    if known is not None and known[0] != kept_key:
        import pandas as pd

        store.write(pd.DataFrame({"account_key": [known[0]], "account": [known[1]]}), ACCOUNT_FRAME, stage)


def list_attempts_stored(stage: str, sfn: StepFunctionsApi, store, stats: FetchStats | None = None) -> list[Attempt]:
    """`list_attempts` with the stage's tags and account as `store` keeps them, and what it learnt kept there."""
    tags = stored_tags(store, stage)
    known = len(tags)
    kept_key = recall_account(store, stage, sfn)
    attempts = list_attempts(stage, sfn, stats, tags)
    store_tags(store, stage, tags, known)
    keep_account(store, stage, sfn, kept_key)
    return attempts
