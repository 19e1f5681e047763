from pathlib import Path

import typer

from cxgm_pipeline.cli.common import ENV, FRAME_SUFFIXES, check_output, console, guarded, progress, show_table, write_frame
from cxgm_pipeline.monitor.chain import Frame

COUNTS = ["datasets", "succeeded", "failed", "running", "pending", "not_started", "skipped"]
# an ended attempt has nothing remaining: the datasets it did not start, it never will (`never_started`)
PROGRESS = ["done", "failed", "running", "remaining", "never_started", "skipped", "rate/h", "ETA"]


@guarded
def attempts(env: str = ENV, fetch: bool = typer.Option(
        False, "--fetch", help="Roll up attempts Dagster has not materialized (one full fetch each)"),
        out: Path | None = typer.Option(None, "--out", "-o", help="Write CSV, Parquet or JSON (by extension)")) -> None:
    """The migration attempts of a stage: state, start, end, progress (done, failed, running, remaining or, once
    ended, never started, datasets ended per hour) and, while one runs, its ETA with a range (Dagster's latest rollup, or --fetch). An attempt
    with no dataset says why (its gather_collections failed, say: the execution itself still succeeds)."""
    from cxgm_pipeline.monitor.views.attempt_states import attempt_states
    from cxgm_pipeline.monitor.frames.attempt_rollup import attempt_summary
    from cxgm_pipeline.monitor.session import MonitorSession
    from cxgm_pipeline.monitor.attempts.listing import rehearsal_candidates
    from cxgm_pipeline.monitor.attempts.outcome import stored_outcome, with_outcome
    from cxgm_pipeline.monitor.views.progress import observed_now

    if out:
        check_output(out, FRAME_SUFFIXES)
    with progress(f"listing attempts of {env}") as stats:
        session = MonitorSession(stats=stats)
        found = session.attempts(env)
        rollups, notes, outcomes, observed = {}, {}, {}, {}
        for a in found:
            jobs = None
            if fetch:
                frames = session.frames(env, a.key, wanted=(Frame.dataset_rollup, Frame.enriched_jobs, Frame.child_failures)).frames
                rollups[(a.stage, a.key)], jobs = frames[Frame.dataset_rollup], frames[Frame.enriched_jobs]
                outcomes[(a.stage, a.key)] = with_outcome(a, frames).outcome
                observed[(a.stage, a.key)] = observed_now(jobs)
            elif session.store.exists(Frame.dataset_rollup, a.stage, a.key):
                rollups[(a.stage, a.key)] = session.store.read(Frame.dataset_rollup, a.stage, a.key)
                if session.store.exists(Frame.migration_jobs, a.stage, a.key):
                    outcomes[(a.stage, a.key)] = stored_outcome(a, session.store)
                    # when the jobs were read (AWS's clock), as every page says it: the rollup's own newest time is
                    # only a lower bound, which read as "before its end" for an attempt read after it
                    observed[(a.stage, a.key)] = observed_now(
                        session.store.read(Frame.migration_jobs, a.stage, a.key, columns=["observed_at"]))
            rollup = rollups.get((a.stage, a.key))
            if rollup is not None and rollup.empty:  # no dataset: its jobs say why
                if jobs is None and session.store.exists(Frame.enriched_jobs, a.stage, a.key):
                    jobs = session.store.read(Frame.enriched_jobs, a.stage, a.key)
                if jobs is not None:
                    notes[a.key] = attempt_summary(a, jobs, rollup)
        rehearsals = rehearsal_candidates(session.sfn, env, not all(a.ended for a in found), stats=session.stats,
                                          store=session.store, keys={a.key for a in found if not a.ended})
    if not found:
        console.print(f"no migration has run in {env}")
        return
    portals = {key: session.store.read(Frame.portal_state, *key) for key in rollups
               if session.store.exists(Frame.portal_state, *key)}
    frame = attempt_states(found, rollups, outcomes, portals).astype({c: object for c in COUNTS})
    frame = _with_progress(frame, found, rollups, session.store, rehearsals, notes, outcomes, observed, portals)
    frame.loc[~frame["rolled_up"], COUNTS] = None  # unknown, not zero
    frame["note"] = frame["attempt"].map(notes)
    if out:
        write_frame(frame, out)
        return
    for key, answer in zip(frame["attempt"], frame["answer"]):  # the answer first, then the detail
        console.print(f"{key}: {answer}", highlight=False, soft_wrap=True)
    show_table(frame, f"attempts in {env}", ["attempt", "campaign", "state", "outcome", "redrives", "start", "end",
                                             "datasets", *PROGRESS])
    if not frame["rolled_up"].all():
        console.print("counts left blank: not rolled up yet (materialize in Dagster, or `cxgm attempts --fetch`)")
    for key, note in zip(frame["attempt"], frame["note"]):
        if isinstance(note, str):
            console.print(f"{key}: no dataset: {note}")
    for line in frame.loc[frame["eta_basis"].notna(), "eta_basis"]:
        console.print(f"ETA from: {line}")
    for campaign, keys in frame.groupby("campaign", sort=False)["attempt"]:
        if len(keys) > 1:  # a re-run continues an attempt that ended without success (monitor/attempts/campaigns.py)
            console.print(f"campaign {campaign}: {' -> '.join(keys)} (one outcome per dataset: campaign_state)")


