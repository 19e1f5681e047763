"""The portal's answer: what the stage's CELLxGENE Discover serves for each dataset an attempt touched.

cxgm otherwise reports what AWS's jobs and executions say; the migration's purpose is that every dataset the
portal serves is on the new schema. Production publishes a migration's revision only when every dataset in it is
on the latest schema and processed (`publish_and_cleanup`, backend/layers/processing/schema_migration.py
@ 001730b8; the `publish_revisions` job, backend/layers/processing/publish_revisions.py @ c323e0e8), and rolls failed
datasets back, so a dataset can succeed in every job while the portal still serves the old schema.

Read: the public Curation API, unauthenticated, paced (`CXGM_PORTAL_RATE` requests a second, default 4). First its
datasets index, `GET {portal_url}/curation/v1/datasets` (portal_shapes: every dataset of every published collection,
the version served and its schema version), one request for the whole corpus, stream-parsed, keeping only the
attempt's datasets; then `GET {portal_url}/curation/v1/collections/{collection_id}` for each collection the index
cannot answer: one holding a dataset of the attempt the index lacks (a collection never published, tombstoned, or a
dataset removed), or every collection when the index does not answer (a deployment without it). Its shape
(backend/curation/api/v1/curation/collections/common.py @ 26252232, `reshape_for_curation_api`): by canonical id
it answers the collection version the portal serves (`collection_version_id`, `visibility` PUBLIC once published,
`published_at`), its `datasets[]` each with `dataset_id`, `dataset_version_id`, `schema_version` and, for an
unpublished version only, `processing_status`; `revising_in` is null for a caller who is not the owner, so the
open revision itself is not visible: a revision is published when the portal serves it. 404: no such
collection; 403: not a UUID (or a published version asked by version id); 410: tombstoned.

A build spends at most `CXGM_PORTAL_SECONDS` (default 20) on the portal: at the public pace, a corpus with hundreds of
never-published collections would otherwise hold the run for minutes. The collections left are `not_read_yet`, read
first by the next build (the refresh sensor asks for one at once, as for the history fallback); an answer read once
the attempt had ended is final and not read again.
"""

from __future__ import annotations

import codecs
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import IO, Iterator

import pandas as pd

from cxgm_pipeline.config import ConfigError
from cxgm_pipeline.monitor.frames.budget import Budget
from cxgm_pipeline.monitor.frames.columns_rows import row_dicts
from cxgm_pipeline.monitor.frames.columns_missing import none_if_missing
from cxgm_pipeline.schemas import PortalState, empty_frame, validate
from cxgm_pipeline.vocabulary import DatasetState, JobStatus, PortalVerdict as V
from portal_shapes import CURATION_COLLECTION_PATH, CURATION_DATASETS_INDEX_PATH, PROCESSING_SUCCESS, VISIBILITY_PUBLIC

RATE_ENV_VAR = "CXGM_PORTAL_RATE"
DEFAULT_RATE = 4.0  # requests a second: the API is public and shared with every user of the portal
TIMEOUT_S = 10.0
# production builds the whole index before its first byte (every mapped dataset, with its assets' sizes from S3)
INDEX_TIMEOUT_S = 120.0
# From this many collections to read on, the datasets index is read first. Fewer (a refresh where a few collections
# changed): a GET each, a few seconds at most, lighter for the portal than building the index of the whole corpus.
INDEX_FROM = 4
# after this many answers in a row that did not come, the rest of the collections are marked unreachable
# without waiting for each to time out
GIVE_UP_AFTER = 3
USER_AGENT = "cxgm (CELLxGENE schema-migration monitor; read-only)"
SUCCESS = PROCESSING_SUCCESS
NO_COLLECTION = "no collection"  # a row no collection is known for: nothing to ask the portal
NOT_READ = "not read"  # a collection the build's budget left for the next build
SECONDS_VAR, CALLS_VAR = "CXGM_PORTAL_SECONDS", "CXGM_PORTAL_CALLS"
DEFAULT_SECONDS = 20.0


def portal_budget() -> Budget:
    """CXGM_PORTAL_SECONDS (default 20; 0: no limit) and CXGM_PORTAL_CALLS (requests; default none)."""
    return Budget.from_env(SECONDS_VAR, CALLS_VAR, DEFAULT_SECONDS)


def portal_rate() -> float | None:
    """Requests a second ($CXGM_PORTAL_RATE); None: unpaced (`off`, for tests against a local emulator)."""
    raw = os.environ.get(RATE_ENV_VAR, "").strip()
    if not raw:
        return DEFAULT_RATE
    if raw.lower() == "off":
        return None
    try:
        rate = float(raw)
    except ValueError:
        raise ConfigError(f"{RATE_ENV_VAR}={raw!r} is not a number of requests a second (e.g. 4) or `off`") from None
    if rate <= 0:
        raise ConfigError(f"{RATE_ENV_VAR}={raw!r} must be above 0 (or `off`)")
    return rate


