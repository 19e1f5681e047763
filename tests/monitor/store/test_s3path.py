"""S3 addresses with pathlib's names (no call to S3: tests/deploy/test_s3_frames.py reads and writes)."""

import pytest

from cxgm_pipeline.monitor.store.s3path import S3Path

pytestmark = pytest.mark.unit


def test_an_address_splits_into_bucket_and_key():
    path = S3Path("s3://frames/prefix/dataset_rollup/")
    assert (path.bucket, path.key) == ("frames", "prefix/dataset_rollup")
    assert str(path) == "s3://frames/prefix/dataset_rollup" and str(S3Path("s3://frames")) == "s3://frames"


@pytest.mark.parametrize("url", ["frames/prefix", "s3://", "s3:///key", "/tmp/x"])
def test_anything_but_an_s3_address_is_refused(url):
    with pytest.raises(ValueError, match="s3://bucket/key"):
        S3Path(url)


def test_names_parents_and_joins_as_pathlib_has_them():
    path = S3Path("s3://frames/base") / "dataset_rollup" / "prod" / "A.parquet"
    assert path == S3Path("s3://frames/base/dataset_rollup/prod/A.parquet")
    assert path.name == "A.parquet" and path.parent == S3Path("s3://frames/base/dataset_rollup/prod")
    assert S3Path("s3://frames/top").parent == S3Path("s3://frames") and S3Path("s3://frames/x") / "" == S3Path("s3://frames/x")
    assert len({path, S3Path(str(path))}) == 1 and path != str(path)
