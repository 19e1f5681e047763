"""The schemas' column types take their fast path only where pandera's own would change nothing, and give
pandera's answer (coercion, or a SchemaError naming the column and the bad values) everywhere else."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from cxgm_pipeline.schemas.dtypes import Text, UtcTime


class Checked(pa.DataFrameModel):
    name: Series[Text] = pa.Field(nullable=True)
    at: Series[UtcTime] = pa.Field(nullable=True)

    class Config:
        strict = True
        coerce = True


class Strict(pa.DataFrameModel):
    name: Series[Text] = pa.Field(nullable=True)


class Plain(pa.DataFrameModel):
    name: Series[str] = pa.Field(nullable=True)
    at: Series[pd.DatetimeTZDtype] = pa.Field(nullable=True, dtype_kwargs={"unit": "ns", "tz": "UTC"})

    class Config:
        strict = True
        coerce = True


def _same_as_pandera(frame: pd.DataFrame) -> pd.DataFrame:
    ours, theirs = Checked.validate(frame.copy()), Plain.validate(frame.copy())
    pd.testing.assert_frame_equal(ours, theirs)
    return ours


def test_strings_and_utc_times_pass_unchanged():
    at = pd.Series(pd.to_datetime([1_700_000_000_000, None], unit="ms", utc=True))
    frame = pd.DataFrame({"name": ["a", None], "at": at})
    out = _same_as_pandera(frame)
    assert out["name"].tolist() == ["a", None] and str(out["at"].dtype) == "datetime64[ns, UTC]"


def test_the_fast_path_hands_back_the_column_itself():
    text = pd.Series(["a", None, "b"], dtype=object)
    at = pd.Series(pd.to_datetime([1_700_000_000_000, None], unit="ms", utc=True))
    assert Text().coerce(text) is text and Text().check(Text(), text) is True
    assert UtcTime().coerce(at) is at
    assert Text().coerce(pd.Series([1, "a"], dtype=object)) is not None  # others: pandera's own path (below)


def test_other_values_are_coerced_as_pandera_would():
    local = timezone(timedelta(hours=2))
    frame = pd.DataFrame({"name": [1, None, "x"],
                          "at": [datetime(2026, 11, 28, 12, tzinfo=local), None, datetime(2026, 11, 28, 10, tzinfo=local)]})
    out = _same_as_pandera(frame)
    assert out["name"].tolist() == ["1", None, "x"]
    assert out["at"][0] == pd.Timestamp("2026-11-28 10:00", tz="UTC")
    # a column of nothing but NaN (a frame of None cells read back as floats) becomes an object column of NaN
    assert str(_same_as_pandera(pd.DataFrame({"name": [np.nan, np.nan], "at": [None, None]}))["name"].dtype) == "object"


def test_a_non_string_without_coercion_is_a_schema_error_naming_it():
    with pytest.raises(pandera.errors.SchemaError, match=r"'name'.*str") as caught:
        Strict.validate(pd.DataFrame({"name": ["ok", 7]}))
    assert "7" in str(caught.value)
