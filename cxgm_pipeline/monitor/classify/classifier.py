"""Why a job failed: an error category (the shared vocabulary), the evidence (which rule matched which text)
and a signature that groups alike failures.

The rules are data: `classifier_rules.toml` beside this module, ordered, first match wins (its header says
why the order is what it is). A user's TOML file named by `CXGM_CLASSIFIER_RULES` goes first, the way
`CXGM_CONFIG` is merged over the packaged stages.toml: a user rule with a packaged rule's id replaces it.

A rule matches text by a regular expression, by the type of an exception a log raised, or both. Exception types
are matched with their bases, from the `[[exception]]` tables of the same files (the libraries' own hierarchies),
so a rule for `BrokenProcessPool` also takes joblib's `TerminatedWorkerError`, and one for `OSError` an `IOError`.
A rule may name a second category (`also`) for text that honestly supports two; the first is the one that tells
the operator what to do. Text no rule matches is `unknown`, and its evidence says which fields were empty.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

from cxgm_pipeline.config import ConfigError
from cxgm_pipeline.monitor.classify.logparse import ParsedLog, parse_text
from cxgm_pipeline.vocabulary import ERROR_KIND, ErrorKind
from cxgm_pipeline.vocabulary import ErrorCategory as C

RULES_ENV_VAR = "CXGM_CLASSIFIER_RULES"
FIELDS = ("status_reason", "container_reason", "log")
_KEYS = {"id", "category", "also", "field", "pattern", "exception", "example", "prefer", "source", "note"}
_EXCEPTION_KEYS = {"name", "bases", "source", "note"}
_CATEGORIES = [c.value for c in C if c not in (C.UNKNOWN, C.PENDING_LOGS)]  # what a rule may answer
EVIDENCE_MAX = 300
SIGNATURE_MAX = 240
NO_RULE = "no-rule-matched"  # the evidence's rule when none matched: the category is unknown

# A line that raises an exception, as Python's traceback, pytest ("E   ", and its summary's "FAILED test - "),
# IPython ("Name   Traceback (most recent call last)") and loggers (after "] " or "| ") print it: the type, dotted
# or not, then ": message" or nothing.
_EXCEPTION_LINE = re.compile(
    r"^(?:.{0,160}?(?:[\]|]|\s-)\s+|\s*E\s+|\s*)(?P<type>(?:[A-Za-z_]\w*\.)*(?P<name>[A-Za-z_]\w*))"
    r"(?::\s|:$|\s{2,}Traceback \(most recent call last\)|\s*$)")
# a type no hierarchy table names is still an exception when it is named like one
_EXCEPTION_NAME = re.compile(r"(?:Error|Exception|Exit|Interrupt|Fault)$")


class RulesError(ConfigError):
    """A classifier rules file that cannot be used, worded so the user knows what to fix."""


def ancestors(name: str, hierarchy: dict[str, tuple[str, ...]]) -> set[str]:
    """The exception type `name` and every base the hierarchy gives it (names without their module), and
    BaseException, from which whatever Python raises derives, whether or not a table names the type."""
    found, todo = set(), [name, "BaseException"]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(hierarchy.get(current, ()))
    return found


@dataclass(frozen=True)
class _Line:
    """One line of a text, where it starts in the text: what a rule's evidence points at."""
    line: str
    offset: int

    def start(self) -> int:
        return self.offset

    def end(self) -> int:
        return self.offset + len(self.line)


def raised(text: str, hierarchy: dict[str, tuple[str, ...]]) -> list[tuple[_Line, str]]:
    """The lines of `text` that raise an exception, in order, with the type's name without its module. A type
    is one the hierarchy names or one named like an exception; a traceback's source lines are not raising."""
    lines, offset, in_traceback = [], 0, False
    for line in text.split("\n"):
        # Python's traceback format: after the header and its indented frames, the first line at the margin is
        # the exception, whatever its type is called (zipfile.BadZipFile, StopIteration)
        after_frames = in_traceback and line[:1] not in ("", " ", "\t")
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
        elif after_frames:
            in_traceback = False
        match = _EXCEPTION_LINE.match(line)
        if match is not None and not line.lstrip().startswith(("raise ", "File ")):
            name = match.group("name")
            if name in hierarchy or _EXCEPTION_NAME.search(name) or (after_frames and match.start("type") == 0):
                lines.append((_Line(line, offset), name))
        offset += len(line) + 1
    return lines


