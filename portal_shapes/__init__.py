"""What production's migration looks like from the AWS APIs: the one place these facts are written down.

Both the monitor (`cxgm_pipeline`) and the emulator (`cxgm_emulator`) import this module and nothing of
each other. Every name below is read from the public repository `chanzuckerberg/single-cell-data-portal`:
- the schema-migration state machine, `.happy/terraform/modules/schema_migration/main.tf`
  (two shapes: INLINE Maps, e.g. commit a4416160; DISTRIBUTED Maps with an S3 ItemReader, commit 00e5dcc);
- the ingestion state machine, `.happy/terraform/modules/sfn/main.tf` (current: commit 0032817);
- the batch entry point, `backend/layers/processing/schema_migration.py` (`SchemaMigrate.migrate`,
  `gather_collections`, `collection_migrate`, `dataset_migrate`, `publish_and_cleanup` /
  `log_errors_and_cleanup`, `report`, `error_wrapper`) and `process.py`;
- its logging, `backend/common/logging_config.py` (python-json-logger, one JSON object a line).
"""

from __future__ import annotations

import re
from enum import StrEnum

# --- state machines -------------------------------------------------------------------------------------


class MapMode(StrEnum):
    """schema_migration/main.tf: INLINE (a4416160 and older) or DISTRIBUTED with an S3 ItemReader (00e5dcc)."""

    INLINE = "inline"
    DISTRIBUTED = "distributed"


class IngestionInput(StrEnum):
    """The ingestion execution's input. sfn/main.tf: `url, dataset_id, collection_id` (the ids hold VERSION ids;
    IN-2 and the SM-C StartExecution state) vs `manifest, dataset_version_id, collection_version_id` (IN-4/5, SM-D)."""

    OLD = "old"
    NEW = "new"


# Schema-migration machine: Task state name -> Batch JobName (schema_migration/main.tf, `JobName`).
MIGRATION_TASK_STATES = {
    "GatherCollections": "gather_collections",
    "CollectionMigration": "collection_migration",
    "DatasetMigration": "dataset_migration",
    "CollectionPublish": "Collection_publish",  # INLINE versions (a4416160)
    "CollectionCleanup": "Collection_cleanup",  # DISTRIBUTED version (00e5dcc)
    "report": "report",
}
# Batch JobName -> the container's STEP_NAME (same file, ContainerOverrides.Environment).
STEP_NAME_OF_JOB = {
    "gather_collections": "gather_collections",
    "collection_migration": "collection_migrate",
    "dataset_migration": "dataset_migrate",
    "Collection_publish": "collection_publish",
    "Collection_cleanup": "collection_cleanup",
    "report": "report",
    "validate_anndata": "validate_anndata",
    "validate_atac": "validate_atac",
    "add_labels": "add_labels",
    "cxg": "cxg",
}
# Other states of the migration machine (Pass, Choice, Map, StartExecution).
MIGRATION_OTHER_STATES = ("DefineDefaults", "ApplyDefaults", "SpanCollections", "DatasetsExists", "SpanDatasets",
                          "StepFunctionsStartExecution", "DatasetError", "CollectionError")
# Ingestion machine (sfn/main.tf @ 0032817): the two validations run in a Parallel state named "Parallel".
INGESTION_TASK_STATES = {
    "ValidateAnndata": "validate_anndata",
    "ValidateAtac": "validate_atac",
    "AddLabels": "add_labels",
    "Cxg": "cxg",
}
INGESTION_PARALLEL_STATE = "Parallel"
INGESTION_SUCCESS_STATE = "HandleSuccess"  # Lambda dp-{stage}-{stack}-upload-success
INGESTION_ERROR_STATE = "HandleErrors"  # Lambda dp-{stage}-{stack}-uploadfailures
INGESTION_FAIL_STATE = "RaiseError"  # {"Type": "Fail", "Cause": "Failed to ingest dataset."}: no Error field
INGESTION_FAIL_CAUSE = "Failed to ingest dataset."

