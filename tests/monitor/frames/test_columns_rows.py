"""A frame's rows as dicts, timestamps in each of the three modes."""

import pandas as pd
import pytest

from cxgm_pipeline.monitor.frames.columns_rows import row_dicts

pytestmark = pytest.mark.unit

FRAME = pd.DataFrame({"job_id": ["a", "b", "c"], "attempts": [1, 2, 3],
                      "stopped_at": pd.to_datetime(["2026-12-01 00:00:01", None, "2026-12-01 00:00:02.5"], utc=True, format="ISO8601")})


def test_timestamps_as_timestamps_with_nat_where_missing():
    rows = row_dicts(FRAME)
    assert rows[0] == {"job_id": "a", "attempts": 1, "stopped_at": pd.Timestamp("2026-12-01 00:00:01", tz="UTC")}
    assert rows[1]["stopped_at"] is pd.NaT


def test_timestamps_as_epoch_microseconds_with_none_where_missing():
    start = pd.Timestamp("2026-12-01", tz="UTC").value // 1000
    assert [r["stopped_at"] for r in row_dicts(FRAME, times="us")] == [start + 1_000_000, None, start + 2_500_000]
    assert all(type(r["attempts"]) is int for r in row_dicts(FRAME, times="us")), "plain Python ints"


def test_timestamps_left_out_and_an_empty_frame_has_no_rows():
    assert row_dicts(FRAME, times="drop") == [{"job_id": "a", "attempts": 1}, {"job_id": "b", "attempts": 2},
                                              {"job_id": "c", "attempts": 3}]
    assert row_dicts(FRAME.iloc[0:0]) == []


def test_row_dicts_in_each_time_mode():
    at = pd.Series(pd.to_datetime([1_700_000_000_123, None], unit="ms", utc=True))
    frame = pd.DataFrame({"id": ["a", "b"], "n": [1.5, float("nan")], "at": at})
    boxed = row_dicts(frame)
    assert boxed[0] == {"id": "a", "n": 1.5, "at": pd.Timestamp("2023-11-14 22:13:20.123", tz="UTC")}
    assert pd.isna(boxed[1]["n"]) and pd.isna(boxed[1]["at"])
    assert [r["at"] for r in row_dicts(frame, times="us")] == [1_700_000_000_123_000, None]
    dropped = row_dicts(frame, times="drop")
    assert dropped[0] == {"id": "a", "n": 1.5} and set(dropped[1]) == {"id", "n"} and pd.isna(dropped[1]["n"])
    twice = pd.DataFrame([[1, 2]], columns=["a", "a"])  # as itertuples did: the last column of a name wins
    assert row_dicts(twice) == [{"a": 2}]
