"""The emulated state machines' definitions: production's, faithfully enough (state names, JobNames, STEP_NAMEs,
Map modes), as JSON Amazon States Language.

After `.happy/terraform/modules/schema_migration/main.tf` (INLINE Maps @ a4416160; DISTRIBUTED Maps with an
S3 ItemReader @ 00e5dcc) and `.happy/terraform/modules/sfn/main.tf` (@ 0032817). Nothing executes them: the
plan (plan.py) says what every execution did. They are there for DescribeStateMachine.
"""

from __future__ import annotations

import json

from cxgm_emulator.plan import ACCOUNT, STATE_OF_STEP
from cxgm_emulator.stages import StageNames
from portal_shapes import (
    INGESTION_ERROR_STATE,
    INGESTION_FAIL_CAUSE,
    INGESTION_FAIL_STATE,
    INGESTION_PARALLEL_STATE,
    INGESTION_SUCCESS_STATE,
    STARTED_BY_FIELD,
    STEP_NAME_OF_JOB,
    IngestionInput,
    MapMode,
    Step,
)

_RETRY = [
    {"ErrorEquals": ["AWS.Batch.TooManyRequestsException", "Batch.BatchException", "Batch.AWSBatchException"],
     "IntervalSeconds": 2, "MaxAttempts": 7, "BackoffRate": 5},
    {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 30, "MaxAttempts": 1},
    {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 5},
]


def _catch(next_state: str) -> list[dict]:
    return [{"ErrorEquals": ["States.ALL"], "Next": next_state, "ResultPath": None}]


def _batch_task(stage: StageNames, job_name: str, env: dict[str, str], jobdef: str, timeout_s: int = 600,
                retry: bool = True, **rest) -> dict:
    environment = [{"Name": "STEP_NAME", "Value": STEP_NAME_OF_JOB[job_name]}]
    if not job_name.startswith(("validate", "add_labels", "cxg")):
        environment.append({"Name": "MIGRATE", "Value": "True"})
        environment.append({"Name": "TASK_TOKEN", "Value.$": "$$.Task.Token"})
    environment += [{"Name": k, "Value.$": v} if v.startswith("$") else {"Name": k, "Value": v} for k, v in env.items()]
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::batch:submitJob.sync",
        "Parameters": {
            "JobDefinition": f"arn:aws:batch:{stage.region}:{ACCOUNT}:job-definition/{jobdef}",
            "JobName": job_name,
            "JobQueue": f"arn:aws:batch:{stage.region}:{ACCOUNT}:job-queue/{stage.queue}",
            "Timeout": {"AttemptDurationSeconds": timeout_s},
            "ContainerOverrides": {"Environment": environment},
        },
        **rest,
    }
    if retry:
        state["Retry"] = _RETRY
    return state


