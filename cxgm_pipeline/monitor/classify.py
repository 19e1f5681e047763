"""Why a job failed: an error category (the shared vocabulary) and a signature that groups alike failures.

Batch's own reasons come first (they survive log expiry); then what the log says. Rules are ordered,
first match wins; each is a case seen in real migrations.
"""

from __future__ import annotations

import re

from cxgm_pipeline.monitor.logparse import ParsedLog
from cxgm_pipeline.vocabulary import ERROR_KIND, ErrorCategory as C, ErrorKind

# (category, pattern over Batch's status reason + container reason + attempts' reasons)
_REASON_RULES: list[tuple[C, re.Pattern]] = [
    (C.CONTAINER_IMAGE, re.compile(r"CannotPullContainer|CannotInspectContainer|manifest unknown|ImagePull", re.I)),
    (C.RESOURCE_INIT, re.compile(r"ResourceInitializationError|CannotStartContainerError|unable to pull secrets|CannotCreateContainer", re.I)),
    (C.OUT_OF_MEMORY, re.compile(r"OutOfMemoryError|OOMKilled|killed due to memory", re.I)),
    (C.TIMEOUT, re.compile(r"duration exceeded timeout|timed out|timeout", re.I)),
    (C.HOST_TERMINATED, re.compile(r"Host EC2 .* terminated|Spot|instance .*(terminated|retired)|Task failed to start", re.I)),
    (C.CANCELLED, re.compile(r"cancel|abort|Terminated by|terminated by user|SIGTERM", re.I)),
]
# (category, pattern over the log text)
_LOG_RULES: list[tuple[C, re.Pattern]] = [
    (C.OUT_OF_MEMORY, re.compile(r"\bMemoryError\b|Cannot allocate memory|std::bad_alloc")),
    (C.THROTTLED, re.compile(r"ThrottlingException|Rate exceeded|TooManyRequests|SlowDown|RequestLimitExceeded")),
    (C.STORAGE, re.compile(r"No space left on device|Errno 28|NoSuchKey|NoSuchBucket|AccessDenied|Disk quota exceeded")),
    (C.VALIDATION, re.compile(r"Validation of the dataset failed|not a valid ontology term|invalid values|ValidationError|is not a valid", re.I)),
]

_NORMALISE: list[tuple[re.Pattern, str]] = [
    (re.compile(r"arn:aws[\w-]*:[^\s'\"]+"), "<arn>"),
    (re.compile(r"s3://[^\s'\"]+"), "<s3>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\bi-[0-9a-f]{8,17}\b"), "<instance>"),
    (re.compile(r"\b\d{12}\.dkr\.ecr\.[\w.-]+/[\w./-]+(:[\w.-]+)?"), "<image>"),
    (re.compile(r"(?<![\w])/[\w.-]+(/[\w.-]+)+"), "<path>"),
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "<hex>"),
    (re.compile(r"'[^'\s]*\d[^'\s]*'"), "'<value>'"),
    (re.compile(r"\b\d+(\.\d+)?\b"), "<n>"),
]
SIGNATURE_MAX = 240


def classify(status_reason: str | None, container_reason: str | None, log: ParsedLog | None) -> C:
    """The error category of a FAILED job."""
    reasons = " | ".join(r for r in (container_reason, status_reason) if r)
    for category, pattern in _REASON_RULES:
        if pattern.search(reasons):
            return category
    if log is not None:
        for category, pattern in _LOG_RULES:
            if pattern.search(log.text):
                return category
        if log.last_exception or log.errors:
            return C.APPLICATION
    return C.UNKNOWN


def error_kind(category: C) -> ErrorKind:
    return ERROR_KIND[category]


def normalise(message: str) -> str:
    """The message with ids, numbers and paths replaced, so 300 failures with one cause read as one."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    for pattern, token in _NORMALISE:
        text = pattern.sub(token, text)
    return re.sub(r"\s+", " ", text)


def headline(category: C, status_reason: str | None, container_reason: str | None, log: ParsedLog | None) -> str:
    """The one message that best says what went wrong, before normalisation."""
    if category in (C.OUT_OF_MEMORY,) and container_reason:
        return container_reason
    if log is not None:
        if category is C.VALIDATION and log.errors:
            return log.errors[0]
        if log.last_exception:
            return log.last_exception
        if log.errors:
            return log.errors[-1]
    return container_reason or status_reason or "no reason given"


def signature(category: C, status_reason: str | None, container_reason: str | None, log: ParsedLog | None) -> str:
    return f"{category.value}: {normalise(headline(category, status_reason, container_reason, log))}"[:SIGNATURE_MAX]
