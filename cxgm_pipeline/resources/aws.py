"""Dagster resources over cxgm's AWS access (`cxgm_pipeline.monitor.aws.clients`): the same methods, configured in the
Launchpad or by deployment. Built on dagster-aws's `ResourceWithBoto3Configuration` (region, profile, endpoint,
keys); the stage config fills what is left unset."""

from __future__ import annotations

from dagster_aws.utils import ResourceWithBoto3Configuration
from pydantic import Field

from cxgm_pipeline.monitor.aws.clients import (  # noqa: F401  (re-exported for definitions and tests)
    ArtifactsApi,
    AwsAccessError,
    BatchApi,
    FetchStats,
    LogsApi,
    StepFunctionsApi,
)


class _StageAwsResource(ResourceWithBoto3Configuration):
    config_path: str | None = Field(default=None, description="Stage config file; default: $CXGM_CONFIG over the packaged one")
    max_attempts: int = Field(default=10, description="botocore retry attempts (standard mode)")
    max_pool_connections: int = Field(default=32, description="HTTP connections per client")
    max_workers: int = Field(default=8, description="Concurrent requests for bulk operations")


class BatchResource(_StageAwsResource, BatchApi):
    """AWS Batch: the jobs of a queue in a time window, described 100 at a time."""


class CloudWatchLogsResource(_StageAwsResource, LogsApi):
    """CloudWatch Logs: streams by name, FilterLogEvents sweeps over 100 streams a call."""

    max_events_per_stream: int = Field(default=20_000, description="Read at most this many events of one stream")


class StepFunctionsResource(_StageAwsResource, StepFunctionsApi):
    """Step Functions: executions, histories, Map Runs."""


class ArtifactsResource(_StageAwsResource, ArtifactsApi):
    """The stage's artifact bucket: the migration's item lists and error reports."""
