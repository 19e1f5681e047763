"""Whose result the portal's answer is: the portal is the stage's one state, read now; for an attempt a later attempt
of its stage followed, what it serves is that attempt's doing. Compared with the emulator's truth (the `small`
scenario's dev stage runs several attempts, each followed by the next but the last)."""

from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.frames.portal_state import portal_reading
from cxgm_pipeline.monitor.session import MonitorSession
from cxgm_pipeline.monitor.views.answer import attempt_answer

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
            assert reading.text().startswith(f"the portal now, after a later attempt ({later[-1]['attempt_key']})")
        else:
            expected = sum(d["portal_verdict"] in OLD_SCHEMA for d in m["datasets"])
            assert reading.own and reading.old_schema == expected > 0, (reading, expected)
            assert portal["portal_later_attempt"].isna().all()
            assert f"{expected:,} still on the old schema in the portal" in line, line
