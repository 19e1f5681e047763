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
TASK_FAILED_TO_START = "Task failed to start"  # Batch's statusReason when the container never ran; container.reason says why
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
TIMEOUT_REASON = "Job attempt duration exceeded timeout"


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
    app_records: tuple[tuple[str, str, dict], ...] = ()  # further JSON records (level, message, extra fields)
    needs_log: bool = False  # only the log tells the cause: once it has expired, an observer can only say "unknown"


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def _traceback(rng: random.Random, module: str, final: str) -> tuple[str, ...]:
    return (
        "Traceback (most recent call last):",
        f'  File "/single-cell-data-portal/backend/layers/processing/{module}.py", line {rng.randint(40, 400)}, in process',
        f'  File "/single-cell-data-portal/backend/layers/processing/{module}.py", line {rng.randint(40, 400)}, in _run',
        final,
    )


def _unexpected(rng: random.Random, module: str, final: str) -> FailureLook:
    """process.py: `logger.exception(f"An unexpected error occurred while processing the data set: {e}")`, exit 1."""
    detail = final.split(": ", 1)[-1]
    return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, needs_log=True,
                       app_errors=(f"An unexpected error occurred while processing the data set: {detail}",),
                       exc_info="\n".join(_traceback(rng, module, final)))


def _image(stage: str, rng: random.Random) -> str:
    return f"{_digits(rng, 12)}.dkr.ecr.us-west-2.amazonaws.com/corpora-upload-{stage}:sha-{_hex(rng, 8)}"


def _never_started(container_reason: str) -> FailureLook:
    return FailureLook(status_reason=TASK_FAILED_TO_START, container_reason=container_reason, started=False)


# The wordings below are real ones, ids and numbers drawn at random: the CELLxGENE schema validator
# (chanzuckerberg/single-cell-curation cellxgene_schema_cli: tests/test_schema_compliance.py, atac_seq.py),
# the ingestion (single-cell-data-portal backend/layers/processing: process.py, process_validate_h5ad.py,
# process_seurat.py), AWS Batch/ECS stop reasons and botocore errors as public bug reports quote them
# (cxgm's tests/monitor/data/real_failures.jsonl lists each with where it was seen).

_ONTOLOGY_COLUMNS = (
    ("cell_type_ontology_term_id", "CL"),
    ("tissue_ontology_term_id", "UBERON"),
    ("disease_ontology_term_id", "MONDO"),
    ("assay_ontology_term_id", "EFO"),
)


def _validator_errors(step: Step, rng: random.Random) -> list[str]:
    if step is Step.VALIDATE_ATAC:
        return [rng.choice([
            "Errors found in Fragment and/or Anndata file\n\tBarcodes don't match anndata.obs.index",
            "Errors found in Fragment and/or Anndata file\n\tStop coordinate must be greater than start coordinate.",
            "Errors found in Anndata file. Skipping fragment validation.\n\tAnndata.obs.organism_ontology_term_id must be "
            f"one of ['NCBITaxon:9606', 'NCBITaxon:10090']. Got NCBITaxon:{rng.choice([7955, 10116, 9544])}.",
        ])]
    column, prefix = rng.choice(_ONTOLOGY_COLUMNS)
    term = f"{prefix}:{rng.randint(1, 9_999_999):07d}"
    return rng.choice([
        [f"ERROR: '{term}' in '{column}' is a deprecated term id of '{prefix}'."],
        [f"ERROR: '{term}' in '{column}' is not a valid ontology term id of '{prefix}'."],
        [f"ERROR: '{term}' in '{column}' is not an allowed term id."],
        [f"ERROR: Column '{rng.choice(['donor_id', 'tissue_type', 'suspension_type'])}' in dataframe 'obs' must not "
         "contain NaN values."],
        [f"ERROR: Dataframe 'obs' is missing column '{column}'."],
        ["ERROR: All non-zero values in raw matrix must be positive integers of type numpy.float32.",
         "ERROR: Raw data may be missing: data in 'raw.X' does not meet schema requirements."],
        [f"ERROR: adata.obsm['{rng.choice(['X_umap', 'X_tsne', 'X_pca'])}'] contains positive infinity or negative "
         "infinity values."],
    ])


