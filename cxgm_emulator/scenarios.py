"""Named scenarios: corpus size, failure rates and the migrations each stage runs.

Times are hours relative to the emulator's anchor (the moment the live migration is due to start).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cxgm_emulator.failures import Fault as C


@dataclass(frozen=True)
class MigrationSpec:
    stage: str
    tag: str | None  # `migration_attempt` in the execution input (an operator's label); None: untagged
    start_h: float
    spread_h: float  # collections are started over this many hours (the queue's throughput)
    duration_scale: dict[str, float] = field(default_factory=dict)  # per step, e.g. prod's cxg is slower
    abort_at: float | None = None  # fraction of the planned span at which an operator aborts it
    data_fault_keep: float = 1.0  # share of the corpus's data faults still failing in this run
    expired_log_share: float = 0.0  # share of log streams gone (retention) by the time anyone looks
    live: bool = False  # the migration the emulator plays in real time
    limit_migration: int = 0  # LIMIT_MIGRATION: a smoke test of this many random collections
    gather_fails: bool = False  # gather_collections fails (the database is unreachable): nothing is migrated
    # published collections with a curator's open revision: each is gathered twice (revision and published
    # version) and migrated once per version
    curator_revisions: int = 0
    # datasets whose dataset_migrate answer lacks the field the next state's Parameters read: States.Runtime, which
    # no Catch takes (DISTRIBUTED: the dataset's child execution fails; INLINE: the whole execution fails)
    runtime_failures: int = 0
    # DISTRIBUTED: enough SpanCollections children fail (States.DataLimitExceeded) to pass its 20% tolerance
    span_collections_breach: bool = False


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    n_collections: int
    n_datasets: int
    # Faults of the data itself: they fail in every migration of the corpus (unless fixed in between).
    data_fault_rates: dict[C, float]
    # Faults of the infrastructure: drawn anew for each migration.
    infra_fault_rates: dict[C, float]
    retry_rate: float  # share of jobs whose first attempt loses its spot host and is retried
    collection_fault_count: int  # collections whose migration fails: their datasets never start
    atac_rate: float
    current_rate: float  # share of datasets already on the current schema (skipped, not migrated)
    migrations: tuple[MigrationSpec, ...]


def _migrations(spread_h: float) -> tuple[MigrationSpec, ...]:
    return (
        MigrationSpec(stage="dev", tag=None, start_h=-12 * 24, spread_h=0.1, gather_fails=True),
        MigrationSpec(stage="dev", tag="SMOKE_TEST", start_h=-11 * 24, spread_h=0.5, limit_migration=3),
        MigrationSpec(stage="dev", tag=None, start_h=-9 * 24, spread_h=spread_h * 0.8, abort_at=0.55,
                      data_fault_keep=1.0, expired_log_share=0.35),
        MigrationSpec(stage="dev", tag="ATTEMPT_2", start_h=-4 * 24, spread_h=spread_h, data_fault_keep=0.9),
        # rehearsals as production's record has them: collections gathered twice; children that die
        MigrationSpec(stage="dev", tag="EDGES", start_h=-6 * 24, spread_h=spread_h * 0.5, curator_revisions=2),
        MigrationSpec(stage="dev", tag="DIES", start_h=-5 * 24, spread_h=spread_h * 0.5, runtime_failures=2,
                      span_collections_breach=True),
        MigrationSpec(stage="prod", tag="ATTEMPT_2", start_h=0.0, spread_h=spread_h,
                      duration_scale={"cxg": 1.3, "validate_anndata": 1.1, "add_labels": 1.05},
                      data_fault_keep=0.6, live=True),
    )


# Failures of the infrastructure, drawn anew for each migration (rates per dataset, in this order).
_INFRA = (C.OUT_OF_MEMORY, C.CONTAINER_IMAGE, C.HOST_TERMINATED, C.TIMEOUT, C.RESOURCE_INIT, C.STORAGE, C.THROTTLED)

SCENARIOS: dict[str, ScenarioSpec] = {
    "default": ScenarioSpec(
        name="default",
        n_collections=300,
        n_datasets=2000,
        data_fault_rates={C.VALIDATION: 0.015, C.APPLICATION: 0.008},
        infra_fault_rates=dict(zip(_INFRA, (0.01, 0.002, 0.003, 0.003, 0.002, 0.003, 0.003))),
        retry_rate=0.03,
        collection_fault_count=2,
        atac_rate=0.06,
        current_rate=0.02,
        migrations=_migrations(spread_h=8.0),
    ),
    # Small enough for tests, yet every category, retries and never-started datasets occur.
    "small": ScenarioSpec(
        name="small",
        n_collections=12,
        n_datasets=60,
        data_fault_rates={C.VALIDATION: 0.05, C.APPLICATION: 0.03},
        infra_fault_rates=dict(zip(_INFRA, (0.03, *[0.02] * 6))),
        retry_rate=0.08,
        collection_fault_count=1,
        atac_rate=0.1,
        current_rate=0.05,
        migrations=_migrations(spread_h=2.0),
    ),
}


def get_scenario(name: str) -> ScenarioSpec:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
