"""A collection whose collection_migration failed names none of its datasets anywhere in AWS (collection_migrate names
them in the answer it never gave); the portal's listing of the collection does. Against each Map variant's truth, read
over HTTP: portal_state counts them as served on the old schema, the re-run list lists them (never started, failing
in collection_migration with that job's category), and the answer line and the health say how many collections and
datasets; the counts are the truth's, not those of the datasets AWS names."""

import pandas as pd
import pytest

from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.frames.portal_state import old_schema_served
from cxgm_pipeline.monitor.frames.rerun_manifest import rerun_as
from cxgm_pipeline.monitor.report.document import AttemptReport, key_numbers
from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.session import MonitorSession
from cxgm_pipeline.monitor.views.answer import FailedCollections, attempt_answer
from tests.conftest import migration, once_each

WANTED = ("enriched_jobs", "dataset_rollup", "collection_rollup", "portal_state", "rerun_manifest")
OLD_SCHEMA = ("migrated_not_published", "published_on_old_schema")


def known_with_the_portal(m: dict) -> list[dict]:
    """The truth's datasets cxgm can know of: those AWS names, and those of a collection whose migration failed."""
    failed = {c["collection_id"] for c in m["collections"] if c["migration_status"] == "FAILED"}
    return [d for d in m["datasets"] if d["observable"] or d["collection_id"] in failed]


def compare_failed_collections(truth: dict) -> None:
    m = migration(truth, "prod", live=True)
    failed = {c["collection_id"]: c for c in m["collections"] if c["migration_status"] == "FAILED"}
    lost = [d for d in m["datasets"] if d["collection_id"] in failed and not d["observable"]]
    assert failed and lost, "the scenario fails a collection's migration before it names its datasets"
    jobs = sorted((j for j in m["jobs"] if j["step"] == "collection_migration"), key=lambda j: j["created_at"])
    category = {j["collection_id"]: j["observable_category"] for j in jobs}  # its latest job's
    session = MonitorSession(stats=FetchStats())
    attempt = session.resolve("prod", m["attempt_key"])
    frames = session.fetch("prod", attempt, wanted=WANTED)

    collections = frames["collection_rollup"].set_index("collection_id")
    for cid in failed:
        assert collections.loc[cid, "collection_migration_status"] == "FAILED"
        assert collections.loc[cid, "collection_migration_error_category"] == category[cid]
        assert pd.notna(collections.loc[cid, "collection_migration_error_signature"])

    portal = frames["portal_state"]
    by_id = portal.set_index("dataset_id")
    for d in lost:
        row = by_id.loc[d["dataset_id"]]
        assert (row["state"], row["portal_verdict"], row["portal_dataset_version_id"]) \
            == (d["state"], d["portal_verdict"], d["portal_dataset_version_id"]), (d, row.to_dict())
        assert row["portal_why"].startswith("not migrated: its collection's collection_migration failed")
    known = once_each(known_with_the_portal(m))
    assert old_schema_served(portal) == sum(d["portal_verdict"] in OLD_SCHEMA for d in known)

    rerun = frames["rerun_manifest"]
    expected = {(d["dataset_id"], d["collection_version_id"]) for d in known_with_the_portal(m)
                if d["campaign_state"] in ("failed", "not_started")}
    assert set(zip(rerun["dataset_id"], rerun["collection_version_id"])) == expected
    listed = rerun.set_index("dataset_id")
    for d in lost:
        row, cat = listed.loc[d["dataset_id"]], category[d["collection_id"]]
        assert (row["state"], row["failing_step"], row["error_category"], row["collection_id"]) \
            == ("not_started", "collection_migration", cat, d["collection_id"])
        assert row["rerun_as"] == rerun_as(cat, "not_started")[0]

    answer, health = attempt_answer(attempt, frames["dataset_rollup"], frames["enriched_jobs"], portal=portal)
    said = FailedCollections(len(failed), len(lost)).text()
    assert said in answer and said in health.reason and health.level != "ok", (answer, health)
    migrating = [d for d in known if d["state"] != "skipped"]
    ended = sum(d["state"] in ("succeeded", "failed") for d in migrating)
    assert f" {ended:,} of {len(migrating):,} (" in answer, answer
    assert answer.startswith("finished with failures")
    numbers = key_numbers(AttemptReport(AttemptRef("prod", m["attempt_key"]), frames))
    assert numbers["datasets"] == len(known)
    assert numbers["datasets_not_started"] == sum(d["state"] == "not_started" for d in known)
    assert numbers["to_rerun"] == len(expected)


def test_failed_collections_are_counted_and_listed_distributed(emulator, truth):
    compare_failed_collections(truth)


@pytest.mark.parametrize("variant", [("inline", "old"), ("inline", "new")], ids=lambda v: f"{v[0]}-{v[1]}")
def test_failed_collections_are_counted_and_listed_inline(variant_emulator, variant, monkeypatch):
    env, truth = variant_emulator(*variant)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    compare_failed_collections(truth)
