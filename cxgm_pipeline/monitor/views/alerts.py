"""Which alerts an attempt deserves now, given what was already announced (deduplicated per attempt).

Alerts, as release pipelines send them: a new error signature, the failure rate crossing the threshold,
the attempt finishing (counts by state, top error signatures, the causes new or gone since its rehearsal, the
datasets to re-run), and once a day (AWS's day) while it runs, its progress and ETA.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Literal

import pandas as pd

from cxgm_pipeline.monitor.attempts.outcome import stored_outcome
from cxgm_pipeline.monitor.chain import Frame
from cxgm_pipeline.monitor.frames.portal_state import portal_checked, portal_reading
from cxgm_pipeline.monitor.frames.rerun_manifest import rerun_manifest
from cxgm_pipeline.monitor.frames.rollups import one_row_per_dataset
from cxgm_pipeline.monitor.views.answer import HowFar, attempt_answer, eta_phrase, how_far, named_by_the_portal
from cxgm_pipeline.monitor.views.deltas import signature_diff, signature_diff_lines, with_failed
from cxgm_pipeline.monitor.views.failures import by_category, failure_count, fit_list, signatures_by_category
from cxgm_pipeline.monitor.views.progress import observed_now, rehearsal_of, stored_progress
from cxgm_pipeline.schemas import RerunManifest, SentAlerts, empty_frame, validate
from cxgm_pipeline.vocabulary import DATASET_STEPS, AttemptOutcome, AttemptState, DatasetState, ErrorCategory

TOP = 5
KEPT = 1000  # sent alerts the `alerts` view keeps (the newest)
SUBJECT_CHARS = 120  # a digest's subject fits a line of a mail list or a chat


@dataclass(frozen=True)
class Standing:
    """Where an attempt stands when its alerts are evaluated: what its digest's subject says first."""

    how_far: HowFar | None  # None: no dataset yet
    eta: str | None = None  # while it runs, as its answer line says it
    outcome: str | None = None  # a finished attempt's outcome that makes it a failure, in words
    old_schema: int | None = None  # datasets the portal still serves on the old schema (finished, portal read)
    end: str = "finished"  # how it ended, in its answer line's words (`end_word`)


def end_word(state: str | None) -> str:
    """How an ended attempt's alert says it ended, as its answer line's head does: "aborted", "failed",
    "timed out"; "finished" when its execution succeeded (or the state is not known)."""
    ended = {AttemptState.ABORTED.value, AttemptState.FAILED.value, AttemptState.TIMED_OUT.value}
    return state.replace("_", " ") if state in ended else "finished"


def _outcome_note(outcome: str | None, end: str) -> str | None:
    """The outcome that makes a finished attempt a failure, in words, unless its end already says it."""
    if outcome not in (AttemptOutcome.TOLERANCE_EXCEEDED.value, AttemptOutcome.FAILED.value):
        return None
    words = outcome.replace("_", " ")
    return None if words == end else words


@dataclass(frozen=True)
class Alert:
    kind: str  # new_signature | failure_rate | finished | progress
    key: str  # dedup key within the attempt
    subject: str
    body: str
    category: str | None = None  # a new signature's error category: a digest counts them by it
    gist: str | None = None  # what it adds to a digest's subject: "validation in cxg", "failure rate 12.3% > 10%"
    standing: Standing | None = None  # its attempt's, for the digest's subject

    def message(self) -> dict[str, str]:
        """What is sent and recorded: the rest only builds the digest."""
        return {"kind": self.kind, "key": self.key, "subject": self.subject, "body": self.body}


def failure_counts(datasets: pd.DataFrame) -> tuple[int, int]:
    """(failed, ran): the datasets that failed, and those that ran (neither never started nor skipped), each once
    (a dataset gathered twice is a rollup row per branch)."""
    datasets = one_row_per_dataset(datasets)
    ran = datasets[~datasets["state"].isin([DatasetState.NOT_STARTED.value, DatasetState.SKIPPED.value])]
    return int((ran["state"] == DatasetState.FAILED.value).sum()), len(ran)


def failure_rate(datasets: pd.DataFrame) -> float:
    """Failed datasets over those that ran; 0 when none ran."""
    failed, ran = failure_counts(datasets)
    return failed / ran if ran else 0.0


DATASET_STEP_NAMES = frozenset(s.value for s in DATASET_STEPS)


