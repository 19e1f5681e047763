import json

from cxgm_pipeline.monitor.classify.logparse import parse_events


def ev(message: str) -> dict:
    return {"timestamp": 0, "message": message}


def app(level: str, message: str, **extra) -> dict:
    return ev(json.dumps({"levelname": level, "asctime": "2026-11-01 10:00:00,000", "name": "x", "message": message,
                          "lineno": 1, "pathname": "/x.py", **extra}))


def test_splits_application_and_runtime_lines():
    parsed = parse_events([app("INFO", "Downloading"), ev("/site-packages/anndata.py:1: UserWarning: names"),
                           app("INFO", "Writing X matrix chunk 3 of 20"), app("ERROR", "Validation of the dataset failed")])
    assert (parsed.lines, parsed.app_lines, parsed.runtime_lines) == (4, 3, 1)
    assert parsed.errors == ["Validation of the dataset failed"]
    assert parsed.progress_hint == "Writing X matrix chunk 3 of 20"


def test_last_exception_from_a_plain_traceback():
    parsed = parse_events([ev("Traceback (most recent call last):"), ev('  File "/a.py", line 3, in f'),
                           ev("botocore.exceptions.ClientError: An error occurred (ThrottlingException) when calling X")])
    assert parsed.last_exception.startswith("botocore.exceptions.ClientError: An error occurred (ThrottlingException)")


def test_last_exception_from_exc_info():
    tb = 'Traceback (most recent call last):\n  File "/a.py", line 1, in f\nKeyError: \'feature_reference\''
    parsed = parse_events([app("ERROR", "Unexpected error in add_labels", exc_info=tb)])
    assert parsed.last_exception == "KeyError: 'feature_reference'"
    assert "KeyError" in parsed.text


def test_malformed_json_is_a_runtime_line_not_a_crash():
    parsed = parse_events([ev("{not json"), ev(""), ev('{"no": "levelname"}')])
    assert (parsed.app_lines, parsed.runtime_lines) == (0, 3)


TOKEN = "AQB" + "x7" * 120 + "SECRET"


def test_secrets_are_cut_from_every_log_line_kept():
    """A task token in a log line (a job printing its environment, a Batch job JSON in an error) never
    reaches a frame: every kept text is redacted."""
    import json as _json

    from cxgm_pipeline.monitor.aws.redaction import redact

    lines = [
        f"TASK_TOKEN={TOKEN}",
        _json.dumps({"levelname": "ERROR", "message": f"bad env {{'TASK_TOKEN': '{TOKEN}'}}"}),
        _json.dumps({"Container": {"Environment": [{"Name": "TASK_TOKEN", "Value": TOKEN}]}}),
        f"Traceback ... token {TOKEN} in a message",
    ]
    parsed = parse_events([{"timestamp": i, "message": m} for i, m in enumerate(lines)])
    kept = "\n".join([*parsed.errors, parsed.last_exception or "", parsed.progress_hint or ""])
    assert TOKEN not in kept
    for line in lines:
        assert TOKEN not in redact(line) and "<redacted>" in redact(line)
    assert redact("Essential container in task exited") == "Essential container in task exited"


def test_the_shapes_real_failures_log_their_errors_in():
    """The validator's plain `ERROR: ...` report, logging's default format, a shell's bare `Killed`, numpy's
    underscore-named MemoryError, and process.py's INVALID status record carrying the validator's errors."""
    errors = "ERROR: 'EFO:0009310' in 'assay_ontology_term_id' is a deprecated term id of 'EFO'.\nERROR: Dataframe 'obs' is missing column 'donor_id'."
    parsed = parse_events([
        ev("Starting validation..."),
        ev("ERROR: Column 'donor_id' in dataframe 'obs' must not contain NaN values."),
        ev("ERROR:cellxgene_schema.validate:something failed"),
        app("INFO", "Updating processing status", validation_message=errors, status_value="INVALID"),
        ev("numpy.core._exceptions._ArrayMemoryError: Unable to allocate 9.90 GiB for an array"),
        ev("Killed"),
    ])
    assert parsed.errors == ["ERROR: Column 'donor_id' in dataframe 'obs' must not contain NaN values.",
                             "ERROR:cellxgene_schema.validate:something failed", *errors.splitlines(), "Killed"]
    assert parsed.last_exception.startswith("numpy.core._exceptions._ArrayMemoryError: Unable to allocate")
    assert "ERROR: Dataframe 'obs' is missing column 'donor_id'." in parsed.text.splitlines()


def test_error_records_are_marked_in_the_text_the_rules_read():
    parsed = parse_events([app("ERROR", "Failed to convert dataset to Seurat format."),
                           app("ERROR", "ERROR: 'title' in 'uns' is not present."), app("INFO", "Downloading")])
    assert parsed.text.splitlines() == ["[ERROR] Failed to convert dataset to Seurat format.",
                                        "ERROR: 'title' in 'uns' is not present.", "[INFO] Downloading"]
