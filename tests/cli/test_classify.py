"""`cxgm classify`: one case for a person, JSON lines for a script; no AWS involved."""

import json
from pathlib import Path

from typer.testing import CliRunner

from cxgm_pipeline.cli import app

REAL = Path(__file__).parents[1] / "monitor" / "classify" / "data" / "real_failures.jsonl"
runner = CliRunner()


def test_jsonl_round_trip_over_the_real_failures(tmp_path):
    """Every line in, one JSON object out, in order, with category, kind, signature and evidence."""
    cases = [json.loads(line) for line in REAL.read_text().splitlines()]
    given = tmp_path / "cases.jsonl"
    given.write_text("\n".join(json.dumps({k: c[k] for k in ("status_reason", "container_reason", "log")}) for c in cases))
    result = runner.invoke(app, ["classify", "--jsonl", str(given)])
    assert result.exit_code == 0, result.output
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["line"] for a in answers] == list(range(1, len(cases) + 1))
    right = sum(a["category"] == c["category"] for a, c in zip(answers, cases))
    assert right >= 0.95 * len(cases)
    for a in answers:
        assert a["kind"] in ("infrastructure", "runtime", "unknown")
        assert a["signature"].startswith(a["category"] + ": ")
        assert a["evidence"] is None or {"rule", "field", "text"} <= set(a["evidence"])
    oom = next(a for a, c in zip(answers, cases) if c["container_reason"] == "OutOfMemoryError: Container killed due to memory usage")
    assert (oom["kind"], oom["evidence"]["rule"], oom["evidence"]["field"]) == ("infrastructure", "oom-killed", "container_reason")


def test_jsonl_from_stdin_reports_a_malformed_line_by_number_and_goes_on():
    lines = ['{"status_reason": "Host EC2 (instance i-0e234208f6fc9291f) terminated."}', "not json", "",
             '{"status_reason": 7}', '["a list"]', '{"log": ["ERROR: \'title\' in \'uns\' is not present."]}']
    result = runner.invoke(app, ["classify", "--jsonl", "-"], input="\n".join(lines))
    assert result.exit_code == 1  # some lines could not be read; every line still has its answer
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["line"] for a in answers] == [1, 2, 4, 5, 6]  # the blank line 3 is no case
    assert answers[0]["category"] == "host_terminated" and answers[0]["signature"].endswith("(instance {instance}) terminated.")
    assert answers[1]["error"].startswith("line 2: not JSON")
    assert answers[2]["error"] == "line 4: status_reason is int, not a string or null"
    assert answers[3]["error"] == "line 5: not a JSON object but list"
    assert answers[4]["category"] == "validation" and answers[4]["kind"] == "runtime"
    assert "3 line(s) could not be read" in result.stderr


def test_one_case_shows_the_evidence(tmp_path):
    log = tmp_path / "job.log"
    log.write_text("Loading dependencies\nERROR: 'EFO:0009310' in 'assay_ontology_term_id' is a deprecated term id of 'EFO'.\n")
    result = runner.invoke(app, ["classify", "--status-reason", "Essential container in task exited", "--log", str(log)])
    assert result.exit_code == 0, result.output
    for shown in ("validation (runtime)", "validator-value-in-column", "matched in log", "{term_id}", "EFO:0009310"):
        assert shown in result.stdout
    unknown = runner.invoke(app, ["classify", "--status-reason", "Essential container in task exited"])
    assert "unknown" in unknown.stdout and "CXGM_CLASSIFIER_RULES" in unknown.stdout


def test_usage_errors_and_a_bad_rules_file_are_one_line(tmp_path, monkeypatch):
    assert runner.invoke(app, ["classify"]).exit_code == 2
    both = runner.invoke(app, ["classify", "--jsonl", "-", "--status-reason", "x"], input="")
    assert both.exit_code == 2 and "give it alone" in both.stderr
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rule]]\nid = 'x'\ncategory = 'oom'\nfield = 'log'\npattern = 'a'\nexample = 'a'\n")
    monkeypatch.setenv("CXGM_CLASSIFIER_RULES", str(rules))
    bad = runner.invoke(app, ["classify", "--status-reason", "x"])
    assert bad.exit_code == 2
    assert bad.stderr.strip().count("\n") == 0 and "category 'oom' is not one of" in bad.stderr
