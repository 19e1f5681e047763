"""The report's re-run table is the re-run manifest, whatever its length and states."""

import re

import pandas as pd

from cxgm_pipeline.monitor.attempt_ref import AttemptRef
from cxgm_pipeline.monitor.report import AttemptReport, attempt_markdown, _html
from cxgm_pipeline.monitor.rerun import rerun_manifest
from cxgm_pipeline.schemas import DatasetRollup, ErrorSignatures, EnrichedJobs, empty_frame


def _rollup(states: list[str]) -> pd.DataFrame:
    frame = empty_frame(DatasetRollup).reindex(range(len(states)))
    return frame.assign(stage="prod", attempt="A", dataset_id=[f"d{i:03}" for i in range(len(states))],
                        collection_id="c1", state=states, retries=0, jobs=1,
                        failing_step=["cxg" if s == "failed" else None for s in states],
                        error_category=["timeout" if s == "failed" else None for s in states])


def test_an_ended_attempts_never_started_and_every_failed_dataset_are_in_the_table():
    rollup = _rollup(["failed"] * 78 + ["not_started"] * 17 + ["succeeded"] * 5)
    manifest = rerun_manifest(rollup, ended=True)
    report = AttemptReport(AttemptRef("prod", "A"), {"dataset_rollup": rollup, "rerun_manifest": manifest,
                                                     "enriched_jobs": empty_frame(EnrichedJobs),
                                                     "error_signatures": empty_frame(ErrorSignatures)})
    page = _html(attempt_markdown(report, {}))
    section = page.split("<h2>Datasets to re-run</h2>", 1)[1]
    listed = [re.search(r"<td>(.*?)</td>", row).group(1) for row in re.findall(r"<tr>(.*?)</tr>", section)[1:]]
    assert len(manifest) == 95 and listed == manifest["dataset_id"].tolist()
    assert "**95 to re-run.**" in attempt_markdown(report, {})
