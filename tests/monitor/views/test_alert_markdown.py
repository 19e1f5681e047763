"""An alert as the Dagster UI shows it inline: subject, links, then its body, under 1,000 characters."""

import pandas as pd

from cxgm_pipeline.monitor.views.alerts import Alert, alert_markdown, alerts_table_markdown, digest, with_links


def test_the_latest_alert_shows_its_body_and_links_inline():
    rerun = [f"  dataset-{i:04}  collection c{i}  cxg  out_of_memory" for i in range(80)]
    body = "\n".join(["succeeded - 49 of 49 (100%) ended - 8 failed", "", "Failed by category: validation 5",
                      "To re-run (80):", *rerun])
    alert = with_links(Alert("finished", "finished", "[cxgm] prod/ATTEMPT_2 finished: 8 failed", body),
                       {"Dagster": "http://ui/assets/x?a=1&b=2", "Report": "http://reports/prod/A/index.html"})
    text = alert_markdown(alert.subject, alert.body, pd.Timestamp("2026-12-01 10:00", tz="UTC"),
                          {"partition": "http://ui/assets/x?a=1&b=2", "report": "http://reports/prod/A/index.html"})
    assert len(text) < 1000
    assert text.startswith("**\\[cxgm\\] prod/ATTEMPT\\_2 finished: 8 failed** (2026-12-01 10:00 UTC)")
    assert "[partition](http://ui/assets/x?a=1&b=2)" in text and "[report](http://reports/prod/A/index.html)" in text
    assert "- succeeded - 49 of 49 (100%) ended - 8 failed\n" in text and "Failed by category: validation 5" in text
    assert "more lines" in text and "Dagster: http" not in text  # the links once, as links
    assert "```" not in text  # a code block's long lines would widen the pane


def test_a_digest_counts_new_causes_by_category_and_the_table_fits():
    alerts = [Alert("new_signature", f"signature:s{i}", f"[cxgm] p/A: new error ({c})", f"1 job(s) in cxg: s{i}", c)
              for i, c in enumerate(["out_of_memory"] * 5 + ["validation"] * 2)]
    d = digest("prod/A", alerts)
    assert d.subject == "[cxgm] prod/A: 7 alerts (new signature): new out_of_memory 5, validation 2"
    assert d.body.startswith("New causes by category: out_of_memory 5, validation 2")
    frame = pd.DataFrame([{"stage": "prod", "attempt": "A", "kind": "digest", "subject": f"[cxgm] subject {i}",
                           "partition_url": "http://ui/p", "report_url": "http://r/index.html",
                           "sent_at": pd.Timestamp("2026-12-01", tz="UTC") + pd.Timedelta(minutes=i)}
                          for i in range(40)])
    table = alerts_table_markdown(frame)
    assert len(table) < 1000 and "older: the alerts frame" in table
    assert table.splitlines()[0].startswith("- 12-01 00:39 UTC prod/A: \\[cxgm\\] subject 39 · [partition](")
