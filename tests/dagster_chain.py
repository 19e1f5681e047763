"""The code location's assets, materialized on an ephemeral instance against the emulator: what the tests of the
assets, checks and sensors share (tests/conftest.py's `chain` fixture builds one such instance per session)."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance, MultiPartitionKey, build_sensor_context, materialize

from cxgm_pipeline.assets.checks import ALL_CHECKS
from cxgm_pipeline.definitions import all_assets, build_resources
from cxgm_pipeline.partitions import ATTEMPTS
from cxgm_pipeline.resources.frame_store import FrameStoreResource

PARTITIONED = [a for a in all_assets if a.partitions_def is not None]
DELTAS = [a for a in all_assets if a.key.to_user_string() == "duration_deltas"]
OVERVIEW = [a for a in all_assets if a.key.to_user_string() == "attempt_states"]


def key(stage: str, attempt: str) -> MultiPartitionKey:
    return MultiPartitionKey({"stage": stage, "attempt": attempt})


def materialized_instance(data: Path, cells: list[tuple[str, str]]) -> dict:
    """A fresh instance whose (stage, attempt) `cells` are materialized with every check: {"instance",
    "resources", "store", "results" (per cell), "data"}."""
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, sorted({attempt for _, attempt in cells}))
    resources = build_resources("local", str(data))
    results = {(stage, attempt): materialize([*PARTITIONED, *ALL_CHECKS], partition_key=key(stage, attempt),
                                             resources=resources, instance=instance)
               for stage, attempt in cells}
    return {"instance": instance, "resources": resources, "store": FrameStoreResource(base_path=str(data)),
            "results": results, "data": Path(data)}


def build_chain(truth: dict, data: Path) -> dict:
    """Every migration of the truth, staging's ATTEMPT_2 (a cell the attempt never ran in), then the comparison
    and the overview."""
    cells = [(m["stage"], m["attempt_key"]) for m in truth["migrations"]] + [("staging", "ATTEMPT_2")]
    chain = materialized_instance(data, cells)
    common = {"resources": chain["resources"], "instance": chain["instance"]}
    chain["deltas"] = materialize([*PARTITIONED, *DELTAS], selection=["duration_deltas"], **common)
    chain["overview"] = materialize([*PARTITIONED, *OVERVIEW], selection=["attempt_states"], **common)
    return chain


def tick_alerts(chain: dict, cursor: str | None = None):
    """One tick of the alerts sensor over the chain's instance and frames."""
    from cxgm_pipeline.resources.aws import StepFunctionsResource
    from cxgm_pipeline.sensors.migration_alerts import migration_alerts_sensor

    resources = {"sfn": StepFunctionsResource(), "store": chain["store"]}
    return migration_alerts_sensor(build_sensor_context(instance=chain["instance"], resources=resources, cursor=cursor))


def announce(chain: dict, result, notifier=None) -> list:
    """The announce_alerts runs a sensor tick requested, executed on the chain's instance."""
    from cxgm_pipeline.assets.alerts import announce_alerts
    from cxgm_pipeline.resources.notifier import Notifier

    return [announce_alerts.execute_in_process(run_config=r.run_config, instance=chain["instance"], raise_on_error=False,
                                               resources={"notifier": notifier or Notifier(), "store": chain["store"]})
            for r in result.run_requests]
