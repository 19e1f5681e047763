"""The asset checks on every partition of the materialized chain, against the truth."""

from dagster import AssetKey

from tests.conftest import migration, observable, once_each
from tests.dagster_chain import key


def test_checks_on_a_finished_attempt(chain, truth):
    result = chain["results"][("dev", "ATTEMPT_2")]
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    # attempt_is_healthy: test_trouble_shows_as_check_severity_per_partition
    assert {name: e.passed for name, e in evaluations.items()
            if name not in ("failure_rate_below_threshold", "attempt_is_healthy")} == {
        "every_dataset_accounted_once": True, "succeeded_have_new_version": True,
        "job_and_execution_views_agree": True, "aws_access": True}
    datasets = observable(migration(truth, "dev", "ATTEMPT_2"))
    ran = [d for d in datasets if d["state"] not in ("not_started", "skipped")]
    rate = sum(d["state"] == "failed" for d in ran) / len(ran)
    check = evaluations["failure_rate_below_threshold"]
    assert check.metadata["failure_rate"].value == round(rate, 4)
    assert check.passed == (rate <= 0.10)  # the small scenario fails far more than 10%: the check says so


def test_trouble_shows_as_check_severity_per_partition(chain, truth):
    """An attempt that died in gather_collections (its execution SUCCEEDED), was aborted, or ended with failed
    datasets fails `attempt_is_healthy` (ERROR, ERROR, WARN); a clean one passes; a placeholder has no result:
    the UI shows it Skipped. Each check result names its partition: the check list shows another partition's
    latest result than the detail."""
    from dagster import AssetCheckKey, AssetCheckSeverity
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    seen = set()
    for m in truth["migrations"]:
        found = chain["results"][(m["stage"], m["attempt_key"])].get_asset_check_evaluations()
        evaluations = {e.check_name: e for e in found if e.asset_key == AssetKey("dataset_rollup")}
        health = evaluations["attempt_is_healthy"]
        # the report, the page people land on, carries the same judgement (its own grid colours every attempt)
        on_report = [e for e in found if e.asset_key == AssetKey("migration_report")]
        assert [(e.check_name, e.passed, e.severity, e.description) for e in on_report] == [
            ("attempt_is_healthy", health.passed, health.severity, health.description)]
        where = f"{m['stage']}/{m['attempt_key']}"
        rate = evaluations["failure_rate_below_threshold"]
        # the check's partition grid paints WARN and ERROR the same red: a failure's first word says which
        assert rate.description.startswith(("" if rate.passed else "WARNING: ") + where + ": "), rate.description
        gather_failed = any(j["step"] == "gather_collections" and j["status"] == "FAILED" for j in m["jobs"])
        failed = sum(d["state"] == "failed" for d in once_each(observable(m)))
        # FAILED: staging's history-quota stop; tolerance_exceeded: DIES, its execution SUCCEEDED all the same
        if gather_failed or m["status"] in ("ABORTED", "FAILED") or m.get("outcome") == "tolerance_exceeded":
            assert not health.passed and health.severity == AssetCheckSeverity.ERROR, health.description
            assert health.description.startswith(f"ERROR: {where}: "), health.description
            seen.add("error")
        elif failed:
            assert not health.passed and health.severity == AssetCheckSeverity.WARN
            assert health.description.startswith(f"WARNING: {where}: "), health.description
            assert f"{failed:,} failed dataset" in health.description
            seen.add("warn")
        else:
            assert health.passed and health.description.startswith(where + ": ")
    assert seen == {"error", "warn"}
    placeholder = chain["results"][("staging", "ATTEMPT_2")]
    assert placeholder.success and "attempt_is_healthy" not in {e.check_name for e in placeholder.get_asset_check_evaluations()}
    for asset in ("dataset_rollup", "migration_report"):
        records = chain["instance"].event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey(asset), "attempt_is_healthy"), limit=100)
        placeholder_records = [r for r in records if r.partition == str(key("staging", "ATTEMPT_2"))]
        # planned and never evaluated, in a run that succeeded: Dagster resolves it to SKIPPED
        assert [r.status for r in placeholder_records] == [AssetCheckExecutionRecordStatus.PLANNED], asset


def test_the_health_checks_answer_is_the_partition_pages(chain, truth):
    """The check's answer line counts what dataset_rollup's does (the datasets not listed yet included)."""
    compared = 0
    for m in truth["migrations"]:
        result = chain["results"][(m["stage"], m["attempt_key"])]
        health = {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}.get(
            (AssetKey("dataset_rollup"), "attempt_is_healthy"))
        if health is None:
            continue
        page = result.asset_materializations_for_node("dataset_rollup")[0].metadata["answer"].value
        assert health.metadata["answer"].value == page, (m["stage"], m["attempt_key"])
        compared += 1
    assert compared


def test_the_rollup_and_the_check_count_the_datasets_the_portal_alone_names(chain, truth):
    """A collection whose collection_migration failed never named its datasets: the portal's listing alone does.
    On the partition's first (and, for an ended attempt, only) run, dataset_rollup's answer and datasets and the
    health check's answer count them as migration_report does, not "(how many: on migration_report)"."""
    from tests.conftest import named_by_the_portal

    compared = 0
    for m in truth["migrations"]:
        named = len(named_by_the_portal(truth, m))
        if not named:
            continue
        result = chain["results"][(m["stage"], m["attempt_key"])]
        rollup = result.asset_materializations_for_node("dataset_rollup")[0].metadata
        report = result.asset_materializations_for_node("migration_report")[0].metadata
        health = {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}[
            (AssetKey("dataset_rollup"), "attempt_is_healthy")]
        said = f"({named:,} dataset{'s' if named != 1 else ''})"
        assert said in rollup["answer"].value, rollup["answer"].value
        assert said in health.metadata["answer"].value, health.metadata["answer"].value
        assert health.metadata["answer"].value == rollup["answer"].value
        assert rollup["datasets"].value == report["datasets"].value
        assert rollup["datasets_not_started"].value == report["datasets_not_started"].value
        compared += 1
    assert compared
