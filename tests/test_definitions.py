"""The code location loads the way `dagster dev` loads it, with every asset, check, sensor and schedule."""

import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey

from cxgm_pipeline.definitions import defs

ROOT = Path(__file__).resolve().parents[1]


def test_definitions_hold_the_whole_chain():
    from cxgm_pipeline.monitor.chain import FRAMES

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    # the chain's frames as monitor/chain.py declares them, and the assets made from them
    assert keys == {*FRAMES, "migration_report", "duration_deltas", "attempt_states", "alerts"}
    assert {s.name for s in defs.sensors} == {"attempt_discovery_sensor", "refresh_running_sensor", "migration_alerts_sensor",
                                              "views_follow_rollups", "campaign_views_sensor"}
    assert {s.name for s in defs.schedules} == {"daily_running_refresh", "daily_comparison"}


def test_workspace_validates_with_the_dagster_cli(tmp_path):
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run([str(dagster), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
                            cwd=ROOT, capture_output=True, text=True, timeout=180,
                            env={**os.environ, "DAGSTER_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_the_chain_is_declared_once():
    """The assets of one attempt's chain are the declared frames, with the declared inputs and schemas."""
    from cxgm_pipeline.monitor.chain import CHAIN
    from cxgm_pipeline.monitor.session import FRAMES

    graph = defs.resolve_asset_graph()
    for spec in CHAIN:
        node = graph.get(AssetKey(spec.name))
        assert {k.to_user_string() for k in node.parent_keys} == set(spec.inputs), spec.name
        assert node.description == spec.doc
    assert FRAMES == tuple(spec.name for spec in CHAIN)