@dataclass(frozen=True)
class Rule:
    id: str
    category: C
    fields: tuple[str, ...]
    pattern: re.Pattern | None
    example: str
    prefer: str = "first"  # which match is the evidence: "first", or "last" (the last error of a log)
    source: str = "packaged"  # the file the rule came from
    also: C | None = None  # a second category the matched text supports
    exceptions: frozenset[str] = frozenset()  # exception types (with their subclasses) the rule takes
    cites: str = ""  # where the wording or the type comes from: the catalog, source file or page
    hierarchy: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def find(self, texts: dict[str, str | None]) -> Evidence | None:
        for name in self.fields:
            text = texts.get(name)
            if not text:
                continue
            if self.exceptions:
                match = self._raising(text)
            elif self.prefer == "last":
                matches = list(self.pattern.finditer(text))
                match = matches[-1] if matches else None
            else:
                match = self.pattern.search(text)
            if match is not None:
                start = text.rfind("\n", 0, match.start()) + 1
                end = text.find("\n", match.end())
                return Evidence(self.id, name, text[start:end if end >= 0 else len(text)].strip(), match.start() - start)
        return None

    def _raising(self, text: str):
        """The line raising an exception of one of the rule's types (or a subclass) that the pattern, if any, also
        matches: the last such line, or the first with prefer = "first"."""
        found = None
        for line, type_name in raised(text, self.hierarchy):
            if not ancestors(type_name, self.hierarchy) & self.exceptions:
                continue
            if self.pattern is not None and not self.pattern.search(line.line):
                continue
            found = line
            if self.prefer == "first":
                break
        return found


@dataclass(frozen=True)
class Evidence:
    rule: str
    field: str
    line: str  # the whole line that matched
    at: int = 0  # where in it the match begins

    @property
    def text(self) -> str:
        """The line, cut to EVIDENCE_MAX characters around the match."""
        if len(self.line) <= EVIDENCE_MAX:
            return self.line
        offset = max(self.at - 100, 0)
        return ("…" if offset else "") + self.line[offset:offset + EVIDENCE_MAX] + "…"

    def __str__(self) -> str:
        return f"{self.rule} @ {self.field}: {self.text}"


@dataclass(frozen=True)
class Diagnosis:
    category: C
    evidence: Evidence | None
    signature: str
    values: tuple[str, ...] = ()  # what the signature's placeholders stand for: term ids, instances, ...
    also: C | None = None  # a second category the evidence supports; `category` is the one to act on

    @property
    def kind(self) -> ErrorKind:
        return ERROR_KIND[self.category]


# --- loading -------------------------------------------------------------------------------------------

def packaged_rules_path() -> Path:
    return Path(str(resources.files("cxgm_pipeline.monitor.classify") / "rules.toml"))


def _category(where: str, key: str, value: object) -> C:
    if value not in _CATEGORIES:
        raise RulesError(f"{where}: {key} {value!r} is not one of {', '.join(_CATEGORIES)}")
    return C(value)


def _names(where: str, key: str, value: object) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise RulesError(f"{where}: {key} {value!r} is not a name or a list of names")
    return tuple(names)


