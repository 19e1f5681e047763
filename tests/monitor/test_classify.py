import random

import pytest

from cxgm_emulator import failures
from cxgm_pipeline.monitor.classify import classify, normalise, signature
from cxgm_pipeline.monitor.logparse import parse_events
from cxgm_pipeline.vocabulary import ErrorCategory as C
from cxgm_pipeline.vocabulary import Step


@pytest.mark.parametrize(("status_reason", "container_reason", "expected"), [
    ("CannotPullContainerError: Error response from daemon: manifest unknown", None, C.CONTAINER_IMAGE),
    ("ResourceInitializationError: unable to pull secrets or registry auth", None, C.RESOURCE_INIT),
    ("Essential container in task exited", "OutOfMemoryError: Container killed due to memory usage", C.OUT_OF_MEMORY),
    ("Host EC2 (instance i-0123456789abcdef0) terminated.", None, C.HOST_TERMINATED),
    ("Job attempt duration exceeded timeout", None, C.TIMEOUT),
    ("Terminated by Step Functions: the execution was aborted", None, C.CANCELLED),
    ("Essential container in task exited", None, C.UNKNOWN),  # no log: nothing more to say
])
def test_batch_reasons(status_reason, container_reason, expected):
    assert classify(status_reason, container_reason, None) is expected


@pytest.mark.parametrize(("line", "expected"), [
    ("OSError: [Errno 28] No space left on device: '/tmp/x'", C.STORAGE),
    ("botocore.exceptions.ClientError: An error occurred (NoSuchKey) when calling the GetObject operation", C.STORAGE),
    ("botocore.exceptions.ClientError: An error occurred (ThrottlingException) when calling X: Rate exceeded", C.THROTTLED),
    ("ERROR: 'CL:0000001' in 'cell_type_ontology_term_id' is not a valid ontology term id of 'CL'.", C.VALIDATION),
    ("KeyError: 'feature_reference'", C.APPLICATION),
    ("MemoryError", C.OUT_OF_MEMORY),
])
def test_log_text(line, expected):
    log = parse_events([{"timestamp": 0, "message": line}])
    assert classify("Essential container in task exited", None, log) is expected


@pytest.mark.parametrize("category", [c for c in C if c is not C.UNKNOWN])
def test_every_emulated_failure_is_recognised(category):
    """The classifier reads only what AWS shows (reasons, log lines), never the emulator's labels."""
    rng = random.Random(1)
    for step in (Step.DATASET_MIGRATION, Step.VALIDATE_ANNDATA, Step.CXG):
        look = failures.look(failures.Fault(category.value), step, "dev", rng)
        lines = failures.attempt_log(failures.LogContext("dev", step), 0.0, 600.0, look, False, rng) if look.started else []
        log = parse_events([{"timestamp": int(t * 1000), "message": m} for t, m in lines]) if look.started else None
        assert classify(look.status_reason, look.container_reason, log) is category


def test_normalise_groups_alike_messages():
    a = normalise("OSError: [Errno 28] No space left on device: '/tmp/0a1b2c3d4e5f60718293a4b5c6d7e8f9/local.h5ad'")
    b = normalise("OSError: [Errno 28] No space left on device: '/tmp/ffffffffffffffffffffffffffffffff/local.h5ad'")
    assert a == b
    assert normalise("Host EC2 (instance i-0abc0123456789def) terminated.") == "Host EC2 (instance <instance>) terminated."
    assert "<uuid>" in normalise("dataset 5700c5fa-fbeb-4ab4-8dcd-f42c07f9ce4a failed")


def test_signature_carries_category_and_is_bounded():
    sig = signature(C.TIMEOUT, "Job attempt duration exceeded timeout" + " x" * 400, None, None)
    assert sig.startswith("timeout: Job attempt duration exceeded timeout") and len(sig) <= 240
