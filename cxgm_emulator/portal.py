"""The emulated portal: each stage's public Curation API, answering for the emulated corpus as its migrations
leave it at the simulated clock's time.

Route: `GET /_portal/{stage}/curation/v1/collections/{collection_id}` on the emulator's own server (exported as
CXGM_PORTAL_URL=`{endpoint}/_portal/{stage}`). The answer is shaped as production's (chanzuckerberg/
single-cell-data-portal backend/curation/api/v1/curation/collections/common.py @ 26252232,
`reshape_for_curation_api` / `reshape_dataset_for_curation_api`; collection_id/actions.py `get`): by canonical id
the version the portal maps it to (the published one, or the unpublished one of a collection never published),
`revising_in` null for a caller who is not its owner, `processing_status` only for an unpublished version;
404 for an id it does not know, 403 for one that is not a UUID (`validate_uuid_else_forbidden`).

Route: `GET /_portal/{stage}/curation/v1/datasets[?schema_version=X[.Y[.Z]]]`, the public datasets index
(backend/curation/api/v1/curation/datasets/actions.py @ 0e787fd0 `get`, items shaped by common.py
`reshape_dataset_for_curation_datasets_index_api`): every dataset of every collection whose mapped version is published,
from the same state as the per-collection route. An item's collection_version_id and revised_at are those of the
version the dataset version was first published in (business.py @ 4a8a9b3c,
`_map_collection_version_to_published_dataset_versions`): a migration's new version carries its revision, a dataset
it left alone the version it came from. `datasets_index = False` models a deployment without the route (404).

What the migrations do to it (production's rules):
- collection_migrate of a published collection opens a revision (`create_collection_version(is_auto_version=True)`,
  backend/layers/processing/schema_migration.py @ 001730b8); a collection never published is migrated in place;
- dataset_migrate replaces the dataset in that version by a new version (`ingest_dataset`), PENDING until its
  ingestion ends (SUCCESS on the new schema, or FAILURE);
- DISTRIBUTED machines (00e5dcc, Collection_cleanup: `log_errors_and_cleanup`) roll a failed dataset back to its
  previous version (`restore_previous_dataset_version`) and, the trigger passing auto_publish
  (.github/workflows/schema-migration.yml), publish the revision at cleanup when every dataset in it is on the
  latest schema and processed;
- INLINE machines (a4416160) run with auto_publish False (Collection_publish never publishes, no rollback); their
  revisions are published by the `publish_revisions` job (backend/layers/processing/publish_revisions.py @ c323e0e8), run once
  the migration has ended, which refuses a revision holding any dataset not on the latest schema or not SUCCESS;
- an aborted migration publishes nothing more and rolls nothing back.
Each migration of a stage starts from the scenario's corpus as planned (plan.py plans them so): a collection is
served as the latest migration of its stage that gathered it, up to now, left it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.utils import formatdate
from fnmatch import fnmatchcase
from urllib.parse import parse_qs

from cxgm_emulator.plan import Collection, Dataset, JobPlan, MigrationPlan, WorldPlan
from portal_shapes import (CURATION_COLLECTION_PATH, CURATION_DATASETS_INDEX_PATH, INDEX_SCHEMA_VERSION_PARAM,
                           PROCESSING_SUCCESS, VISIBILITY_PRIVATE, VISIBILITY_PUBLIC, MapMode, Step)

# The scenario's own schema versions (before the migration, and the one it migrates to)
OLD_SCHEMA = "5.3.0"
NEW_SCHEMA = "6.0.0"
PUBLISH_REVISIONS_DELAY_S = 10.0  # INLINE: publish_revisions runs this long after the migration's end
SUCCESS, PENDING, FAILURE = PROCESSING_SUCCESS, "PENDING", "FAILURE"
# /_portal/{stage} + /curation/v1/collections/{id}
COLLECTION_PARTS = ["_portal", "{stage}", *CURATION_COLLECTION_PATH.strip("/").split("/")]
# /_portal/{stage} + /curation/v1/datasets
INDEX_PARTS = ["_portal", "{stage}", *CURATION_DATASETS_INDEX_PATH.strip("/").split("/")]
# the corpus was published this long (plus up to a year, by collection) before the first migration planned
ORIGINALLY_PUBLISHED_BEFORE_S = 30 * 86400.0
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
COLLECTIONS_BASE_URL = "https://cellxgene.cziscience.com"


@dataclass(frozen=True)
class ServedDataset:
    dataset_id: str
    dataset_version_id: str
    schema_version: str | None
    processing_status: str


@dataclass(frozen=True)
class ServedCollection:
    collection_id: str
    collection_version_id: str
    published: bool
    revised_at: float | None
    datasets: tuple[ServedDataset, ...]


def _original(c: Collection) -> ServedCollection:
    return ServedCollection(c.collection_id, c.collection_version_id, c.published, None,
                            tuple(_as_was(d) for d in c.datasets))


def _as_was(d: Dataset) -> ServedDataset:
    """The dataset as its collection's published version holds it: a re-run's dataset an earlier execution migrated
    into a revision not published is still served as the version before (on the old schema)."""
    if d.published_before:
        return ServedDataset(d.dataset_id, d.published_before, OLD_SCHEMA, SUCCESS)
    return ServedDataset(d.dataset_id, d.dataset_version_id, NEW_SCHEMA if d.current else OLD_SCHEMA, SUCCESS)


class _Index:
    """One migration's jobs and ingestions by collection and dataset."""

    def __init__(self, m: MigrationPlan):
        self.m = m
        self.coll_jobs: dict[tuple[str, Step], list[JobPlan]] = {}
        self.dm: dict[str, JobPlan] = {}
        for job in sorted(m.jobs, key=lambda j: j.created):
            if job.step is Step.DATASET_MIGRATION and job.dataset_id:
                self.dm[job.dataset_id] = job  # the latest: Step Functions' retry
            elif job.collection_id and job.step in (Step.COLLECTION_MIGRATION, Step.COLLECTION_CLEANUP,
                                                    Step.COLLECTION_PUBLISH):
                self.coll_jobs.setdefault((job.collection_id, job.step), []).append(job)
        self.ingestion = {}
        for ex in m.ingestions:
            self.ingestion[ex.input.get("dataset_version_id") or ex.input.get("dataset_id")] = ex
        self.new_version = {d.dataset_id: d.new_dataset_version_id for d in m.datasets}
        self.gathered = {c.collection_id: c for c in m.corpus}

    def last(self, collection_id: str, *steps: Step) -> JobPlan | None:
        jobs = [j for s in steps for j in self.coll_jobs.get((collection_id, s), [])]
        return max(jobs, key=lambda j: j.created) if jobs else None

    def served(self, c: Collection, now: float) -> ServedCollection:
        """The collection as the portal serves it at `now`, after this migration's effects up to then."""
        m = self.m
        cm = self.last(c.collection_id, Step.COLLECTION_MIGRATION)
        to_migrate = [d for d in c.datasets if not d.current]
        if cm is None or not cm.succeeded or cm.stop > now or not to_migrate:
            return _original(c)
        revision = next((self.dm[d.dataset_id].env.get("COLLECTION_VERSION_ID") for d in to_migrate
                         if d.dataset_id in self.dm), None)
        if revision is None:
            return _original(c)  # opened, nothing replaced in it yet: served as it was
        cleanup = self.last(c.collection_id, Step.COLLECTION_CLEANUP, Step.COLLECTION_PUBLISH)
        cleaned = cleanup is not None and cleanup.created > cm.created and cleanup.succeeded and cleanup.stop <= now
        distributed = m.map_mode is MapMode.DISTRIBUTED
        held = []
        for d in c.datasets:
            held.append(self._dataset(d, now, rollback=distributed and cleaned))
        clean = all(h.processing_status == SUCCESS and h.schema_version == NEW_SCHEMA for h in held)
        if not c.published:  # migrated in place: what the version holds is what is served
            return ServedCollection(c.collection_id, c.collection_version_id, False, None, tuple(held))
        if distributed:
            published_at = cleanup.stop if cleaned else None
        else:
            ended = m.execution.status == "SUCCEEDED"
            published_at = m.execution.stop + PUBLISH_REVISIONS_DELAY_S if ended else None
        if clean and published_at is not None and published_at <= now:
            return ServedCollection(c.collection_id, revision, True, published_at, tuple(held))
        return _original(c)

    def _dataset(self, d: Dataset, now: float, rollback: bool) -> ServedDataset:
        if d.current:  # in the revision: as it is, the version an earlier execution made included
            return ServedDataset(d.dataset_id, d.dataset_version_id, NEW_SCHEMA, SUCCESS)
        dm = self.dm.get(d.dataset_id)
        new = self.new_version.get(d.dataset_id)
        if dm is None or not dm.succeeded or dm.stop > now or new is None:
            return _as_was(d)
        ex = self.ingestion.get(new)
        if ex is None or ex.start > now or ex.stop > now or ex.status not in ("SUCCEEDED", "FAILED"):
            status = PENDING  # an aborted ingestion never reached HandleErrors: it stays PENDING
        else:
            status = SUCCESS if ex.status == "SUCCEEDED" else FAILURE
        if status == FAILURE and rollback:
            return _as_was(d)
        return ServedDataset(d.dataset_id, new, NEW_SCHEMA if status == SUCCESS else None, status)


