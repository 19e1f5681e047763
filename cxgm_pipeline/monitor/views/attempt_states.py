"""Every attempt's state and dataset counts, from AWS (state) and the stored rollups (counts)."""

from __future__ import annotations

import pandas as pd

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.monitor.frames.rollups import one_row_per_dataset
from cxgm_pipeline.schemas import AttemptStates, empty_frame, validate
from cxgm_pipeline.vocabulary import DatasetState


def attempt_states(attempts: list[Attempt], rollups: dict[tuple[str, str], pd.DataFrame],
                   outcomes: dict[tuple[str, str], str] | None = None,
                   portals: dict[tuple[str, str], pd.DataFrame] | None = None) -> pd.DataFrame:
    """`rollups`: (stage, attempt) -> stored dataset_rollup (missing: not rolled up yet, counts 0); `outcomes`:
    (stage, attempt) -> its AttemptOutcome (missing: the Attempt's own, else unknown until its frames are read);
    `portals`: (stage, attempt) -> stored portal_state, whose datasets of collections that failed before naming
    them count as not started, as the answer line counts them. Datasets are counted once each: a dataset gathered
    twice is a rollup row per branch."""
    from cxgm_pipeline.monitor.views.answer import named_by_the_portal

    rows = []
    for a in attempts:
        rollup = rollups.get((a.stage, a.key))
        datasets = one_row_per_dataset(rollup) if rollup is not None else None
        counts = datasets["state"].value_counts() if datasets is not None else pd.Series(dtype=int)
        lost = named_by_the_portal((portals or {}).get((a.stage, a.key)), rollup) if rollup is not None else 0
        counts = counts.add(pd.Series({DatasetState.NOT_STARTED.value: lost}), fill_value=0)
        rows.append({
            "stage": a.stage, "attempt": a.key, "state": a.state.value, "start": a.start, "end": a.stop,
            "executions": ",".join(a.execution_names),
            "datasets": int(len(datasets)) + lost if datasets is not None else 0,
            **{s.value: int(counts.get(s.value, 0)) for s in DatasetState},
            "rolled_up": rollup is not None,
            "campaign": (rollup["campaign"].iloc[0] if rollup is not None and "campaign" in rollup.columns
                         and not rollup.empty else (a.key if rollup is not None else None)),
            "redrives": a.redrive_count,
            "outcome": (outcomes or {}).get((a.stage, a.key)) or a.outcome,
        })
    if not rows:
        return empty_frame(AttemptStates)
    return validate(AttemptStates, pd.DataFrame(rows).sort_values(["stage", "start"]))


def _outcome_words(outcome: object) -> str:
    return str(outcome).replace("_", " ") if isinstance(outcome, str) and outcome else "outcome not read yet"


def latest_markdown(states: pd.DataFrame, stages: list[str]) -> str:
    """Each stage's latest attempt in a line that wraps to Dagster's metadata pane: its execution's status and
    what the attempt achieved (two things: an execution SUCCEEDED may have migrated nothing), its datasets."""
    from cxgm_pipeline.monitor.views.failures import _md, fit_list

    if states.empty:
        return "No attempt in any stage."
    items = []
    for stage in [s for s in stages if s in set(states["stage"])]:
        of_stage = states[states["stage"] == stage].sort_values("start")
        r = of_stage.iloc[-1]
        # a running attempt's rollup holds the datasets listed so far, not its total (migration_report's answer
        # line estimates that): "130 datasets" beside "35 of ~1,624 ended" would read as a contradiction
        # of the datasets to migrate (skipped ones out), as the answer line counts them
        listed = " listed so far" if r["state"] == "running" else ""
        ended, total = r["succeeded"] + r["failed"], r["datasets"] - r["skipped"]
        counts = (f"{ended:,} of {total:,}{listed} ended, {r['failed']:,} failed" if r["rolled_up"]
                  else "not rolled up yet")
        # while it runs its outcome is its state: "execution running, running" says nothing twice
        outcome = _outcome_words(r["outcome"])
        said = f"execution {_md(r['state'])}" + (f", {_md(outcome)}" if outcome != r["state"] else "")
        items.append(f"**{_md(stage)}** {_md(r['attempt'])} ({len(of_stage)} attempt{'s' if len(of_stage) != 1 else ''}): {said}; "
                     f"{counts}")
    return fit_list(f"**{len(states)} attempts**; the latest of each stage:\n\n", items)


def outcomes_markdown(states: pd.DataFrame, stages: list[str]) -> str:
    """Per stage, how many attempts ended how (the attempt's outcome, not its execution's status)."""
    from cxgm_pipeline.monitor.views.failures import _md, fit_list

    if states.empty:
        return "No attempt in any stage."
    items = []
    for stage in [s for s in stages if s in set(states["stage"])]:
        counts = states.loc[states["stage"] == stage, "outcome"].map(_outcome_words).value_counts()
        items.append(f"**{_md(stage)}**: " + ", ".join(f"{_md(o)} {n}" for o, n in counts.items()))
    return fit_list("Attempts by outcome:\n\n", items)
