"""Which alerts an attempt deserves now, given what was already announced (deduplicated per attempt).

Alerts, as release pipelines send them: a new error signature, the failure rate crossing the threshold,
the attempt finishing (counts by state, top error signatures, the causes new or gone since its rehearsal, the
datasets to re-run), and once a day (AWS's day) while it runs, its progress and ETA.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone

import pandas as pd

from cxgm_pipeline.monitor.deltas import signature_diff_lines
from cxgm_pipeline.monitor.progress import observed_now
from cxgm_pipeline.schemas import SentAlerts, empty_frame, validate
from cxgm_pipeline.vocabulary import DatasetState

TOP = 5
KEPT = 1000  # sent alerts the `alerts` view keeps (the newest)


@dataclass(frozen=True)
class Alert:
    kind: str  # new_signature | failure_rate | finished | progress
    key: str  # dedup key within the attempt
    subject: str
    body: str


def failure_rate(datasets: pd.DataFrame) -> float:
    ran = datasets[~datasets["state"].isin([DatasetState.NOT_STARTED.value, DatasetState.SKIPPED.value])]
    return float((ran["state"] == DatasetState.FAILED.value).sum() / len(ran)) if len(ran) else 0.0


def evaluate(stage: str, attempt: str, datasets: pd.DataFrame, signatures: pd.DataFrame, rerun: pd.DataFrame,
             finished: bool, threshold: float, announced: set[str], progress=None,
             causes: pd.DataFrame | None = None, answer: str | None = None) -> list[Alert]:
    """`progress`: the attempt's `monitor.progress.Progress`; `causes`: `deltas.signature_diff` against its
    rehearsal (the same key in another stage); `answer`: its `monitor.answer` line, the first line of the
    progress and finished alerts."""
    where = f"{stage}/{attempt}"
    alerts = []
    daily = daily_progress(where, progress, finished, announced)
    if daily is not None:
        alerts.append(_answer_first(daily, answer))
    for row in signatures.to_dict("records"):
        key = f"signature:{row['error_signature']}"
        if key not in announced:
            alerts.append(Alert("new_signature", key, f"[cxgm] {where}: new error ({row['error_category']})",
                                f"{row['jobs']} job(s) in {row['step']}: {row['error_signature']}"))
    rate = failure_rate(datasets) if not datasets.empty else 0.0
    if rate > threshold and "failure_rate" not in announced:
        alerts.append(Alert("failure_rate", "failure_rate", f"[cxgm] {where}: failure rate {rate:.1%} > {threshold:.0%}",
                            f"{int((datasets['state'] == DatasetState.FAILED.value).sum())} datasets failed so far."))
    if finished and "finished" not in announced:
        counts = datasets["state"].value_counts().to_dict() if not datasets.empty else {}
        top = signatures.head(TOP)
        lines = ["Datasets: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), "", "Top errors:"]
        lines += [f"  {r['jobs']:>4}  {r['step']:<18} {r['error_signature']}" for r in top.to_dict("records")] or ["  none"]
        if progress is not None:
            lines += ["", f"Progress: {progress.line()}"]
        if causes is not None:
            lines += ["", *signature_diff_lines(causes)]
        lines += ["", f"To re-run ({len(rerun)}):"]
        lines += [f"  {r['dataset_id']}  collection {r['collection_id']}  {r['failing_step'] or '-'}  {r['error_category'] or '-'}"
                  for r in rerun.to_dict("records")]
        subject = f"[cxgm] {where} finished: {counts.get('failed', 0)} failed"
        if datasets.empty:  # it died before any dataset: say where, e.g. in gather_collections
            gather = signatures[signatures["step"] == "gather_collections"] if not signatures.empty else signatures
            subject = f"[cxgm] {where} finished without migrating any dataset" + (
                f": failed in gather_collections ({gather.iloc[0]['error_signature']})" if not gather.empty else "")
        alerts.append(_answer_first(Alert("finished", "finished", subject, "\n".join(lines)), answer))
    return alerts


def _answer_first(alert: Alert, answer: str | None) -> Alert:
    return replace(alert, body=f"{answer}\n\n{alert.body}") if answer else alert


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
    return Alert("progress", key, f"[cxgm] {where}: {progress.done + progress.failed} of {progress.total} ended{eta}", body)


def digest(where: str, alerts: list[Alert]) -> Alert:
    """One message per attempt and tick, whatever happened: each alert's subject is a line of its own."""
    if len(alerts) == 1:
        return alerts[0]
    kinds = ", ".join(sorted({a.kind.replace("_", " ") for a in alerts}))
    body = "\n\n".join(f"{a.subject}\n" + "\n".join(f"  {line}" for line in a.body.splitlines()) for a in alerts)
    return Alert("digest", ",".join(a.key for a in alerts), f"[cxgm] {where}: {len(alerts)} alerts ({kinds})", body)


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
