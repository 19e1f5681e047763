"""The partitioned assets of one attempt's chain, made from the declaration in `monitor/chain.py`: each
resolves its attempt (once per run), builds its frame with the same function the CLI uses, and says in its
metadata what it found."""


import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    DagsterRunStatus,
    Failure,
    MetadataValue,
    RunsFilter,
    asset,
)
from dagster_pandera import pandera_schema_to_dagster_type

from cxgm_pipeline.assets.partition_context import attempt_metadata, listed_attempts, partition, resolve_attempt
from cxgm_pipeline.monitor.report import links
from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.chain import CHAIN, SPECS, Apis, Build, Frame, FrameSpec, Markdown, publish, stored_previous
from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.attempts.campaigns import CampaignSource
from cxgm_pipeline.partitions import migration_partitions

AWS_RESOURCES = {"batch", "logs", "sfn", "artifacts"}


def _published(context: AssetExecutionContext, spec: FrameSpec, frame: pd.DataFrame) -> dict:
    """The files the frame is also written to beside the report (`FrameSpec.publishes`), the first linked."""
    stage, key = partition(context)
    folder = context.resources.store.report_dir(stage, key)
    publish(spec, frame, folder)
    first = spec.publishes[0]
    served = links.report_file(AttemptRef(stage, key), first)
    # a named link where a server has the file: a whole path or URL is wider than the UI's pane at 1,280 px
    link = MetadataValue.md(f"[{first}]({served})") if served else MetadataValue.path(str(folder / first))
    return {first.rsplit(".", 1)[-1]: link}


def stored_campaign(context: AssetExecutionContext, r, stats: FetchStats) -> CampaignSource:
    """The other attempts of a campaign as the frame store holds them: a partition not materialized yet counts as
    no evidence; when it materializes, sensors/campaign_views.py refreshes this one's view."""

    def rollup_of(attempt: Attempt) -> pd.DataFrame | None:
        exists = r.store.exists(Frame.dataset_rollup, attempt.stage, attempt.key)
        return r.store.read(Frame.dataset_rollup, attempt.stage, attempt.key) if exists else None

    return CampaignSource(lambda stage: listed_attempts(context, r.sfn, stage, stats), rollup_of)


def _refuse_concurrent_run(context: AssetExecutionContext) -> None:
    """Two runs of one partition would read each other's half-written chain. The daemon's queue keeps them
    apart (deploy/dagster.*.yaml); this holds for every other way a run is launched too."""
    runs = context.instance.get_runs(filters=RunsFilter(
        tags={"dagster/partition": str(context.partition_key)},
        statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]), limit=5)
    others = [r.run_id for r in runs if r.run_id != context.run_id]
    if others:
        raise Failure(description=f"another run of {context.partition_key} is in progress ({', '.join(others)}): "
                                  f"this one stops before touching its frames; the next refresh picks up")


def chain_asset(spec: FrameSpec) -> AssetsDefinition:
    @asset(name=spec.name, partitions_def=migration_partitions, group_name=spec.group, description=spec.doc,
           dagster_type=pandera_schema_to_dagster_type(spec.model_class), ins={i: AssetIn(i) for i in spec.inputs},
           required_resource_keys=AWS_RESOURCES | {"store"},
           kinds={"aws", "pandas"} if spec.reads_aws else {"pandas"})
    def _asset(context: AssetExecutionContext, **frames: pd.DataFrame) -> pd.DataFrame:
        if not spec.inputs:
            _refuse_concurrent_run(context)
        stats = FetchStats()
        r = context.resources
        stage, _, attempt = resolve_attempt(context, r.sfn, stats)
        previous = stored_previous(r.store, stage, attempt.key, (spec.name, *spec.reads_last), r.sfn.aws_now(stage)) \
            if attempt is not None else {}
        b = Build(stage, attempt, frames, Apis(r.batch, r.logs, r.sfn, r.artifacts), stats, previous,
                  campaign=stored_campaign(context, r, stats) if spec.campaign else None)
        current = SPECS[spec.name]  # looked up at run time: the declaration is the one truth
        frame = current.build(b)
        summary = {k: MetadataValue.md(v) if isinstance(v, Markdown) else v
                   for k, v in current.summary(frame, b).items()}
        # a frame's answer line leads: the UI lists metadata in this order
        meta = {**({"answer": summary.pop("answer")} if "answer" in summary else {}),
                **attempt_metadata(attempt, stats), **summary}
        if spec.publishes:
            meta.update(_published(context, spec, frame))
        if meta.get("why_empty"):
            context.log.info(f"{stage}/{attempt.key if attempt else '-'}: {meta['why_empty'].replace(chr(0x200b), '')}")
        context.add_output_metadata(meta)
        return frame

    return _asset


CHAIN_ASSETS = {spec.name: chain_asset(spec) for spec in CHAIN}
