"""A portable bundle of one attempt: its frames as Parquet, the report, and a manifest with versions, row
counts and SHA-256 checksums. Import verifies every file before anything is stored."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd

from cxgm_pipeline.monitor.report import attempt_figures, attempt_markdown
from cxgm_pipeline.monitor.frame_store import FrameStoreOps

FORMAT = "cxgm-bundle/1"
MANIFEST = "manifest.json"


class BundleError(RuntimeError):
    """The bundle is unusable; the message names the file."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _versions() -> dict[str, str]:
    out = {}
    for name in ("cxgm", "dagster", "pandas", "pyarrow", "pandera"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def export_bundle(stage: str, attempt: str, frames: dict[str, pd.DataFrame], path: Path) -> dict:
    files: dict[str, bytes] = {f"frames/{name}.parquet": _parquet(df) for name, df in frames.items()}
    figures = attempt_figures(frames["enriched_jobs"], frames["dataset_rollup"])
    files.update({f"report/{name}": png for name, png in figures.items()})
    files["report/index.md"] = attempt_markdown(stage, attempt, frames["enriched_jobs"], frames["dataset_rollup"],
                                                frames["error_signatures"], {n: n for n in figures}).encode()
    manifest = {
        "format": FORMAT, "stage": stage, "attempt": attempt,
        "created_at": datetime.now(timezone.utc).isoformat(), "versions": _versions(),
        "files": {name: {"sha256": _sha(data), "bytes": len(data)} for name, data in files.items()},
        "rows": {name: len(df) for name, df in frames.items()},
    }
    files[MANIFEST] = json.dumps(manifest, indent=1).encode()
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(datetime.now().timestamp())
            tar.addfile(info, io.BytesIO(data))
    return manifest


def read_bundle(path: Path) -> tuple[dict, dict[str, bytes]]:
    """(manifest, files), every checksum verified; BundleError naming what is wrong otherwise."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if not member.isfile() or member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise BundleError(f"{path}: unexpected entry {member.name!r}")
                files[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise BundleError(f"{path} is truncated or not a cxgm bundle (.tar.gz): {exc}") from None
    if MANIFEST not in files:
        raise BundleError(f"{path}: no {MANIFEST}")
    manifest = json.loads(files.pop(MANIFEST))
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT}")
    for name, entry in manifest["files"].items():
        if name not in files:
            raise BundleError(f"{path}: {name} is listed in the manifest but missing (truncated bundle?)")
        if _sha(files[name]) != entry["sha256"]:
            raise BundleError(f"{path}: checksum mismatch for {name}: the bundle was altered or damaged")
    extra = set(files) - set(manifest["files"])
    if extra:
        raise BundleError(f"{path}: files not in the manifest: {', '.join(sorted(extra))}")
    return manifest, files


def import_bundle(path: Path, store: FrameStoreOps) -> dict:
    """Verifies, then stores the frames under (stage, attempt) and marks the attempt imported."""
    manifest, files = read_bundle(path)
    stage, attempt = manifest["stage"], manifest["attempt"]
    for name, data in files.items():
        if name.startswith("frames/"):
            frame = pd.read_parquet(io.BytesIO(data))
            store.write(frame, name[len("frames/") : -len(".parquet")], stage, attempt)
        elif name.startswith("report/"):
            target = store.report_dir(stage, attempt) / name[len("report/") :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    marker = store.root() / "imported" / stage / f"{attempt}.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({**manifest, "imported_from": str(path)}))
    return manifest