class Portal:
    """Every stage's Curation API over the plan, at the simulated clock's time."""

    def __init__(self, plan: WorldPlan, clock):
        self.plan, self.clock = plan, clock
        self.indexes = {id(m): _Index(m) for m in plan.migrations}
        self.corpus: dict[str, Collection] = {}
        for m in plan.migrations:
            for c in m.corpus:
                self.corpus.setdefault(c.collection_id, c)
        self.requests = 0
        self.index_requests = 0
        self.datasets_index = True  # False: an older deployment, without the datasets index (its route answers 404)
        self._first_published = min((m.start for m in plan.migrations), default=0.0) - ORIGINALLY_PUBLISHED_BEFORE_S

    def originally_published_at(self, c: Collection) -> float:
        """When the collection's version in the corpus was published (the plan has no such time: one is made up,
        before every migration, spread over a year by collection)."""
        return self._first_published - int(c.collection_id[:8], 16) % (365 * 86400)

    def index(self, stage: str, now: float, schema_version: str | None = None) -> list[dict]:
        """The datasets index as an unauthenticated caller gets it: for each collection, its mapped version if
        published (with `schema_version`: the latest published version of that schema, mapped or not), one item per
        dataset, sorted as actions.py sorts them."""
        items = []
        for c in self.corpus.values():
            versions = self._published_versions(c, self.collection(stage, c.collection_id, now))
            if schema_version is not None:
                versions = [v for v in versions if v[2] is not None and fnmatchcase(v[2], schema_version)]
            if versions:
                version_id, published_at, _, datasets = max(versions, key=lambda v: v[1])
                items.extend(self._index_items(c, version_id, published_at, datasets))
        items.sort(key=lambda d: (d["published_at_s"] is None, d["published_at_s"], d["dataset_id"]), reverse=True)
        for d in items:
            del d["published_at_s"]
        return items

    def _published_versions(self, c: Collection, served: ServedCollection) -> list[tuple]:
        """(collection_version_id, published at, schema_version, datasets) of each published version of `c`. A
        version's schema_version is its datasets' one (publish_collection_version refuses datasets of different
        schema versions; the emulated corpus mixes them in some versions, which no schema filter then matches)."""
        versions = []
        if c.published:
            # the version a re-run found published may hold what the execution before it made (rerun_corpus)
            original = served if served.published and served.collection_version_id == c.collection_version_id \
                else _original(c)
            versions.append((c.collection_version_id, self.originally_published_at(c), _schema(original.datasets),
                             original.datasets))
        if served.published and served.collection_version_id != c.collection_version_id:
            versions.append((served.collection_version_id, served.revised_at, _schema(served.datasets),
                             served.datasets))
        return versions

    def _index_items(self, c: Collection, version_id: str, published_at: float, datasets) -> list[dict]:
        first = {d.dataset_version_id for d in c.datasets}
        original = self.originally_published_at(c)
        out = []
        for d in datasets:
            first_published = original if d.dataset_version_id in first else published_at
            first_version = c.collection_version_id if d.dataset_version_id in first else version_id
            out.append(index_item(c, d, first_version, original, None if first_published == original else first_published))
        return out

    def collection(self, stage: str, collection_id: str, now: float) -> ServedCollection | None:
        c = self.corpus.get(collection_id)
        if c is None:
            return None
        latest = None
        for m in self.plan.migrations:
            if m.stage.name == stage and m.start <= now and collection_id in self.indexes[id(m)].gathered:
                if latest is None or m.start > latest.start:
                    latest = m
        # as the migration found it: a re-run finds what the execution before it made (campaigns.rerun_corpus)
        return _original(c) if latest is None else self.indexes[id(latest)].served(
            self.indexes[id(latest)].gathered[collection_id], now)

    def wsgi(self, environ, start_response):
        self.requests += 1
        parts = environ.get("PATH_INFO", "").strip("/").split("/")
        if len(parts) == len(INDEX_PARTS) and parts[2:] == INDEX_PARTS[2:] and environ["REQUEST_METHOD"] == "GET" \
                and self.datasets_index:
            return self._index_wsgi(parts[1], environ, start_response)
        # _portal/{stage}/curation/v1/collections/{id}
        if len(parts) != len(COLLECTION_PARTS) or parts[2:-1] != COLLECTION_PARTS[2:-1] \
                or environ["REQUEST_METHOD"] != "GET":
            return _problem(start_response, 404, "Not Found", "The requested URL was not found on the server.")
        stage, collection_id = parts[1], parts[-1]
        if stage not in {m.stage.name for m in self.plan.migrations} | {"staging"}:
            return _problem(start_response, 404, "Not Found", f"no portal for stage {stage}")
        if not UUID.match(collection_id):
            return _problem(start_response, 403, "Forbidden", "User is not authorized to access this resource.")
        served = self.collection(stage, collection_id, self.clock.now())
        if served is None:
            return _problem(start_response, 404, "Not Found", "The requested URL was not found on the server.")
        return _json(start_response, "200 OK", curation_body(served))


    def _index_wsgi(self, stage: str, environ, start_response):
        self.index_requests += 1
        if stage not in {m.stage.name for m in self.plan.migrations} | {"staging"}:
            return _problem(start_response, 404, "Not Found", f"no portal for stage {stage}")
        wanted = parse_qs(environ.get("QUERY_STRING", "")).get(INDEX_SCHEMA_VERSION_PARAM, [None])[0]
        if wanted:
            # actions.py: X, X.Y or X.Y.Z of digits, the parts left out matching any one character
            parts = wanted.split(".")
            if len(parts) > 3 or not all(p.isdigit() for p in parts):
                return _problem(start_response, 400, "Bad Request", "Invalid Schema Version Input")
            wanted = ".".join(parts + ["?"] * (3 - len(parts)))
        return _json(start_response, "200 OK", self.index(stage, self.clock.now(), wanted or None))


