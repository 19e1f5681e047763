import pandas as pd
from dagster import AssetExecutionContext, asset
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.assets.partition_context import attempt_metadata, resolve_attempt
from cxgm_pipeline.monitor.corpus import fetch_corpus
from cxgm_pipeline.monitor.rollups import dataset_rollup as build_dataset_rollup
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import ArtifactsResource, FetchStats, StepFunctionsResource
from cxgm_pipeline.schemas import DatasetRollup
from cxgm_pipeline.vocabulary import AttemptState


@asset(partitions_def=migration_partitions, dagster_type=pandera_schema_to_dagster_type(DatasetRollup),
       kinds={"pandas"})
def dataset_rollup(context: AssetExecutionContext, enriched_jobs: pd.DataFrame, sfn_executions: pd.DataFrame,
                   sfn: StepFunctionsResource, artifacts: ArtifactsResource) -> pd.DataFrame:
    """One row per dataset of the migrated corpus: state, steps, failing step and cause, durations, retries."""
    stats = FetchStats()
    stage, key, attempt = resolve_attempt(context, sfn, stats)
    corpus = fetch_corpus(stage, attempt, artifacts, stats)
    rollup = build_dataset_rollup(stage, key, enriched_jobs, sfn_executions, corpus,
                                  ended=bool(attempt and attempt.ended),
                                  aborted=bool(attempt and attempt.state is AttemptState.ABORTED))
    states = rollup["state"].value_counts().to_dict() if not rollup.empty else {}
    context.add_output_metadata({**attempt_metadata(attempt, stats), "datasets": len(rollup),
                                 "corpus_listed": corpus is not None,
                                 **{f"datasets_{k}": int(v) for k, v in states.items()}})
    return rollup