def _decisive_signatures(datasets: pd.DataFrame) -> set[str] | None:
    """The causes that failed a dataset (its rollup's error_signature); None when the rollup does not say."""
    if "error_signature" not in datasets.columns:
        return None
    failed = datasets[datasets["state"] == DatasetState.FAILED.value]
    return set(failed["error_signature"].dropna())


def _worth_announcing(signature: dict, decisive: set[str] | None) -> bool:
    """A cause a page lists: a collection-level step's, or one that failed a dataset. A dataset step's job that
    failed and was retried to success, or that Step Functions stopped because its Parallel sibling failed
    (`cancelled`), is in error_signatures and `describe errors`, but an alert on it names a cause no page shows
    among the failures; it is announced if it comes to fail a dataset. A provisional cause (`pending_logs`: an
    ingestion failed in a job whose log is not read yet) is never announced: the cause its log gives, read at a
    later refresh, is, so no digest announces one cause and a later one another for the same datasets."""
    if signature["error_category"] == ErrorCategory.PENDING_LOGS.value:
        return False
    return decisive is None or signature["step"] not in DATASET_STEP_NAMES or signature["error_signature"] in decisive


def evaluate(stage: str, attempt: str, datasets: pd.DataFrame, signatures: pd.DataFrame, rerun: pd.DataFrame,
             finished: bool, threshold: float, announced: set[str], progress=None,
             causes: pd.DataFrame | None = None, portal: pd.DataFrame | None = None,
             outcome: str | None = None, answer: str | None = None, state: str | None = None) -> list[Alert]:
    """`progress`: the attempt's `monitor.progress.Progress`; `causes`: `deltas.signature_diff` against its
    rehearsal (the same key in another stage); `portal`: its portal_state frame (what the portal serves);
    `outcome`: its AttemptOutcome (the finished alert says it: a SUCCEEDED execution may be a failed attempt);
    `answer`: its `monitor.answer` line, the first line of the progress and finished alerts; `state`: its
    AttemptState value (None: running until `finished`), for the counts its digest's subject gives."""
    where = f"{stage}/{attempt}"
    alerts = []
    reading, end = portal_reading(portal), end_word(state)
    daily = daily_progress(where, progress, finished, announced)
    if daily is not None:
        alerts.append(_answer_first(daily, answer))
    decisive = _decisive_signatures(datasets)
    for row in signatures.to_dict("records"):
        key = f"signature:{row['error_signature']}"
        if key not in announced and _worth_announcing(row, decisive):
            alerts.append(Alert("new_signature", key, f"[cxgm] {where}: new error ({row['error_category']})",
                                f"{failure_count(row)} in {row['step']}: {row['error_signature']}",
                                row["error_category"], gist=f"{row['error_category']} in {row['step']}"))
    rate = failure_rate(datasets) if not datasets.empty else 0.0
    if rate > threshold and "failure_rate" not in announced:
        crossed = f"failure rate {rate:.1%} > {threshold:.0%}"
        alerts.append(Alert("failure_rate", "failure_rate", f"[cxgm] {where}: {crossed}",
                            f"{(n := failure_counts(datasets)[0]):,} dataset{'s' if n != 1 else ''} failed so far.",
                            gist=crossed))
    if finished and "finished" not in announced:
        counts = one_row_per_dataset(datasets)["state"].value_counts().to_dict() if not datasets.empty else {}
        top = signatures_by_category(signatures)[1].head(TOP)  # under their category, the biggest first
        categories = by_category(datasets)
        # why they failed, right under the answer line: a chat shows a digest's first lines
        lines = ["Failed by category: " + ", ".join(f"{c} {n}" for c, n in zip(categories["error_category"],
                                                                              categories["datasets"]))
                 ] if not categories.empty else []  # the biggest cause first, whatever the number of its signatures
        lines += [*([f"Outcome: {outcome}"] if outcome else []),
                  "Datasets: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
        lines += ["", "Top errors:"]
        # a cause no failed job carries counts its datasets: "0" would read as no failure
        lines += [f"  {failure_count(r):>12}  {r['step']:<18} {r['error_signature']}"
                  for r in top.to_dict("records")] or ["  none"]
        if progress is not None:
            lines += ["", f"Progress: {progress.line()}"]
        if causes is not None:
            lines += ["", *signature_diff_lines(causes)]
        portal_line = portal_sentence(portal)
        if portal_line:
            lines += ["", portal_line]
        lines += ["", f"To re-run ({len(rerun)}):"]
        lines += [f"  {r['dataset_id']}  collection {r['collection_id']}  {r['failing_step'] or '-'}  {r['error_category'] or '-'}"
                  for r in rerun.to_dict("records")]
        subject = f"[cxgm] {where} {end}: {counts.get('failed', 0)} failed"
        if reading.own:  # read after a later attempt, the count is the portal now: the body says so
            subject += f", {reading.old_schema} still on the old schema in the portal"
        if note := _outcome_note(outcome, end):
            subject += f" ({note})"
        if datasets.empty:  # it died before any dataset: say where, e.g. in gather_collections
            gather = signatures[signatures["step"] == "gather_collections"] if not signatures.empty else signatures
            subject = f"[cxgm] {where} {end} without migrating any dataset" + (
                f": failed in gather_collections ({gather.iloc[0]['error_signature']})" if not gather.empty else "")
        alerts.append(_answer_first(Alert("finished", "finished", subject, "\n".join(lines)), answer))
    if not alerts:
        return alerts
    standing = Standing(
        how_far(state or ("succeeded" if finished else "running"), datasets, progress,
                never_started=named_by_the_portal(portal, datasets)) if not datasets.empty else None,
        eta_phrase(progress), _outcome_note(outcome, end) if finished else None,
        reading.old_schema if finished and reading.own else None, end)
    return [replace(a, standing=standing) for a in alerts]


def portal_sentence(portal: pd.DataFrame | None) -> str | None:
    """The finished alert's line on the portal: how many datasets it still serves on the old schema, and why."""
    if portal is None or portal.empty:
        return None
    counts = portal["portal_verdict"].value_counts()
    if not portal_checked(portal):
        why = portal["portal_why"].dropna()
        return f"Portal: not read ({why.iloc[0] if not why.empty else 'unknown'})."
    parts = ", ".join(f"{int(n)} {verdict.replace('_', ' ')}" for verdict, n in counts.items())
    reading = portal_reading(portal)
    if not reading.own:
        return f"Portal: {reading.text()} (its verdicts now, not this attempt's result: {parts})."
    return f"Portal: {reading.old_schema} dataset(s) still served on the old schema ({parts})."


def _answer_first(alert: Alert, answer: str | None) -> Alert:
    return replace(alert, body=f"{answer}\n\n{alert.body}") if answer else alert


STALE_AFTER_S = 24 * 3600  # an attempt that ended longer ago than this, first seen now, is history, not news


def is_history(attempt, first_seen: bool, aws_now: Callable[[], datetime]) -> bool:
    """Whether an attempt's alerts are taken as already announced, never sent: it is `first_seen` now (a new
    deployment, a new cursor) and ended more than STALE_AFTER_S before, by AWS's clock (`aws_now`, asked only
    then: the local clock may be hours off, or, against the emulator, days). No storm of stale alerts."""
    return bool(first_seen and attempt.ended and (aws_now() - attempt.stop).total_seconds() > STALE_AFTER_S)


def alert_frames_stored(attempt, store) -> bool:
    """Whether the frames every alert reads (dataset_rollup, error_signatures) are stored for the attempt."""
    return store.exists(Frame.dataset_rollup, attempt.stage, attempt.key) and \
        store.exists(Frame.error_signatures, attempt.stage, attempt.key)


def stored_rerun(attempt, store) -> pd.DataFrame:
    """The stored re-run list (what the report and rerun.csv show), built from the rollup if not stored yet."""
    if store.exists(Frame.rerun_manifest, attempt.stage, attempt.key):
        return store.read(Frame.rerun_manifest, attempt.stage, attempt.key)
    return rerun_manifest(store.read(Frame.dataset_rollup, attempt.stage, attempt.key), attempt.ended)


def stored_alerts(attempt, attempts: list, store, announced: set[str], finished: bool, threshold: float) -> list[Alert]:
    """`evaluate` over the attempt's stored frames (`alert_frames_stored` must hold), reading only what the alerts
    due need: `finished` (it ended and its final refresh is stored) with "finished" not yet `announced` is the
    finished alert, which alone reads the causes since its rehearsal (in `attempts`), the outcome and the re-run
    list; the progress, the portal and the answer line go in it and in a running attempt's progress alert."""
    name = str(attempt.ref)
    datasets = store.read(Frame.dataset_rollup, attempt.stage, attempt.key)
    signatures = store.read(Frame.error_signatures, attempt.stage, attempt.key)
    closing = finished and "finished" not in announced
    wanted = closing or (not attempt.ended and progress_due(datasets, announced))
    # with the answer line: the datasets the portal alone names are in its total, as on the page ("782 of 2,037+
    # ... (how many: on migration_report)" in a digest whose subject said "782 of ~2,037")
    portal = (store.read(Frame.portal_state, attempt.stage, attempt.key)
              if wanted and store.exists(Frame.portal_state, attempt.stage, attempt.key) else None)
    progress = stored_progress(attempt, store, attempts, rollup=datasets, portal=portal) if wanted else None
    causes = None
    if closing and (rehearsal := rehearsal_of(attempt, attempts, store, Frame.error_signatures)) is not None:
        causes = signature_diff(str(rehearsal.ref), store.read(Frame.error_signatures, rehearsal.stage, rehearsal.key),
                                name, signatures)
        # "In both" counts the datasets each side failed by a cause, as the pages do, not those it touched
        rehearsed = store.read(Frame.dataset_rollup, rehearsal.stage, rehearsal.key) \
            if store.exists(Frame.dataset_rollup, rehearsal.stage, rehearsal.key) else None
        causes = with_failed(causes, rehearsed, datasets)
    # read on every tick, the re-run list was a parquet read per attempt: only the finished alert lists it
    rerun = stored_rerun(attempt, store) if closing else empty_frame(RerunManifest)
    outcome = stored_outcome(attempt, store) if closing else None
    answer = None
    if wanted:
        # its jobs say why it has no dataset, and when they were read: the moment every page names
        jobs = store.read(Frame.enriched_jobs, attempt.stage, attempt.key) \
            if store.exists(Frame.enriched_jobs, attempt.stage, attempt.key) else None
        answer, _ = attempt_answer(replace(attempt, outcome=outcome) if outcome else attempt, datasets, jobs, progress,
                                   portal=portal)
    new = evaluate(attempt.stage, attempt.key, datasets, signatures, rerun, finished, threshold, announced, progress,
                   causes=causes, portal=portal, outcome=outcome, answer=answer, state=attempt.state.value)
    if new and progress is None and not attempt.ended and not datasets.empty:
        # the digest says how far of the expected total, the datasets not listed yet included, and when it should
        # end, as the answer line does: "35 of 129" beside its "35 of ~1,624" would contradict it
        progress = stored_progress(attempt, store, attempts, rollup=datasets)
        new = [replace(a, standing=replace(a.standing, how_far=how_far(attempt.state.value, datasets, progress),
                                           eta=eta_phrase(progress))) for a in new]
    return new


Disposition = Literal["send", "hold", "record"]


def disposition(new: list[Alert], history: bool, last_sent: float | None, now: float, interval: float) -> Disposition:
    """What becomes of an attempt's `new` alerts this tick: "send" them as one digest; "hold" them, unannounced,
    for the next digest (one per `interval` seconds, `digest_due`); or "record" them as announced without sending
    (nothing new, or the attempt is history: `is_history`)."""
    if not new or history:
        return "record"
    return "send" if digest_due(new, last_sent, now, interval) else "hold"


def attempt_digest(label: str, new: list[Alert], partition_url: str, report_url: str) -> Alert:
    """The one message of an attempt's tick, with where to look: its partition in the Dagster UI, its report."""
    return with_links(digest(label, new), {"Dagster": partition_url, "Report": report_url})


SENT_AT = "__digest_sent_at__"  # the cursor's entry of each attempt's last digest time (epoch seconds)
HISTORY = "__history__"  # the cursor's entry of the attempts that were history when first seen (`is_history`)


def digest_due(new: list[Alert], last_sent: float | None, now: float, interval: float) -> bool:
    """Whether new alerts go now: the finished alert always; others when the attempt's last digest is
    `interval` seconds old (or there was none). Held ones stay unannounced, and go in the next digest."""
    if any(a.kind == "finished" for a in new):
        return True
    return last_sent is None or now - last_sent >= interval


def progress_key(now) -> str:
    """The daily progress alert's key: one per AWS day (`now`: AWS's time of the frames)."""
    return f"progress:{now:%Y-%m-%d}"


def progress_due(datasets: pd.DataFrame, announced: set[str]) -> bool:
    """Whether a running attempt's daily progress alert may be due, judged from its rollup alone (the day its
    frames were timed to): building the progress (two more reads and an ETA) is worth it only then."""
    now = observed_now(datasets)
    return now is None or progress_key(now) not in announced


def daily_progress(where: str, progress, finished: bool, announced: set[str]) -> Alert | None:
    """Once per (AWS) day while the attempt runs: where it stands and when it should end."""
    if progress is None or finished or progress.ended or progress.total == 0:
        return None
    key = progress_key(progress.now)
    if key in announced:
        return None
    eta = f", ETA {progress.eta.likely:%Y-%m-%d %H:%M} UTC" if progress.eta else ""
    body = progress.line() + (f"\nETA from: {progress.eta.basis}" if progress.eta else "")
    # of the expected total, as the answer line counts it: "35 of 129" beside its "35 of ~1,624" contradicts it
    return Alert("progress", key, f"[cxgm] {where}: {how_far('running', None, progress).text()}{eta}", body)


def digest(where: str, alerts: list[Alert]) -> Alert:
    """One message per attempt and tick, whatever happened: its subject says how far the attempt is and what is
    new (`digest_subject`); in the body, each alert's subject is a line of its own."""
    subject = digest_subject(where, alerts)
    if len(alerts) == 1:
        return replace(alerts[0], subject=subject)
    new = Counter(a.category or "unknown" for a in alerts if a.kind == "new_signature")
    # the finish first (a chat or the UI shows a digest's first lines), the new causes last, their sum before them;
    # "first seen" (since the last digest), not "new": the finished alert's "New in prod" is against the rehearsal
    alerts = sorted(alerts, key=lambda a: (a.kind != "finished", a.kind == "new_signature",
                                           -new.get(a.category or "unknown", 0)))
    sections = [f"{a.subject}\n" + "\n".join(f"  {line}" for line in a.body.splitlines()) for a in alerts]
    if new:
        first = next(i for i, a in enumerate(alerts) if a.kind == "new_signature")
        sections.insert(first, "Causes first seen, by category (causes, not datasets): "
                        + ", ".join(f"{c} {n}" for c, n in new.most_common()))
    body = "\n\n".join(sections)
    return Alert("digest", ",".join(a.key for a in alerts), subject, body)


def digest_subject(where: str, alerts: list[Alert], limit: int = SUBJECT_CHARS) -> str:
    """What a mail list or a chat shows of a digest, the most important first, each part kept only if it fits
    `limit`: whether the attempt finished (and failed as an attempt), how far it is (datasets ended of the
    expected total, failed), the failure rate crossing the threshold, the portal's old-schema datasets of a
    finished attempt, the new causes by category, the ETA of a running one. An attempt that died before any
    dataset is its finished alert's subject (where it died, and why)."""
    finished = next((a for a in alerts if a.kind == "finished"), None)
    standing = next((a.standing for a in alerts if a.standing is not None), None)
    if finished is not None and (standing is None or standing.how_far is None):
        return _cut(finished.subject, limit)
    head = f"[cxgm] {where}" + (f" {standing.end}" if finished else "")
    if finished is not None and standing.outcome:
        head += f" ({standing.outcome})"
    parts: list[list[str]] = []  # each part: its wordings, the fullest first
    if standing is not None:
        far = standing.how_far
        # "finished: 2,035 of 2,035 ended" says it twice
        every = finished is not None and far is not None and not far.approx and far.ended == far.total
        parts.append([f"{far.ended:,} ended" if every else far.text()] if far else ["no dataset yet"])
        if far:
            parts[-1][0] += f", {far.failed:,} failed"
    parts += [[a.gist, a.gist.split(" > ")[0]] for a in alerts if a.kind == "failure_rate" and a.gist]
    if finished is not None and standing.old_schema:
        parts.append([f"{standing.old_schema:,} still on the old schema in the portal", f"{standing.old_schema:,} on "
                      "the old schema"])
    parts.append(_new_causes([a for a in alerts if a.kind == "new_signature"]))
    if finished is None and standing is not None and standing.eta:
        parts.append([standing.eta, standing.eta.split(" (")[0]])
    subject = head
    for wordings in parts:
        sep = ": " if subject == head else "; "
        fitting = next((w for w in wordings if len(subject) + len(sep) + len(w) <= limit), None)
        if fitting is not None:
            subject += sep + fitting
    if subject == head:  # alerts that carry nothing for a subject (made by hand): say what they are
        kinds = ", ".join(sorted({a.kind.replace("_", " ") for a in alerts}))
        subject = f"{head}: {len(alerts)} alert{'s' if len(alerts) != 1 else ''} ({kinds})"
    return _cut(subject, limit)


def _new_causes(new: list[Alert]) -> list[str]:
    """The wordings of the causes first seen since the last digest, the fullest first: one cause with its step;
    several counted by category, as many categories as fit."""
    if not new:
        return []
    if len(new) == 1:
        only = new[0]
        return [f"cause first seen: {w}" for w in (only.gist, only.category or "unknown") if w]
    counts = Counter(a.category or "unknown" for a in new).most_common()
    wordings = []
    for shown in range(len(counts), 0, -1):
        rest = sum(n for _, n in counts[shown:])
        wordings.append("causes first seen: " + ", ".join(f"{c} {n}" for c, n in counts[:shown])
                        + (f", {rest} more" if rest else ""))
    return [*wordings, f"{len(new)} causes first seen", f"+{len(new)} causes"]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def with_links(alert: Alert, links: dict[str, str]) -> Alert:
    """The message with where to look: the partition in the Dagster UI, the report."""
    return replace(alert, body=alert.body + "\n\n" + "\n".join(f"{label}: {url}" for label, url in links.items()))


def record_sent(previous: pd.DataFrame | None, sent: list[dict], now: datetime | None = None) -> pd.DataFrame:
    """The alerts view: `previous` rows plus `sent` (dicts with stage, attempt, kind, subject, body, partition_url,
    report_url), the newest KEPT."""
    now = now or datetime.now(timezone.utc)
    rows = pd.DataFrame([{**{c: a[c] for c in ("stage", "attempt", "kind", "subject", "body", "partition_url",
                                                 "report_url")}, "sent_at": now} for a in sent])
    frames = [f for f in (previous, rows) if f is not None and not f.empty]
    if not frames:
        return empty_frame(SentAlerts)
    return validate(SentAlerts, pd.concat(frames, ignore_index=True).tail(KEPT)[list(SentAlerts.to_schema().columns)])


INLINE_LIMIT = 1000  # dagster-webserver renders a Markdown value inline only under this many characters


def _md_line(text: str) -> str:
    from cxgm_pipeline.monitor.views.answer import breakable
    from cxgm_pipeline.monitor.report.document import md_cell

    return md_cell(breakable(text))


def alert_markdown(subject: str, body: str, sent_at, links: dict[str, str], limit: int = INLINE_LIMIT) -> str:
    """One alert as the UI shows it inline: its subject, when, its links, then its body's lines as a list (no
    code block: a long line would widen the pane), cut to fit `limit` characters and saying how much is left."""
    head = (f"**{_md_line(subject)}** ({pd.Timestamp(sent_at):%Y-%m-%d %H:%M} UTC) · "
            + " · ".join(f"[{label}]({url})" for label, url in links.items() if url) + "\n\n")
    lines = [line.strip() for line in body.splitlines() if line.strip()
             and not any(line.strip().endswith(url) for url in links.values() if url)]
    return fit_list(head, [_md_line(line) for line in lines], limit, rest="more lines: the alerts frame's `body`")


def alerts_table_markdown(frame: pd.DataFrame, limit: int = INLINE_LIMIT) -> str:
    """The newest alerts, each an item with its links, as many as fit in `limit` characters (a list: it wraps
    to the pane, where a table is as wide as its cells)."""
    from cxgm_pipeline.monitor.report.document import md_cell

    rows = frame.iloc[::-1]
    text = ""
    for i, r in enumerate(rows.itertuples()):
        line = (f"- {r.sent_at:%m-%d %H:%M} UTC {r.stage}/{r.attempt}: {md_cell(r.subject)} · "
                f"[partition]({r.partition_url}) · [report]({r.report_url})\n")
        if len(text + line) + 40 >= limit:
            return text + f"\n_{len(rows) - i} older: the alerts frame_"
        text += line
    return text
