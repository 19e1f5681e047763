"""Dagster's side of the frame store (`cxgm_pipeline.monitor.store.frames`): a resource, and the IO manager that
persists each asset's DataFrame in the store's layout."""

from __future__ import annotations

import pandas as pd
from dagster import ConfigurableIOManager, ConfigurableResource, InputContext, OutputContext
from pydantic import Field

from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.views.answer import breakable
from cxgm_pipeline.monitor.store.frames import DEFAULT_BASE, FrameStoreOps, default_base  # noqa: F401


class FrameStoreResource(ConfigurableResource, FrameStoreOps):
    """The frame store, configurable per deployment (local folder or s3://bucket/prefix)."""

    base_path: str = Field(default_factory=default_base, description="Local folder or s3://bucket/prefix")


def stage_and_attempt(key) -> tuple[str, str]:
    ref = AttemptRef.from_partition_key(key)
    return ref.stage, ref.key


class ParquetIOManager(ConfigurableIOManager):
    """Persists each asset's DataFrame with FrameStoreResource's layout."""

    store: FrameStoreResource

    def _where(self, context) -> tuple[str, str | None, str | None]:
        asset = context.asset_key.path[-1]
        if context.has_asset_partitions:
            stage, attempt = stage_and_attempt(context.asset_partition_key)
            return asset, stage, attempt
        return asset, None, None

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | None) -> None:
        if obj is None:
            return
        asset, stage, attempt = self._where(context)
        path = str(self.store.write(obj, asset, stage, attempt))
        # the store and the path in it apart, each breakable after its slashes: a path is one word, and
        # "dataset_rollup/prod/ATTEMPT_2.parquet" alone widened the Overview tab's table past its pane at 1,280 px
        base = str(self.store.base_path).rstrip("/")
        inside = path[len(base) + 1:] if path.startswith(base + "/") else path
        context.add_output_metadata({"rows": len(obj), "path": breakable(inside), "store": breakable(base)})

    def load_input(self, context: InputContext) -> pd.DataFrame:
        asset, stage, attempt = self._where(context)
        return self.store.read(asset, stage, attempt)
