"""The scenarios' shapes that the benchmark relies on (no emulator started)."""

import pytest

from cxgm_emulator.scenarios import SCENARIOS

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name,factor", [("corpus5x", 5), ("corpus10x", 10)])
def test_a_scale_scenario_is_the_default_rehearsal_and_live_run_at_scale(name, factor):
    """bench/fetch_bench.py measures the live prod run and compares it with its dev rehearsal."""
    base, scaled = SCENARIOS["default"], SCENARIOS[name]
    assert [(m.stage, m.tag, m.live) for m in scaled.migrations] == [("dev", "ATTEMPT_2", False),
                                                                   ("prod", "ATTEMPT_2", True)]
    assert scaled.n_datasets == base.n_datasets * factor
    live = next(m for m in base.migrations if m.live)
    assert scaled.migrations[1].spread_h == live.spread_h * factor
