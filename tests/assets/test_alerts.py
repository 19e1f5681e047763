"""The announce_alerts job and the `alerts` view: what a run sends it records, with links, and a notifier that
fails fails a run Dagster retries."""

from dagster import AssetKey

from tests.dagster_chain import announce, tick_alerts


def test_alerts_carry_links_and_are_listed_in_the_ui(chain, monkeypatch):
    monkeypatch.setenv("CXGM_UI_URL", "http://dagster.example:3000")
    monkeypatch.setenv("CXGM_REPORTS_URL", "http://reports.example:3080")
    result = tick_alerts(chain)
    config = result.run_requests[0].run_config["ops"]["announce"]["config"]["alerts"][0]
    ref = f"{config['attempt']}%7C{config['stage']}"
    assert f"Dagster: http://dagster.example:3000/assets/migration_report?view=partitions&partition={ref}" in config["body"]
    assert f"Report: http://reports.example:3080/{config['stage']}/{config['attempt']}/index.html" in config["body"]
    assert all(run.success for run in announce(chain, result))
    view = chain["store"].read("alerts")
    assert len(view) >= len(result.run_requests)
    assert view.iloc[-1]["subject"] == result.run_requests[-1].run_config["ops"]["announce"]["config"]["alerts"][0]["subject"]
    recorded = chain["instance"].get_latest_materialization_event(AssetKey("alerts")).asset_materialization
    assert "[partition](http://dagster.example:3000/assets/" in recorded.metadata["alerts"].value
    # a subject is one escaped cell: its "[cxgm]" is text, not a broken link, and a "|" in it splits no column
    from cxgm_pipeline.monitor.report.document import md_cell

    assert f": {md_cell(view.iloc[-1]['subject'])} · [partition](" in recorded.metadata["alerts"].value
    assert md_cell("[cxgm] a | b") == "\\[cxgm\\] a \\| b"


def test_a_failing_notifier_fails_a_visible_run_that_dagster_retries(chain):
    from cxgm_pipeline.resources.notifier import Notifier
    from cxgm_pipeline.assets.alerts import RETRIES, announce_alerts

    class Down(Notifier):
        def send(self, alert):
            raise ConnectionError("SMTP server went away")

    runs = announce(chain, tick_alerts(chain), Down())
    assert runs and not any(run.success for run in runs)
    assert announce_alerts.tags["dagster/max_retries"] == RETRIES
