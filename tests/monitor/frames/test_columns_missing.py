"""One notion of 'no value': None, NaN, NaT and pd.NA read as None; everything else as itself."""

import math

import numpy as np
import pandas as pd
import pytest

from cxgm_pipeline.monitor.frames.columns_missing import none_if_missing

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value", [None, math.nan, np.nan, pd.NaT, pd.NA, np.datetime64("NaT")])
def test_every_missing_value_is_none(value):
    assert none_if_missing(value) is None


@pytest.mark.parametrize("value", ["", "x", 0, 0.0, False, [], {}, [None], pd.Timestamp("2026-01-01")])
def test_a_present_value_is_itself(value):
    assert none_if_missing(value) is value
