"""Bundles come from others: a bundle built to escape the store, to overwrite live data, to exhaust memory or
to pass as someone else's is refused before anything is written (issue: trustworthy under attack)."""

import hashlib
import io
import json
import tarfile

import pandas as pd
import pytest
from typer.testing import CliRunner

from cxgm_pipeline.cli import app
from cxgm_pipeline.monitor.store.bundle import MAX_MEMBER_BYTES

runner = CliRunner()


def bundle(path, manifest_overrides=None, extra=None, frames=None, drop_files=False):
    frames = frames if frames is not None else {"frames/dataset_rollup.parquet": _parquet()}
    files = {**frames, **(extra or {})}
    manifest = {"format": "cxgm-bundle/1", "stage": "prod", "attempt": "ATTEMPT_2", "created_at": "now",
                "files": {n: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)} for n, d in files.items()},
                "rows": {}}
    manifest.update(manifest_overrides or {})
    if drop_files:
        manifest.pop("files")
    files["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _parquet() -> bytes:
    buf = io.BytesIO()
    pd.DataFrame({"dataset_id": ["d1"], "state": ["failed"]}).to_parquet(buf)
    return buf.getvalue()


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("CXGM_DATA", str(tmp_path / "store"))
    monkeypatch.delenv("CXGM_BUNDLE_KEY", raising=False)
    return tmp_path / "store"


def refused(path) -> str:
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize("overrides,why", [
    ({"attempt": "../../pwn/x"}, "not an attempt key"),
    ({"attempt": "/etc/x"}, "not an attempt key"),
    ({"stage": "../x"}, "not a configured stage"),
    ({"attempt": "a|b"}, "not an attempt key"),
])
def test_paths_from_the_manifest_never_leave_the_store(store, tmp_path, overrides, why):
    assert why in refused(bundle(tmp_path / "b.tar.gz", overrides))
    assert not (tmp_path / "pwn").exists() and not store.exists()


def test_a_member_that_is_not_parquet_is_refused_before_anything_is_written(store, tmp_path):
    frames = {"frames/dataset_rollup.parquet": _parquet(), "frames/migration_jobs.parquet": b"not parquet"}
    assert "not a Parquet frame" in refused(bundle(tmp_path / "b.tar.gz", frames=frames))
    assert not any(store.rglob("*.parquet")) if store.exists() else True


def test_unknown_members_manifest_without_files_and_oversized_members_are_refused(store, tmp_path):
    assert "unexpected member" in refused(bundle(tmp_path / "a.tar.gz", extra={"frames/evil.parquet": _parquet()}))
    assert "lists no files" in refused(bundle(tmp_path / "b.tar.gz", drop_files=True))
    big = {"frames/dataset_rollup.parquet": b"\0" * (MAX_MEMBER_BYTES + 1)}
    assert "size cap" in refused(bundle(tmp_path / "c.tar.gz", frames=big))


def test_an_import_never_overwrites_live_frames_and_live_data_wins(store, tmp_path):
    live = store / "dataset_rollup" / "prod" / "ATTEMPT_2.parquet"
    live.parent.mkdir(parents=True)
    live.write_bytes(b"live")
    result = runner.invoke(app, ["import", str(bundle(tmp_path / "b.tar.gz"))])
    assert result.exit_code == 0, result.output
    assert live.read_bytes() == b"live"
    assert (store / "imported" / "frames" / "dataset_rollup" / "prod" / "ATTEMPT_2.parquet").exists()


def test_with_a_key_only_signed_bundles_are_accepted(store, tmp_path, monkeypatch):
    monkeypatch.setenv("CXGM_BUNDLE_KEY", "team-secret")
    assert "signature does not verify" in refused(bundle(tmp_path / "b.tar.gz"))  # re-hashed, unsigned


def test_a_bundle_signed_with_the_key_is_accepted(store, tmp_path, monkeypatch):
    import hmac

    path = bundle(tmp_path / "b.tar.gz")
    with tarfile.open(path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar}
    files["manifest.sig"] = hmac.new(b"team-secret", files["manifest.json"], hashlib.sha256).hexdigest().encode()
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    monkeypatch.setenv("CXGM_BUNDLE_KEY", "team-secret")
    result = runner.invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output
