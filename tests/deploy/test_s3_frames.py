"""Frames on S3 with boto3 alone (no s3fs): against the emulator's S3 over HTTP, and a moto server with IAM on
for the denied case."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import urllib.request

import boto3
import pandas as pd
import pytest

from cxgm_pipeline.monitor.store.frames import FrameStore
from cxgm_pipeline.monitor.store.s3path import S3AccessError, S3Path
from tests.conftest import free_port


@pytest.fixture
def bucket(emulator) -> str:
    name = f"cxgm-frames-{time.time_ns()}"
    boto3.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return name


def keys(bucket: str) -> list[str]:
    return sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket).get("Contents", []))


def test_write_read_list_and_replace(bucket):
    store = FrameStore(f"s3://{bucket}/cxgm")
    assert store.attempts("dataset_rollup", "prod") == [] and not store.exists("dataset_rollup", "prod", "A")
    path = store.write(pd.DataFrame({"dataset_id": ["d1", "d2"], "state": ["failed", "succeeded"]}),
                       "dataset_rollup", "prod", "A")
    store.write(pd.DataFrame({"dataset_id": ["d3"], "state": ["running"]}), "dataset_rollup", "prod", "B")
    assert str(path) == f"s3://{bucket}/cxgm/dataset_rollup/prod/A.parquet"
    assert store.read("dataset_rollup", "prod", "A")["state"].tolist() == ["failed", "succeeded"]
    assert store.attempts("dataset_rollup", "prod") == ["A", "B"]
    assert store.modified("dataset_rollup", "prod", "A") > time.time() - 600
    assert store.modified("dataset_rollup", "prod", "nope") is None

    store.write(pd.DataFrame({"dataset_id": ["d1"], "state": ["succeeded"]}), "dataset_rollup", "prod", "A")
    assert store.read("dataset_rollup", "prod", "A")["state"].tolist() == ["succeeded"]
    # a replace is one PutObject over the same key: no temporary or marker object is ever left beside it
    assert keys(bucket) == ["cxgm/dataset_rollup/prod/A.parquet", "cxgm/dataset_rollup/prod/B.parquet"]
    # anyone reads the frames without cxgm: plain Parquet at the documented key
    body = boto3.client("s3").get_object(Bucket=bucket, Key="cxgm/dataset_rollup/prod/B.parquet")["Body"].read()
    assert pd.read_parquet(io.BytesIO(body))["dataset_id"].tolist() == ["d3"]
    with pytest.raises(FileNotFoundError, match="has not been materialized"):
        store.read("dataset_rollup", "prod", "C")


def test_a_write_that_fails_sends_nothing(bucket):
    store = FrameStore(f"s3://{bucket}/cxgm")
    store.write(pd.DataFrame({"a": [1, 2, 3]}), "dataset_rollup", "dev", "k")
    with pytest.raises(Exception, match="Conversion failed for column a"):  # pyarrow cannot type a bare object
        store.write(pd.DataFrame({"a": [object(), 9]}), "dataset_rollup", "dev", "k")
    assert store.read("dataset_rollup", "dev", "k")["a"].tolist() == [1, 2, 3]
    # the same rule for text files (re-run manifests): a writer that raises puts nothing
    target = store.report_dir("dev", "k") / "rerun.csv"
    with pytest.raises(RuntimeError):
        with target.open("w") as fh:
            fh.write("dataset_id\n")
            raise RuntimeError("cut")
    assert not target.exists()


def test_reports_and_rerun_files_go_to_the_same_prefix(bucket):
    from cxgm_pipeline.monitor.report.document import write_report
    from cxgm_pipeline.monitor.frames.rerun_manifest import write_manifest

    store = FrameStore(f"s3://{bucket}/cxgm")
    folder = store.report_dir("prod", "A")
    index = write_report(folder, lambda images: "# prod A\n" + "".join(f"![{n}]({u})" for n, u in images.items()),
                         {"states.png": b"\x89PNG fake"}, "cxgm prod A")
    write_manifest(pd.DataFrame({"dataset_id": ["d1"]}), folder / "rerun.csv")
    assert index.read_text().startswith("# prod A") and folder.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "index.md", "rerun.csv", "states.png"]
    assert (folder / "rerun.csv").read_text() == "dataset_id\nd1\n"
    assert [p.name for p in store.root().iterdir()] == ["reports"]  # one level: folders are key prefixes


def test_a_missing_bucket_says_what_to_fix(emulator):
    store = FrameStore("s3://no-such-cxgm-bucket/cxgm")
    with pytest.raises(S3AccessError, match="bucket 'no-such-cxgm-bucket' does not exist: create it"):
        store.write(pd.DataFrame({"a": [1]}), "dataset_rollup", "dev", "k")
    with pytest.raises(S3AccessError, match="does not exist"):
        store.attempts("dataset_rollup", "dev")


def test_not_an_s3_address():
    with pytest.raises(ValueError, match="not an s3://bucket/key address"):
        S3Path("s3:///key")


# --- a denied bucket: a moto server with IAM enforcement on ---------------------------------------------


@pytest.fixture
def moto_with_iam(tmp_path):
    """A moto server of its own (IAM enforcement is process-wide in moto, so never the shared emulator's)."""
    port = free_port()
    log = (tmp_path / "moto.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"moto server did not start: {(tmp_path / 'moto.log').read_text()}") from None
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_a_denied_bucket_names_the_actions_the_role_needs(moto_with_iam, monkeypatch):
    admin = {"endpoint_url": moto_with_iam, "region_name": "us-west-2", "aws_access_key_id": "admin",
             "aws_secret_access_key": "admin"}
    s3, iam = boto3.client("s3", **admin), boto3.client("iam", **admin)
    s3.create_bucket(Bucket="frames", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    buffer = io.BytesIO()
    pd.DataFrame({"a": [1]}).to_parquet(buffer, index=False)
    s3.put_object(Bucket="frames", Key="cxgm/dataset_rollup/dev/k.parquet", Body=buffer.getvalue())
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read-frames", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": ["arn:aws:s3:::frames", "arn:aws:s3:::frames/*"]}]}))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    # from here on moto checks every request against the caller's IAM policies
    urllib.request.urlopen(urllib.request.Request(moto_with_iam + "/moto-api/reset-auth", data=b"0", method="POST",
                                                  headers={"Content-Type": "text/plain"}))

    for name, value in {"AWS_ENDPOINT_URL": moto_with_iam, "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"], "AWS_DEFAULT_REGION": "us-west-2"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("CXGM_DATA_PROFILE", raising=False)
    store = FrameStore("s3://frames/cxgm")
    assert store.read("dataset_rollup", "dev", "k")["a"].tolist() == [1]  # reading is allowed...
    with pytest.raises(S3AccessError) as denied:  # ...writing is not
        store.write(pd.DataFrame({"a": [2]}), "dataset_rollup", "dev", "k")
    assert str(denied.value) == (
        "s3://frames/cxgm/dataset_rollup/dev/k.parquet (put_object): access denied (AccessDenied): the role running "
        "cxgm needs s3:GetObject, s3:PutObject, s3:ListBucket on arn:aws:s3:::frames and its keys (the IAM policy in "
        "docs/security.md)")
    assert store.read("dataset_rollup", "dev", "k")["a"].tolist() == [1]
