"""The cxgm code location: assets, checks, sensors and resources for the deployment in $CXGM_DEPLOYMENT.

local (default): frames under .cxgm/data (or $CXGM_DATA), AWS per the stage config and AWS_ENDPOINT_URL.
prod: $CXGM_DATA must name the s3:// prefix; Dagster's own storage and run launcher come from
dagster.yaml in $DAGSTER_HOME (Postgres, ECS or Kubernetes), not from this file.
"""

from __future__ import annotations

import os

from dagster import Definitions, EnvVar, load_assets_from_package_module

from cxgm_pipeline.assets import overview, reports
from cxgm_pipeline.assets.alerts import ALERTS_VIEW, announce_alerts
from cxgm_pipeline.assets.chain import CHAIN_ASSETS
from cxgm_pipeline.assets.checks import ALL_CHECKS
from cxgm_pipeline.config import digest_seconds, max_failure_rate, refresh_seconds, sensor_seconds
from cxgm_pipeline.jobs import campaign_view_job, compare_job, overview_job, refresh_attempt_job
from cxgm_pipeline.resources.aws import ArtifactsResource, BatchResource, CloudWatchLogsResource, StepFunctionsResource
from cxgm_pipeline.resources.frame_store import FrameStoreResource, ParquetIOManager
from cxgm_pipeline.resources.notifier import notifier_from_env
from cxgm_pipeline.sensors.attempt_discovery import attempt_discovery_sensor
from cxgm_pipeline.sensors.campaign_views import campaign_views_sensor
from cxgm_pipeline.sensors.migration_alerts import migration_alerts_sensor
from cxgm_pipeline.sensors.refresh_running import refresh_running_sensor
from cxgm_pipeline.sensors.schedules import daily_comparison, daily_running_refresh
from cxgm_pipeline.sensors.views_follow_rollups import views_follow_rollups_sensor

DEPLOYMENT_VAR = "CXGM_DEPLOYMENT"


def _aws() -> dict:
    """The same AWS access everywhere; where it points is the stage config's and the environment's business."""
    return {"batch": BatchResource(), "logs": CloudWatchLogsResource(), "sfn": StepFunctionsResource(),
            "artifacts": ArtifactsResource()}


def _with_store(resources: dict, store: FrameStoreResource) -> dict:
    return {**resources, "store": store, "io_manager": ParquetIOManager(store=store)}


def local_resources(data_path: str | None = None) -> dict:
    """One machine: frames under .cxgm/data (or $CXGM_DATA, or `data_path`), alerts to the log unless
    CXGM_NOTIFY says otherwise."""
    store = FrameStoreResource(base_path=data_path) if data_path else FrameStoreResource()
    return _with_store({**_aws(), "notifier": notifier_from_env()}, store)


def prod_resources() -> dict:
    """Production: frames on S3 ($CXGM_DATA=s3://bucket/prefix, read when the resources start), alerts by
    CXGM_NOTIFY; secrets (SLACK_TOKEN) as EnvVar, never in the definitions."""
    return _with_store({**_aws(), "notifier": notifier_from_env()}, FrameStoreResource(base_path=EnvVar("CXGM_DATA")))


RESOURCES_BY_DEPLOYMENT = {"local": local_resources, "prod": prod_resources}


def build_resources(deployment: str | None = None, data_path: str | None = None) -> dict:
    """The resources of `deployment` ($CXGM_DEPLOYMENT: local, the default, or prod)."""
    deployment = deployment or os.environ.get(DEPLOYMENT_VAR, "local")
    if deployment not in RESOURCES_BY_DEPLOYMENT:
        raise ValueError(f"{DEPLOYMENT_VAR}={deployment!r}: expected one of {', '.join(RESOURCES_BY_DEPLOYMENT)}")
    if deployment == "prod":
        if not os.environ.get("CXGM_DATA", "").startswith("s3://"):
            raise ValueError(f"{DEPLOYMENT_VAR}=prod needs CXGM_DATA=s3://bucket/prefix for the frames")
        return prod_resources()
    return local_resources(data_path)


all_assets = [
    *CHAIN_ASSETS.values(),  # one attempt's chain, from monitor/chain.py
    *load_assets_from_package_module(reports, group_name="reports"),
    *load_assets_from_package_module(overview, group_name="overview"),
    ALERTS_VIEW,  # materialized by the announce_alerts runs
]

# Settings from the environment are checked once, when the code location loads: a bad value stops it with a
# message naming the variable, instead of failing every run and sensor tick later.
max_failure_rate()
refresh_seconds()
sensor_seconds()
digest_seconds()

defs = Definitions(
    assets=all_assets,
    asset_checks=ALL_CHECKS,
    jobs=[refresh_attempt_job, overview_job, compare_job, announce_alerts, campaign_view_job],
    sensors=[attempt_discovery_sensor, refresh_running_sensor, migration_alerts_sensor, views_follow_rollups_sensor,
             campaign_views_sensor],
    schedules=[daily_running_refresh, daily_comparison],
    resources=build_resources(),
)
