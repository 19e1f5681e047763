"""Epoch numbers <-> UTC timestamp columns, exactly, NaN or None where unset."""

import pandas as pd
import pytest

from cxgm_pipeline.monitor.frames.columns_epoch import epoch_to_utc, utc_to_epoch_us

pytestmark = pytest.mark.unit


def test_epoch_milliseconds_become_utc_timestamps_and_none_becomes_nat():
    stamps = epoch_to_utc(pd.Series([1_764_547_200_123, None, 0], index=[5, 6, 7]), "ms")
    assert str(stamps.dtype) == "datetime64[ns, UTC]" and list(stamps.index) == [5, 6, 7]
    assert stamps.iloc[0] == pd.Timestamp("2025-12-01 00:00:00.123", tz="UTC")
    assert pd.isna(stamps.iloc[1]) and stamps.iloc[2] == pd.Timestamp("1970-01-01", tz="UTC")


def test_epoch_numbers_convert_exactly_both_ways():
    ms = pd.Series([1_764_330_000_123, None, 0])
    stamps = epoch_to_utc(ms, "ms")
    assert stamps.tolist()[0] == pd.Timestamp("2025-11-28 11:40:00.123", tz="UTC") and pd.isna(stamps[1])
    assert stamps[2] == pd.Timestamp(0, tz="UTC")
    assert utc_to_epoch_us(stamps) == [1_764_330_000_123_000, None, 0]
    micros = pd.Series([1_764_330_000_123_456, None], dtype=object)
    assert utc_to_epoch_us(epoch_to_utc(micros, "us")) == [1_764_330_000_123_456, None]
    assert epoch_to_utc(pd.Series([None, None], dtype=object), "us").isna().all()
    # a column of another unit (a parquet file of microseconds, say) gives the same microseconds
    assert utc_to_epoch_us(stamps.dt.as_unit("us")) == [1_764_330_000_123_000, None, 0]
    with pytest.raises(pd.errors.OutOfBoundsDatetime):  # never a silent NaT
        epoch_to_utc(pd.Series([1e20, 5.0]), "ms")
    with pytest.raises(pd.errors.OutOfBoundsDatetime):
        epoch_to_utc(pd.Series([10**15]), "ms")  # year 33658
