"""Where frames live: Parquet files in a documented layout, on a local folder or s3://bucket/prefix.

    <base>/<asset>/<stage>/<attempt>.parquet   partitioned assets
    <base>/<asset>.parquet                      unpartitioned assets (duration_deltas)
    <base>/reports/<stage>/<attempt>/           migration report (index.md, index.html, *.png)
    <base>/reports/compare/<base>__<other>/     comparison report

Local: a write goes to a temporary file, fsync, rename (atomic). S3 (`s3path.S3Path`, boto3 alone, no s3fs): a
write is one PutObject (atomic: readers see the old object or the new one).

Anyone can read them with pandas or DuckDB without Dagster, e.g.
`duckdb.sql("select * from '.cxgm/data/dataset_rollup/prod/*.parquet'")`.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pandas as pd

from cxgm_pipeline.monitor.memory import release_freed_memory
from cxgm_pipeline.monitor.store.s3path import SCHEME, S3Path

StorePath = Path | S3Path

DEFAULT_BASE = ".cxgm/data"


def default_base() -> str:
    return os.environ.get("CXGM_DATA", DEFAULT_BASE)


class FrameStoreOps:
    """Reads and writes frames by (asset, stage, attempt); the IO manager, CLI and reports share it.
    Needs a `base_path` attribute: `FrameStore` (plain) or `FrameStoreResource` (Dagster) gives it."""

    base_path: str

    def root(self) -> StorePath:
        base = str(self.base_path)
        return S3Path(base) if base.startswith(SCHEME) else Path(base)

    def path(self, asset: str, stage: str | None = None, attempt: str | None = None) -> StorePath:
        if stage is None:
            return self.root() / f"{asset}.parquet"
        return self.root() / asset / stage / f"{attempt}.parquet"

    def write(self, df: pd.DataFrame, asset: str, stage: str | None = None, attempt: str | None = None) -> StorePath:
        """Atomic: a reader sees the old file or the new one, never a part (local: temp file, fsync, rename;
        S3: one PutObject of the whole file is atomic already)."""
        path = self.path(asset, stage, attempt)
        try:
            return self._write(df, path)
        finally:
            release_freed_memory()  # what Arrow used for the file, before the next write (monitor/memory.py)

    def _write(self, df: pd.DataFrame, path: StorePath) -> StorePath:
        if isinstance(path, S3Path):
            path.write_bytes(df.to_parquet(index=False))  # serialized first: a failure sends nothing
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        local = path
        fd, tmp = tempfile.mkstemp(prefix=f".{local.name}.", dir=local.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                df.to_parquet(fh, index=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, local)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def read(self, asset: str, stage: str | None = None, attempt: str | None = None,
             columns: list[str] | None = None) -> pd.DataFrame:
        """`columns`: only these (all when None): a check of one column need not build the whole frame."""
        path = self.path(asset, stage, attempt)
        try:
            data = path.read_bytes()  # one GetObject on S3, no HeadObject before it
        except FileNotFoundError:
            where = f"{stage}/{attempt}" if stage else "(unpartitioned)"
            raise FileNotFoundError(f"{asset} {where} has not been materialized: no {path}") from None
        return pd.read_parquet(io.BytesIO(data), columns=columns)

    def exists(self, asset: str, stage: str | None = None, attempt: str | None = None) -> bool:
        return self.path(asset, stage, attempt).exists()

    def modified(self, asset: str, stage: str, attempt: str) -> float | None:
        path = self.path(asset, stage, attempt)
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            return None

    def attempts(self, asset: str, stage: str) -> list[str]:
        folder = self.root() / asset / stage
        if not folder.exists():
            return []
        return sorted(p.name[: -len(".parquet")] for p in folder.iterdir() if p.name.endswith(".parquet"))

    def report_dir(self, stage: str, attempt: str) -> StorePath:
        return self.root() / "reports" / stage / attempt



class FrameStore(FrameStoreOps):
    def __init__(self, base_path: str | None = None):
        self.base_path = base_path or default_base()