class _Pace:
    """One request every 1/rate seconds per portal, shared by the threads of a process."""

    _next: dict[str, float] = {}
    _lock = threading.Lock()

    @classmethod
    def wait(cls, base: str, rate: float | None) -> None:
        if rate is None:
            return
        with cls._lock:
            now = time.monotonic()
            at = max(now, cls._next.get(base, now))
            cls._next[base] = at + 1.0 / rate
        if at > now:
            time.sleep(at - now)


@dataclass(frozen=True)
class PortalAnswer:
    status: int | None  # HTTP status; None: no answer
    body: dict | None
    error: str | None
    read_at: datetime
    after_end: bool = False  # read once the attempt had ended: final


@dataclass(frozen=True)
class IndexedDataset:
    """What is kept of one item of the datasets index: the columns a verdict needs."""

    collection_id: str | None
    collection_version_id: str | None  # the collection version this dataset version was first published in
    dataset_version_id: str | None
    schema_version: str | None
    published: float | None  # when that collection version was published (epoch seconds), None if not given


def index_entry(item: dict) -> IndexedDataset:
    """One item of the datasets index, shaped as production's (reshape_dataset_for_curation_datasets_index_api): the
    canonical dataset's `published_at` and `revised_at` (the publication of the collection version this dataset
    version came in, when later than the first), so the version's own publication is revised_at, else published_at."""
    return IndexedDataset(item.get("collection_id"), item.get("collection_version_id"), item.get("dataset_version_id"),
                          item.get("schema_version"), _epoch(item.get("revised_at") or item.get("published_at")))


def _epoch(value) -> float | None:
    """A time as the API writes it: Flask's jsonify writes a datetime as RFC 822 (`Tue, 05 Mar 2024 17:02:11 GMT`);
    ISO 8601 and epoch numbers are read too."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        pass
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()


def iter_json_array(stream: IO[bytes], chunk: int = 1 << 16) -> Iterator:
    """The items of a JSON array read from `stream`, one at a time: the index of a large corpus is tens of MB, and
    only a few columns of some of its items are kept."""
    decoder, text = json.JSONDecoder(), codecs.getincrementaldecoder("utf-8")()
    buf, pos, eof, opened = "", 0, False, False

    def more() -> bool:
        nonlocal buf, pos, eof
        if eof:
            return False
        data = stream.read(chunk)
        eof = not data
        buf = buf[pos:] + text.decode(data, final=eof)
        pos = 0
        return True

    while True:
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n" + ("," if opened else ""):
                pos += 1
            if pos < len(buf) or not more():
                break
        if pos >= len(buf):
            raise ValueError("the answer ends before its JSON array does")
        if not opened:
            if buf[pos] != "[":
                raise ValueError("the answer is not a JSON array")
            opened, pos = True, pos + 1
            continue
        if buf[pos] == "]":
            return
        try:
            item, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError:
            if more():
                continue
            raise
        if not isinstance(item, (dict, list, str)) and not eof and (end == len(buf) or buf[end] not in ",] \t\r\n"):
            more()  # a number may go on in the next chunk (`2` of `2.5`): read up to what ends it
            continue
        pos = end
        yield item


class PortalClient:
    """The stage's Curation API, read politely: paced, its datasets index then one GET per collection it cannot
    answer; answers kept for this read. `index_error`: why the index did not answer, if it did not."""

    def __init__(self, base_url: str, rate: float | None = DEFAULT_RATE, timeout: float = TIMEOUT_S):
        self.base = base_url.rstrip("/")
        self.rate, self.timeout = rate, timeout
        self.requests = 0
        self._failures_in_a_row = 0
        self._gave_up: str | None = None
        self.index_error: str | None = None

    def collection(self, collection_id: str) -> PortalAnswer:
        if self._gave_up:
            return PortalAnswer(None, None, self._gave_up, datetime.now(timezone.utc))
        url = self.base + CURATION_COLLECTION_PATH.format(collection_id=collection_id)
        for attempt in range(2):
            _Pace.wait(self.base, self.rate)
            self.requests += 1
            request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = json.loads(response.read())
                    self._failures_in_a_row = 0
                    return PortalAnswer(response.status, body if isinstance(body, dict) else None,
                                        None if isinstance(body, dict) else "answer is not a JSON object",
                                        datetime.now(timezone.utc))
            except urllib.error.HTTPError as exc:
                if exc.code in (429, 503) and attempt == 0:  # asked to slow down: once, after what it asks
                    time.sleep(min(float(exc.headers.get("Retry-After") or 2), 10.0))
                    continue
                if exc.code >= 500:
                    return self._failed(f"HTTP {exc.code} from {url}", exc.code)
                self._failures_in_a_row = 0
                return PortalAnswer(exc.code, None, f"HTTP {exc.code}", datetime.now(timezone.utc))
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                return self._failed(f"{url}: {reason}", None)
        return self._failed(f"HTTP 429 from {url} twice", 429)

    def datasets_index(self, wanted: set[str], collections: frozenset[str] = frozenset()
                       ) -> tuple[dict[str, IndexedDataset] | None, datetime]:
        """The datasets index's items for the datasets in `wanted` and every dataset of `collections`, read as they
        stream in: ({dataset_id: entry}, read_at), or (None, read_at) when the index did not answer (absent from an
        older deployment, refused, or broken off; `index_error` says why): its collections are then read one by
        one. A failure to connect counts toward giving up on the portal, as a collection's would."""
        found, self.index_error = self._index(wanted, collections)
        return found, datetime.now(timezone.utc)

    def _index(self, wanted: set[str], collections: frozenset[str] = frozenset()
               ) -> tuple[dict[str, IndexedDataset] | None, str | None]:
        if self._gave_up:
            return None, self._gave_up
        url = self.base + CURATION_DATASETS_INDEX_PATH
        for attempt in range(2):
            _Pace.wait(self.base, self.rate)
            self.requests += 1
            request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
            try:
                with urllib.request.urlopen(request, timeout=max(self.timeout, INDEX_TIMEOUT_S)) as response:
                    found = {}
                    for item in iter_json_array(response):
                        if isinstance(item, dict) and (item.get("dataset_id") in wanted
                                                       or item.get("collection_id") in collections):
                            found[item["dataset_id"]] = index_entry(item)
                    self._failures_in_a_row = 0
                    return found, None
            except urllib.error.HTTPError as exc:
                if exc.code in (429, 503) and attempt == 0:
                    time.sleep(min(float(exc.headers.get("Retry-After") or 2), 10.0))
                    continue
                return None, f"HTTP {exc.code} from {url}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                self._failed(f"{url}: {reason}", None)
                return None, f"{url}: {reason}"
            except (ValueError, http.client.HTTPException) as exc:  # not a JSON array, or cut short
                return None, f"{url}: {exc!r}"
        return None, f"HTTP 429 from {url} twice"

    def _failed(self, error: str, status: int | None) -> PortalAnswer:
        self._failures_in_a_row += 1
        if self._failures_in_a_row >= GIVE_UP_AFTER:
            self._gave_up = f"portal unreachable after {GIVE_UP_AFTER} failed requests in a row (last: {error})"
        return PortalAnswer(status, None, error, datetime.now(timezone.utc))


