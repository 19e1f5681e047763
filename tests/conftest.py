"""Emulated AWS accounts for the tests: the `small` scenario, every migration over.

- `emulator` (session): one in-process emulator of the default variant (DISTRIBUTED Maps, new ingestion
  input) per test session (per xdist worker); it exports its variables into os.environ.
- `emulator_variant` (session; alias `variant_emulator`): a factory `emulator_variant(map_mode, ingestion_input)
  -> (env, truth)` that starts an emulator of that variant in its own process (moto's backends are
  process-wide, so only one emulator can run in a process), once per session and variant, and stops it at
  the session's end. `env`: the emulator's exports (AWS_ENDPOINT_URL, keys, CXGM_CONFIG, CXGM_TRUTH).
- `migration(truth, stage, key=None, live=None)`, `observable(m)`, `once_each(datasets)`: helpers over a truth
  document.

Tests talk to them over HTTP on 127.0.0.1, exactly as cxgm talks to AWS, and compare with their truth file.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from cxgm_emulator.process import EmulatorProcess, control, spawn
from cxgm_emulator.server import Emulator, EmulatorOptions
from cxgm_emulator.truth import load_truth

SEED = 11
# The emulator answers at once and unthrottled unless a test asks for quotas: client-side pacing at AWS's rates
# would only slow the suite (tests/monitor/aws/test_pacing.py exercises it).
os.environ.setdefault("CXGM_AWS_RATES", "off")
os.environ.setdefault("CXGM_PORTAL_RATE", "off")  # the emulated portal is local: no pacing needed
DEFAULT_VARIANT = ("distributed", "new")
# (map_mode, ingestion_input): production's shapes over time (see portal_shapes.MapMode / IngestionInput)
VARIANTS = [("inline", "old"), ("inline", "new"), ("distributed", "new"), ("distributed", "old")]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory) -> Emulator:
    truth = tmp_path_factory.mktemp("truth") / "truth.json"
    emu = Emulator(EmulatorOptions(scenario="small", seed=SEED, clock="end", truth_path=truth,
                                   map_mode=DEFAULT_VARIANT[0], ingestion_input=DEFAULT_VARIANT[1])).start()
    saved = {k: os.environ.get(k) for k in emu.env()}
    os.environ.update(emu.env())
    os.environ.pop("AWS_PROFILE", None)
    yield emu
    emu.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


class ClockControl:
    """The in-process emulator's clock for a test: `set` and `advance` move it and sync S3 at once."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator

    def now(self) -> float:
        return self.emulator.clock.now()

    def set(self, sim: float) -> None:
        self.emulator.set_clock(sim)

    def advance(self, seconds: float) -> None:
        self.emulator.set_clock(self.now() + seconds)


@pytest.fixture
def clock(emulator) -> ClockControl:
    """The emulator's clock, put back where it was (every migration over) after the test."""
    before = emulator.clock.now()
    yield ClockControl(emulator)
    emulator.set_clock(before)


@pytest.fixture(scope="session")
def truth(emulator) -> dict:
    return load_truth(emulator.truth_path)


def free_port() -> int:
    """A port on 127.0.0.1 no one listens on now (for the servers a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def set_clock(env: dict, at: float) -> None:
    """Sets the simulated clock of the emulator (own process) whose exports are `env`."""
    control(env["AWS_ENDPOINT_URL"], "clock", {"set": at}, timeout=10)


def migration(truth: dict, stage: str, key: str | None = None, live: bool | None = None) -> dict:
    for m in truth["migrations"]:
        if m["stage"] == stage and (key is None or m["attempt_key"] == key) and (live is None or m["live"] == live):
            return m
    raise LookupError(f"no migration {stage}/{key} in truth")


def observable(m: dict) -> list[dict]:
    """A migration's datasets that something in AWS names (truth `observable`): what a monitor can know of."""
    return [d for d in m["datasets"] if d.get("observable", True)]


def named_by_the_portal(truth: dict, m: dict) -> list[dict]:
    """The datasets of `m` no source in AWS names because their collection's collection_migration failed before naming
    them: cxgm names them from the portal's listing of the collection, never started, failing in collection_migration
    with that job's category (the collection's latest job's), whatever a later migration of the stage made of them
    since (portal_state's `portal_later_attempt`)."""
    failed = {c["collection_id"] for c in m["collections"] if c["migration_status"] == "FAILED"}
    jobs = sorted((j for j in m["jobs"] if j["step"] == "collection_migration"), key=lambda j: j["created_at"])
    category = {j["collection_id"]: j["observable_category"] for j in jobs}
    return [{**d, "failing_step": "collection_migration", "error_category": category[d["collection_id"]]}
            for d in m["datasets"] if not d.get("observable", True) and d["collection_id"] in failed
            and d["state"] == "not_started"]