def migration_definition(stage: StageNames, map_mode: MapMode, ingestion_input: IngestionInput) -> dict:
    distributed = map_mode is MapMode.DISTRIBUTED
    jobdef = f"dp-{stage.name}-{stage.stack}-schema-migration"
    execution_id = "$.execution_id"
    end_step = Step.COLLECTION_CLEANUP if distributed else Step.COLLECTION_PUBLISH
    end_state, end_job = STATE_OF_STEP[end_step], "Collection_cleanup" if distributed else "Collection_publish"
    processor = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"} if distributed else {"Mode": "INLINE"}
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
              "Parameters": {"Bucket": stage.artifact_bucket, "Key.$": "$.key_name"}}
    if ingestion_input is IngestionInput.NEW:
        ingestion = {"manifest.$": "$.result.manifest", "dataset_version_id.$": "$.result.dataset_version_id",
                     "collection_version_id.$": "$.result.collection_version_id"}
    else:
        ingestion = {"url.$": "$.result.uri", "dataset_id.$": "$.result.dataset_version_id",
                     "collection_id.$": "$.result.collection_version_id"}
    retry = {"retry": distributed}
    dataset_states = {
        STATE_OF_STEP[Step.DATASET_MIGRATION]: _batch_task(
            stage, "dataset_migration", {"DATASET_ID": "$.dataset_id", "DATASET_VERSION_ID": "$.dataset_version_id",
                                         "COLLECTION_VERSION_ID": "$.collection_version_id",
                                         "COLLECTION_ID": "$.collection_id", "EXECUTION_ID": execution_id},
            jobdef, 36000, Next="StepFunctionsStartExecution", Catch=_catch("DatasetError"), ResultPath="$.result",
            **retry),
        "DatasetError": {"Type": "Pass", "End": True},
        "StepFunctionsStartExecution": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {
                "StateMachineArn": f"arn:aws:states:{stage.region}:{ACCOUNT}:stateMachine:{stage.ingestion_sfn}",
                "Name.$": "$.result.sfn_name",
                "Input": {f"{STARTED_BY_FIELD}.$": "$$.Execution.Id", **ingestion,
                          "job_queue": f"arn:aws:batch:{stage.region}:{ACCOUNT}:job-queue/{stage.queue}"},
            },
            "End": True, "Catch": _catch("DatasetError"), "ResultPath": None,
        },
    }
    span_datasets = {
        "Type": "Map",
        "ItemProcessor": {"ProcessorConfig": processor, "StartAt": STATE_OF_STEP[Step.DATASET_MIGRATION],
                          "States": dataset_states},
        "Next": end_state, "MaxConcurrency": 10 if distributed else 32, "Catch": _catch(end_state),
    }
    if distributed:
        span_datasets.update({"ItemReader": reader, "OutputPath": "$[0]", "ToleratedFailurePercentage": 100})
    else:
        span_datasets.update({"ItemsPath": "$.datasets", "ResultPath": None})
    end_env = {"COLLECTION_VERSION_ID": "$.collection_version_id", "EXECUTION_ID": execution_id}
    if not distributed:
        end_env["CAN_PUBLISH"] = "$.can_publish"
    collection_env = {"COLLECTION_ID": "$.collection_id", "COLLECTION_VERSION_ID": "$.collection_version_id",
                      "EXECUTION_ID": execution_id}
    if not distributed:
        collection_env["CAN_PUBLISH"] = "$.can_publish"
    collection_states = {
        STATE_OF_STEP[Step.COLLECTION_MIGRATION]: _batch_task(
            stage, "collection_migration", collection_env, jobdef, Next="DatasetsExists", Catch=_catch(end_state),
            **retry),
        "DatasetsExists": {"Type": "Choice", "Choices": [
            {"Variable": "$.key_name" if distributed else "$.no_datasets", "IsPresent": not distributed,
             "Next": end_state}], "Default": "SpanDatasets"},
        "SpanDatasets": span_datasets,
        end_state: _batch_task(stage, end_job, end_env, jobdef, End=True, Catch=_catch("CollectionError"), **retry),
        "CollectionError": {"Type": "Pass", "End": True},
    }
    span_collections = {
        "Type": "Map",
        "ItemProcessor": {"ProcessorConfig": processor, "StartAt": STATE_OF_STEP[Step.COLLECTION_MIGRATION],
                          "States": collection_states},
        "MaxConcurrency": 10 if distributed else 40, "Next": "report", "Catch": _catch("report"),
    }
    if distributed:
        span_collections.update({"ItemReader": reader, "ToleratedFailurePercentage": 20})
    else:
        span_collections.update({"ItemsPath": "$", "ResultPath": None})
    defaults = {"limit_migration": "0"} if distributed else {"auto_publish": "False"}
    gather_env = {"EXECUTION_ID": "$$.Execution.Name"}
    gather_env.update({"LIMIT_MIGRATION": "$.limit_migration"} if distributed else {"AUTO_PUBLISH": "$.auto_publish"})
    return {
        "Comment": "Schema Migration State Machine",
        "StartAt": "DefineDefaults",
        "States": {
            "DefineDefaults": {"Type": "Pass", "Next": "ApplyDefaults", "ResultPath": "$.inputDefaults",
                               "Parameters": defaults},
            "ApplyDefaults": {"Type": "Pass", "Next": STATE_OF_STEP[Step.GATHER_COLLECTIONS],
                              "Parameters": {"args.$": "States.JsonMerge($.inputDefaults, $$.Execution.Input, false)"},
                              "ResultPath": "$.withDefaults", "OutputPath": "$.withDefaults.args"},
            STATE_OF_STEP[Step.GATHER_COLLECTIONS]: _batch_task(
                stage, "gather_collections", gather_env, jobdef, Next="SpanCollections", Catch=_catch("report"),
                **retry),
            "SpanCollections": span_collections,
            "report": _batch_task(stage, "report", {"EXECUTION_ID": "$$.Execution.Name"}, jobdef, End=True, **retry),
        },
    }