def _rule(n: int, table: object, source: str, hierarchy: dict[str, tuple[str, ...]]) -> Rule:
    where = f"{source}: rule {n}"
    if not isinstance(table, dict):
        raise RulesError(f"{where} is not a table: write it as [[rule]] with id, category, field, pattern, example")
    where += f" ({table.get('id')!r})" if "id" in table else ""
    unknown = set(table) - _KEYS
    if unknown:
        raise RulesError(f"{where} has unknown keys {sorted(unknown)}; known: {', '.join(sorted(_KEYS))}")
    missing = [k for k in ("id", "category", "field", "example") if not table.get(k)]
    if not (table.get("pattern") or table.get("exception")):
        missing.insert(len(missing) - ("example" in missing), "pattern")
    if missing:
        raise RulesError(f"{where} is missing {', '.join(missing)}")
    category = _category(where, "category", table["category"])
    also = _category(where, "also", table["also"]) if table.get("also") else None
    fields = table["field"]
    fields = tuple(FIELDS if fields == "any" else [fields] if isinstance(fields, str) else fields)
    bad = [f for f in fields if f not in FIELDS]
    if bad or not fields:
        raise RulesError(f"{where}: field {table['field']!r} is not 'any', or one or a list of {', '.join(FIELDS)}")
    exceptions = frozenset(_names(where, "exception", table["exception"])) if table.get("exception") else frozenset()
    prefer = table.get("prefer", "last" if exceptions else "first")
    if prefer not in ("first", "last"):
        raise RulesError(f"{where}: prefer {prefer!r} is not 'first' or 'last'")
    pattern = None
    if table.get("pattern"):
        try:
            pattern = re.compile(str(table["pattern"]))
        except re.error as exc:
            raise RulesError(f"{where}: pattern is not a valid regular expression: {exc}") from None
    rule = Rule(str(table["id"]), category, fields, pattern, str(table["example"]), prefer, source, also, exceptions,
                str(table.get("source", "")), hierarchy)
    if rule.find({f: rule.example for f in fields}) is None:
        raise RulesError(f"{where}: its example does not match its "
                         + ("exception types and pattern" if exceptions and pattern else
                            "exception types" if exceptions else "pattern"))
    return rule


