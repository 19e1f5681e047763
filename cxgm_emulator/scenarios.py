"""Named scenarios: corpus size, failure rates and the migrations each stage runs.

Times are hours relative to the emulator's anchor (the moment the live migration is due to start).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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
    # The execution hits Step Functions' 25,000-event history quota at this fraction of its planned span and fails
    # (schema 4.0.0, single-cell-data-portal issue #6541); Step Functions refuses to redrive it.
    history_quota_at: float | None = None
    # A re-run of the stage's previous migration, started by .github/workflows/schema-migration.yml with
    # {"auto_publish": "True"} only (no name, no tag): what the earlier run migrated is current, so skipped.
    continues: bool = False
    # The execution fails with an uncatchable States.Runtime at this fraction of its span, and an operator
    # redrives it `redrive_after_h` hours later: same ARN, only the unfinished iterations run again.
    fail_at: float | None = None
    redrive_after_h: float | None = None
    # share of the datasets whose every job succeeds that production's cleanup step still flags (rolled back, or
    # not on the latest schema): production's verdict alone fails them
    verdict_share: float = 0.0
    # validation failures whose validator reports so many errors that the records carrying them pass 16 KB and
    # Docker's awslogs driver splits them (the failed job's status record, the cleanup's error record)
    long_validation_messages: int = 0
    # DISTRIBUTED: collections whose SpanDatasets ItemReader fails (caught: straight to CollectionCleanup), so the
    # datasets they listed never start; only the cleanup's "Downloaded from S3" record names them after the report
    span_datasets_reader_fails: int = 0
    # datasets whose add_labels job is never placed: AddLabels' 24 h TimeoutSeconds passes four times (States.ALL
    # retrier), then HandleErrors -> RaiseError: the ingestion FAILED, no job failed, the migration waits ~4 days
    ingestion_timeouts: int = 0
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


def _migrations(spread_h: float, redrive: bool = True) -> tuple[MigrationSpec, ...]:
    """`redrive`: staging's third execution, failed and redriven (left out of `make demo`'s default scenario, whose
    seeding and first materializations it would lengthen by a third)."""
    return (
        MigrationSpec(stage="dev", tag=None, start_h=-12 * 24, spread_h=0.1, gather_fails=True),
        MigrationSpec(stage="dev", tag="SMOKE_TEST", start_h=-11 * 24, spread_h=0.5, limit_migration=3),
        MigrationSpec(stage="dev", tag=None, start_h=-9 * 24, spread_h=spread_h * 0.8, abort_at=0.55,
                      data_fault_keep=1.0, expired_log_share=0.35),
        MigrationSpec(stage="dev", tag="ATTEMPT_2", start_h=-4 * 24, spread_h=spread_h, data_fault_keep=0.9,
                      verdict_share=0.05, long_validation_messages=1, span_datasets_reader_fails=1),
        # rehearsals as production's record has them: collections gathered twice; children that die
        MigrationSpec(stage="dev", tag="EDGES", start_h=-6 * 24, spread_h=spread_h * 0.5, curator_revisions=2),
        MigrationSpec(stage="dev", tag="DIES", start_h=-5 * 24, spread_h=spread_h * 0.5, runtime_failures=2,
                      span_collections_breach=True),
        MigrationSpec(stage="prod", tag="ATTEMPT_2", start_h=0.0, spread_h=spread_h,
                      duration_scale={"cxg": 1.3, "validate_anndata": 1.1, "add_labels": 1.05},
                      data_fault_keep=0.6, live=True, verdict_share=0.02, long_validation_messages=1),
        # staging's campaign: the history quota ends the first execution; the workflow is triggered again and the
        # re-run skips what the first one migrated (#6541); later, a failed execution is redriven
        MigrationSpec(stage="staging", tag=None, start_h=-7 * 24, spread_h=spread_h, history_quota_at=0.5),
        MigrationSpec(stage="staging", tag=None, start_h=-6 * 24, spread_h=spread_h * 0.5, continues=True),
        *([MigrationSpec(stage="staging", tag=None, start_h=-5 * 24, spread_h=spread_h, fail_at=0.45,
                         redrive_after_h=3.0)] if redrive else []),
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
        migrations=_migrations(spread_h=8.0, redrive=False),
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



def _at_scale(name: str, factor: int) -> ScenarioSpec:
    """The default corpus times `factor`, for benchmarks at 10x the corpus: its rates, a dev rehearsal and the live
    prod run (the smaller attempts add nothing to measure), the queue's span growing with the corpus."""
    base = SCENARIOS["default"]
    prod = next(m for m in base.migrations if m.live)
    rehearsal = next(m for m in base.migrations if m.stage == "dev" and m.tag == prod.tag)
    return ScenarioSpec(
        name=name, n_collections=base.n_collections * factor, n_datasets=base.n_datasets * factor,
        data_fault_rates=base.data_fault_rates, infra_fault_rates=base.infra_fault_rates, retry_rate=base.retry_rate,
        collection_fault_count=base.collection_fault_count * factor, atac_rate=base.atac_rate,
        current_rate=base.current_rate,
        migrations=tuple(replace(m, spread_h=m.spread_h * factor) for m in (rehearsal, prod)))


SCENARIOS["corpus5x"] = _at_scale("corpus5x", 5)  # 10,000 datasets
SCENARIOS["corpus10x"] = _at_scale("corpus10x", 10)  # 20,000 datasets, ~100,000 jobs an attempt

# `small`'s corpus with one migration whose ingestions time out: it lasts four days, so it has a scenario of its own
SCENARIOS["timeouts"] = ScenarioSpec(**{
    **SCENARIOS["small"].__dict__, "name": "timeouts",
    "migrations": (MigrationSpec(stage="dev", tag="TIMEOUTS", start_h=-6 * 24, spread_h=2.0, ingestion_timeouts=2,
                                 verdict_share=0.05),)})


def get_scenario(name: str) -> ScenarioSpec:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
