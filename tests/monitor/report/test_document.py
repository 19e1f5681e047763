"""The report's tables: the re-run table is the re-run manifest whatever its length and states; causes quoting
code stay text in Markdown and HTML."""

import html
import re

import pandas as pd

from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.report.document import AttemptReport, _html, attempt_markdown, write_report
from cxgm_pipeline.monitor.frames.rerun_manifest import rerun_manifest
from cxgm_pipeline.schemas import DatasetRollup, EnrichedJobs, ErrorSignatures, empty_frame, SfnExecutions

SIGNATURE = ("validation: All embeddings have to be of 'numpy.ndarray' type, 'adata.obsm['X_tsne']' is "
             "<class 'pandas.core.frame.DataFrame'>').")
EVIDENCE = "validator-embedding-uns @ log: ERROR: x | y * z _w_ `code` uns[suspension_type_colors] & more"


def _rollup(states: list[str]) -> pd.DataFrame:
    frame = empty_frame(DatasetRollup).reindex(range(len(states)))
    return frame.assign(stage="prod", attempt="A", dataset_id=[f"d{i:03}" for i in range(len(states))],
                        collection_id="c1", state=states, retries=0, jobs=1,
                        failing_step=["cxg" if s == "failed" else None for s in states],
                        error_category=["timeout" if s == "failed" else None for s in states])


def _report(rollup: pd.DataFrame, signatures: pd.DataFrame, ended: bool = True) -> AttemptReport:
    return AttemptReport(AttemptRef("prod", "ATTEMPT_2"), {
        "dataset_rollup": rollup, "rerun_manifest": rerun_manifest(rollup, ended=ended),
        "enriched_jobs": empty_frame(EnrichedJobs), "error_signatures": signatures,
        "sfn_executions": empty_frame(SfnExecutions)})


def test_an_ended_attempts_never_started_and_every_failed_dataset_are_in_the_table():
    report = _report(_rollup(["failed"] * 78 + ["not_started"] * 17 + ["succeeded"] * 5), empty_frame(ErrorSignatures))
    page = _html(attempt_markdown(report, {}))
    section = page.split("<h2>Datasets to re-run</h2>", 1)[1]
    listed = [re.search(r"<td>(.*?)</td>", row).group(1) for row in re.findall(r"<tr>(.*?)</tr>", section)[1:]]
    manifest = report.frame("rerun_manifest")
    assert len(manifest) == 95 and listed == manifest["dataset_id"].tolist()
    assert "**95 to re-run.**" in attempt_markdown(report, {})


def test_error_section_shows_evidence_and_keeps_every_character_as_text(tmp_path):
    """Signatures quote code: <class ...>, pipes, brackets, stars. Neither Markdown nor HTML may eat them."""
    signatures = pd.DataFrame([{"jobs": 3, "datasets": 2, "step": "validate_anndata", "error_category": "validation",
                                "error_signature": SIGNATURE, "examples": "EFO:0009310, EFO:0009899",
                                "error_evidence": EVIDENCE}])
    markdown = attempt_markdown(_report(_rollup(["succeeded"]), signatures), {})
    row = next(line for line in markdown.splitlines() if line.startswith("| 3 jobs "))
    assert "<class" not in row and "&lt;class" in row  # an HTML tag in Markdown would vanish
    assert row.count("|") - row.count("\\|") == 8  # 7 cells: the evidence's own pipe is escaped
    assert "error_evidence" in markdown and "EFO:0009310, EFO:0009899" in row
    write_report(tmp_path, lambda images: markdown, {}, "t")
    page = (tmp_path / "index.html").read_text()
    assert f"<td>{html.escape(SIGNATURE)}</td>" in page
    assert f"<td>{html.escape(EVIDENCE)}</td>" in page
    assert "&amp;lt;" not in page and "\\|" not in page


def test_every_link_of_a_generated_report_opens(tmp_path, monkeypatch):
    """Each href of the HTML report, as a browser reads it: the partition's Dagster page keeps its query (an
    `&amp;amp;` opened 'No partition selected'), the files it names exist beside it."""
    from html.parser import HTMLParser
    from urllib.parse import parse_qs, urlparse

    from cxgm_pipeline.monitor.report.links import partition_page
    from cxgm_pipeline.monitor.report.document import write_attempt_report

    monkeypatch.setenv("CXGM_UI_URL", "http://127.0.0.1:3000")
    report = _report(_rollup(["failed", "succeeded"]), empty_frame(ErrorSignatures))
    ref = AttemptRef("prod", "ATTEMPT_2")
    write_attempt_report(tmp_path, report, {"this partition in Dagster": partition_page(ref)})

    class Links(HTMLParser):
        hrefs: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag == "a":
                self.hrefs.append(dict(attrs)["href"])

    parser = Links()
    parser.feed((tmp_path / "index.html").read_text())
    assert parser.hrefs, "the report links somewhere"
    for href in parser.hrefs:
        url = urlparse(href)
        if url.scheme in ("http", "https"):
            assert parse_qs(url.query).get("partition") == [ref.partition_key], href
        else:
            assert (tmp_path / url.path).exists(), href


def test_a_cause_no_failed_job_carries_reads_as_its_datasets_in_the_top_errors():
    """Production's cleanup step failed them, every job succeeded: `0` jobs would read as no failure."""
    signatures = pd.DataFrame([{"jobs": 0, "datasets": 46, "step": "collection_cleanup", "error_category": "application",
                                "error_signature": "application: rolled back by the cleanup step",
                                "examples": None, "error_evidence": "production's cleanup records: rolled_back"}])
    markdown = attempt_markdown(_report(_rollup(["succeeded"]), signatures), {})
    assert "| 46 datasets | 46 | collection\\_cleanup |" in markdown
    assert "| 0 |" not in markdown


def test_lists_render_as_lists_in_order_with_tables():
    """The re-run split is a Markdown list: the HTML report showed its lines with a literal "- "."""
    page = _html("head\n\n- one **a**\n- two\n| x |\n|---|\n| 1 |\n- three\n\ntail")
    assert "- " not in page
    assert page.index("<li>one <b>a</b></li><li>two</li>") < page.index("<table>") < page.index("<li>three</li>")


def test_the_dataset_states_plot_counts_the_datasets_only_the_portal_names():
    """The plot said "not_started 0" beside the summary's 8: those of a collection that failed before listing
    them are among its not started, as the key numbers count them."""
    from cxgm_pipeline.monitor.report.document import dataset_states_figure, key_numbers

    rollup = _rollup(["failed", "succeeded", "succeeded"])
    portal = pd.DataFrame({"dataset_id": ["d000", "d001", "d002", "lost1", "lost2"],
                           "state": ["failed", "succeeded", "succeeded", "not_started", "not_started"]})
    report = AttemptReport(AttemptRef("prod", "A"), {**_report(rollup, empty_frame(ErrorSignatures)).frames,
                                                     "portal_state": portal})
    bars = {t.get_text().strip() for t in dataset_states_figure(report).axes[0].texts}
    assert key_numbers(report)["datasets_not_started"] == 2 and "2 (40.0%)" in bars, bars