def _hierarchy(tables: object, source: str, base: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """`base` with the file's [[exception]] tables (name, bases): a library's exception classes and their bases."""
    hierarchy = dict(base)
    if tables is None:
        return hierarchy
    if not isinstance(tables, list):
        raise RulesError(f"{source}: exception is not a list of [[exception]] tables (name, bases)")
    for n, table in enumerate(tables, 1):
        where = f"{source}: exception {n}"
        if not isinstance(table, dict) or not table.get("name"):
            raise RulesError(f"{where} is not a table with a name: write it as [[exception]] with name, bases")
        unknown = set(table) - _EXCEPTION_KEYS
        if unknown:
            raise RulesError(f"{where} has unknown keys {sorted(unknown)}; known: {', '.join(sorted(_EXCEPTION_KEYS))}")
        hierarchy[str(table["name"])] = _names(where, "bases", table.get("bases", []))
    return hierarchy


def _read(path: str | os.PathLike, source: str | None, base: dict[str, tuple[str, ...]]):
    path = Path(path)
    source = source or str(path)
    if not path.is_file():
        raise RulesError(f"{RULES_ENV_VAR} names {path}, which is not a file: fix the path or unset {RULES_ENV_VAR}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(f"{source} is not valid TOML: {exc}") from None
    hierarchy = _hierarchy(data.get("exception"), source, base)
    tables = data.get("rule")
    if not isinstance(tables, list) or not tables:
        raise RulesError(f"{source} has no [[rule]] table (each rule: id, category, field, pattern, example)")
    rules = [_rule(n, t, source, hierarchy) for n, t in enumerate(tables, 1)]
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise RulesError(f"{source}: rule id {r.id!r} is used twice")
        seen.add(r.id)
    return rules, hierarchy


def read_rules(path: str | os.PathLike, source: str | None = None,
               hierarchy: dict[str, tuple[str, ...]] | None = None) -> list[Rule]:
    """The rules of one TOML file, checked; raises RulesError (one line, what to fix). `hierarchy`: exception
    types the file's own [[exception]] tables add to (the packaged ones, for a user's file)."""
    return _read(path, source, hierarchy or {})[0]


def load_rules(path: str | os.PathLike | None = None) -> tuple[Rule, ...]:
    """The user's rules (`path`, else $CXGM_CLASSIFIER_RULES) first, then the packaged ones they do not replace;
    all of them see the packaged exception hierarchy and what the user's file adds to it."""
    packaged, hierarchy = _read(packaged_rules_path(), "packaged classifier_rules.toml", {})
    user_path = path or os.environ.get(RULES_ENV_VAR)
    if not user_path:
        return tuple(packaged)
    user, hierarchy = _read(user_path, None, hierarchy)
    replaced = {r.id for r in user}
    return tuple(replace(r, hierarchy=hierarchy) for r in user + [r for r in packaged if r.id not in replaced])


@lru_cache(maxsize=8)
def _rules_at(path: str | None) -> tuple[Rule, ...]:
    return load_rules(path)


def current_rules() -> tuple[Rule, ...]:
    """The rules for the current $CXGM_CLASSIFIER_RULES (read once per value)."""
    return _rules_at(os.environ.get(RULES_ENV_VAR) or None)


# --- classifying ---------------------------------------------------------------------------------------

# A job's description quoted in a text, as Step Functions quotes it in a failed .sync task's cause (the Batch
# DescribeJobs or ECS DescribeTasks JSON, itself escaped inside the event's JSON) and as the AWS CLI prints it:
# the job's and its container's reasons, at whatever depth of escaping. A reason with its own quotes may be cut.
_QUOTED_REASON = {
    "status_reason": re.compile(r'(\\*)"(?:StatusReason|statusReason|StoppedReason|stoppedReason)\1"\s*:\s*\1"(.+?)\1"'),
    "container_reason": re.compile(r'(\\*)"(?:Reason|reason)\1"\s*:\s*\1"(.+?)\1"'),
}


_QUOTED_JOB = re.compile(r'(\\*)"(?:JobId|jobId|JobArn|jobArn|TaskArn|taskArn)\1"\s*:')


def quoted_reasons(text: str | None) -> dict[str, str]:
    """The Batch/ECS reasons a text quotes from a job's description, by the field they would have been in."""
    found = {}
    if not _QUOTED_JOB.search(text or ""):  # a "reason" of some other JSON is not a job's
        return found
    for name, pattern in _QUOTED_REASON.items():
        reasons = [match.group(2) for match in pattern.finditer(text or "")]
        if reasons:
            found[name] = "\n".join(reasons)
    return found


def _field(data: dict, name: str):
    """A field of a job's description as DescribeJobs spells it (statusReason) or as Step Functions quotes it
    (StatusReason)."""
    return data.get(name[0].upper() + name[1:], data.get(name))


def job_description_reasons(cause: str | None) -> dict[str, str]:
    """The job's reasons a failed Batch task's cause gives: Step Functions' `batch:submitJob.sync` fails with
    States.TaskFailed and the job's description as the cause (DescribeJobs' JSON, keys capitalised), whose
    statusReason, container reason and exit code `diagnose` reads as a job's own. A cause that is no JSON object
    is read as `quoted_reasons` reads a log."""
    try:
        job = json.loads(cause or "")
    except ValueError:
        job = None
    if not isinstance(job, dict):
        return quoted_reasons(cause)
    containers = [c for c in (_field(job, "container"), *(_field(a, "container") for a in _field(job, "attempts") or []
                                                          if isinstance(a, dict))) if isinstance(c, dict)]
    found = {"status_reason": _field(job, "statusReason"),
             "container_reason": next((_field(c, "reason") for c in containers if _field(c, "reason")), None),
             "exit_code": next((_field(c, "exitCode") for c in containers if _field(c, "exitCode") is not None), None)}
    return {k: str(v) for k, v in found.items() if v is not None and str(v)}


def diagnose_task_cause(cause: str | None, rules: tuple[Rule, ...] | None = None) -> Diagnosis | None:
    """Why a Batch task's job failed, from the task's cause alone, before the job's log is read: a platform's
    reason (memory, a lost host, an image, a time limit) or an exit code that says it (137, 143). None when the
    cause says nothing a rule knows, as after "Essential container in task exited" with exit code 1: production's
    processing exits 1 for the validator's findings and for any other error it catches (single-cell-data-portal
    backend/layers/processing/process.py @ 013ca0ff, `return 0 if rv else 1`), and only the job's log tells them
    apart."""
    reasons = job_description_reasons(cause)
    code = reasons.get("exit_code")
    # as Batch's own description quotes it, the form the rules on exit codes read
    log = parse_text(f'"ExitCode": {code}') if code is not None else None
    found = diagnose(reasons.get("status_reason"), reasons.get("container_reason"), log, rules)
    return None if found.category is C.UNKNOWN else found


def diagnose(status_reason: str | None, container_reason: str | None, log: ParsedLog | None,
             rules: tuple[Rule, ...] | None = None) -> Diagnosis:
    """Category, evidence and signature of a FAILED job, from what Batch says and what its log says. Without
    reasons of their own, the reasons a log quotes from the job's description (a Step Functions cause) are
    read as reasons, ahead of the rest of the log; the evidence still names the log."""
    texts = {"status_reason": status_reason, "container_reason": container_reason, "log": log.text if log else None}
    quoted = {} if status_reason or container_reason else quoted_reasons(texts["log"])
    for rule in current_rules() if rules is None else rules:
        evidence = rule.find({**texts, **quoted})
        if evidence is not None:
            if evidence.field in quoted:
                evidence = replace(evidence, field="log")
            return _diagnosis(rule.category, evidence, evidence.line, rule.also)
    fallback = container_reason or status_reason
    if log is not None and not fallback:
        fallback = log.last_exception or (log.errors[-1] if log.errors else None)
    return _diagnosis(C.UNKNOWN, _nothing_matched(texts), fallback or "no reason given")


def _nothing_matched(texts: dict[str, str | None]) -> Evidence:
    """The evidence of `unknown`: the fields there were to read, and the empty ones."""
    given = [name for name in FIELDS if texts.get(name)]
    empty = [name for name in FIELDS if not texts.get(name)]
    return Evidence(NO_RULE, "+".join(given) or "none",
                    f"empty: {', '.join(empty)}" if empty else "no rule matched any of them")


def _diagnosis(category: C, evidence: Evidence | None, headline: str, also: C | None = None) -> Diagnosis:
    text, values = abstract(headline)
    return Diagnosis(category, evidence, f"{category.value}: {text}"[:SIGNATURE_MAX], tuple(values),
                     also if also is not category else None)


# --- signatures ----------------------------------------------------------------------------------------

# (placeholder, pattern, whether its values are worth listing as examples). Braces, not <angle brackets>:
# they survive Markdown and HTML. Order matters: the specific before the general.
_PLACEHOLDERS: list[tuple[str, re.Pattern, bool]] = [
    ("arn", re.compile(r"arn:aws[\w-]*:[^\s'\",)]+"), False),
    ("s3_uri", re.compile(r"s3://[^\s'\",)]+"), True),
    ("url", re.compile(r"https?://[^\s'\",)]+"), False),
    ("time", re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?Z?"), False),
    ("uuid", re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), False),
    ("instance", re.compile(r"\bi-[0-9a-f]{8,17}\b"), True),
    ("image", re.compile(r"\b\d{12}\.dkr\.ecr\.[\w.-]+/[\w./-]+(?::[\w.-]+)?"), True),
    ("digest", re.compile(r"\bsha256:[0-9a-f]{8,}\b"), False),
    ("term_id", re.compile(r"\b(?:NCBITaxon|[A-Z][A-Za-z]{1,15}):\d+\b"), True),  # CL:0000057, HANCESTRO:0005
    ("feature_id", re.compile(r"\b(?:ENS[A-Z]*G\d+(?:\.\d+)?|ERCC-\d+)\b"), True),
    ("path", re.compile(r"(?<![\w:/.])/[\w.@+-]+(?:/[\w.@+-]*)+"), False),
    ("ip", re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), False),
    ("hex", re.compile(r"\b[0-9a-f]{16,}\b", re.I), False),
    ("value", re.compile(r"'[^'\s{}]*\d[^'\s{}]*'"), True),
    ("n", re.compile(r"\b\d+(?:\.\d+)?\b"), False),
]
# "[ERROR] " (logparse's mark of a JSON record's level), "ERROR:logger:" (logging's default format), "ERROR: " (the
# schema validator's): the category already says it was an error
_LEVEL_PREFIX = re.compile(r"^(?:\[[A-Z]+\] |(?:ERROR|CRITICAL|FATAL):[\w.]+:)?(?:ERROR: )?")


def abstract(message: str) -> tuple[str, list[str]]:
    """The message's first line with ids, numbers and paths replaced by {placeholders}, and the values replaced
    that tell alike failures apart (term ids, instances, ...), so 300 failures with one cause read as one."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    text = _LEVEL_PREFIX.sub("", text)
    values: list[str] = []

    for name, pattern, listed in _PLACEHOLDERS:
        token = f"'{{{name}}}'" if name == "value" else f"{{{name}}}"

        def swap(match: re.Match, listed=listed, token=token) -> str:
            if listed:
                value = match.group(0).strip("'")
                if value not in values:
                    values.append(value)
            return token

        text = pattern.sub(swap, text)
    return re.sub(r"\s+", " ", text).strip(), values


def normalise(message: str) -> str:
    """The message with ids, numbers and paths replaced: see `abstract`."""
    return abstract(message)[0]