# --- canonical steps --------------------------------------------------------------------------------------


class Step(StrEnum):
    """A step of a dataset's or collection's way through a migration: the Batch JobName, lower-cased
    (production writes `Collection_publish` / `Collection_cleanup` with a capital C)."""

    GATHER_COLLECTIONS = "gather_collections"
    COLLECTION_MIGRATION = "collection_migration"
    DATASET_MIGRATION = "dataset_migration"
    COLLECTION_PUBLISH = "collection_publish"
    COLLECTION_CLEANUP = "collection_cleanup"
    REPORT = "report"
    VALIDATE_ANNDATA = "validate_anndata"
    VALIDATE_ATAC = "validate_atac"
    ADD_LABELS = "add_labels"
    CXG = "cxg"


INGESTION_STEPS = (Step.VALIDATE_ANNDATA, Step.VALIDATE_ATAC, Step.ADD_LABELS, Step.CXG)
DATASET_STEPS = (Step.DATASET_MIGRATION, *INGESTION_STEPS)
COLLECTION_END_STEPS = (Step.COLLECTION_PUBLISH, Step.COLLECTION_CLEANUP)
_STEP_OF_STEP_NAME = {v: k.lower() for k, v in STEP_NAME_OF_JOB.items()}
# Older ingestion machines (sfn/main.tf IN-1..IN-3) validated in one job: JobName `download-validate` (IN-1), or
# JobName `download` with STEP_NAME `validate` (IN-2/3). Their validation is today's validate_anndata; their
# `download` and `seurat` steps have no counterpart and stay outside a dataset's steps.
_STEP_OF_STEP_NAME.update({"validate": "validate_anndata", "download-validate": "validate_anndata"})
_ALIASES = {"download-validate": "validate_anndata"}


def step_of(job_name: str | None, step_name: str | None = None) -> str | None:
    """The canonical step of a Batch job from its JobName, else its STEP_NAME; None when neither is known."""
    name = (job_name or "").lower()
    for candidate in (_ALIASES.get(name, name), _STEP_OF_STEP_NAME.get(step_name or "", "")):
        if candidate in Step._value2member_map_:
            return candidate
    return None


# --- job environments (ContainerOverrides.Environment) ----------------------------------------------------
# Migration jobs: STEP_NAME, MIGRATE="True", TASK_TOKEN ($$.Task.Token), EXECUTION_ID (the parent execution's
# NAME: `$$.Execution.Name`, or in DISTRIBUTED children the item's `$.execution_id`), and per step
# COLLECTION_ID, COLLECTION_VERSION_ID, DATASET_ID, DATASET_VERSION_ID (OLD version), CAN_PUBLISH (INLINE),
# LIMIT_MIGRATION (gather, DISTRIBUTED), AUTO_PUBLISH (gather, INLINE).
# Ingestion jobs: validate_* carry MANIFEST, DATASET_VERSION_ID (NEW), COLLECTION_VERSION_ID; add_labels
# DATASET_VERSION_ID and COLLECTION_VERSION_ID; cxg only DATASET_VERSION_ID and STEP_NAME.
SECRET_ENV_VARS = frozenset({"TASK_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"})
LIMIT_MIGRATION_ENV = "LIMIT_MIGRATION"

# --- what the steps answer (SendTaskSuccess output, and the `output` log record's `response`) --------------
# dataset_migrate: {collection_version_id, dataset_version_id (NEW), uri, sfn_name, execution_id}
DATASET_RESPONSE_NEW_VERSION = "dataset_version_id"
DATASET_RESPONSE_SFN_NAME = "sfn_name"
# collection_migrate (INLINE, PY-8): {can_publish, collection_version_id, collection_url, datasets: [...],
# no_datasets?, execution_id}; (DISTRIBUTED, PY-9): {collection_version_id, execution_id, key_name?} with the
# datasets in S3 at key_name.
# gather_collections (INLINE): [{can_publish, collection_id, collection_version_id, execution_id}, ...];
# (DISTRIBUTED): {key_name} with that list in S3.
RESPONSE_KEY_NAME = "key_name"

