"""A portable bundle of one attempt: its frames as Parquet, the report, and a manifest with versions, row
counts and SHA-256 checksums.

A bundle comes from someone else: import trusts nothing in it. The stage must be a configured one and the
attempt a plain key; every member is size-capped, checksummed and parsed before anything is written; it is
written into its own namespace (`imported/`), never over Dagster's frames, all or nothing. The checksums
prove the bundle is whole, not who made it: with `CXGM_BUNDLE_KEY` set, export signs the manifest (HMAC-SHA256)
and import refuses a bundle whose signature does not verify."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd


from cxgm_pipeline.monitor.attempts.ref import AttemptRef
from cxgm_pipeline.monitor.report.document import AttemptReport, write_attempt_report
from cxgm_pipeline.monitor.store.frames import FrameStoreOps

FORMAT = "cxgm-bundle/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
KEY_VAR = "CXGM_BUNDLE_KEY"
MAX_MEMBERS = 64
MAX_MEMBER_BYTES = 256 * 2**20  # a frame of a 20,000-dataset attempt is a few MB
MAX_TOTAL_BYTES = 1024 * 2**20
KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")  # an attempt key: no path, no partition separators
REPORT_FILE = re.compile(r"^report/[A-Za-z0-9_-]+\.(md|html|png|csv|json)$")


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
    with tempfile.TemporaryDirectory() as tmp:  # the report as `cxgm report` writes it: HTML, PNGs, rerun.csv/json
        write_attempt_report(Path(tmp), AttemptReport(AttemptRef(stage, attempt), frames))
        files.update({f"report/{p.name}": p.read_bytes() for p in sorted(Path(tmp).iterdir())})
    manifest = {
        "format": FORMAT, "stage": stage, "attempt": attempt,
        "created_at": datetime.now(timezone.utc).isoformat(), "versions": _versions(),
        "files": {name: {"sha256": _sha(data), "bytes": len(data)} for name, data in files.items()},
        "rows": {name: len(df) for name, df in frames.items()},
    }
    files[MANIFEST] = json.dumps(manifest, indent=1).encode()
    key = os.environ.get(KEY_VAR)
    if key:
        files[SIGNATURE] = hmac.new(key.encode(), files[MANIFEST], hashlib.sha256).hexdigest().encode()
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(datetime.now().timestamp())
            tar.addfile(info, io.BytesIO(data))
    return manifest


def read_bundle(path: Path) -> tuple[dict, dict[str, bytes]]:
    """(manifest, files), every checksum verified; BundleError naming what is wrong otherwise."""
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if not member.isfile() or member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise BundleError(f"{path}: unexpected entry {member.name!r}")
                if len(files) >= MAX_MEMBERS:
                    raise BundleError(f"{path}: more than {MAX_MEMBERS} members")
                data = tar.extractfile(member).read(MAX_MEMBER_BYTES + 1)  # never more than the cap, whatever it claims
                total += len(data)
                if len(data) > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                    raise BundleError(f"{path}: {member.name} exceeds the size cap ({MAX_MEMBER_BYTES // 2**20} MB a "
                                      f"member, {MAX_TOTAL_BYTES // 2**20} MB in all)")
                files[member.name] = data
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise BundleError(f"{path} is truncated or not a cxgm bundle (.tar.gz): {exc}") from None
    if MANIFEST not in files:
        raise BundleError(f"{path}: no {MANIFEST}")
    raw_manifest = files.pop(MANIFEST)
    signature = files.pop(SIGNATURE, None)
    key = os.environ.get(KEY_VAR)
    if key:
        expected = hmac.new(key.encode(), raw_manifest, hashlib.sha256).hexdigest().encode()
        if signature is None or not hmac.compare_digest(signature.strip(), expected):
            raise BundleError(f"{path}: the manifest's signature does not verify with {KEY_VAR}: not from a holder of the key")
    try:
        manifest = json.loads(raw_manifest)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BundleError(f"{path}: {MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: format {manifest.get('format') if isinstance(manifest, dict) else None!r}, expected {FORMAT}")
    if not isinstance(manifest.get("files"), dict) or not manifest["files"]:
        raise BundleError(f"{path}: the manifest lists no files")
    _check_names(path, manifest)
    for name, entry in manifest["files"].items():
        if name not in files:
            raise BundleError(f"{path}: {name} is listed in the manifest but missing (truncated bundle?)")
        if not isinstance(entry, dict) or _sha(files[name]) != entry.get("sha256"):
            raise BundleError(f"{path}: checksum mismatch for {name}: the bundle was altered or damaged")
    extra = set(files) - set(manifest["files"])
    if extra:
        raise BundleError(f"{path}: files not in the manifest: {', '.join(sorted(extra))}")
    return manifest, files


def _check_names(path: Path, manifest: dict) -> None:
    """Stage, attempt and every member name are checked before any of them becomes part of a path."""
    from cxgm_pipeline.config import get_config
    from cxgm_pipeline.monitor.chain import FRAMES

    stage, attempt = manifest.get("stage"), manifest.get("attempt")
    stages = get_config().stage_names
    if stage not in stages:
        raise BundleError(f"{path}: stage {stage!r} is not a configured stage ({', '.join(stages)})")
    if not isinstance(attempt, str) or not KEY_PATTERN.match(attempt):
        raise BundleError(f"{path}: attempt {attempt!r} is not an attempt key (letters, digits, _ . -)")
    for name in manifest["files"]:
        frame = name[len("frames/"):-len(".parquet")] if name.startswith("frames/") and name.endswith(".parquet") else None
        if frame not in FRAMES and not REPORT_FILE.match(name):
            raise BundleError(f"{path}: unexpected member {name!r}")


def imported_store(store: FrameStoreOps) -> FrameStoreOps:
    """Imported frames live apart from Dagster's: `<store>/imported/frames/<asset>/<stage>/<attempt>.parquet`."""
    from cxgm_pipeline.monitor.store.frames import FrameStore

    return FrameStore(str(store.root() / "imported" / "frames"))


def import_marker(store: FrameStoreOps, stage: str, attempt: str):
    return store.root() / "imported" / "markers" / stage / f"{attempt}.json"


def import_bundle(path: Path, store: FrameStoreOps) -> dict:
    """Verifies and parses everything, then stores the frames and report in the imported namespace, all or
    nothing (staged in a temporary folder, moved into place last)."""
    manifest, files = read_bundle(path)
    stage, attempt = manifest["stage"], manifest["attempt"]
    frames = {}
    for name, data in files.items():
        if name.startswith("frames/"):
            try:
                frames[name[len("frames/"):-len(".parquet")]] = pd.read_parquet(io.BytesIO(data))
            except Exception as exc:  # any parse failure of a foreign file is a refusal, before anything is written
                raise BundleError(f"{path}: {name} is not a Parquet frame ({type(exc).__name__})") from None
    target = imported_store(store)
    staging = Path(tempfile.mkdtemp(prefix="cxgm-import-"))
    try:
        from cxgm_pipeline.monitor.store.frames import FrameStore

        staged = FrameStore(str(staging))
        for name, frame in frames.items():
            staged.write(frame, name, stage, attempt)
        for name, data in files.items():
            if name.startswith("report/"):
                out = staged.report_dir(stage, attempt) / name[len("report/"):]
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
        for name in frames:
            target.write(staged.read(name, stage, attempt), name, stage, attempt)
        report = staged.report_dir(stage, attempt)
        if report.exists():
            for item in report.iterdir():
                dest = target.report_dir(stage, attempt) / item.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(item.read_bytes())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    marker = import_marker(store, stage, attempt)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({**manifest, "imported_from": str(path)}))
    return manifest