def _validation(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    """The validator logs each error (cellxgene_schema logger.error); process.py then records them in the
    INVALID status record's `validation_message` and exits 1 with no exception."""
    errors = _validator_errors(step, rng)
    status = ("Updating processing status", {"validation_message": "\n".join(errors), "status_key": "validation",
                                             "status_value": "INVALID"})
    return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, app_errors=tuple(errors),
                       app_records=(("INFO", *status),), needs_log=True)


def _validation_status_only(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    """The validator's own records lost (its logger not configured): only the status record carries the errors."""
    errors = _validator_errors(step, rng)
    return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, needs_log=True, app_records=(
        ("INFO", "Updating processing status", {"validation_message": "\n".join(errors), "status_key": "validation",
                                                "status_value": "INVALID"}),))


def long_validation(step: Step, dataset_version_id: str) -> FailureLook:
    """A validation that rejects thousands of feature ids: its errors, "\n"-joined in the INVALID status record's
    validation_message (process.py), make a record past Docker's 16 KB line, which reaches CloudWatch in parts.
    The validator's own records are not configured here (as in _validation_status_only): only that record tells."""
    rng = random.Random(f"long-validation:{dataset_version_id}")
    errors = [f"ERROR: 'ENSG{rng.randint(0, 99_999_999_999):011d}' in 'var.index' is not a valid feature ID."
              for _ in range(600)]
    return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, needs_log=True, app_records=(
        ("INFO", "Updating processing status", {"validation_message": "\n".join(errors), "status_key": "validation",
                                                "status_value": "INVALID"}),))


def _oom_container(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=137, container_reason=OOM_REASON)


def _oom_killed(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    """A child process (Rscript, a converter) killed by the kernel's OOM killer: the shell prints `Killed`."""
    return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=137, runtime_tail=("Killed",), needs_log=True)


