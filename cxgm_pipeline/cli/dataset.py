"""`cxgm describe dataset ID`: one dataset across every attempt the store holds (or the one --tag names)."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from cxgm_pipeline.cli.common import (
    FRAME_SUFFIXES, UsageError, check_output, console, load_frames, newest_migrations, show_table, write_frame)
from cxgm_pipeline.monitor.chain import Frame

FRAMES = (Frame.dataset_rollup, Frame.enriched_jobs, Frame.sfn_executions)
HOW_TO_FIND = ("find dataset ids with `cxgm describe datasets --env STAGE --tag ATTEMPT` (add --status failed) or "
               "`cxgm rerun`; the 8-character prefix the tables show is enough")


def _stored(env: str | None) -> list[tuple[str, str, dict]]:
    """(stage, attempt, {"dataset_rollup": ...}) of every attempt whose rollup the store holds, in `env` or every
    stage; `_with_frames` reads the rest only for the attempts that hold the dataset."""
    from cxgm_pipeline.config import get_config
    from cxgm_pipeline.monitor.store.frames import FrameStore

    store = FrameStore()
    return [(stage, key, {Frame.dataset_rollup: store.read(Frame.dataset_rollup, stage, key)})
            for stage in ([env] if env else get_config().stage_names) for key in store.attempts(Frame.dataset_rollup, stage)]


def _with_frames(dataset_id: str, searched: list[tuple[str, str, dict]]) -> list[tuple[str, str, dict]]:
    """The stored attempts, with every frame of FRAMES the store holds read for those whose rollup names the
    dataset."""
    from cxgm_pipeline.monitor.store.frames import FrameStore

    store = FrameStore()
    out = []
    for stage, key, frames in searched:
        rollup = frames[Frame.dataset_rollup]
        if not rollup.empty and (rollup["dataset_id"] == dataset_id).any():
            more = [n for n in FRAMES if n not in frames and store.exists(n, stage, key)]
            frames = {**frames, **{n: store.read(n, stage, key) for n in more}}
        out.append((stage, key, frames))
    return out


def _resolve_id(dataset_id: str, searched: list[tuple[str, str, dict]]) -> str:
    """The full DATASET_ID, from itself or a unique prefix of one; a clear error otherwise."""
    known = set()
    for _, _, frames in searched:
        rollup = frames.get(Frame.dataset_rollup)
        if rollup is not None and not rollup.empty:
            known.update(rollup["dataset_id"])
    if dataset_id in known:
        return dataset_id
    matches = sorted(k for k in known if k.startswith(dataset_id))
    if len(matches) == 1:
        return matches[0]
    where = ", ".join(f"{s}/{k}" for s, k, _ in searched)
    if matches:
        raise UsageError(f"{dataset_id!r} is the start of {len(matches)} dataset ids ({', '.join(matches[:5])}"
                         f"{', ...' if len(matches) > 5 else ''}): give more of it")
    raise UsageError(f"no dataset {dataset_id!r} in {len(searched)} attempt(s) searched ({where}); {HOW_TO_FIND}")


def describe_dataset(dataset_id: str, env: str | None, tag: str | None, refresh: bool, out: Path | None) -> None:
    import pandas as pd

    from cxgm_pipeline.monitor.views.drilldown import dataset_branches

    if out:
        check_output(out, FRAME_SUFFIXES)
    if tag:
        loaded = load_frames(env, tag, None, None, refresh, wanted=FRAMES)
        searched = [(env, loaded.key, loaded.frames)]
    else:
        searched = _stored(env)
        if not searched:
            raise UsageError(f"no attempt{' of ' + env if env else ''} is stored to search: name one with --env STAGE "
                             f"--tag ATTEMPT (read from AWS), or materialize attempts in Dagster")
    full = _resolve_id(dataset_id, searched)
    if not tag:
        searched = _with_frames(full, searched)
    found = [d for s, k, frames in searched for d in dataset_branches(full, s, k, frames)]
    if out:
        jobs = [d.jobs.assign(stage=d.stage, attempt=d.attempt, collection_version_id=d.branch, state=d.row["state"])
                for d in found]
        write_frame(pd.concat(jobs, ignore_index=True), out)
        return
    found, order = _stage_first(found)
    attempts = len({(d.stage, d.attempt) for d in found})
    console.print(f"dataset {full}: in {attempts} of {len(searched)} attempt(s) searched"
                  + (f", {len(found)} collection versions gathered" if len(found) > attempts else "") + order)
    for d in found:
        _show(d)


def _stage_first(found: list) -> tuple[list, str]:
    """The blocks by stage, the one a person acts on first: the stage where the newest migration runs now, then
    the rest from production backwards (the config's order reversed: prod, staging, dev); within a stage, as
    stored. With the words saying that order (empty for one stage). Dev's rehearsal above prod's run buried the
    answer asked for while prod runs."""
    from cxgm_pipeline.config import get_config

    stages = list(dict.fromkeys(d.stage for d in found))
    if len(stages) < 2:
        return found, ""
    configured = get_config().stage_names
    running, _ = newest_migrations(configured)
    first = [running[0]] if running else []
    order = first + [s for s in reversed(configured) if s not in first]
    found = sorted(found, key=lambda d: order.index(d.stage) if d.stage in order else len(order))
    shown = list(dict.fromkeys(d.stage for d in found))
    why = (f"a migration runs there now ({running[2]}, started {running[1]:%Y-%m-%d %H:%M} UTC)" if running
           and running[0] == shown[0] else "none of these stages runs a migration now: production backwards")
    return found, f"; {shown[0]} first ({why}), then {', '.join(shown[1:])}"


def _show(d) -> None:
    from cxgm_pipeline.monitor.frames.columns_missing import none_if_missing

    r = {k: none_if_missing(v) for k, v in d.row.items()}
    why = f" in {r['failing_step']} ({r['error_category']})" if r["state"] == "failed" else ""
    console.rule(f"{d.label}: {r['state']}{why}")
    revision = r.get("migration_revision_id")
    facts = [f"collection {r['collection_id']} version {r['collection_version_id']}"
             + (f" (migrated in revision {revision})" if revision and revision != r["collection_version_id"] else ""), f"version {r['dataset_version_id']} -> {r['new_dataset_version_id'] or '-'}",
             f"{r['jobs']} jobs, {r['retries']} retries"]
    if r["total_duration_s"] is not None:
        facts.append(f"{r['total_duration_s'] / 60:,.0f} min from first job to last stop")
    console.print(escape(" · ".join(facts)))
    if r["error_signature"]:
        console.print(f"cause: {escape(r['error_signature'])}")
    if r.get("production_verdict"):  # what production's cleanup step said of it (its first line)
        said = (r.get("production_message") or "").strip().splitlines()
        console.print(f"production's verdict: {r['production_verdict']}" + (f": {escape(said[0][:200])}" if said else ""))
    show_table(d.jobs, f"jobs of {d.label}", [c for c in d.jobs.columns if c != "excerpt"])
    for job in d.jobs.dropna(subset=["excerpt"]).to_dict("records"):
        console.print(f"[red]{job['step']} {job['job_id']}[/] log: {escape(job['excerpt'])}")
    show_table(d.executions, f"ingestion execution of {d.label}")
