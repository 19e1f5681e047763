"""The portal's answer: the emulated Curation API of each stage, read into `portal_state`, compared with the
truth's verdict per dataset (both Map variants: publication at cleanup, or by publish_revisions); an unreachable
or unset portal marked in the data; the report and the finished alert say how many datasets the portal still
serves on the old schema."""

import io
import json
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import pandas as pd
import pytest

from cxgm_pipeline.monitor.views.alerts import evaluate
from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.frames.budget import Budget
from cxgm_pipeline.monitor.frames.portal_state import (INDEX_FROM, IndexedDataset, PortalClient, collections_not_read, index_answer,
                                                       index_entry, iter_json_array, old_schema_served, portal_state,
                                                       portal_summary)
from cxgm_pipeline.monitor.report.document import AttemptReport
from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.session import MonitorSession
from cxgm_pipeline.schemas import ErrorSignatures, RerunManifest, empty_frame
from tests.conftest import free_port, migration, observable

WANTED = ("portal_state", "dataset_rollup")


def fetch(stage: str, key: str) -> dict[str, pd.DataFrame]:
    session = MonitorSession(stats=FetchStats())
    return session.fetch(stage, session.resolve(stage, key), wanted=WANTED)


def portal_known(m: dict) -> list[dict]:
    """The truth's datasets cxgm can know of with the portal: those something in AWS names, and those of a collection
    whose collection_migration failed before naming them, which the portal's listing of the collection names."""
    failed = {c["collection_id"] for c in m["collections"] if c["migration_status"] == "FAILED"}
    return [d for d in m["datasets"] if d.get("observable", True) or d["collection_id"] in failed]


def compare_with_truth(truth: dict) -> Counter:
    seen = Counter()
    finals = [m for m in truth["migrations"] if m["portal_final"]]
    assert {m["stage"] for m in finals} == {m["stage"] for m in truth["migrations"]}
    for m in finals:
        frame = fetch(m["stage"], m["attempt_key"])["portal_state"].set_index("dataset_id")
        expected = portal_known(m)
        assert len(frame) == len(expected) > 0
        for d in expected:
            row = frame.loc[d["dataset_id"]]
            assert row["portal_verdict"] == d["portal_verdict"], (m["stage"], d["dataset_id"], row.to_dict(), d)
            assert row["portal_dataset_version_id"] == d["portal_dataset_version_id"]
            assert (row["portal_schema_version"] if pd.notna(row["portal_schema_version"]) else None) \
                == d["portal_schema_version"]
            assert bool(row["portal_current"]) == (d["portal_verdict"] in ("migrated_and_live", "new_version_not_ready"))
            seen[row["portal_verdict"]] += 1
            if not d["observable"]:  # named by the portal alone: its collection's migration failed before naming it
                assert row["state"] == d["state"] == "not_started", (m["stage"], d["dataset_id"], row.to_dict())
                assert "collection_migration failed" in row["portal_why"]
                seen["named_by_the_portal"] += 1
        # a revision is published exactly where its datasets are live
        migrated = frame[frame["revision_published"].notna()]
        live = migrated["portal_verdict"] == "migrated_and_live"
        public = migrated["portal_visibility"] == "PUBLIC"
        assert (migrated.loc[live & public, "revision_published"]).all()
        assert not migrated.loc[migrated["portal_verdict"] == "migrated_not_published", "revision_published"].any()
    return seen


def test_portal_state_equals_the_truth_distributed(emulator, truth):
    seen = compare_with_truth(truth)
    # the scenario holds each case: a check that could not fail would prove nothing
    for verdict in ("migrated_and_live", "migrated_not_published", "published_on_old_schema", "already_current",
                    "named_by_the_portal"):
        assert seen[verdict] > 0, seen


def test_portal_state_equals_the_truth_inline(variant_emulator, monkeypatch):
    """INLINE machines publish nothing themselves (auto_publish False): the publish_revisions job does, once the
    migration has ended, and only revisions whose every dataset is on the new schema and processed."""
    env, truth = variant_emulator("inline", "old")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    seen = compare_with_truth(truth)
    assert seen["migrated_and_live"] > 0 and seen["migrated_not_published"] > 0, seen
    assert seen["named_by_the_portal"] > 0, seen


