"""Splits a job's CloudWatch events into application (JSON) lines and runtime lines, and pulls out
what an engineer looks for first: ERROR lines, the last exception, and how far the job got."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from cxgm_pipeline.monitor.redact import redact

ERROR_LEVELS = {"ERROR", "CRITICAL", "FATAL"}
# "KeyError: 'x'", "botocore.exceptions.ClientError: An error ...", "MemoryError"
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w]*\.)*([A-Z]\w*(?:Error|Exception|Exit|Interrupt|Fault))(?::\s?(.*))?$")


@dataclass
class ParsedLog:
    lines: int = 0
    app_lines: int = 0
    runtime_lines: int = 0
    errors: list[str] = field(default_factory=list)
    last_exception: str | None = None
    progress_hint: str | None = None
    text: str = ""  # every message, for the classifier's keyword rules


def _exception_in(text: str) -> str | None:
    found = None
    for line in text.splitlines():
        line = line.strip()
        if _EXCEPTION.match(line):
            found = line
    return found


def parse_events(events: list[dict]) -> ParsedLog:
    parsed = ParsedLog()
    texts = []
    for event in events:
        message = redact((event.get("message") or "").rstrip("\n"))
        parsed.lines += 1
        texts.append(message)
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
            if level in ERROR_LEVELS:
                parsed.errors.append(text)
            elif level == "INFO" and text:
                parsed.progress_hint = text
            exc = record.get("exc_info")
            if exc:
                texts.append(str(exc))
                parsed.last_exception = _exception_in(str(exc)) or parsed.last_exception
            elif level in ERROR_LEVELS and _EXCEPTION.match(text):
                parsed.last_exception = text
        else:
            parsed.runtime_lines += 1
            if _EXCEPTION.match(message.strip()):
                parsed.last_exception = message.strip()
    parsed.text = "\n".join(texts)
    return parsed