def _with_progress(frame, found: list, rollups: dict, store, candidates: list, notes: dict | None = None,
                   outcomes: dict | None = None, observed: dict | None = None, portals: dict | None = None):
    """The progress columns: done, remaining (never_started, once ended), datasets ended per hour, and a running attempt's ETA; the answer
    line (monitor.answer), with each attempt's outcome, when its jobs were read and its stored portal_state
    (`outcomes`, `observed`, `portals` by (stage, key))."""
    from cxgm_pipeline.monitor.frames.portal_state import portal_reading
    from cxgm_pipeline.monitor.views.answer import answer_line, failed_collections
    from cxgm_pipeline.monitor.views.progress import stored_progress

    notes = notes or {}
    columns = {"answer": [], "done": [], "running": [], "remaining": [], "never_started": [], "rate/h": [], "ETA": [], "eta_low": [], "eta": [], "eta_high": [],
               "eta_basis": []}
    by_key = {(a.stage, a.key): a for a in found}
    for stage, key in zip(frame["stage"], frame["attempt"]):
        rollup = rollups.get((stage, key))
        portal = (portals or {}).get((stage, key))
        p = stored_progress(by_key[(stage, key)], store, candidates, rollup=rollup, portal=portal) \
            if rollup is not None else None
        eta = p.eta if p is not None else None
        attempt = by_key[(stage, key)]
        # collections whose migration failed before listing their datasets, and those the portal lists of them
        stored = store.read(Frame.collection_rollup, stage, key) if store.exists(Frame.collection_rollup, stage, key) \
            else None
        collections = failed_collections(rollup=rollup, portal=portal, collections=stored) \
            if rollup is not None and stored is not None else None
        # what an ended attempt left on the old schema, when the portal's reading is its own: the page says it
        reading = portal_reading(portal)
        columns["answer"].append(answer_line(attempt.state.value, rollup, p, notes.get(key), ended_at=attempt.stop,
                                             outcome=(outcomes or {}).get((stage, key)),
                                             now=(observed or {}).get((stage, key)), collections=collections,
                                             old_schema=reading.old_schema if reading.own else None)
                                 if rollup is not None else f"{by_key[(stage, key)].state.value} - not rolled up yet")
        columns["done"].append(p.done if p else None)
        columns["running"].append(p.running if p else None)  # running or waiting for its job to start
        columns["remaining"].append((p.remaining + p.unlisted) if p and not p.ended else None)
        # of an ended attempt, its datasets not started, those of collections that failed before listing them too
        columns["never_started"].append((p.remaining + p.never_listed) if p and p.ended else None)
        columns["rate/h"].append(round(p.rate_per_h, 1) if p and not p.ended else None)
        columns["ETA"].append(_eta_cell(p) if p and not p.ended else None)
        columns["eta_low"].append(eta.low if eta else None)
        columns["eta"].append(eta.likely if eta else None)
        columns["eta_high"].append(eta.high if eta else None)
        columns["eta_basis"].append(f"{key}: {eta.basis}" if eta else None)
    done = columns.pop("done")
    frame = frame.assign(**columns)
    frame.insert(frame.columns.get_loc("succeeded"), "done", done)
    return frame


def _eta_cell(p) -> str:
    if p.eta is None:
        return f"- ({p.why_no_eta})"
    return f"{p.eta.likely:%m-%d %H:%M} ({p.eta.low:%m-%d %H:%M}..{p.eta.high:%m-%d %H:%M})"
