"""A refresh costs the same wherever it starts: a second Dagster materialization of a running partition and the
CLI's refresh at the same moment read AWS alike (each from its own stored frames) and build the same frames."""

import pandas as pd
from dagster import DagsterEventType, DagsterInstance, materialize

from cxgm_pipeline.assets.chain import CHAIN_ASSETS
from cxgm_pipeline.definitions import build_resources
from cxgm_pipeline.monitor.aws.clients import FetchStats
from cxgm_pipeline.monitor.chain import FRAMES
from cxgm_pipeline.monitor.store.frames import FrameStore
from cxgm_pipeline.monitor.session import MonitorSession
from cxgm_pipeline.partitions import ATTEMPTS
from tests.dagster_chain import key
from tests.conftest import migration


def _dagster_calls(instance: DagsterInstance, run_id: str) -> int:
    """The AWS calls a run's assets made, as each says in its metadata."""
    entries = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
    values = [e.asset_materialization.metadata.get("aws_calls") for e in entries]
    return sum(v.value for v in values if v is not None)


def test_second_refresh_of_a_running_partition_costs_the_same_in_dagster_and_the_cli(emulator, truth, clock,
                                                                                        tmp_path):
    prod = migration(truth, "prod", live=True)
    stage, attempt = "prod", prod["attempt_key"]
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ATTEMPTS, [attempt])
    resources = build_resources("local", str(tmp_path / "dagster"))
    cli = MonitorSession(store=FrameStore(str(tmp_path / "cli")))
    first_fetch = None
    for moment in (0.4, 0.45):
        clock.set(prod["start"] + moment * (prod["stop"] - prod["start"]))
        run = materialize(list(CHAIN_ASSETS.values()), partition_key=key(stage, attempt), resources=resources,
                          instance=instance)
        assert run.success
        cli.stats = FetchStats()
        result = cli.frames(stage, attempt, refresh=True)
        assert result.attempt is not None and not result.attempt.ended
        if first_fetch is None:
            first_fetch = cli.stats.calls
    dagster_calls = _dagster_calls(instance, run.run_id)
    # equal calls, not merely few: both start from their stored frames and read only what can have changed
    assert dagster_calls == cli.stats.calls
    # the small scenario's first fetch is a few dozen calls, most of them fixed costs; `make bench` measures the
    # ratio at the corpus's size
    assert cli.stats.calls <= first_fetch // 2, (cli.stats.calls, first_fetch)
    dagster_store = FrameStore(str(tmp_path / "dagster"))
    for name in FRAMES:
        # when the portal was read is this machine's own clock, not a fact of the migration
        a = dagster_store.read(name, stage, attempt).reset_index(drop=True).drop(columns=["portal_read_at"], errors="ignore")
        b = result.frames[name].reset_index(drop=True).drop(columns=["portal_read_at"], errors="ignore")
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)
