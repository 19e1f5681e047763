"""`cxgm classify`: why a job failed, for a person (one case, the evidence shown) or a script (JSON lines).

The same rules as the monitor (packaged classifier_rules.toml, with $CXGM_CLASSIFIER_RULES first).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from cxgm_pipeline.cli.common import UsageError, console, err, guarded

STDIN = "-"


def _read(source: str) -> str:
    return sys.stdin.read() if source == STDIN else Path(source).read_text()


@guarded
def classify(
    status_reason: str | None = typer.Option(None, "--status-reason", help="The job's status reason (Batch statusReason)"),
    container_reason: str | None = typer.Option(None, "--container-reason", help="The container's reason (container.reason)"),
    log: str | None = typer.Option(None, "--log", help="The job's log: a file, or - for standard input"),
    jsonl: str | None = typer.Option(
        None, "--jsonl", help="Many cases: a file (or -) of JSON objects, one a line, with status_reason, "
                              "container_reason, log; prints one JSON object a line: category, kind, signature, "
                              "evidence, values, also"),
) -> None:
    """Classify a failure: its category, whether it is infrastructure or runtime, its signature, and the evidence."""
    if jsonl is not None:
        if status_reason or container_reason or log:
            raise UsageError("--jsonl reads every case from its lines: give it alone")
        failed = _classify_lines(_read(jsonl).splitlines())
        if failed:
            err.print(f"{failed} line(s) could not be read: see their \"error\" objects")
            raise typer.Exit(1)
        return
    if not (status_reason or container_reason or log):
        raise UsageError("nothing to classify: give --status-reason, --container-reason and/or --log (or --jsonl)")
    _show(status_reason, container_reason, _read(log) if log else None)


def _diagnose(status_reason: str | None, container_reason: str | None, log: str | None):
    from cxgm_pipeline.monitor.classify.classifier import diagnose
    from cxgm_pipeline.monitor.classify.logparse import parse_text

    return diagnose(status_reason, container_reason, parse_text(log) if log else None)


def _show(status_reason: str | None, container_reason: str | None, log: str | None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from cxgm_pipeline.monitor.classify.classifier import NO_RULE

    found = _diagnose(status_reason, container_reason, log)
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("category", f"{found.category.value} ({found.kind.value})")
    if found.also:
        table.add_row("also", f"{found.also.value}: the text supports it too")
    if found.evidence and found.evidence.rule != NO_RULE:
        table.add_row("rule", f"{escape(found.evidence.rule)} (matched in {found.evidence.field})")
        table.add_row("matched", escape(found.evidence.text))
    else:
        table.add_row("rule", "none matched: add one to the file named by CXGM_CLASSIFIER_RULES")
        if found.evidence:
            table.add_row("read", f"{escape(found.evidence.field)}; {escape(found.evidence.text)}")
    table.add_row("signature", escape(found.signature))
    if found.values:
        table.add_row("values", escape(", ".join(found.values)))
    console.print(table)


def _case(line: str) -> dict:
    """One input line as (status_reason, container_reason, log); ValueError says what is wrong with it."""
    try:
        case = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(case, dict):
        raise ValueError(f"not a JSON object but {type(case).__name__}")
    for key in ("status_reason", "container_reason"):
        if case.get(key) is not None and not isinstance(case[key], str):
            raise ValueError(f"{key} is {type(case[key]).__name__}, not a string or null")
    log = case.get("log")
    if isinstance(log, list) and all(isinstance(x, str) for x in log):
        log = "\n".join(log)
    elif log is not None and not isinstance(log, str):
        raise ValueError(f"log is {type(log).__name__}, not a string, a list of strings, or null")
    return {"status_reason": case.get("status_reason"), "container_reason": case.get("container_reason"), "log": log}


def _classify_lines(lines: list[str]) -> int:
    """Prints one JSON object per non-blank line; returns how many lines could not be read."""
    failed = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case = _case(line)
        except ValueError as exc:
            failed += 1
            out = {"line": number, "error": f"line {number}: {exc}"}
        else:
            found = _diagnose(**case)
            ev = found.evidence
            out = {"line": number, "category": found.category.value, "kind": found.kind.value,
                   "signature": found.signature,
                   "evidence": {"rule": ev.rule, "field": ev.field, "text": ev.text} if ev else None,
                   "values": list(found.values), "also": found.also.value if found.also else None}
        typer.echo(json.dumps(out, ensure_ascii=False))
    return failed
