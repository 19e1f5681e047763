"""Every attempt's state and dataset counts, from AWS (state) and the stored rollups (counts)."""

from __future__ import annotations

import pandas as pd

from cxgm_pipeline.monitor.attempts.listing import Attempt
from cxgm_pipeline.schemas import AttemptStates, empty_frame, validate
from cxgm_pipeline.vocabulary import DatasetState


def attempt_states(attempts: list[Attempt], rollups: dict[tuple[str, str], pd.DataFrame],
                   outcomes: dict[tuple[str, str], str] | None = None) -> pd.DataFrame:
    """`rollups`: (stage, attempt) -> stored dataset_rollup (missing: not rolled up yet, counts 0); `outcomes`:
    (stage, attempt) -> its AttemptOutcome (missing: the Attempt's own, else unknown until its frames are read)."""
    rows = []
    for a in attempts:
        rollup = rollups.get((a.stage, a.key))
        counts = rollup["state"].value_counts() if rollup is not None else pd.Series(dtype=int)
        rows.append({
            "stage": a.stage, "attempt": a.key, "state": a.state.value, "start": a.start, "end": a.stop,
            "executions": ",".join(a.execution_names),
            "datasets": int(len(rollup)) if rollup is not None else 0,
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