# --- logs ------------------------------------------------------------------------------------------------
# SchemaMigrate.migrate: logger.info(f"Starting {step_name}", extra={"step": ...}), then after the step
# logger.info("output", extra={"response": response}). python-json-logger fields: levelname, asctime, name,
# message, lineno, pathname (+ extras at top level); logger name "processing".
LOG_OUTPUT_MESSAGE = "output"
LOG_OLD_RESPONSE_MESSAGE = "Response"  # PY-1 (c131a3bb): logger.info("Response", extra=response)
LOG_STARTING_PREFIX = "Starting "
LOG_SKIPPING_DATASET = "skipping dataset"  # log_errors_and_cleanup: a dataset of the collection not migrated
LOG_ERROR_IN_PREFIX = "Error in "  # error_wrapper: logger.exception(f"Error in {func.__name__}")
LOG_FIELDS = ("levelname", "asctime", "name", "message", "lineno", "pathname")
# Production's verdicts. The cleanup step (publish_and_cleanup, schema_migration.py @ 001730b8, INLINE;
# log_errors_and_cleanup @ 0e2996c0, DISTRIBUTED) logs `self.logger.error(error)` per dataset it did not migrate,
# `error` a dict: python-json-logger (madzak/python-json-logger, jsonlogger.JsonFormatter.format) takes a dict
# message as the record's fields, so its keys are top-level JSON fields: message (production's reason, may be
# null), dataset_status, collection_id, collection_version_id (the revision cleaned), dataset_version_id,
# dataset_id, rollback. It returns the list of them as its answer (the `output` record's response). rollback true:
# processing_status not SUCCESS (0e2996c0 restores the previous dataset version there; 001730b8 only flags it);
# false: not on the latest schema. 001730b8 tests the schema first, 0e2996c0 the processing status first.
VERDICT_ROLLBACK_FIELD = "rollback"
# report (same files): logger.info("Report", extra=report): `errors` (one entry per report/errors file: a cleanup's
# error list, or error_wrapper's {step, error, args, kwargs}) and `migrate_changes` as top-level fields.
LOG_REPORT_MESSAGE = "Report"
# _retrieve_sfn_response @ 0e2996c0 (PR #7131, "log the data read from s3 before deleting the object"): logs
# "Downloaded from S3" with extras file_name, bucket, key and data (the object read), then deletes the object. Its
# only reader is log_errors_and_cleanup, of log_errors_and_cleanup/{revision}.json: {collection_version_id,
# datasets: [the items collection_migrate listed], collection_url}. 001730b8 reads without logging.
LOG_DOWNLOADED_FROM_S3 = "Downloaded from S3"

# --- S3 artifacts: ARTIFACT_BUCKET/schema_migration/{execution name}/... -----------------------------------
S3_PREFIX = "schema_migration/{execution}/"
S3_SPAN_COLLECTIONS = S3_PREFIX + "span_collections/collections.json"  # DISTRIBUTED
S3_SPAN_DATASETS = S3_PREFIX + "span_datasets/{collection_version_id}.json"  # DISTRIBUTED
S3_LOG_ERRORS_AND_CLEANUP = S3_PREFIX + "log_errors_and_cleanup/{collection_version_id}.json"  # DISTRIBUTED
S3_PUBLISH_AND_CLEANUP = S3_PREFIX + "publish_and_cleanup/{collection_id}.json"  # INLINE
S3_REPORT_ERRORS = S3_PREFIX + "report/errors/{name}.json"
S3_MIGRATE_CHANGES = S3_PREFIX + "report/migrate_changes/{collection_id}_{dataset_id}.json"

