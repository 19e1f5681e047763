"""The notebook helpers, under their old names, give the asset chain's answers."""

from cxgm_pipeline import notebook as cx
from tests.conftest import migration, observable


def test_notebook_flow_matches_truth(emulator, truth):
    cx.set_stage("prod")
    jobs = cx.describe_migration_jobs(tag="ATTEMPT_2")
    enriched = cx.merge_job_logs(jobs)
    executions = cx.describe_sfn_executions(tag="ATTEMPT_2")
    datasets = cx.report_datasets(enriched, executions, tag="ATTEMPT_2")
    expected = {d["dataset_id"]: d["state"] for d in observable(migration(truth, "prod"))}
    assert dict(zip(datasets["dataset_id"], datasets["state"])) == expected
    for plot in (cx.plot_job_status_counts(enriched), cx.plot_job_durations(enriched), cx.plot_dataset_status_counts(datasets)):
        assert plot.axes
