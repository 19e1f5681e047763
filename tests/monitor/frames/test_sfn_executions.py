"""Why an ingestion execution failed, read from its history events (hand-written, as Step Functions answers)."""

import pytest

from cxgm_pipeline.monitor.frames.sfn_executions import ingestion_failure

pytestmark = pytest.mark.unit


def _entered(i, name):
    return {"id": i, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}


def test_a_task_timeout_is_charged_to_the_state_its_chain_leads_back_to():
    events = [_entered(1, "ValidateAnndata"), {"id": 2, "type": "TaskSucceeded", "previousEventId": 1},
              _entered(3, "AddLabels"), {"id": 4, "type": "TaskScheduled", "previousEventId": 3},
              {"id": 5, "type": "TaskStarted", "previousEventId": 4},
              {"id": 6, "type": "TaskTimedOut", "previousEventId": 5, "taskTimedOutEventDetails": {"error": "States.Timeout"}},
              _entered(7, "HandleErrors")]
    assert ingestion_failure(events)[:2] == ("States.Timeout", "AddLabels")


def test_a_lambdas_failure_is_not_the_ingestions_and_no_failure_is_none():
    lambda_failed = [_entered(1, "HandleErrors"),
                     {"id": 2, "type": "TaskFailed", "previousEventId": 1,
                      "taskFailedEventDetails": {"error": "Lambda.Unknown", "resourceType": "lambda"}}]
    assert ingestion_failure(lambda_failed) == (None, None, None)
    assert ingestion_failure([]) == (None, None, None)


def test_a_failure_in_a_state_that_is_no_ingestion_task_names_no_state():
    events = [_entered(1, "Parallel"),
              {"id": 2, "type": "TaskFailed", "previousEventId": 1, "taskFailedEventDetails": {"error": "States.TaskFailed"}}]
    assert ingestion_failure(events) == ("States.TaskFailed", None, None)


def test_a_batch_tasks_failure_keeps_its_cause_the_jobs_description():
    """sfn/main.tf @ 0032817: ValidateAnndata is a batch:submitJob.sync task; its job's failure is States.TaskFailed
    with the job's description as the cause, which may say why before the job's log is read."""
    cause = '{"JobId":"5ce9a71e","Status":"FAILED","StatusReason":"Essential container in task exited","Container":{"ExitCode":1}}'
    events = [_entered(1, "ValidateAnndata"),
              {"id": 2, "type": "TaskFailed", "previousEventId": 1,
               "taskFailedEventDetails": {"resourceType": "batch", "resource": "submitJob.sync",
                                          "error": "States.TaskFailed", "cause": cause}},
              _entered(3, "HandleErrors")]
    assert ingestion_failure(events) == ("States.TaskFailed", "ValidateAnndata", cause)