# --- ingestion executions ----------------------------------------------------------------------------------
# StepFunctionProvider.sfn_name_generator: f"{prefix}_{dataset_version_id}_{int(time())}", prefix "migrate"
# (the dataset_migrate response's `sfn_name`; the version is the NEW one from PY-8 on, the OLD one before).
INGESTION_NAME_RE = re.compile(r"^migrate_(?P<version>[0-9a-f-]{36})(?:_(?P<epoch>\d+))?$")
STARTED_BY_FIELD = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"
# execution input (DefineDefaults): INLINE {"auto_publish": "False"}; DISTRIBUTED {"limit_migration": "0"}.
INPUT_LIMIT_MIGRATION = "limit_migration"
# Not production's: an optional key an operator may add to the execution input to name a campaign. The
# machine's JsonMerge keeps it; nothing downstream reads it.
INPUT_ATTEMPT_TAG = "migration_attempt"


def ingestion_input_versions(payload: dict) -> tuple[str | None, str | None]:
    """(new dataset version, collection version) from an ingestion execution's input, either variant."""
    return (payload.get("dataset_version_id") or payload.get("dataset_id"),
            payload.get("collection_version_id") or payload.get("collection_id"))


# --- AWS's default API quotas (requests/s refill, burst) per account and region ---------------------------
# CloudWatch Logs, Batch and Step Functions service quotas (AWS documentation). The emulator throttles at them
# with `--quotas`; the monitor paces its calls at them.
AWS_API_QUOTAS: dict[str, tuple[float, float]] = {
    "FilterLogEvents": (5, 5), "GetLogEvents": (25, 25), "DescribeLogStreams": (25, 25), "StartQuery": (5, 5),
    "DescribeJobs": (20, 40), "ListJobs": (20, 40),
    "ListExecutions": (2, 100), "DescribeExecution": (15, 250), "GetExecutionHistory": (5, 250),
    "ListMapRuns": (5, 100), "ListStateMachines": (2, 100),
    "GetObject": (5500, 5500), "ListObjectsV2": (5500, 5500),
}


# --- the portal: the public Curation API ----------------------------------------------------------------------
# backend/curation/api/v1/curation/collections/collection_id/actions.py `get` and common.py @ 26252232
# (`reshape_for_curation_api`, `get_inferred_collection_version`): unauthenticated, by canonical collection id,
# the version the portal maps it to; `visibility` PUBLIC once published, PRIVATE before; `processing_status` per
# dataset only for an unpublished version; 403 for an id that is not a UUID, 404 for one it does not know, 410
# for a tombstoned collection.
CURATION_COLLECTION_PATH = "/curation/v1/collections/{collection_id}"
# The public datasets index (backend/curation/api/v1/curation/datasets/actions.py @ 0e787fd0 `get`; @ ccfd9bfd before
# it took `visibility`): unauthenticated, every dataset of every mapped (published) collection version, one item per
# dataset, sorted by published_at then dataset_id, descending. An item (common.py
# `reshape_dataset_for_curation_datasets_index_api`) holds dataset_id, dataset_version_id, the index metadata columns
# (schema_version among them), collection_id (canonical), collection_version_id, published_at, revised_at, and
# visibility PUBLIC. Its collection_version_id and revised_at are those of the collection version the dataset
# version was FIRST published in, not the mapped one (`_map_collection_version_to_published_dataset_versions`,
# backend/layers/business/business.py @ 4a8a9b3c). `schema_version` filters by the collection version's schema
# (X, X.Y or X.Y.Z; the latest published version matching, per collection, whether mapped or not).
CURATION_DATASETS_INDEX_PATH = "/curation/v1/datasets"
INDEX_SCHEMA_VERSION_PARAM = "schema_version"
VISIBILITY_PUBLIC, VISIBILITY_PRIVATE = "PUBLIC", "PRIVATE"
PROCESSING_SUCCESS = "SUCCESS"  # DatasetProcessingStatus.SUCCESS (backend/layers/common/entities.py)
