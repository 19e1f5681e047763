"""Splits a job's CloudWatch events into application (JSON) lines and runtime lines, and pulls out
what an engineer looks for first: ERROR lines, the last exception, and how far the job got.

Real logs carry their errors in three shapes, all read here: the ingestion's python-json-logger records
(`levelname` ERROR, `exc_info`; a failed validation's errors in the `validation_message` field of the
"Updating processing status" record, backend/layers/processing/process.py), plain lines (the schema
validator's `ERROR: ...` report, Python's `ERROR:logger:...`, tracebacks), and a shell's bare `Killed`
when the kernel's OOM killer ends the process.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from cxgm_pipeline.monitor.aws.redaction import redact

ERROR_LEVELS = {"ERROR", "CRITICAL", "FATAL"}
# Docker cuts a container's output line longer than 16 KB into partial messages, and its awslogs driver sends
# each part as an event of its own (moby/moby#34855, #34620: the driver does not rejoin partials), all with the
# line's timestamp. A python-json-logger record of a collection_migrate answer of ~40 datasets, a cleanup error
# carrying a long validation message or the report step's `Report` is such a line.
AWSLOGS_PART_BYTES = 16 * 1024
MAX_PARTS = 256  # a 4 MB line: past it the parts are left as they are
# "KeyError: 'x'", "botocore.exceptions.ClientError: An error ...", "MemoryError",
# "numpy.core._exceptions._ArrayMemoryError: Unable to allocate ..."
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w]*\.)*(_?[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Fault))(?::\s?(.*))?$")
# plain error lines: the validator's "ERROR: ...", logging's default "ERROR:root:...", a shell's "Killed"
_PLAIN_ERROR = re.compile(r"^(?:(?:ERROR|CRITICAL|FATAL)[: ]|(?:Proc: )?Killed\s*$|.*\s\d+ Killed\s)")


@dataclass
class ParsedLog:
    lines: int = 0
    app_lines: int = 0
    runtime_lines: int = 0
    errors: list[str] = field(default_factory=list)
    last_exception: str | None = None
    progress_hint: str | None = None
    # every message as the classifier's rules read it: JSON records as "[LEVEL] message" (the validator's
    # "ERROR: ..." reports as they are), their exc_info and validation_message lines, plain lines as they are
    text: str = ""


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def reassemble(events: list[dict]) -> list[dict]:
    """The events with each record Docker split rejoined: a JSON-looking event that does not parse, followed by
    events of the same stream at the same timestamp whose concatenation with it parses, becomes one event (the
    first part's id and time). Parts that never add up to a record are kept as they came; order is kept."""
    out: list[dict] = []
    i = 0
    while i < len(events):
        event = events[i]
        message = event.get("message") or ""
        if message.lstrip().startswith("{") and not _parses(message):
            joined, j = message, i + 1
            while j < len(events) and j - i < MAX_PARTS and _same_line(event, events[j]):
                joined += events[j].get("message") or ""
                j += 1
                if _parses(joined):
                    out.append({**event, "message": joined})
                    i = j
                    break
            else:
                out.append(event)
                i += 1
            continue
        out.append(event)
        i += 1
    return out


def _same_line(first: dict, other: dict) -> bool:
    return (other.get("timestamp") == first.get("timestamp")
            and other.get("logStreamName") == first.get("logStreamName"))


def _exception_in(text: str) -> str | None:
    found = None
    for line in text.splitlines():
        line = line.strip()
        if _EXCEPTION.match(line):
            found = line
    return found


def _record_lines(level: str, message: str) -> list[str]:
    """A JSON record as the rules read it: "[LEVEL] message", except the validator's own "ERROR: ..." reports
    logged at ERROR, which stay as the validator wrote them."""
    if not (level in ERROR_LEVELS and message.lstrip().upper().startswith(tuple(ERROR_LEVELS))):
        message = f"[{level or 'INFO'}] {message}"
    return message.splitlines() or [""]


def parse_events(events: list[dict]) -> ParsedLog:
    parsed = ParsedLog()
    texts: list[str] = []
    for event in events:
        message = redact((event.get("message") or "").rstrip("\n"))
        parsed.lines += 1
        record = None
        if message.startswith("{"):
            try:
                record = json.loads(message)
            except json.JSONDecodeError:
                record = None
        if isinstance(record, dict) and "levelname" in record:
            parsed.app_lines += 1
            level = str(record.get("levelname", "")).upper()
            text = str(record.get("message", ""))
            texts.extend(_record_lines(level, text))
            if level in ERROR_LEVELS:
                parsed.errors.append(text)
            elif level == "INFO" and text:
                parsed.progress_hint = text
            invalid = record.get("validation_message")
            if invalid:  # process.py: a failed validation's errors, "\n"-joined, in the INVALID status record
                found = [line for line in str(invalid).splitlines() if line.strip()]
                texts.extend(found)
                parsed.errors.extend(found)
            exc = record.get("exc_info")
            if exc:
                texts.extend(str(exc).splitlines())
                parsed.last_exception = _exception_in(str(exc)) or parsed.last_exception
            elif level in ERROR_LEVELS and _EXCEPTION.match(text):
                parsed.last_exception = text
        else:
            parsed.runtime_lines += 1
            texts.append(message)
            for line in message.splitlines():
                line = line.strip()
                if _EXCEPTION.match(line):
                    parsed.last_exception = line
                elif _PLAIN_ERROR.match(line):
                    parsed.errors.append(line)
    parsed.text = "\n".join(texts)
    return parsed


def parse_text(text: str) -> ParsedLog:
    """A log given as text (a file, a pasted tail): one event per line."""
    return parse_events([{"timestamp": 0, "message": line} for line in text.splitlines()])