def test_why_a_revision_is_not_published_names_its_failed_datasets(emulator, truth):
    m = migration(truth, "prod", live=True)
    frame = fetch("prod", m["attempt_key"])
    portal, rollup = frame["portal_state"], frame["dataset_rollup"]
    waiting = portal[portal["portal_verdict"] == "migrated_not_published"]
    assert not waiting.empty
    failed = set(rollup.loc[rollup["state"] == "failed", "dataset_id"])
    for row in waiting.itertuples():
        siblings = set(rollup.loc[rollup["collection_id"] == row.collection_id, "dataset_id"]) & failed
        assert siblings, "a revision held back without a failed dataset in it"
        assert "failed" in row.portal_why and any(s[:8] in row.portal_why for s in siblings)
    old = portal[portal["portal_verdict"] == "published_on_old_schema"]
    assert old["portal_why"].str.startswith("not migrated: ").all()


def test_unreachable_portal_is_a_marker_not_a_crash(emulator, truth, monkeypatch):
    monkeypatch.setenv("CXGM_PORTAL_URL", f"http://127.0.0.1:{free_port()}/nothing/{{stage}}")
    started = time.monotonic()
    frame = fetch("dev", "ATTEMPT_2")["portal_state"]
    assert time.monotonic() - started < 30
    assert len(frame) == len(observable(migration(truth, "dev", "ATTEMPT_2")))
    assert (frame["portal_verdict"] == "portal_unreachable").all()
    assert frame["portal_why"].str.contains("127.0.0.1").all()
    assert frame["portal_current"].isna().all() and frame["revision_published"].isna().all()


def test_no_portal_url_means_not_read(emulator, monkeypatch):
    monkeypatch.delenv("CXGM_PORTAL_URL")
    frame = fetch("prod", "ATTEMPT_2")["portal_state"]
    assert (frame["portal_verdict"] == "not_configured").all() and not frame.empty


def test_the_emulated_api_answers_as_productions(emulator, truth):
    base = emulator.env()["CXGM_PORTAL_URL"].format(stage="prod")
    m = migration(truth, "prod", live=True)
    cid = m["collections"][0]["collection_id"]
    body = json.loads(urllib.request.urlopen(f"{base}/curation/v1/collections/{cid}").read())
    assert {"collection_id", "collection_version_id", "visibility", "published_at", "revising_in", "revision_of",
            "datasets"} <= set(body)
    assert body["revising_in"] is None  # not the owner: the open revision is not shown
    for d in body["datasets"]:
        assert {"dataset_id", "dataset_version_id"} <= set(d)
        assert ("processing_status" in d) == (body["visibility"] == "PRIVATE")
    for path, code in (("not-a-uuid", 403), ("00000000-0000-4000-8000-000000000000", 404)):
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(f"{base}/curation/v1/collections/{path}")
        assert raised.value.code == code
        assert json.loads(raised.value.read())["status"] == code


def index_items(base: str, query: str = "") -> list[dict]:
    return json.loads(urllib.request.urlopen(f"{base}/curation/v1/datasets{query}").read())


def not_in_index(base: str, rollup: pd.DataFrame) -> set[str]:
    """Collections of `rollup` holding a dataset the datasets index does not list under them: each is read by its
    GET."""
    listed = {(d["collection_id"], d["dataset_id"]) for d in index_items(base)}
    return {c for c, d in zip(rollup["collection_id"], rollup["dataset_id"]) if (c, d) not in listed}


@pytest.fixture
def no_index(emulator):
    """The emulated portal as a deployment without the datasets index (its route answers 404)."""
    emulator.portal.datasets_index = False
    yield
    emulator.portal.datasets_index = True


