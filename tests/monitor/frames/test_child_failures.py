"""child_failures and an attempt's outcome on small frames: the causes Step Functions writes, the step a failed state
is charged to, a tolerance breach, and outcomes the execution's status hides."""



from cxgm_pipeline.monitor.frames.child_failures import _state_map, error_signature, failing_step

RUNTIME = ("An error occurred while executing the state 'StepFunctionsStartExecution' (entered at the event id #7). "
           "The JSONPath '$.result.manifest' specified for the field 'manifest.$' could not be found in the input "
           "'{\"dataset_id\": \"d1\", \"result\": {\"uri\": \"s3://x\"}}'")


def test_a_runtime_error_is_charged_to_the_answer_it_could_not_read():
    assert failing_step("StepFunctionsStartExecution", "SpanDatasets") == "dataset_migration"
    assert failing_step("CollectionCleanup", "SpanCollections") == "collection_cleanup"
    assert failing_step("SpanDatasets", "SpanCollections") == "collection_migration"
    assert failing_step(None, "SpanDatasets") == "dataset_migration"
    signature = error_signature("States.Runtime", "StepFunctionsStartExecution", RUNTIME)
    assert signature == ("States.Runtime in StepFunctionsStartExecution: The JSONPath '$.result.manifest' specified "
                         "for the field 'manifest.$' could not be found in the input")
    assert "d1" not in signature and "#7" not in signature  # alike failures group


def test_the_map_state_of_a_run_or_child_is_the_last_label_of_its_arn():
    base = "arn:aws:states:us-west-2:123456789012"
    assert _state_map(f"{base}:mapRun:dp-dev-devstack-schema-migration-sfn/SpanCollections:0f1e") == "SpanCollections"
    assert _state_map(f"{base}:execution:dp-dev-devstack-schema-migration-sfn/SpanDatasets:abc") == "SpanDatasets"
    assert _state_map(f"{base}:mapRun:sm/SpanCollections:0f1e/SpanDatasets:99") == "SpanDatasets"
    assert _state_map(f"{base}:execution:dp-dev-devstack-schema-migration-sfn:abc") is None
    assert _state_map(None) is None