def once_each(datasets: list[dict]) -> list[dict]:
    """Truth datasets (a row per collection version gathered) once each, as cxgm counts datasets: of one gathered
    twice, the published version's branch (migrated into a new revision, not in place), else its first row."""
    kept: dict[str, dict] = {}
    for d in datasets:
        in_place = d.get("migration_revision_id") is not None and d["migration_revision_id"] == d["collection_version_id"]
        first = kept.get(d["dataset_id"])
        if first is None or (first["_in_place"] and not in_place):
            kept[d["dataset_id"]] = {**d, "_in_place": in_place}
    return [{k: v for k, v in d.items() if k != "_in_place"} for d in kept.values()]


# --- emulators in their own process ---------------------------------------------------------------------


def start_emulator_process(directory: Path, map_mode: str = DEFAULT_VARIANT[0],
                           ingestion_input: str = DEFAULT_VARIANT[1], scenario: str = "small", seed: int = SEED,
                           port: int = 0, command: list[str] | None = None) -> EmulatorProcess:
    """Starts an emulator of this variant at its end (clock paused) in its own process."""
    return spawn(directory, "--at-end", "--map-mode", map_mode, "--ingestion-input", ingestion_input,
                 scenario=scenario, seed=seed, port=port, command=command)


@pytest.fixture(scope="session")
def emulator_variant(tmp_path_factory):
    """Factory: `emulator_variant(map_mode, ingestion_input, seed=11) -> (env, truth)`, an emulator of that variant
    (small scenario, every migration over) in its own process, started once per session."""
    started: dict[tuple[str, str, int], tuple[EmulatorProcess, dict, dict]] = {}

    def get(map_mode: str, ingestion_input: str, seed: int = SEED) -> tuple[dict[str, str], dict]:
        key = (map_mode, ingestion_input, seed)
        if key not in started:
            emu = start_emulator_process(tmp_path_factory.mktemp(f"emu-{map_mode}-{ingestion_input}-{seed}"), map_mode,
                                         ingestion_input, seed=seed)
            try:
                env = emu.wait_ready()
            except Exception:
                emu.stop()
                raise
            started[key] = (emu, env, load_truth(emu.truth_file))
        _, env, truth_doc = started[key]
        return dict(env), truth_doc

    yield get
    for emu, _, _ in started.values():
        emu.stop()


@pytest.fixture(scope="session")
def variant_emulator(emulator_variant):
    """The same factory under the other name: `variant_emulator(map_mode, ingestion_input) -> (env, truth)`."""
    return emulator_variant


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture(autouse=True)
def no_dagster_instance_left_open():
    """A test that leaves a Dagster instance entered (a schedule or sensor context opened from an instance ref and
    never closed) leaves Dagster's current defs-state storage pointing at it; once the instance is collected, a
    later materialize() in the same process fails ("Attempted to resolve undefined DagsterInstance weakref"),
    in whichever test xdist happens to run next. Caught here, in the test that did it."""
    yield
    import sys

    base = sys.modules.get("dagster._core.storage.defs_state.base")  # not imported: no Dagster in this test
    if base is not None:
        assert base.DefsStateStorage.get() is None, \
            "this test left a Dagster instance open: close its context (`with build_schedule_context(...) as ctx:`)"


# --- tiers ----------------------------------------------------------------------------------------------------
# `make test-fast` runs the unit tier: tests that need no emulated account, no browser and no server of their own.
_ACCOUNT_FIXTURES = {"emulator", "emulator_variant", "variant_emulator", "clock", "truth"}
_SLOW_FOLDERS = ("ui", "deploy", "emulator")


def pytest_collection_modifyitems(config, items):
    for item in items:
        folder = item.path.parent.name
        if item.get_closest_marker("account"):
            continue
        if _ACCOUNT_FIXTURES & set(getattr(item, "fixturenames", ())) or folder in _SLOW_FOLDERS:
            item.add_marker(pytest.mark.account)
        else:
            item.add_marker(pytest.mark.unit)


# --- the code location, materialized ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chain(emulator, truth, tmp_path_factory) -> dict:
    """Every partition of the truth materialized with its checks on one ephemeral instance, then the comparison and
    the overview (tests/dagster_chain.py): shared by the asset, check and sensor tests, built once per session."""
    from tests.dagster_chain import build_chain

    return build_chain(truth, tmp_path_factory.mktemp("chain"))