def _schema(datasets) -> str | None:
    found = {d.schema_version for d in datasets}
    return found.pop() if len(found) == 1 else None


def _http_date(t: float | None) -> str | None:
    """A datetime as Flask's jsonify writes it (RFC 822, GMT)."""
    return None if t is None else formatdate(t, usegmt=True)


def index_item(c: Collection, d: ServedDataset, first_version_id: str, published_at: float,
               revised_at: float | None) -> dict:
    """reshape_dataset_for_curation_datasets_index_api's item for a PUBLIC request: the index metadata columns (a
    few, sized like production's), the dataset's ids, the version it was first published in, the canonical
    dataset's first publication and last revision; revision_of_* null for a public request. `published_at_s` is
    the sort key, removed before the answer is written."""
    short = d.dataset_id[:8]
    return {
        "assay": [{"label": "10x 3' v3", "ontology_term_id": "EFO:0009922"}],
        "cell_count": 1000 + int(short, 16) % 100_000,
        "cell_type": [{"label": "T cell", "ontology_term_id": "CL:0000084"},
                      {"label": "B cell", "ontology_term_id": "CL:0000236"}],
        "development_stage": [{"label": "adult stage", "ontology_term_id": "HsapDv:0000087"}],
        "disease": [{"label": "normal", "ontology_term_id": "PATO:0000461"}],
        "donor_id": [f"donor-{short}"],
        "is_primary_data": [True],
        "organism": [{"label": "Homo sapiens", "ontology_term_id": "NCBITaxon:9606"}],
        **({"schema_version": d.schema_version} if d.schema_version is not None else {}),
        "sex": [{"label": "female", "ontology_term_id": "PATO:0000383"}],
        "suspension_type": ["cell"],
        "tissue": [{"label": "blood", "ontology_term_id": "UBERON:0000178", "tissue_type": "tissue"}],
        "x_approximate_distribution": "NORMAL",
        "dataset_id": d.dataset_id,
        "dataset_version_id": d.dataset_version_id,
        "assets": [{"filesize": 1 << 20, "filetype": "H5AD",
                    "url": f"https://datasets.cellxgene.cziscience.com/{d.dataset_version_id}.h5ad"}],
        "title": f"dataset {short}",
        "tombstone": False,
        "processing_status": d.processing_status,
        "collection_id": c.collection_id,
        "collection_version_id": first_version_id,
        "published_at": _http_date(published_at),
        "revised_at": _http_date(revised_at),
        "explorer_url": f"https://cellxgene.cziscience.com/e/{d.dataset_id}.cxg/",
        "visibility": VISIBILITY_PUBLIC,
        "revision_of_collection": None,
        "revision_of_dataset": None,
        "collection_name": f"collection {c.collection_id[:8]}",
        "collection_doi": None,
        "published_at_s": published_at,
    }


