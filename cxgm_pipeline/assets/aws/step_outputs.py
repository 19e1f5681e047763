import pandas as pd
from dagster import AssetExecutionContext, asset
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.assets.partition_context import attempt_metadata, resolve_attempt
from cxgm_pipeline.monitor.outputs import collect_outputs
from cxgm_pipeline.partitions import migration_partitions
from cxgm_pipeline.resources.aws import ArtifactsResource, CloudWatchLogsResource, FetchStats, StepFunctionsResource
from cxgm_pipeline.schemas import StepOutputs


@asset(partitions_def=migration_partitions, dagster_type=pandera_schema_to_dagster_type(StepOutputs),
       kinds={"aws", "pandas"})
def step_outputs(context: AssetExecutionContext, migration_jobs: pd.DataFrame, logs: CloudWatchLogsResource,
                 sfn: StepFunctionsResource, artifacts: ArtifactsResource) -> pd.DataFrame:
    """What the steps answered: each dataset's new version, the collections gathered, the datasets each
    collection set out to migrate, the datasets skipped; read from `output` log records, histories, S3."""
    stats = FetchStats()
    stage, _, attempt = resolve_attempt(context, sfn, stats)
    outputs = collect_outputs(stage, attempt, migration_jobs, logs, sfn, artifacts, stats)
    meta = attempt_metadata(attempt, stats)
    if not outputs.empty:
        meta.update({f"{kind}s": int(n) for kind, n in outputs["kind"].value_counts().items()})
        meta.update({f"from_{src}": int(n) for src, n in outputs["source"].value_counts().items()})
    context.add_output_metadata(meta)
    return outputs