def _short(value: str | None) -> str:
    return (value or "?")[:8]


def later_attempt(read_at: datetime | None, later: list[tuple[str, datetime]]) -> str | None:
    """The key of the latest of `later` (the stage's attempts started after this one: (key, start)) that had started
    when the portal was read at `read_at`; None when none had: only then is what the portal serves this attempt's
    result. The portal is the stage's one state: once a later attempt starts, it is that attempt's doing."""
    if read_at is None:
        return None
    started = [(start, key) for key, start in later if pd.Timestamp(start) <= pd.Timestamp(read_at)]
    return max(started)[1] if started else None


def migration_revisions(migration_jobs: pd.DataFrame | None) -> dict[str, str]:
    """{dataset_id: the collection version its dataset_migration job put the new version in}: the job's
    COLLECTION_VERSION_ID is collection_migrate's answer (the revision it opened), not the version gathered."""
    if migration_jobs is None or migration_jobs.empty:
        return {}
    jobs = migration_jobs[(migration_jobs["step"] == "dataset_migration") & migration_jobs["dataset_id"].notna()
                          & migration_jobs["collection_version_id"].notna()].sort_values("created_at")
    return dict(zip(jobs["dataset_id"], jobs["collection_version_id"]))


def _revision_of(rows: list[dict], revisions: dict[str, str]) -> str | None:
    """The collection version the migration put its new versions in: its revision (the collection version itself
    for a collection never published, migrated in place)."""
    found = Counter(revisions[r["dataset_id"]] for r in rows
                    if none_if_missing(r.get("new_dataset_version_id")) and r["dataset_id"] in revisions)
    return found.most_common(1)[0][0] if found else None


def _cause(row: dict) -> str:
    parts = [row["state"]]
    if none_if_missing(row.get("failing_step")):
        parts.append(f"in {row['failing_step']}")
    if none_if_missing(row.get("error_category")):
        parts.append(f"({row['error_category']})")
    return " ".join(parts)