def test_reads_are_paced_and_kept_between_refreshes(emulator, truth):
    base = emulator.env()["CXGM_PORTAL_URL"].format(stage="prod")
    rollup = fetch("prod", "ATTEMPT_2")["dataset_rollup"]
    collections = rollup["collection_id"].nunique()
    fallback = len(not_in_index(base, rollup))
    assert 0 < fallback < collections
    client = PortalClient(base, rate=20.0)
    started = time.monotonic()
    first = portal_state("prod", "ATTEMPT_2", rollup, base, ended=False, client=client)
    assert client.requests == 1 + fallback  # the index, then a GET for each collection it cannot answer
    assert time.monotonic() - started >= fallback / 20.0 * 0.9
    again = PortalClient(base, rate=None)
    second = portal_state("prod", "ATTEMPT_2", rollup, base, ended=False, previous=first, client=again)
    assert again.requests == 0  # nothing changed state: the answers stand
    pd.testing.assert_frame_equal(first.drop(columns=["portal_read_at"]), second.drop(columns=["portal_read_at"]))
    moved = rollup.copy()
    moved.loc[moved.index[0], "state"] = "running"
    portal_state("prod", "ATTEMPT_2", moved, base, ended=False, previous=first, client=again)
    assert again.requests == 1  # that dataset's collection only
    final = PortalClient(base, rate=None)
    portal_state("prod", "ATTEMPT_2", rollup, base, ended=True, previous=first, client=final)
    assert final.requests == 1 + fallback  # once ended, everything is read once more


def test_a_budget_leaves_collections_for_the_next_build(emulator, truth):
    """Collections past the build's budget are `not_read_yet`, counted in the metadata; the next build reads them
    (answers read once the attempt had ended are final), and the frame is then the one a build without a budget
    makes; a build after that reads nothing."""
    base = emulator.env()["CXGM_PORTAL_URL"].format(stage="prod")
    rollup = fetch("prod", "ATTEMPT_2")["dataset_rollup"]
    fallback = len(not_in_index(base, rollup))
    assert fallback >= 2
    client = PortalClient(base, rate=None)
    first = portal_state("prod", "ATTEMPT_2", rollup, base, ended=True, client=client, budget=Budget(calls=1 + 1))
    assert client.requests == 1 + 1  # the index, then one collection
    left = fallback - 1
    assert collections_not_read(first) == left
    unread = first["portal_verdict"] == "not_read_yet"
    assert first.loc[unread, "portal_why"].str.startswith("not read yet").all()
    assert first.loc[unread, "portal_read_after_end"].isna().all() and first.loc[~unread, "portal_read_after_end"].all()
    of = first["collection_id"].nunique()
    summary = portal_summary(first)
    assert summary["portal"] == f"reading the portal, {of - left:,} of {of:,} collections"
    assert summary["collections_not_read"] == left

    again = PortalClient(base, rate=None)
    second = portal_state("prod", "ATTEMPT_2", rollup, base, ended=True, previous=first, client=again,
                          budget=Budget())
    assert again.requests == (1 if left >= INDEX_FROM else 0) + left  # only what was left
    assert collections_not_read(second) == 0 and "portal" not in portal_summary(second)
    whole = portal_state("prod", "ATTEMPT_2", rollup, base, ended=True, client=PortalClient(base, rate=None),
                         budget=Budget())
    pd.testing.assert_frame_equal(second.drop(columns=["portal_read_at"]), whole.drop(columns=["portal_read_at"]))

    last = PortalClient(base, rate=None)
    portal_state("prod", "ATTEMPT_2", rollup, base, ended=True, previous=second, client=last, budget=Budget())
    assert last.requests == 0


def test_the_index_answers_as_each_collection_would(emulator, truth, no_index):
    """The same frame from the datasets index (a handful of requests) as from a GET per collection (a deployment
    without the index: its 404, then every collection); the truth is compared in both ways."""
    base = emulator.env()["CXGM_PORTAL_URL"].format(stage="prod")
    rollup = fetch("prod", "ATTEMPT_2")["dataset_rollup"]
    collections = rollup["collection_id"].nunique()
    each = PortalClient(base, rate=None)
    index_requests = emulator.portal.index_requests
    by_collection = portal_state("prod", "ATTEMPT_2", rollup, base, ended=True, client=each)
    assert each.requests == 1 + collections and emulator.portal.index_requests == index_requests
    assert each.index_error.startswith("HTTP 404 from ")
    compare_with_truth(truth)  # every attempt read by its collections

    emulator.portal.datasets_index = True
    indexed = PortalClient(base, rate=None)
    by_index = portal_state("prod", "ATTEMPT_2", rollup, base, ended=True, client=indexed)
    assert indexed.requests == 1 + len(not_in_index(base, rollup)) < collections
    assert emulator.portal.index_requests == index_requests + 2  # the read, and not_in_index's
    pd.testing.assert_frame_equal(by_collection.drop(columns=["portal_read_at"]),
                                  by_index.drop(columns=["portal_read_at"]))
    assert set(by_index["portal_verdict"]) >= {"migrated_and_live", "migrated_not_published"}