def ingestion_definition(stage: StageNames) -> dict:
    jobdef = f"dp-{stage.name}-{stage.stack}-upload"
    lambda_arn = f"arn:aws:lambda:{stage.region}:{ACCOUNT}:function:dp-{stage.name}-{stage.stack}"
    validate_env = {"MANIFEST": "$.manifest", "DATASET_VERSION_ID": "$.dataset_version_id",
                    "COLLECTION_VERSION_ID": "$.collection_version_id"}

    def branch(state: str, job: str) -> dict:
        return {"StartAt": state, "States": {state: _batch_task(stage, job, validate_env, jobdef, 4 * 3600, retry=False,
                                                                End=True, ResultPath=None)}}

    return {
        "StartAt": INGESTION_PARALLEL_STATE,
        "States": {
            INGESTION_PARALLEL_STATE: {
                "Type": "Parallel", "Next": STATE_OF_STEP[Step.ADD_LABELS], "ResultPath": None,
                "Branches": [branch(STATE_OF_STEP[Step.VALIDATE_ANNDATA], "validate_anndata"),
                             branch(STATE_OF_STEP[Step.VALIDATE_ATAC], "validate_atac")],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": INGESTION_ERROR_STATE, "ResultPath": "$.error"}],
            },
            STATE_OF_STEP[Step.ADD_LABELS]: _batch_task(
                stage, "add_labels", {"DATASET_VERSION_ID": "$.dataset_version_id",
                                      "COLLECTION_VERSION_ID": "$.collection_version_id"}, jobdef, 3600,
                retry=False, Next=STATE_OF_STEP[Step.CXG], ResultPath=None,
                Retry=[{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 30, "MaxAttempts": 1}],
                Catch=[{"ErrorEquals": ["States.ALL"], "Next": INGESTION_ERROR_STATE, "ResultPath": "$.error"}]),
            STATE_OF_STEP[Step.CXG]: _batch_task(
                stage, "cxg", {"DATASET_VERSION_ID": "$.dataset_version_id"}, jobdef, 4 * 3600, retry=False,
                Next=INGESTION_SUCCESS_STATE, ResultPath=None,
                Catch=[{"ErrorEquals": ["States.ALL"], "Next": INGESTION_ERROR_STATE, "ResultPath": "$.error"}]),
            INGESTION_SUCCESS_STATE: {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                      "Parameters": {"FunctionName": f"{lambda_arn}-upload-success", "Payload.$": "$"},
                                      "End": True},
            INGESTION_ERROR_STATE: {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                    "Parameters": {"FunctionName": f"{lambda_arn}-uploadfailures", "Payload.$": "$"},
                                    "Next": INGESTION_FAIL_STATE},
            INGESTION_FAIL_STATE: {"Type": "Fail", "Cause": INGESTION_FAIL_CAUSE},
        },
    }


def definition_json(definition: dict) -> str:
    return json.dumps(definition, indent=2)
