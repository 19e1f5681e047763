"""Epoch numbers <-> UTC timestamp columns, exactly and without pandas' float path.

AWS answers times as epoch milliseconds; the rollups' per-row logic compares epoch microseconds (plain ints: a
10,000-job frame's Timestamp objects were a tenth of the rollup's time). Both fit a float64 exactly, which is what
a frame column of numbers and None becomes. `pd.to_datetime(floats, unit=...)` is not used: with a NaN present,
pandas 2.x rounds an uninitialised buffer under `errstate(over="raise")` and raises FloatingPointError when that
memory happens to hold a huge number (pandas `cast_from_unit_vectorized`; it failed one CI run of several).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def epoch_to_utc(values: pd.Series, unit: str = "ms") -> pd.Series:
    """Epoch numbers in `unit` ("ms" or "us"; None/NaN where unset) as a `datetime64[ns, UTC]` column. AWS's are
    whole numbers; a fraction of the unit is dropped. A value beyond what a timestamp holds (years 1677-2262)
    raises pandas' OutOfBoundsDatetime, which a fetch reports as an answer it did not expect."""
    numbers = pd.to_numeric(values).to_numpy(dtype="float64", na_value=np.nan)
    unset = np.isnan(numbers)
    if (np.abs(numbers[~unset]) >= 2.0**63).any():  # past int64: the cast below would wrap into NaT
        raise pd.errors.OutOfBoundsDatetime(f"epoch {unit} value {numbers[~unset].max():.0f} is no timestamp")
    stamps = np.where(unset, 0, numbers).astype("int64").view(f"datetime64[{unit}]")
    stamps[unset] = np.datetime64("NaT")
    return pd.Series(stamps, index=values.index).astype("datetime64[ns]").dt.tz_localize("UTC")


def utc_to_epoch_us(column: pd.Series) -> list[int | None]:
    """A timestamp column as epoch microseconds, None where missing (Python ints, for per-row logic)."""
    micros = column.dt.as_unit("us").array.asi8.tolist()  # whatever unit the column holds (ns, us, ...)
    if not column.hasnans:
        return micros
    return [None if missing else us for us, missing in zip(micros, column.isna().tolist())]