def curation_body(c: ServedCollection) -> dict:
    """reshape_for_curation_api's answer for a GET by canonical id, as an unauthenticated caller sees it."""
    url = f"{COLLECTIONS_BASE_URL}/collections/{c.collection_id}"
    datasets = []
    for d in sorted(c.datasets, key=lambda d: d.dataset_id, reverse=True):  # common.py sorts by dataset_id, reversed
        ds = {"dataset_id": d.dataset_id, "dataset_version_id": d.dataset_version_id, "assets": [],
              "title": f"dataset {d.dataset_id[:8]}", "tombstone": False,
              "explorer_url": f"https://cellxgene.cziscience.com/e/{d.dataset_id}.cxg/"}
        if d.schema_version is not None:  # metadata exists once processed
            ds["schema_version"] = d.schema_version
        if not c.published:
            ds["processing_status"] = d.processing_status
        datasets.append(ds)
    body = {"collection_id": c.collection_id, "collection_url": url, "collection_version_id": c.collection_version_id,
            "consortia": [], "contact_email": "curator@example.org", "contact_name": "Curator",
            "created_at": None, "curator_name": "Curator", "description": "", "doi": None, "links": [],
            "name": f"collection {c.collection_id[:8]}", "published_at": None, "publisher_metadata": None,
            "visibility": VISIBILITY_PUBLIC if c.published else VISIBILITY_PRIVATE, "datasets": datasets,
            "revised_at": c.revised_at, "revising_in": None, "revision_of": None}
    if not c.published:
        statuses = {d.processing_status for d in c.datasets}
        body["processing_status"] = (PENDING if PENDING in statuses else FAILURE if FAILURE in statuses
                                     else SUCCESS) if c.datasets else None
    return body


