"""A re-run's collection whose collection_migration failed, though an earlier attempt of its campaign migrated its
datasets: its answer says none was left, not "(0 datasets)". Against an emulator whose staging re-run has such a
collection (the `small` scenario, seed 12, as `make demo`'s default scenario has it), compared with its truth."""

from cxgm_pipeline.monitor.views.answer import FailedCollections, attempt_answer
from tests.monitor.frames.test_portal_reading import fetched

SEED = 12  # the staging re-run's failed collection: every dataset migrated by the first execution


def test_a_re_runs_failed_collection_whose_datasets_were_migrated_earlier_says_none_was_left(emulator_variant,
                                                                                             monkeypatch):
    env, truth = emulator_variant("distributed", "new", seed=SEED)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    m = next(m for m in truth["migrations"] if m["stage"] == "staging" and m["continues"])
    failed = {c["collection_id"] for c in m["collections"] if c["migration_status"] == "FAILED"}
    of_them = [d for d in m["datasets"] if d["collection_id"] in failed]
    left = sum(d["state"] == "not_started" and not d["observable"] for d in of_them)
    earlier = sum(d["state"] == "skipped" and d["campaign_state"] == "succeeded"
                  and d["campaign_attempt"] != m["attempt_key"] for d in of_them)
    assert failed and earlier and not left  # the case this test is for
    attempt, frames = fetched("staging", m["attempt_key"])
    line, health = attempt_answer(attempt, frames["dataset_rollup"], frames["enriched_jobs"],
                                  portal=frames["portal_state"])
    said = FailedCollections(len(failed), left, earlier=earlier).text()
    assert said == (f"1 collection failed before listing its datasets (none left: its {earlier} datasets were "
                    "migrated earlier)") and len(failed) == 1
    assert f" - {said} - " in line, line
    assert "(0 datasets)" not in line and said in health.reason


def test_failed_collections_say_what_an_earlier_attempt_migrated_apart():
    assert FailedCollections(2, 8, earlier=3).text() == ("2 collections failed before listing their datasets "
                                                         "(8 datasets; 3 more migrated earlier)")
    assert FailedCollections(1, 0, earlier=1).text() == ("1 collection failed before listing its datasets (none "
                                                         "left: its 1 dataset was migrated earlier)")
    assert FailedCollections(1, 0).text() == "1 collection failed before listing its datasets (0 datasets)"
