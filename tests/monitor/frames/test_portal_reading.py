"""Whose result the portal's answer is: the portal is the stage's one state, read now; for an attempt a later attempt
of its stage followed, what it serves is that attempt's doing. Compared with the emulator's truth (the `small`
scenario's dev stage runs several attempts, each followed by the next but the last)."""

from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.frames.portal_state import named_by_portal_alone, portal_reading
from cxgm_pipeline.monitor.session import MonitorSession
from cxgm_pipeline.monitor.views.answer import attempt_answer
from tests.conftest import migration

WANTED = ("portal_state", "dataset_rollup", "enriched_jobs", "collection_rollup")
OLD_SCHEMA = ("migrated_not_published", "published_on_old_schema")


def fetched(stage: str, key: str):
    session = MonitorSession(stats=FetchStats())
    attempt = session.resolve(stage, key)
    return attempt, session.fetch(stage, attempt, wanted=WANTED)


def later_of(truth: dict, m: dict) -> list[dict]:
    return sorted((o for o in truth["migrations"] if o["stage"] == m["stage"] and o["start"] > m["start"]),
                  key=lambda o: o["start"])


def test_only_the_last_attempt_of_a_stage_is_given_the_portal_as_its_result(emulator, truth):
    dev = [m for m in truth["migrations"] if m["stage"] == "dev" and m["datasets"]]
    followed = [m for m in dev if later_of(truth, m)]
    assert followed and len(followed) < len(dev)  # attempts a later one followed, and the stage's last
    for m in dev:
        attempt, frames = fetched("dev", m["attempt_key"])
        portal = frames["portal_state"]
        reading = portal_reading(portal)
        line, _ = attempt_answer(attempt, frames["dataset_rollup"], frames["enriched_jobs"], portal=portal)
        later = later_of(truth, m)
        if later:  # read now, after every later attempt started: the latest of them is the portal's author
            assert not reading.own and reading.later == later[-1]["attempt_key"], (m["attempt_key"], reading)
            assert set(portal["portal_later_attempt"].dropna()) == {later[-1]["attempt_key"]}
            assert "still on the old schema in the portal" not in line, line
            # no count: the later attempt's page gives the portal's, over its own datasets
            assert reading.text() == f"the portal now shows a later attempt's result ({later[-1]['attempt_key']}): " \
                                     "see its page"
        else:
            expected = sum(d["portal_verdict"] in OLD_SCHEMA for d in m["datasets"])
            assert reading.own and reading.old_schema == expected > 0, (reading, expected)
            assert portal["portal_later_attempt"].isna().all()
            assert f"{expected:,} still on the old schema in the portal" in line, line


def test_a_smoke_tests_failed_collections_name_their_datasets_though_a_later_attempt_migrated_them(emulator, truth,
                                                                                                   clock):
    """LIMIT_MIGRATION's attempt: its collections whose collection_migration failed never named their datasets; the
    portal's listing does. Read when a later attempt of the stage has migrated and published them (the portal serves
    them on the new schema), they are no less never started by this one: not `skipped` as already current."""
    m = migration(truth, "dev", "SMOKE_TEST")
    failed = {c["collection_id"] for c in m["collections"] if c["migration_status"] == "FAILED"}
    never = {d["dataset_id"] for d in m["datasets"] if d["collection_id"] in failed and d["state"] == "not_started"}
    assert failed and never
    # a moment when the latest attempt to have started left every one of them served on the new schema
    dev = sorted((o for o in truth["migrations"] if o["stage"] == "dev"), key=lambda o: o["start"])
    author, then = next((o, o["stop"] + 60) for o, after in zip(dev, dev[1:])
                        if o["start"] > m["start"] and after["start"] > o["stop"] + 60
                        and all(d["portal_schema_version"] == "6.0.0" for d in o["datasets"] if d["dataset_id"] in never)
                        and never <= {d["dataset_id"] for d in o["datasets"]})
    clock.set(then)
    attempt, frames = fetched("dev", "SMOKE_TEST")
    portal, rollup = frames["portal_state"], frames["dataset_rollup"]
    named = named_by_portal_alone(portal, rollup)
    assert set(named["dataset_id"]) == never
    assert (named["portal_later_attempt"] == author["attempt_key"]).all()
    # served on the new schema now: that attempt's doing, which the verdict says
    assert (named["portal_schema_version"] == "6.0.0").all()
    assert (named["portal_verdict"] == "other_version_served").all()
    assert named["portal_why"].str.contains(f"after a later attempt \\({author['attempt_key']}\\)").all()
    line, _ = attempt_answer(attempt, rollup, frames["enriched_jobs"], portal=portal)
    n = len(never)
    assert f"{len(failed)} collection{'s' if len(failed) != 1 else ''} failed before listing" in line
    assert f"({n} dataset{'s' if n != 1 else ''})" in line, line
    reading = portal_reading(portal)
    assert not reading.own and reading.later == author["attempt_key"]