def _json(start_response, status: str, body: dict):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _problem(start_response, code: int, title: str, detail: str):
    """connexion's problem+json, as the Curation API answers an error."""
    data = json.dumps({"detail": detail, "status": code, "title": title, "type": "about:blank"}).encode()
    start_response(f"{code} {title}", [("Content-Type", "application/problem+json"), ("Content-Length", str(len(data)))])
    return [data]


# --- truth: the verdict the portal's answer should lead to, per dataset -------------------------------------


def expected_portal(plan: WorldPlan, m: MigrationPlan) -> tuple[bool, dict[str, dict]]:
    """(final, {dataset_id: {portal_verdict, portal_dataset_version_id}}): what the portal serves once `m` has
    ended (the publish step too), and the verdict. `final`: no later migration of its stage, so the portal still
    answers so when every migration is over."""
    later = [o for o in plan.migrations if o.stage.name == m.stage.name and o.start > m.start]
    index = _Index(m)
    after = m.stop + PUBLISH_REVISIONS_DELAY_S + 1
    served = {}
    for c in m.corpus:
        for d in index.served(c, after).datasets:
            served[d.dataset_id] = d
    out = {}
    for t in m.datasets:
        d = served.get(t.dataset_id)
        earlier = t.state == "skipped" and t.campaign_state == "succeeded" and t.campaign_attempt != m.attempt_key
        if d is None:
            verdict, version = "missing_from_portal", None
        elif t.new_dataset_version_id and d.dataset_version_id == t.new_dataset_version_id:
            verdict = "migrated_and_live" if d.processing_status == SUCCESS else "new_version_not_ready"
            version = d.dataset_version_id
        elif earlier and d.dataset_version_id == t.dataset_version_id:
            verdict, version = "migrated_earlier", d.dataset_version_id  # a re-run skips what the one before migrated
        elif earlier:  # the portal still serves the version before: the earlier execution's revision is not published
            verdict, version = "migrated_not_published", d.dataset_version_id
        elif d.dataset_version_id == t.dataset_version_id:
            verdict = {"skipped": "already_current", "succeeded": "migrated_not_published"}.get(
                t.state, "published_on_old_schema")
            version = d.dataset_version_id
        else:
            verdict, version = "other_version_served", d.dataset_version_id
        out[t.dataset_id] = {"portal_verdict": verdict, "portal_dataset_version_id": version,
                             "portal_schema_version": d.schema_version if d else None}
    return not later, out
