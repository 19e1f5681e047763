"""The corpus an attempt set out to migrate (gather_collections' list in the artifact bucket), and the
rollup of an attempt against it: the one implementation the asset, the CLI and notebooks share."""

from __future__ import annotations

from cxgm_pipeline.monitor.attempts import Attempt
from cxgm_pipeline.monitor.rollups import dataset_rollup
from cxgm_pipeline.resources.aws import ArtifactsResource, FetchStats
from cxgm_pipeline.vocabulary import AttemptState


def corpus_key(execution_name: str) -> str:
    return f"schema_migration/{execution_name}/collections.json"


def fetch_corpus(stage: str, attempt: Attempt | None, artifacts: ArtifactsResource,
                 stats: FetchStats | None = None) -> list[dict] | None:
    """Collections with their datasets; None when no execution of the attempt has written its list yet."""
    if attempt is None:
        return None
    found: dict[str, dict] = {}
    any_found = False
    for name in attempt.execution_names:
        doc = artifacts.get_json(stage, corpus_key(name), stats)
        if isinstance(doc, list):
            any_found = True
            for coll in doc:
                found[coll["collection_version_id"]] = coll
    return list(found.values()) if any_found else None


def roll_up_attempt(stage: str, attempt: Attempt, enriched_jobs, executions, artifacts: ArtifactsResource,
                    stats: FetchStats | None = None):
    """dataset_rollup of an attempt against the corpus it set out to migrate (none for an ad-hoc window)."""
    corpus = None if attempt.window_only else fetch_corpus(stage, attempt, artifacts, stats)
    return dataset_rollup(stage, attempt.key, enriched_jobs, executions, corpus, ended=attempt.ended,
                          aborted=attempt.state is AttemptState.ABORTED)
