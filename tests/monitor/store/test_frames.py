"""The frame store's layout on a local folder: where each frame goes, atomic writes, what exists."""

import pandas as pd
import pytest

from cxgm_pipeline.monitor.store.frames import FrameStore
from cxgm_pipeline.monitor.store.s3path import S3Path

pytestmark = pytest.mark.unit

FRAME = pd.DataFrame({"dataset_id": ["d1", "d2", "d3"], "state": ["failed", "succeeded", "skipped"]})


def test_partitioned_and_unpartitioned_frames_have_their_documented_paths(tmp_path):
    store = FrameStore(str(tmp_path))
    assert store.path("dataset_rollup", "prod", "A") == tmp_path / "dataset_rollup" / "prod" / "A.parquet"
    assert store.path("duration_deltas") == tmp_path / "duration_deltas.parquet"
    assert store.report_dir("prod", "A") == tmp_path / "reports" / "prod" / "A"
    assert FrameStore("s3://b/p").path("alerts") == S3Path("s3://b/p/alerts.parquet")


def test_a_written_frame_reads_back_and_leaves_no_temporary_file(tmp_path):
    store = FrameStore(str(tmp_path))
    assert not store.exists("dataset_rollup", "prod", "A") and store.modified("dataset_rollup", "prod", "A") is None
    store.write(FRAME, "dataset_rollup", "prod", "A")
    store.write(FRAME.head(1), "dataset_rollup", "prod", "B")
    pd.testing.assert_frame_equal(store.read("dataset_rollup", "prod", "A"), FRAME)
    assert store.exists("dataset_rollup", "prod", "A") and store.modified("dataset_rollup", "prod", "A") > 0
    assert store.attempts("dataset_rollup", "prod") == ["A", "B"] and store.attempts("dataset_rollup", "dev") == []
    assert [p.name for p in (tmp_path / "dataset_rollup" / "prod").iterdir() if p.name.startswith(".")] == []


def test_reading_a_frame_never_materialized_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset_rollup prod/A has not been materialized"):
        FrameStore(str(tmp_path)).read("dataset_rollup", "prod", "A")


def test_the_base_defaults_to_cxgm_data(monkeypatch, tmp_path):
    monkeypatch.setenv("CXGM_DATA", str(tmp_path))
    assert FrameStore().root() == tmp_path
