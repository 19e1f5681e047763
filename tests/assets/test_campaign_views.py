"""Dagster's side of a campaign (staging's history-quota failure and its untagged re-run): the re-run's
materialization makes the first attempt's view stale; the campaign_views sensor asks for it to be re-built from the
stored frames, and then every dataset of both attempts shows the campaign's outcome the truth states. The comparison
(duration_deltas) reads the campaign's view."""

import pandas as pd
import pytest
from dagster import DagsterInstance, build_sensor_context, materialize

from cxgm_pipeline.definitions import build_resources
from cxgm_pipeline.jobs import campaign_view_job
from cxgm_pipeline.partitions import ATTEMPTS
from cxgm_pipeline.resources.frame_store import FrameStoreResource
from cxgm_pipeline.sensors.campaign_views import campaign_views_sensor
from tests.conftest import named_by_the_portal, observable
from tests.dagster_chain import DELTAS, PARTITIONED, key, materialized_instance

VIEW = [k.to_user_string() for k in campaign_view_job.selection.resolve(PARTITIONED)]


@pytest.fixture(scope="module")
def campaign(emulator, truth, tmp_path_factory):
    first, rerun = [m for m in truth["migrations"] if m["stage"] == "staging"][:2]
    assert rerun["continues"] and first["not_redrivable"]
    built = materialized_instance(tmp_path_factory.mktemp("data"),
                                  [("staging", first["attempt_key"]), ("staging", rerun["attempt_key"])])
    assert all(result.success for result in built["results"].values())
    return {**built, "first": first, "rerun": rerun}


def _campaign_columns(store, m) -> pd.DataFrame:
    return store.read("dataset_rollup", "staging", m["attempt_key"]).set_index("dataset_id")[["campaign_state",
                                                                                              "campaign_attempt"]]


def _expected(m) -> pd.DataFrame:
    return pd.DataFrame(observable(m), columns=["dataset_id", "campaign_state", "campaign_attempt"]).set_index("dataset_id")


def test_a_re_run_refreshes_the_view_of_the_attempt_it_continues(campaign):
    store, first, rerun = campaign["store"], campaign["first"], campaign["rerun"]
    # the re-run found the first attempt's rollup: its view is the campaign's already
    pd.testing.assert_frame_equal(_campaign_columns(store, rerun).sort_index(), _expected(rerun).sort_index())
    # the first attempt was materialized before the re-run existed: alone, stale
    assert (_campaign_columns(store, first)["campaign_attempt"] == first["attempt_key"]).all()
    assert not _campaign_columns(store, first).sort_index().equals(_expected(first).sort_index())
    tick = campaign_views_sensor(build_sensor_context(instance=campaign["instance"]))
    requested = [str(r.partition_key) for r in tick.run_requests]
    assert requested == [f"{first['attempt_key']}|staging"]
    result = materialize(PARTITIONED, selection=VIEW, partition_key=key("staging", first["attempt_key"]),
                         resources=campaign["resources"], instance=campaign["instance"])
    assert result.success
    rebuilt = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert rebuilt == set(VIEW) and "migration_jobs" not in rebuilt  # from the stored frames: no AWS fetch
    pd.testing.assert_frame_equal(_campaign_columns(store, first).sort_index(), _expected(first).sort_index())
    # the refreshed view saw the same outcomes: nothing more to refresh, no loop
    again = campaign_views_sensor(build_sensor_context(instance=campaign["instance"], cursor=tick.cursor))
    assert again.run_requests == []


def test_the_re_run_list_is_the_campaigns(campaign, truth):
    store, first = campaign["store"], campaign["first"]
    manifest = store.read("rerun_manifest", "staging", first["attempt_key"])
    # with those of collections whose migration failed before naming them, which the portal alone names
    expected = {d["dataset_id"] for d in observable(first) + named_by_the_portal(truth, first)
                if d["campaign_state"] in ("failed", "not_started")}
    assert set(manifest["dataset_id"]) == expected
    migrated_later = {d["dataset_id"] for d in observable(first)
                      if d["state"] in ("failed", "not_started") and d["campaign_state"] == "succeeded"}
    assert migrated_later, "the scenario has datasets the re-run migrated"
    assert not migrated_later & set(manifest["dataset_id"])


def test_the_comparison_reads_the_campaigns_view(campaign):
    first, rerun = campaign["first"], campaign["rerun"]
    config = {"ops": {"duration_deltas": {"config": {"base": f"staging:{rerun['attempt_key']}",
                                                      "other": f"staging:{rerun['attempt_key']}"}}}}
    result = materialize([*PARTITIONED, *DELTAS], selection=["duration_deltas"], resources=campaign["resources"],
                         instance=campaign["instance"], run_config=config)
    assert result.success
    deltas = result.output_for_node("duration_deltas")
    states = deltas.drop_duplicates("dataset_id").set_index("dataset_id")["base_state"]
    expected = {d["dataset_id"]: d["campaign_state"] for m in (first, rerun) for d in observable(m)}
    assert states.to_dict() == expected


def test_a_redriven_partition_refreshes_under_its_key(emulator, truth, clock, tmp_path):
    """Materialized while its execution had failed, then again once the redrive has ended (the refresh sensor's
    runs): the same partition, its datasets as the truth states them after the redrive."""
    redriven = next(m for m in truth["migrations"] if m["redrive"])
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, [redriven["attempt_key"]])
    resources = build_resources("local", str(tmp_path / "data"))
    store = FrameStoreResource(base_path=str(tmp_path / "data"))
    cell = key("staging", redriven["attempt_key"])
    clock.set(redriven["redrive"]["first_stop"] + 600)
    assert materialize(PARTITIONED, partition_key=cell, resources=resources, instance=instance).success
    before = store.read("dataset_rollup", "staging", redriven["attempt_key"]).set_index("dataset_id")
    expected = pd.DataFrame(observable(redriven), columns=["dataset_id", "state", "new_dataset_version_id"]).set_index("dataset_id")
    assert (before.reindex(expected.index)["state"] != expected["state"]).any(), "the failure had stopped datasets"
    clock.set(truth["end"] + 30)
    assert materialize(PARTITIONED, partition_key=cell, resources=resources, instance=instance).success
    after = store.read("dataset_rollup", "staging", redriven["attempt_key"]).set_index("dataset_id")
    assert sorted(after.index) == sorted(expected.index)
    pd.testing.assert_frame_equal(after.loc[expected.index, ["state", "new_dataset_version_id"]], expected,
                                  check_dtype=False)
