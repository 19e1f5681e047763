"""How each error category looks from the outside: Batch status reasons, exit codes and log text.

The emulator draws failures from here; the monitor's classifier must recognise
them from what AWS returns, never from this module.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone

from enum import StrEnum

from portal_shapes import LOG_OUTPUT_MESSAGE, LOG_STARTING_PREFIX, Step


# Why the emulator makes a job fail: the truth label of each failure. The monitor's categories are its own;
# tests compare the two by value.
Fault = StrEnum("Fault", {name.upper(): name for name in (
    "validation", "out_of_memory", "container_image", "host_terminated", "timeout", "resource_init", "storage",
    "application", "cancelled", "throttled", "unknown")})
C = Fault

ESSENTIAL_EXITED = "Essential container in task exited"
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
# Categories only the log can tell: when the log has expired an observer can only say "unknown".
LOG_ONLY_CATEGORIES = frozenset({C.VALIDATION, C.STORAGE, C.APPLICATION, C.THROTTLED})


@dataclass(frozen=True)
class FailureLook:
    """What one failed Batch attempt shows: job-level reason, container exit/reason, and log tail."""

    status_reason: str
    exit_code: int | None = None
    container_reason: str | None = None
    started: bool = True  # False: the container never ran, so there is no log stream
    app_errors: tuple[str, ...] = ()  # JSON ERROR lines (message)
    runtime_tail: tuple[str, ...] = ()  # plain lines: traceback, signals
    exc_info: str | None = None


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _traceback(rng: random.Random, module: str, final: str) -> tuple[str, ...]:
    return (
        "Traceback (most recent call last):",
        f'  File "/single-cell-data-portal/backend/layers/processing/{module}.py", line {rng.randint(40, 400)}, in process',
        f'  File "/single-cell-data-portal/backend/layers/processing/{module}.py", line {rng.randint(40, 400)}, in _run',
        final,
    )


_ONTOLOGY_COLUMNS = (
    ("cell_type_ontology_term_id", "CL"),
    ("tissue_ontology_term_id", "UBERON"),
    ("disease_ontology_term_id", "MONDO"),
    ("assay_ontology_term_id", "EFO"),
)


def look(category: C, step: Step, stage: str, rng: random.Random) -> FailureLook:
    """One concrete failure of `category` in `step`, with ids and numbers varying as real ones do."""
    module = {
        Step.DATASET_MIGRATION: "schema_migration",
        Step.VALIDATE_ANNDATA: "process_validate",
        Step.VALIDATE_ATAC: "process_validate_atac",
        Step.ADD_LABELS: "process_add_labels",
        Step.CXG: "process_cxg",
    }.get(step, "schema_migration")
    if category is C.VALIDATION:
        column, prefix = rng.choice(_ONTOLOGY_COLUMNS)
        term = f"{prefix}:{rng.randint(1, 9_999_999):07d}"
        if rng.random() < 0.5:
            detail = f"ERROR: '{term}' in '{column}' is not a valid ontology term id of '{prefix}'."
        else:
            n = rng.randint(2, 5000)
            detail = f"ERROR: Column '{column}' in dataframe 'obs' contains {n} invalid values: '{term}'."
        return FailureLook(
            status_reason=ESSENTIAL_EXITED,
            exit_code=1,
            app_errors=(detail, "Validation of the dataset failed; the dataset is marked INVALID."),
        )
    if category is C.OUT_OF_MEMORY:
        return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=137, container_reason=OOM_REASON)
    if category is C.CONTAINER_IMAGE:
        acct = "".join(str(rng.randint(0, 9)) for _ in range(12))
        return FailureLook(
            status_reason=(
                f"CannotPullContainerError: Error response from daemon: manifest for {acct}.dkr.ecr.us-west-2"
                f".amazonaws.com/corpora-upload-{stage}:sha-{_hex(rng, 8)} not found: manifest unknown"
            ),
            started=False,
        )
    if category is C.HOST_TERMINATED:
        return FailureLook(status_reason=f"Host EC2 (instance i-0{_hex(rng, 16)}) terminated.")
    if category is C.TIMEOUT:
        return FailureLook(status_reason=TIMEOUT_REASON, exit_code=137)
    if category is C.RESOURCE_INIT:
        acct = "".join(str(rng.randint(0, 9)) for _ in range(12))
        return FailureLook(
            status_reason=(
                "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
                "retrieval failed: unable to retrieve secret from asm: service call has been retried "
                f"{rng.randint(1, 5)} time(s): failed to fetch secret arn:aws:secretsmanager:us-west-2:{acct}"
                f":secret:corpora/backend/{stage}/database-{_hex(rng, 6)}"
            ),
            started=False,
        )
    if category is C.STORAGE:
        if rng.random() < 0.5:
            final = f"OSError: [Errno 28] No space left on device: '/tmp/{_hex(rng, 32)}/local.h5ad'"
        else:
            final = (
                "botocore.exceptions.ClientError: An error occurred (NoSuchKey) when calling the GetObject "
                "operation: The specified key does not exist."
            )
        tb = _traceback(rng, module, final)
        return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, app_errors=(final,), exc_info="\n".join(tb))
    if category is C.THROTTLED:
        op = rng.choice(["StartExecution", "PutObject", "DescribeJobs"])
        final = (
            f"botocore.exceptions.ClientError: An error occurred (ThrottlingException) when calling the {op} "
            f"operation (reached max retries: {rng.randint(3, 9)}): Rate exceeded"
        )
        return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, runtime_tail=_traceback(rng, module, final))
    if category is C.APPLICATION and step is Step.GATHER_COLLECTIONS:
        final = ('sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at '
                 f'"corpora-{stage}.cluster-{_hex(rng, 12)}.us-west-2.rds.amazonaws.com" (10.0.{rng.randint(0, 255)}.'
                 f'{rng.randint(1, 254)}), port 5432 failed: Connection timed out')
        tb = _traceback(rng, module, final)
        return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, app_errors=(final,), exc_info="\n".join(tb))
    if category is C.APPLICATION:
        final = rng.choice(
            [
                f"KeyError: '{rng.choice(['feature_reference', 'is_primary_data', 'suspension_type', 'X_umap'])}'",
                f"ValueError: could not convert string to float: '{rng.choice(['NA', 'n/a', '-'])}{rng.randint(0, 99)}'",
                "AttributeError: 'NoneType' object has no attribute 'dataset_version_id'",
            ]
        )
        tb = _traceback(rng, module, final)
        return FailureLook(
            status_reason=ESSENTIAL_EXITED, exit_code=1, app_errors=(f"Unexpected error in {step}",), exc_info="\n".join(tb)
        )
    if category is C.CANCELLED:
        return FailureLook(
            status_reason="Terminated by Step Functions: the execution was aborted by the operator",
            exit_code=143,
            runtime_tail=("Received SIGTERM, shutting down",),
        )
    raise ValueError(f"no look for category {category}")


# --- ordinary log text -------------------------------------------------------------------------------

_INFO = {
    Step.GATHER_COLLECTIONS: ["Gathering collections to migrate", "Found {n} collections to migrate"],
    Step.COLLECTION_MIGRATION: ["Migrating collection {cid}", "Collection {cid} has {n} datasets to migrate"],
    Step.DATASET_MIGRATION: [
        "Migrating dataset version {dvid}",
        "Downloading s3://corpora-data-{stage}/{dvid}/raw.h5ad",
        "Applying schema migration to {n} cells",
        "Created new dataset version {new}",
    ],
    Step.VALIDATE_ANNDATA: ["Downloading original file", "Validating dataset {dvid}", "Validation complete in {n} seconds"],
    Step.VALIDATE_ATAC: ["Validating ATAC fragment file for {dvid}", "Fragment file index built"],
    Step.ADD_LABELS: ["Adding labels to dataset {dvid}", "Writing labeled h5ad ({n} cells)"],
    Step.CXG: ["Converting anndata to cxg for {dvid}", "Writing X matrix chunk {k} of {m}", "Uploading cxg to s3"],
    Step.COLLECTION_CLEANUP: ["Downloaded from S3", "Deleting files"],
    Step.COLLECTION_PUBLISH: ["Downloaded from S3", "Deleting files"],
    Step.REPORT: ["Subdirectory Count", "Report", "Uploaded to slack"],
}
_WARNINGS = (
    "/usr/local/lib/python3.10/site-packages/anndata/_core/anndata.py:1820: UserWarning: Variable names are not unique. To make them unique, call `.var_names_make_unique`.",
    "/usr/local/lib/python3.10/site-packages/scanpy/preprocessing/_highly_variable_genes.py:62: FutureWarning: the default of 'flavor' will change",
    "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken",
)


@dataclass
class LogContext:
    stage: str
    step: Step
    dataset_version_id: str = ""
    new_dataset_version_id: str = ""
    collection_version_id: str = ""
    extra: dict = field(default_factory=dict)
    step_name: str | None = None  # the container's STEP_NAME; migration steps log "Starting {step_name}"
    response: dict | list | None = None  # what the step answers (SendTaskSuccess): logged as the "output" record
    records: list[tuple[str, dict]] = field(default_factory=list)  # extra INFO records (message, extras)
    migration: bool = False


def _json_line(level: str, ts: float, step: Step, message: str, rng: random.Random, exc_info: str | None = None,
               extra: dict | None = None) -> str:
    """One python-json-logger record (backend/common/logging_config.py: levelname, asctime, name, message,
    lineno, pathname; `extra` fields at top level; logger "processing")."""
    module = "schema_migration" if step.value in _MIGRATION_MODULE_STEPS else "process"
    rec = {
        "levelname": level,
        "asctime": datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "name": "processing",
        "message": message,
        "lineno": rng.randint(20, 600),
        "pathname": f"/single-cell-data-portal/backend/layers/processing/{module}.py",
    }
    rec.update(extra or {})
    if exc_info:
        rec["exc_info"] = exc_info
    return json.dumps(rec)


_MIGRATION_MODULE_STEPS = {"gather_collections", "collection_migration", "dataset_migration", "collection_publish",
                           "collection_cleanup", "report"}


def attempt_log(
    ctx: LogContext, start: float, stop: float, failure: FailureLook | None, truncated: bool, rng: random.Random
) -> list[tuple[float, str]]:
    """The CloudWatch events of one container attempt between `start` and `stop` (epoch seconds).

    `truncated`: the container was killed (OOM, host lost, timeout) and simply stops logging.
    """
    fmt = {
        "stage": ctx.stage,
        "dvid": ctx.dataset_version_id,
        "new": ctx.new_dataset_version_id,
        "cid": ctx.collection_version_id,
        "n": rng.randint(2, 90000),
        "m": 20,
        "k": 1,
    }
    templates = _INFO[ctx.step]
    lines: list[tuple[float, str]] = []
    span = max(stop - start, 1.0)
    # process.py: every container first logs its environment, then the step it runs
    lines.append((start + 0.05, _json_line("INFO", start + 0.05, ctx.step, "Batch Job Info: {'STEP_NAME': '%s', "
                                           "'MIGRATE': '%s'}" % (ctx.step_name or ctx.step.value, ctx.migration), rng)))
    if ctx.migration:
        lines.append((start + 0.1, _json_line("INFO", start + 0.1, ctx.step, "Migrating schema", rng)))
        lines.append((start + 0.15, _json_line("INFO", start + 0.15, ctx.step, f"{LOG_STARTING_PREFIX}{ctx.step_name}", rng,
                                               extra={"step": ctx.step_name})))
    else:
        lines.append((start + 0.1, _json_line("INFO", start + 0.1, ctx.step, f"Processing dataset version {ctx.dataset_version_id}",
                                              rng, extra={"step_name": ctx.step_name or ctx.step.value})))
    n_info = len(templates) + (6 if ctx.step is Step.CXG else 0)
    cut = n_info if not truncated else max(1, int(n_info * rng.uniform(0.3, 0.8)))
    for i in range(cut):
        t = start + span * (i + 0.5) / (n_info + 2)
        if ctx.step is Step.CXG and 1 <= i < n_info - 1:
            fmt["k"] = i
            message = templates[1].format(**fmt)
        else:
            message = templates[min(i, len(templates) - 1)].format(**fmt)
        lines.append((t, _json_line("INFO", t, ctx.step, message, rng)))
        if rng.random() < 0.15:
            lines.append((t + 0.2, rng.choice(_WARNINGS)))
    if not truncated:
        for k, (message, extra) in enumerate(ctx.records):
            t = start + span * (0.6 + 0.3 * k / max(len(ctx.records), 1))
            lines.append((t, _json_line("INFO", t, ctx.step, message, rng, extra=extra)))
    if failure is None and ctx.migration and ctx.response is not None:
        # SchemaMigrate.migrate: logger.info("output", extra={"response": response}), then send_task_success
        lines.append((stop - 0.5, _json_line("INFO", stop - 0.5, ctx.step, LOG_OUTPUT_MESSAGE, rng,
                                             extra={"response": ctx.response})))
    if failure is not None:
        t = stop - 1.0
        if ctx.migration and failure.app_errors:
            # error_wrapper: logger.exception(f"Error in {func.__name__}", extra={"input": ...})
            lines.append((t - 0.02, _json_line("ERROR", t - 0.02, ctx.step, f"Error in {ctx.step_name}", rng,
                                               exc_info=failure.exc_info, extra={"input": {"args": [], "kwargs": {}}})))
        for j, message in enumerate(failure.app_errors):
            exc = failure.exc_info if j == len(failure.app_errors) - 1 else None
            lines.append((t + j * 0.01, _json_line("ERROR", t, ctx.step, message, rng, exc_info=exc)))
        for j, raw in enumerate(failure.runtime_tail):
            lines.append((t + 0.1 + j * 0.01, raw))
    return sorted(lines, key=lambda x: x[0])