def test_a_dataset_the_index_lacks_is_read_from_its_collection(emulator, truth):
    """A dataset of a published collection absent from the index (removed from it since): its collection is read by
    its GET, which serves the collection without it; the collection's other datasets keep their verdicts."""
    base = emulator.env()["CXGM_PORTAL_URL"].format(stage="prod")
    rollup = fetch("prod", "ATTEMPT_2")["dataset_rollup"]
    fallback = not_in_index(base, rollup)
    published = sorted(set(rollup["collection_id"]) - fallback)
    extra = rollup[rollup["collection_id"] == published[0]].iloc[[0]].assign(
        dataset_id="00000000-0000-4000-8000-00000000d5e7", dataset_version_id="00000000-0000-4000-8000-0000000000a1")
    client = PortalClient(base, rate=None)
    before = portal_state("prod", "ATTEMPT_2", rollup, base, ended=True, client=PortalClient(base, rate=None))
    frame = portal_state("prod", "ATTEMPT_2", pd.concat([rollup, extra], ignore_index=True), base, ended=True,
                         client=client)
    assert client.requests == 1 + len(fallback) + 1
    row = frame.set_index("dataset_id").loc[extra["dataset_id"].iloc[0]]
    assert row["portal_verdict"] == "missing_from_portal"
    assert row["portal_why"] == "the collection is served without this dataset"
    # (its why may name the extra dataset, a copy of a row of that collection)
    served = ["dataset_id", "portal_verdict", "portal_dataset_version_id", "portal_schema_version",
              "portal_collection_version_id", "portal_visibility", "revision_published"]
    same = frame[frame["dataset_id"].isin(before["dataset_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(before[served], same[served])


def test_the_emulated_index_answers_as_productions(emulator, truth):
    base = emulator.env()["CXGM_PORTAL_URL"].format(stage="prod")
    items = index_items(base)
    assert items
    for d in items:
        assert {"dataset_id", "dataset_version_id", "schema_version", "collection_id", "collection_version_id",
                "published_at", "revised_at", "explorer_url", "visibility", "collection_name", "collection_doi",
                "assets", "title"} <= set(d)
        assert d["visibility"] == "PUBLIC" and d["revision_of_collection"] is None and d["revision_of_dataset"] is None
    # actions.py: published_at descending, then dataset_id descending
    keys = [(parsedate_to_datetime(d["published_at"]), d["dataset_id"]) for d in items]
    assert keys == sorted(keys, reverse=True)
    # each item is what the collection's GET serves; a collection never published is not listed
    by_collection: dict[str, list[dict]] = {}
    for d in items:
        by_collection.setdefault(d["collection_id"], []).append(d)
    m = migration(truth, "prod", live=True)
    for c in m["collections"]:
        body = json.loads(urllib.request.urlopen(f"{base}/curation/v1/collections/{c['collection_id']}").read())
        listed = by_collection.get(c["collection_id"], [])
        if body["visibility"] != "PUBLIC":
            assert not listed
            continue
        assert {(d["dataset_id"], d["dataset_version_id"], d["schema_version"]) for d in listed} \
            == {(d["dataset_id"], d["dataset_version_id"], d.get("schema_version")) for d in body["datasets"]}
        # the version served is the one its latest-published dataset version came in
        latest = max(listed, key=lambda d: parsedate_to_datetime(d["revised_at"] or d["published_at"]))
        assert latest["collection_version_id"] == body["collection_version_id"]
    new = index_items(base, "?schema_version=6.0.0")
    assert new and all(d["schema_version"] == "6.0.0" for d in new)
    assert index_items(base, "?schema_version=6") == new
    with pytest.raises(urllib.error.HTTPError) as raised:
        index_items(base, "?schema_version=six")
    assert raised.value.code == 400


def test_an_index_item_of_productions_shape_is_read():
    """An item as reshape_dataset_for_curation_datasets_index_api writes it for a PUBLIC request, dates as Flask's
    jsonify writes them: the version served is the latest-published one, its schema version kept; the answer is
    read as it streams, whatever its chunks."""
    first_cv, revision = "4d6e1c40-0000-4000-8000-000000000001", "4d6e1c40-0000-4000-8000-000000000002"
    item = {"assay": [{"label": "10x 3' v3", "ontology_term_id": "EFO:0009922"}], "cell_count": 31003,
            "cell_type": [{"label": "T cell", "ontology_term_id": "CL:0000084"}], "citation": "Publication: ...",
            "dataset_id": "9b0a4e2c-0000-4000-8000-000000000001",
            "dataset_version_id": "9b0a4e2c-0000-4000-8000-0000000000f1", "donor_id": ["D1"],
            "is_primary_data": [True], "mean_genes_per_cell": 1800.5, "primary_cell_count": 31003,
            "schema_version": "6.0.0", "title": "Blood", "assets": [{"filesize": 123, "filetype": "H5AD",
                                                                      "url": "https://example.org/x.h5ad"}],
            "tombstone": False, "x_approximate_distribution": "NORMAL", "processing_status": "SUCCESS",
            "collection_id": "5c1f0000-0000-4000-8000-000000000001", "collection_version_id": revision,
            "published_at": "Tue, 05 Mar 2024 17:02:11 GMT", "revised_at": "Mon, 02 Jun 2025 09:15:00 GMT",
            "explorer_url": "https://cellxgene.cziscience.com/e/9b0a4e2c.cxg/", "visibility": "PUBLIC",
            "revision_of_collection": None, "revision_of_dataset": None, "collection_name": "Blood atlas",
            "collection_doi": "10.1101/2024.01.01.000001"}
    entry = index_entry(item)
    assert entry == IndexedDataset(item["collection_id"], revision, item["dataset_version_id"], "6.0.0",
                                   parsedate_to_datetime(item["revised_at"]).timestamp())
    untouched = {**item, "dataset_id": "9b0a4e2c-0000-4000-8000-000000000002",
                 "dataset_version_id": "9b0a4e2c-0000-4000-8000-0000000000f2", "schema_version": "5.3.0",
                 "collection_version_id": first_cv, "revised_at": None}
    raw = json.dumps([untouched, item]).encode()
    for chunk in (7, 1 << 16):
        assert list(iter_json_array(io.BytesIO(raw), chunk)) == [untouched, item]
    index = {d["dataset_id"]: index_entry(d) for d in (untouched, item)}
    rows = [{"dataset_id": d["dataset_id"]} for d in (untouched, item)]
    answer = index_answer(item["collection_id"], rows, index, datetime.now(timezone.utc))
    assert answer.status == 200 and answer.body["visibility"] == "PUBLIC"
    assert answer.body["collection_version_id"] == revision
    assert [(d["dataset_version_id"], d["schema_version"]) for d in answer.body["datasets"]] \
        == [(untouched["dataset_version_id"], "5.3.0"), (item["dataset_version_id"], "6.0.0")]
    assert index_answer("another-collection", rows, index, datetime.now(timezone.utc)) is None
    assert index_answer(item["collection_id"], rows + [{"dataset_id": "absent"}], index,
                        datetime.now(timezone.utc)) is None


def test_report_and_finished_alert_say_how_many_are_on_the_old_schema(emulator, truth):
    m = migration(truth, "prod", live=True)
    frames = fetch("prod", m["attempt_key"])
    portal = frames["portal_state"]
    expected_old = sum(d["portal_verdict"] in ("migrated_not_published", "published_on_old_schema")
                       for d in portal_known(m))
    assert expected_old > sum(d["portal_verdict"] in ("migrated_not_published", "published_on_old_schema")
                              for d in observable(m)), "the scenario fails a collection's migration"
    assert old_schema_served(portal) == expected_old > 0
    alert = evaluate("prod", m["attempt_key"], frames["dataset_rollup"], empty_frame(ErrorSignatures),
                     empty_frame(RerunManifest), True, 1.0, set(), portal=portal)
    finished = next(a for a in alert if a.kind == "finished")
    assert f"{expected_old} still on the old schema in the portal" in finished.subject
    assert f"Portal: {expected_old} dataset(s) still served on the old schema" in finished.body
    r = AttemptReport(AttemptRef("prod", m["attempt_key"]), {"portal_state": portal})
    from cxgm_pipeline.monitor.report.document import _portal

    section = _portal(r)
    assert f"**{expected_old:,} datasets the portal still serves on the old schema.**" in section
    waiting = portal.loc[portal["portal_verdict"] == "migrated_not_published", "dataset_id"].iloc[0]
    assert waiting in section


def test_while_it_runs_only_revisions_whose_cleanup_ended_are_live(emulator, truth, clock):
    """Mid-run (DISTRIBUTED): a published collection's new versions are live only once its Collection_cleanup has
    ended (truth's jobs say when); before, the portal still serves the old ones and the why says so."""
    m = migration(truth, "prod", live=True)
    now = m["start"] + 0.6 * (m["stop"] - m["start"])
    clock.set(now)
    portal = fetch("prod", m["attempt_key"])["portal_state"]
    cleaned = {j["collection_id"]: j["stopped_at"] for j in m["jobs"] if j["step"] == "collection_cleanup"
               and j["status"] == "SUCCEEDED"}
    live = portal[(portal["portal_verdict"] == "migrated_and_live") & (portal["portal_visibility"] == "PUBLIC")]
    assert not live.empty
    assert all(cleaned.get(c, float("inf")) <= now for c in live["collection_id"])
    waiting = portal[portal["portal_verdict"] == "migrated_not_published"]
    pending = waiting[waiting["collection_id"].map(lambda c: cleaned.get(c, float("inf")) > now)]
    assert not pending.empty
    assert pending["portal_why"].str.contains("still migrating|not published yet|failed").all()


def test_a_re_run_tells_what_its_campaign_migrated_from_what_was_already_current(emulator, truth, clock):
    """staging's campaign: the history quota ends the first execution, the re-run skips what it migrated (#6541).
    `already_current` is only what was current before the campaign; what the first execution migrated is
    `migrated_earlier`, naming it (or `migrated_not_published` while the portal still serves the version before). Read
    at the re-run's end (before the stage's next attempt), as the truth gives it."""
    rerun = next(m for m in truth["migrations"] if m["stage"] == "staging" and m["continues"])
    first = max((m for m in truth["migrations"] if m["stage"] == "staging" and m["start"] < rerun["start"]),
                key=lambda m: m["start"])
    after = [m for m in truth["migrations"] if m["stage"] == "staging" and m["start"] > rerun["start"]]
    then = rerun["stop"] + 60
    assert all(m["start"] > then for m in after)
    clock.set(then)
    frame = fetch("staging", rerun["attempt_key"])["portal_state"].set_index("dataset_id")
    migrated = {d["dataset_id"] for d in first["datasets"] if d["state"] == "succeeded"}
    skipped = {d["dataset_id"] for d in observable(rerun) if d["state"] == "skipped"}
    assert skipped & migrated and skipped - migrated  # both kinds of skip: a check that cannot fail proves nothing
    for d in portal_known(rerun):
        assert frame.loc[d["dataset_id"], "portal_verdict"] == d["portal_verdict"], d
    # served as the first execution made it where its revision was published (or the re-run published it), else
    # still the version before: both occur, and both name the execution that migrated it
    earlier = frame.loc[sorted(skipped & migrated)]
    assert set(earlier["portal_verdict"]) == {"migrated_earlier", "migrated_not_published"}
    assert earlier["portal_why"].str.contains(f"({first['attempt_key']})", regex=False).all()
    assert (earlier.loc[earlier["portal_verdict"] == "migrated_earlier", "portal_schema_version"] == "6.0.0").all()
    assert (earlier.loc[earlier["portal_verdict"] != "migrated_earlier", "portal_schema_version"] == "5.3.0").all()
    assert set(frame.index[frame["portal_verdict"] == "already_current"]) == skipped - migrated