def _not_published_why(rows: list[dict], revision: str | None, ended: bool) -> str:
    failed = [r for r in rows if r["state"] == DatasetState.FAILED.value]
    moving = [r for r in rows if r["state"] in (DatasetState.RUNNING.value, DatasetState.PENDING.value)]
    name = f"its revision {_short(revision)}" if revision else "its revision"
    if failed:
        listed = ", ".join(f"{_short(r['dataset_id'])} ({_cause(r)})" for r in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        return (f"{name} holds {len(failed)} dataset(s) that failed: {listed}{more}; production publishes a revision "
                f"only when every dataset in it is on the new schema and processed: re-run them, then publish it")
    if moving:
        return f"{len(moving)} dataset(s) of {name} still migrating: it is published after they end"
    if not ended:
        return f"{name} is not published yet: its collection's cleanup (or the publish step) has not run"
    return (f"every dataset of {name} succeeded, yet the portal does not serve it: publish it (the publish_revisions "
            f"job) or read its Collection_publish / Collection_cleanup log")


def migrated_earlier_by(row: dict) -> str | None:
    """The earlier attempt of its campaign that migrated a dataset this attempt skipped (dataset_rollup's
    campaign_state succeeded, decided by another attempt); None for one skipped because it was current before: a
    re-run skips what the execution before it migrated, and "already current" would say it never needed migrating."""
    by = none_if_missing(row.get("campaign_attempt"))
    if by is None or by == none_if_missing(row.get("attempt")) or row.get("campaign_state") != DatasetState.SUCCEEDED.value:
        return None
    return by


def dataset_verdict(row: dict, answer: PortalAnswer | None, rows: list[dict], revision: str | None,
                    ended: bool, later: list[tuple[str, datetime]] = ()) -> dict:
    """The portal columns of one dataset row: what the portal serves and the verdict. `rows`: its collection's
    rows (the why of an unpublished revision), `answer`: the collection's answer (None: portal not configured),
    `later`: the stage's attempts started after this one (`later_attempt`)."""
    out = {"revision_version_id": revision, "portal_collection_version_id": None, "portal_visibility": None,
           "revision_published": None, "portal_dataset_version_id": None, "portal_schema_version": None,
           "portal_processing_status": None, "portal_current": None, "portal_why": None, "portal_http_status": None,
           "portal_read_at": None, "portal_read_after_end": None, "portal_later_attempt": None}
    if answer is None:
        return {**out, "portal_verdict": V.NOT_CONFIGURED.value, "portal_why": "no portal_url for this stage"}
    if answer == NO_COLLECTION:
        return {**out, "portal_verdict": V.NOT_CHECKED.value, "portal_why": "no collection known for this row"}
    if answer == NOT_READ:
        return {**out, "portal_verdict": V.NOT_READ_YET.value,
                "portal_why": "not read yet: this run's time for the portal ran out; the next run reads it first"}
    out.update(portal_http_status=answer.status, portal_read_at=answer.read_at,
               portal_read_after_end=answer.after_end, portal_later_attempt=later_attempt(answer.read_at, later))
    if answer.body is None:
        if answer.status in (403, 404, 410):
            what = {403: "refused (403: not a collection id it serves)", 404: "not found (404)",
                    410: "tombstoned (410)"}[answer.status]
            return {**out, "portal_verdict": V.MISSING_FROM_PORTAL.value, "portal_why": f"the collection: {what}"}
        return {**out, "portal_verdict": V.PORTAL_UNREACHABLE.value, "portal_why": answer.error}
    body = answer.body
    out.update(portal_collection_version_id=body.get("collection_version_id"), portal_visibility=body.get("visibility"))
    public = body.get("visibility") == VISIBILITY_PUBLIC
    if revision is not None:
        out["revision_published"] = bool(public and body.get("collection_version_id") == revision)
    # `dataset_id` since the API answers versions too (common.py @ 26252232); `id` before (@ 00a4e28)
    served = next((d for d in body.get("datasets") or [] if (d.get("dataset_id") or d.get("id")) == row["dataset_id"]),
                  None)
    if served is None:
        return {**out, "portal_verdict": V.MISSING_FROM_PORTAL.value,
                "portal_why": "the collection is served without this dataset"}
    version, new, old = served.get("dataset_version_id"), none_if_missing(row.get("new_dataset_version_id")), \
        none_if_missing(row.get("dataset_version_id"))
    status = served.get("processing_status")
    out.update(portal_dataset_version_id=version, portal_schema_version=served.get("schema_version"),
               portal_processing_status=status, portal_current=bool(new is not None and version == new))
    state = row["state"]
    if out["portal_current"]:
        if status in (None, SUCCESS):
            return {**out, "portal_verdict": V.MIGRATED_AND_LIVE.value}
        return {**out, "portal_verdict": V.NEW_VERSION_NOT_READY.value,
                "portal_why": f"the portal serves the new version with processing_status {status}"}
    if row.get("later_current"):
        return {**out, "portal_verdict": V.OTHER_VERSION_SERVED.value,
                "portal_why": f"not migrated by this attempt: its collection's collection_migration failed "
                              f"({row.get('error_category') or 'unknown'}) before listing its datasets; the portal "
                              f"now serves it on schema {served.get('schema_version')}, after a later attempt "
                              f"({row['later_current']})"}
    if old is not None and version == old:
        if state == DatasetState.SKIPPED.value and (by := migrated_earlier_by(row)):
            return {**out, "portal_verdict": V.MIGRATED_EARLIER.value,
                    "portal_why": f"skipped as current: an earlier attempt of its campaign ({by}) migrated it, and "
                                  f"the portal serves that version"}
        if state == DatasetState.SKIPPED.value:
            return {**out, "portal_verdict": V.ALREADY_CURRENT.value}
        if state == DatasetState.SUCCEEDED.value:
            return {**out, "portal_verdict": V.MIGRATED_NOT_PUBLISHED.value,
                    "portal_why": _not_published_why(rows, revision, ended)}
        why = f"not migrated: {_cause(row)}"
        if row.get("listed_by_portal"):
            why = (f"not migrated: its collection's collection_migration failed ({row.get('error_category') or 'unknown'})"
                   f" before listing its datasets; named by the portal alone")
        if new is not None and state == DatasetState.FAILED.value and not public:
            why += "; rolled back to its previous version"
        return {**out, "portal_verdict": V.PUBLISHED_ON_OLD_SCHEMA.value, "portal_why": why}
    if state == DatasetState.SKIPPED.value and (by := migrated_earlier_by(row)):
        # a re-run found the version the earlier attempt made in its revision; the portal serves another: the one
        # its published version still holds
        return {**out, "portal_verdict": V.MIGRATED_NOT_PUBLISHED.value,
                "portal_why": f"an earlier attempt of its campaign ({by}) migrated it, but the portal serves version "
                              f"{_short(version)}: the revision holding it is not published"}
    return {**out, "portal_verdict": V.OTHER_VERSION_SERVED.value,
            "portal_why": f"the portal serves version {_short(version)}: neither the one migrated from nor the one "
                          f"made (a later migration's, or a curator's revision)"}


def portal_state(stage: str, attempt_key: str | None, dataset_rollup: pd.DataFrame, portal_url: str, ended: bool,
                 previous: pd.DataFrame | None = None, client: PortalClient | None = None,
                 migration_jobs: pd.DataFrame | None = None, budget: Budget | None = None,
                 collections: pd.DataFrame | None = None,
                 later: list[tuple[str, datetime]] = ()) -> pd.DataFrame:
    """One row per dataset of `dataset_rollup`, and per dataset the portal lists of a collection whose
    collection_migration failed (`collections`: the collection_rollup; `collection_failures`): what the portal
    serves and the verdict. A collection is read once; with `previous` (this partition's last frame) only
    collections whose datasets changed state since, or that were not answered, are read again; once the attempt
    has ended, every collection once more, then never again. Within `budget` (default: portal_budget()):
    collections never answered first, the rest `not_read_yet`. `later`: (key, start) of the stage's attempts started
    after this one: a row read once one of them had started names it (`portal_later_attempt`)."""
    failed = collection_failures(collections)
    if (dataset_rollup.empty and not failed) or attempt_key is None:
        return empty_frame(PortalState)
    # the portal serves one version of a dataset: of a collection gathered twice, the branch that made a new version
    # speaks for it (the last gathered, when both did)
    one = dataset_rollup.assign(_made=dataset_rollup["new_dataset_version_id"].notna()).sort_values("_made", kind="stable")
    rows = row_dicts(one.drop_duplicates("dataset_id", keep="last").drop(columns="_made")) if not one.empty else []
    revisions = migration_revisions(migration_jobs)
    by_collection: dict[str, list[dict]] = {}
    for r in rows:
        if none_if_missing(r.get("collection_id")):
            by_collection.setdefault(r["collection_id"], []).append(r)
    for cid in failed:  # read even when no dataset of it is known: the portal's listing is all that names them
        by_collection.setdefault(cid, [])
    answers: dict[str, PortalAnswer | None] = {}
    if portal_url:
        client = client or PortalClient(portal_url, portal_rate())
        budget = budget or portal_budget()
        answers.update(_unchanged(previous, rows, ended, failed))
        answered_before = _answered(previous)
        to_read = sorted((cid for cid in by_collection if cid not in answers), key=lambda c: (c in answered_before, c))
        if len(to_read) >= INDEX_FROM:
            index, read_at = client.datasets_index({r["dataset_id"] for cid in to_read for r in by_collection[cid]},
                                                   frozenset(c for c in to_read if c in failed))
            budget.add(1)
            for cid in to_read if index is not None else ():
                answer = index_answer(cid, by_collection[cid], index, read_at, whole=cid in failed)
                if answer is not None:
                    answers[cid] = replace(answer, after_end=ended)
        for cid in to_read:
            if cid in answers:
                continue
            if budget.room() == 0:
                answers[cid] = NOT_READ
                continue
            answers[cid] = replace(client.collection(cid), after_end=ended)
            budget.add(1)
    out = []
    for r in rows:
        cid = none_if_missing(r.get("collection_id"))
        siblings = by_collection.get(cid, [])
        answer = (answers.get(cid) if cid else NO_COLLECTION) if portal_url else None
        verdict = dataset_verdict(r, answer, siblings, _revision_of(siblings, revisions), ended, later)
        out.append({"stage": stage, "attempt": attempt_key, "dataset_id": r["dataset_id"], "collection_id": cid,
                    "state": r["state"], "dataset_version_id": none_if_missing(r.get("dataset_version_id")),
                    "new_dataset_version_id": none_if_missing(r.get("new_dataset_version_id")), **verdict})
    current = current_schemas(out, [answers.get(cid) for cid in failed])
    known = {r["dataset_id"] for r in rows}
    for cid, cause in failed.items():
        answer = answers.get(cid)
        read_at = answer.read_at if isinstance(answer, PortalAnswer) else None
        for r in listed_by_portal(cid, cause, answer, known, current, later_attempt(read_at, later)):
            known.add(r["dataset_id"])
            out.append({"stage": stage, "attempt": attempt_key, "dataset_id": r["dataset_id"], "collection_id": cid,
                        "state": r["state"], "dataset_version_id": r["dataset_version_id"],
                        "new_dataset_version_id": None, **dataset_verdict(r, answer, [], None, ended, later)})
    frame = pd.DataFrame(out, columns=list(PortalState.to_schema().columns))
    return validate(PortalState, frame)


def _version(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in str(text).split("."))


def current_schemas(rows: list[dict], answers: list) -> set[str]:
    """The schema versions the migration's target is known by: those served of a dataset migrated and live or
    already current, and the newest one the portal serves when it serves more than one (a later migration's datasets
    are served on it: an earlier attempt's rows are then `other_version_served`). No cxgm-side constant: the target
    is the schema package inside production's container."""
    known = {r["portal_schema_version"] for r in rows if r["portal_schema_version"]
             and r["portal_verdict"] in (V.MIGRATED_AND_LIVE.value, V.ALREADY_CURRENT.value, V.MIGRATED_EARLIER.value)}
    served = {r["portal_schema_version"] for r in rows if r["portal_schema_version"]}
    served |= {d.get("schema_version") for a in answers if isinstance(a, PortalAnswer) and a.body
               for d in a.body.get("datasets") or [] if d.get("schema_version")}
    if len(served) > 1:
        known.add(max(served, key=_version))
    return known


@dataclass(frozen=True)
class CollectionFailure:
    """A collection whose latest collection_migration job failed: collection_migrate names a collection's datasets
    in its answer, so no source in AWS names them; the portal's listing of the collection does."""

    collection_id: str
    collection_version_id: str | None  # the version gathered
    error_category: str | None
    error_signature: str | None

    def cause(self) -> str:
        return f"collection_migration failed ({self.error_category or 'unknown'})"


def collection_failures(collections: pd.DataFrame | None) -> dict[str, CollectionFailure]:
    """{COLLECTION_ID: its failure} of the collection_rollup's collections whose collection_migration failed."""
    if collections is None or collections.empty or "collection_migration_error_category" not in collections:
        return {}
    bad = collections[collections["collection_migration_status"] == JobStatus.FAILED.value]
    return {r["collection_id"]: CollectionFailure(r["collection_id"], none_if_missing(r["collection_version_id"]),
                                                  none_if_missing(r["collection_migration_error_category"]),
                                                  none_if_missing(r["collection_migration_error_signature"]))
            for r in row_dicts(bad)}


def listed_by_portal(collection_id: str, failure: CollectionFailure, answer, known: set[str],
                     current: set[str], later: str | None = None) -> list[dict]:
    """The datasets the portal's `answer` lists of a collection whose collection_migration failed, that no source in
    AWS named (not in `known`), as rows a verdict is given for: not started, with the collection's step and cause
    (as dataset_rollup gives a known dataset of that collection, rollups._not_started), or skipped when the portal
    serves it on a schema version a migrated dataset is served on (`current`: collection_migrate drops those). A
    dataset the portal gives a processing_status other than SUCCESS is left out: collection_migrate drops it too,
    never migrated, never failed (production-shapes: schema_migration.py collection_migrate). `later`: the later
    attempt of the stage that had started when `answer` was read (`later_attempt`): the schema it serves is then that
    attempt's doing, not what this one found, so every dataset it lists is not started (`later_current` when it is
    served on a current schema: its verdict says so)."""
    if not isinstance(answer, PortalAnswer) or answer.body is None:
        return []
    out = []
    for served in answer.body.get("datasets") or []:
        dataset_id = served.get("dataset_id") or served.get("id")
        if not dataset_id or dataset_id in known or served.get("processing_status") not in (None, SUCCESS):
            continue
        on_current = served.get("schema_version") in current
        skipped = on_current and later is None
        out.append({"dataset_id": dataset_id, "collection_id": collection_id,
                    "dataset_version_id": served.get("dataset_version_id"), "new_dataset_version_id": None,
                    "state": (DatasetState.SKIPPED if skipped else DatasetState.NOT_STARTED).value,
                    "failing_step": None if skipped else "collection_migration",
                    "error_category": None if skipped else failure.error_category,
                    "error_signature": None if skipped else failure.error_signature,
                    "listed_by_portal": True, "later_current": later if on_current and not skipped else None})
    return out


def index_answer(collection_id: str, rows: list[dict], index: dict[str, IndexedDataset],
                 read_at: datetime, whole: bool = False) -> PortalAnswer | None:
    """The collection's answer as its GET would give it, from the datasets index; None when the index cannot tell
    (a dataset of the attempt missing from it, or listed under another collection): its GET tells why.

    Every item of the (public) index belongs to a published, mapped collection version: visibility PUBLIC and no
    processing_status, as the collection's GET answers a published version. The version served is the one the
    latest-published of its datasets came in: an item names the collection version its dataset version was first
    published in, so a later revision that replaced no dataset of the collection is not seen."""
    entries = [index.get(r["dataset_id"]) for r in rows]
    if any(e is None or e.collection_id != collection_id for e in entries):
        return None
    if whole:  # a collection whose migration failed: every dataset the index lists of it (`listed_by_portal`)
        named = {r["dataset_id"] for r in rows}
        more = [(d, e) for d, e in index.items() if e.collection_id == collection_id and d not in named]
        rows, entries = [*rows, *({"dataset_id": d} for d, _ in more)], [*entries, *(e for _, e in more)]
    if not entries:
        return None
    latest = max(entries, key=lambda e: (e.published is not None, e.published or 0.0))
    datasets = [{"dataset_id": r["dataset_id"], "dataset_version_id": e.dataset_version_id,
                 **({"schema_version": e.schema_version} if e.schema_version is not None else {})}
                for r, e in zip(rows, entries)]
    body = {"collection_id": collection_id, "collection_version_id": latest.collection_version_id,
            "visibility": VISIBILITY_PUBLIC, "datasets": datasets}
    return PortalAnswer(200, body, None, read_at)


# verdicts that are no answer: their collection is read again
_NO_ANSWER = {V.PORTAL_UNREACHABLE.value, V.NOT_CONFIGURED.value, V.NOT_CHECKED.value, V.NOT_READ_YET.value}


def _answered(previous: pd.DataFrame | None) -> set[str]:
    """Collections the portal answered for in the last frame (whatever the answer)."""
    if previous is None or previous.empty or "portal_verdict" not in previous.columns:
        return set()
    return set(previous.loc[~previous["portal_verdict"].isin(_NO_ANSWER), "collection_id"].dropna())


def _unchanged(previous: pd.DataFrame | None, rows: list[dict], ended: bool,
               failed: dict | None = None) -> dict[str, PortalAnswer]:
    """Collections whose last answer still stands: answered last time and none of their datasets changed state
    since; once the attempt has ended, only answers read after its end (so everything is read once more after it).
    A collection whose migration failed (`failed`) is read again until the last frame holds a dataset of it the
    portal alone named (its migration may have failed after that read)."""
    if previous is None or previous.empty or "portal_verdict" not in previous.columns:
        return {}
    before = {r["dataset_id"]: r for r in row_dicts(previous)}
    changed: set[str] = set()
    for r in rows:
        old = before.get(r["dataset_id"])
        if old is None or old["state"] != r["state"] or old["portal_verdict"] in _NO_ANSWER:
            changed.add(r.get("collection_id"))
    named = {r["dataset_id"] for r in rows}
    for cid in failed or ():
        if not (previous["collection_id"].eq(cid) & ~previous["dataset_id"].isin(named)).any():
            changed.add(cid)
    final = previous.get("portal_read_after_end")
    if ended:  # a frame from before this column: nothing read after the end
        after = final.fillna(False).astype(bool) if final is not None else pd.Series(False, index=previous.index)
        changed.update(previous.loc[~after, "collection_id"].dropna())
    kept: dict[str, PortalAnswer] = {}
    for cid, group in previous.groupby("collection_id"):
        if cid in changed:
            continue
        first = group.iloc[0]
        if first["portal_verdict"] == V.MISSING_FROM_PORTAL.value and group["portal_collection_version_id"].isna().all():
            status = none_if_missing(first["portal_http_status"])
            kept[cid] = PortalAnswer(int(status) if status is not None else 404, None, None,
                                     first["portal_read_at"].to_pydatetime(), ended)
            continue
        datasets = [{"dataset_id": g["dataset_id"], "dataset_version_id": none_if_missing(g["portal_dataset_version_id"]),
                     "schema_version": none_if_missing(g["portal_schema_version"]),
                     **({"processing_status": g["portal_processing_status"]}
                        if none_if_missing(g["portal_processing_status"]) else {})}
                    for g in row_dicts(group) if none_if_missing(g["portal_dataset_version_id"])]
        body = {"collection_version_id": none_if_missing(first["portal_collection_version_id"]),
                "visibility": none_if_missing(first["portal_visibility"]), "datasets": datasets}
        status = none_if_missing(first["portal_http_status"])
        kept[cid] = PortalAnswer(int(status) if status is not None else 200, body, None,
                                 first["portal_read_at"].to_pydatetime(), ended)
    return kept


def portal_summary(frame: pd.DataFrame) -> dict:
    """Counts by verdict, and the one number the finished alert gives: datasets still served on the old schema."""
    if frame.empty:
        return {"datasets": 0}
    counts = frame["portal_verdict"].value_counts()
    out = {"datasets": len(frame), **{f"portal_{k}": int(v) for k, v in counts.items()},
           "old_schema_served": old_schema_served(frame)}
    reading = portal_reading(frame)
    if reading.checked and not reading.own:  # the portal now: the later attempt's page gives its count, not this one
        out["portal_read_after"] = reading.text()
        del out["old_schema_served"]
    left, of = collections_not_read(frame), int(frame["collection_id"].nunique())
    if left:
        out["portal"] = f"reading the portal, {of - left:,} of {of:,} collections"
    out["collections_not_read"] = left
    return out


def collections_not_read(frame: pd.DataFrame) -> int:
    """Collections a build's portal budget left for the next build."""
    if frame.empty:
        return 0
    return int(frame.loc[frame["portal_verdict"] == V.NOT_READ_YET.value, "collection_id"].nunique())


def portal_markdown(frame: pd.DataFrame) -> str:
    """The portal's answer for a partition's page: the old-schema count first, then one short item per verdict (a
    list wraps to the pane; one metadata key per verdict made the table wider than the pane)."""
    counts = frame["portal_verdict"].value_counts()
    items = "".join(f"- {verdict.replace('_', ' ')}: {int(n):,}\n" for verdict, n in counts.items())
    reading = portal_reading(frame)
    if reading.checked and not reading.own:
        from cxgm_pipeline.monitor.attempts.ref import AttemptRef
        from cxgm_pipeline.monitor.report.links import partition_page

        page = partition_page(AttemptRef(str(frame["stage"].iloc[0]), reading.later))
        return (f"**{reading.text()}** ([{reading.later}]({page}))\n\n"
                f"The portal's verdicts now, not this attempt's result:\n\n{items}")
    return f"**{old_schema_served(frame):,} still served on the old schema**\n\n{items}"


# what the portal still serves on the schema before the migration: every version but the new one (or a current one)
OLD_SCHEMA_VERDICTS = (V.MIGRATED_NOT_PUBLISHED.value, V.PUBLISHED_ON_OLD_SCHEMA.value)


def old_schema_served(frame: pd.DataFrame) -> int:
    return int(frame["portal_verdict"].isin(OLD_SCHEMA_VERDICTS).sum()) if not frame.empty else 0


@dataclass(frozen=True)
class PortalReading:
    """Whose result a portal_state's answer is: every page that says how many datasets the portal still serves on
    the old schema says it through this, so that an attempt a later one followed is never given today's portal as
    its own result."""

    checked: bool  # the portal answered for at least one dataset (`portal_checked`)
    old_schema: int  # `old_schema_served`
    later: str | None  # the later attempt of the stage that had started when it was read (None: its own)

    @property
    def own(self) -> bool:
        """The answer is the attempt's own result: read, and before any later attempt of its stage started."""
        return self.checked and self.later is None

    def text(self) -> str:
        """`554 still on the old schema in the portal`; read after a later attempt, no count: each attempt counts
        over its own datasets, so the portal's one state would read as two numbers; the later attempt's page has
        it."""
        if self.own:
            return f"{self.old_schema:,} still on the old schema in the portal"
        if not self.checked:
            return "the portal not read"
        return f"the portal now shows a later attempt's result ({self.later}): see its page"


def portal_reading(frame: pd.DataFrame | None) -> PortalReading:
    """The portal_state `frame`'s reading (a frame from before `portal_later_attempt` counts as its own)."""
    if frame is None or frame.empty or not portal_checked(frame):
        return PortalReading(False, 0, None)
    later = frame.get("portal_later_attempt")
    named = frame.loc[later.notna(), ["portal_read_at", "portal_later_attempt"]] if later is not None else None
    last = named.sort_values("portal_read_at")["portal_later_attempt"].iloc[-1] \
        if named is not None and not named.empty else None
    return PortalReading(True, old_schema_served(frame), last)


def portal_checked(frame: pd.DataFrame) -> bool:
    """The portal answered for at least one dataset (else its verdicts say why nothing is known)."""
    if frame.empty:
        return False
    unknown = {V.NOT_CONFIGURED.value, V.PORTAL_UNREACHABLE.value, V.NOT_CHECKED.value}
    return bool((~frame["portal_verdict"].isin(unknown)).any())


def portal_listed(portal: pd.DataFrame | None, rollup: pd.DataFrame, collections: pd.DataFrame | None) -> pd.DataFrame:
    """The datasets of `portal` (portal_state) no row of `rollup` (dataset_rollup) has, of a collection whose
    collection_migration failed, as dataset_rollup rows: not started, failing_step collection_migration and the
    collection job's cause (rollups._not_started, the rule a known dataset of such a collection follows), so the
    re-run list and the counts take them as they take any dataset the attempt never started."""
    failed = collection_failures(collections)
    columns = ["stage", "attempt", "dataset_id", "dataset_version_id", "collection_id", "collection_version_id", "state",
               "failing_step", "error_category", "error_signature", "migration_revision_id", "campaign_state",
               "campaign_attempt"]
    if portal is None or portal.empty or not failed:
        return pd.DataFrame(columns=columns)
    picked = named_by_portal_alone(portal, rollup)
    picked = picked[picked["collection_id"].isin(list(failed))]
    rows = [{"stage": r["stage"], "attempt": r["attempt"], "dataset_id": r["dataset_id"],
             "dataset_version_id": r["dataset_version_id"], "collection_id": r["collection_id"],
             "collection_version_id": failed[r["collection_id"]].collection_version_id,
             "state": DatasetState.NOT_STARTED.value, "failing_step": "collection_migration",
             "error_category": failed[r["collection_id"]].error_category,
             "error_signature": failed[r["collection_id"]].error_signature, "migration_revision_id": None,
             "campaign_state": DatasetState.NOT_STARTED.value, "campaign_attempt": r["attempt"]}
            for r in row_dicts(picked)]
    return pd.DataFrame(rows, columns=columns)


def named_by_portal_alone(portal: pd.DataFrame, rollup: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of `portal` (portal_state) no row of `rollup` (dataset_rollup) has, never started: the datasets it
    lists of a collection whose collection_migration failed before naming them (portal_state adds no other)."""
    known = set(rollup["dataset_id"]) if rollup is not None and not rollup.empty else set()
    return portal[~portal["dataset_id"].isin(known) & (portal["state"] == DatasetState.NOT_STARTED.value)]