def _oom_numpy(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    gib, cells, genes = round(rng.uniform(8, 120), 1), rng.randint(200_000, 3_000_000), rng.randint(2_000, 60_000)
    return _unexpected(rng, module, f"numpy.core._exceptions._ArrayMemoryError: Unable to allocate {gib} GiB for an "
                                    f"array with shape ({cells}, {genes}) and data type float32")


def _image_manifest(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return _never_started(f"CannotPullContainerError: Error response from daemon: manifest for {_image(stage, rng)} not "
                          "found: manifest unknown")


def _image_ref(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    ref = _image(stage, rng)
    return _never_started(f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve "
                          f"ref {ref}: {ref}: not found")


def _image_access(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    repo = f"{_digits(rng, 12)}.dkr.ecr.us-west-2.amazonaws.com/corpora-upload-{stage}"
    return _never_started(f"CannotPullContainerError: Error response from daemon: pull access denied for {repo}, "
                          "repository does not exist or may require 'docker login': denied: requested access to the "
                          "resource is denied")


def _host_terminated(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return FailureLook(status_reason=f"Host EC2 (instance i-0{_hex(rng, 16)}) terminated.")


def _host_stopped(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return FailureLook(status_reason=f"Host EC2 (instance i-0{_hex(rng, 16)}) stopped.")


def _timeout(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return FailureLook(status_reason=TIMEOUT_REASON, exit_code=137)


def _queue_time_limit(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    """A job left RUNNABLE past the queue's jobStateTimeLimitActions (AWS Batch user guide)."""
    return FailureLook(status_reason="Terminated by JobStateTimeLimit action due to reason: "
                                     "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", started=False)


def _secrets(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return _never_started(
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        f"unable to retrieve secret from asm: service call has been retried {rng.randint(1, 5)} time(s): failed to "
        f"fetch secret arn:aws:secretsmanager:us-west-2:{_digits(rng, 12)}:secret:corpora/backend/{stage}/database-"
        f"{_hex(rng, 6)}")


def _logging_driver(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return _never_started(
        "CannotStartContainerError: Error response from daemon: failed to initialize logging driver: failed to create "
        "Cloudwatch log stream: RequestError: send request failed caused by: Post https://logs.us-west-2.amazonaws.com/: "
        f"dial tcp 10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}:443: i/o timeout")


def _docker_timeout(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return _never_started(f"DockerTimeoutError: Could not transition to created; timed out after waiting {rng.choice([3, 4])}m0s")


def _cgroup(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return _never_started("CgroupError: Agent could not create task's platform resources")


def _disk_errno(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    final = f"OSError: [Errno 28] No space left on device: '/tmp/{_hex(rng, 32)}/local.h5ad'"
    return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, app_errors=(final,), needs_log=True,
                       exc_info="\n".join(_traceback(rng, module, final)))


def _disk_h5py(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return _unexpected(rng, module, (
        f"OSError: Can't write data (file write failed: time = Tue Nov 24 0{rng.randint(0, 9)}:28:02 2026, filename = "
        f"'/tmp/{_hex(rng, 32)}/local.h5ad', file descriptor = 5, errno = 28, error message = 'No space left on device', "
        f"buf = 0x{_hex(rng, 7)}, total write size = {rng.randint(10**5, 10**8)}, bytes this sub-write = 179216, bytes "
        "actually written = 18446744073709551615, offset = 5828608)"))


def _disk_pull(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    library = rng.choice(["libopenblasp-r0.3.21.so", "libarrow.so.1400", "libtiledb.so.2.17"])
    return _never_started(f"CannotPullContainerError: failed to register layer: write /usr/local/lib/{library}: no space "
                          "left on device")


def _no_such_key(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    final = ("botocore.exceptions.ClientError: An error occurred (NoSuchKey) when calling the GetObject operation: The "
             "specified key does not exist.")
    return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, app_errors=(final,), needs_log=True,
                       exc_info="\n".join(_traceback(rng, module, final)))


def _throttled(code: str, operations: list[str], message: str):
    """A botocore call that ran out of retries on one of the throttling codes (botocore/retries/standard.py)."""
    def make(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
        final = (f"botocore.exceptions.ClientError: An error occurred ({code}) when calling the {rng.choice(operations)} "
                 f"operation (reached max retries: {rng.randint(3, 9)}): {message}")
        return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, runtime_tail=_traceback(rng, module, final),
                           needs_log=True)
    return make


def _pull_rate_limit(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return _never_started("CannotPullContainerError: Error response from daemon: toomanyrequests: You have reached your "
                          "pull rate limit. You may increase the limit by authenticating and upgrading: "
                          "https://www.docker.com/increase-rate-limit")


def _exception(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    final = rng.choice([
        f"KeyError: '{rng.choice(['feature_reference', 'is_primary_data', 'suspension_type', 'X_umap'])}'",
        f"ValueError: could not convert string to float: '{rng.choice(['NA', 'n/a', '-'])}{rng.randint(0, 99)}'",
        "AttributeError: 'NoneType' object has no attribute 'dataset_version_id'",
        "TypeError: Can't implicitly convert non-string objects to strings",
    ])
    return _unexpected(rng, module, final)


def _seurat(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    final = ("subprocess.CalledProcessError: Command '['Rscript', 'make_seurat.R', 'local.h5ad']' returned non-zero exit "
             "status 1.")
    return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, needs_log=True,
                       app_errors=("Failed to convert dataset to Seurat format.",),
                       exc_info="\n".join(_traceback(rng, module, final)))


def _step_name(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
    return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, needs_log=True,
                       app_errors=(f"Step function configuration error: Unexpected STEP_NAME '{rng.choice(['seurat', 'download-validate'])}'",))


def _cancelled(reason: str):
    def make(step: Step, stage: str, rng: random.Random, module: str) -> FailureLook:
        return FailureLook(status_reason=reason, exit_code=143, runtime_tail=("Received SIGTERM, shutting down",))
    return make


VARIANTS: dict[C, tuple] = {
    C.VALIDATION: (_validation, _validation_status_only),
    C.OUT_OF_MEMORY: (_oom_container, _oom_killed, _oom_numpy),
    C.CONTAINER_IMAGE: (_image_manifest, _image_ref, _image_access),
    C.HOST_TERMINATED: (_host_terminated, _host_stopped),
    C.TIMEOUT: (_timeout, _queue_time_limit),
    C.RESOURCE_INIT: (_secrets, _logging_driver, _docker_timeout, _cgroup),
    C.STORAGE: (_disk_errno, _disk_h5py, _disk_pull, _no_such_key),
    C.THROTTLED: (_throttled("ThrottlingException", ["StartExecution", "PutObject", "DescribeJobs"], "Rate exceeded"),
                  _throttled("SlowDown", ["PutObject", "UploadPart", "CompleteMultipartUpload"],
                             "Please reduce your request rate."), _pull_rate_limit),
    C.APPLICATION: (_exception, _seurat, _step_name),
    # an operator's stop; a stop by Step Functions itself has its own wording (`stopped_by_step_functions`)
    C.CANCELLED: (_cancelled("Task killed by the user"), _cancelled("Task stopped by user"),
                  _cancelled("Terminating job.")),
}


def stopped_by_step_functions(step: Step, stage: str, rng: random.Random) -> FailureLook:
    """A .sync Batch task whose state Step Functions stopped (an abort, a failed Map Run, a Parallel's other branch
    failing): it terminates the job with this reason (stackoverflow.com/questions/45596276, an AWS user's job)."""
    # one draw, as an operator's stop takes (its wording of three): the scenarios' later draws stay as they were
    own = random.Random(f"{stage}/{step}/{rng.choice((0, 1, 2))}/{rng.getstate()[1][-1]}")
    arn = (f"arn:aws:states:us-west-2:123456789012:execution:dp-{stage}-{stage}stack-sfn:"
           f"{_hex(own, 8)}-{_hex(own, 4)}-{_hex(own, 4)}-{_hex(own, 4)}-{_hex(own, 12)}")
    return _cancelled(f"The Task state in AWS Step Functions execution [{arn}] which was managing this resource "
                      f"was aborted")(step, stage, rng, "")


def look(category: C, step: Step, stage: str, rng: random.Random, variant: int | None = None) -> FailureLook:
    """One concrete failure of `category` in `step`: one of its real wordings (`variant`, else drawn at random),
    with ids and numbers varying as real ones do."""
    module = {
        Step.DATASET_MIGRATION: "schema_migration",
        Step.VALIDATE_ANNDATA: "process_validate",
        Step.VALIDATE_ATAC: "process_validate_atac",
        Step.ADD_LABELS: "process_add_labels",
        Step.CXG: "process_cxg",
    }.get(step, "schema_migration")
    if category is C.APPLICATION and step is Step.GATHER_COLLECTIONS:
        final = ('sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at '
                 f'"corpora-{stage}.cluster-{_hex(rng, 12)}.us-west-2.rds.amazonaws.com" (10.0.{rng.randint(0, 255)}.'
                 f'{rng.randint(1, 254)}), port 5432 failed: Connection timed out')
        tb = _traceback(rng, module, final)
        return FailureLook(status_reason=ESSENTIAL_EXITED, exit_code=1, app_errors=(final,), exc_info="\n".join(tb),
                           needs_log=True)
    if category not in VARIANTS:
        raise ValueError(f"no look for category {category}")
    variants = VARIANTS[category]
    make = variants[variant] if variant is not None else rng.choice(variants)
    return make(step, stage, rng, module)


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
    # "Downloaded from S3" (with its data) and "Report" (with the report) are the plan's records, not templates
    Step.COLLECTION_CLEANUP: ["Deleting files", "Uploaded to S3"],
    Step.COLLECTION_PUBLISH: ["Deleting files", "Uploaded to S3"],
    Step.REPORT: ["Subdirectory Count", "Subdirectory Count", "Uploaded to slack"],
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
    # ERROR records logged with a dict as the message (`self.logger.error(error)`): python-json-logger makes the
    # dict's keys the record's fields, `message` among them (the cleanup step's verdicts)
    error_records: list[dict] = field(default_factory=list)


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
        for k, error in enumerate(ctx.error_records):
            t = start + span * (0.91 + 0.05 * k / max(len(ctx.error_records), 1))
            lines.append((t, _json_line("ERROR", t, ctx.step, error.get("message"), rng,
                                        extra={key: v for key, v in error.items() if key != "message"})))
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
        for j, (level, message, extra) in enumerate(failure.app_records):
            lines.append((t + 0.05 + j * 0.01, _json_line(level, t, ctx.step, message, rng, extra=extra)))
        for j, raw in enumerate(failure.runtime_tail):
            lines.append((t + 0.1 + j * 0.01, raw))
    return sorted(lines, key=lambda x: x[0])
