"""One notion of 'no value' for frame cells: None, NaN, NaT and pd.NA all read as None."""

import pandas as pd


def none_if_missing(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if not isinstance(value, (str, list, dict)) and pd.isna(value):
        return None
    return value
