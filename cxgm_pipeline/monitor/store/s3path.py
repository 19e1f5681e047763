"""`s3://bucket/key` as the slice of pathlib the frame store and the reports use, over boto3 alone.

Why not s3fs (or universal-pathlib's S3 path, which needs it): s3fs's aiobotocore pins botocore to a narrow
range, so it fights boto3's releases. boto3 is already cxgm's AWS client: the same credential chain
(`AWS_PROFILE`, SSO, an ECS task or Kubernetes service-account role), the standard `AWS_ENDPOINT_URL`
(the emulator), the same retries.

Semantics, as S3 gives them (https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel):
- a write is buffered in memory and sent as ONE PutObject when the file closes: S3 never shows a part of an
  object, so a reader sees the previous object or the new one (atomic replace); nothing is sent when the
  writer raises (the previous object stays whole). One PUT holds up to 5 GB, far above any frame.
- folders are key prefixes: `mkdir` does nothing, a folder exists while a key lies under it, `iterdir` lists
  one level (ListObjectsV2 with a `/` delimiter).
- a missing bucket or a refused call is an `S3AccessError` saying what to fix, never a bare ClientError.
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from cxgm_pipeline.monitor.aws.clients import RETRY_MODE, AwsAccessError

SCHEME = "s3://"
PROFILE_VAR = "CXGM_DATA_PROFILE"  # optional: the AWS profile for the frame bucket (default: the default chain)
_CLIENTS: dict[tuple, Any] = {}
_LOCK = threading.Lock()
# The actions the frame store needs on its bucket: docs/security.md's IAM policy lists the same ones.
NEEDED_ACTIONS = "s3:GetObject, s3:PutObject, s3:ListBucket"


class S3AccessError(AwsAccessError):
    """The frame bucket could not be used; the message names the bucket, the call and what to do."""


def s3_client():
    """One boto3 S3 client per profile and endpoint (AWS_ENDPOINT_URL is read when a client is made)."""
    profile = os.environ.get(PROFILE_VAR) or None
    key = (profile, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_ENDPOINT_URL_S3"),
           os.environ.get("AWS_ACCESS_KEY_ID"))
    with _LOCK:
        if key not in _CLIENTS:
            try:
                _CLIENTS[key] = boto3.session.Session(profile_name=profile).client(
                    "s3", config=Config(retries={"mode": RETRY_MODE, "max_attempts": 10}))
            except botocore.exceptions.BotoCoreError as exc:
                raise S3AccessError(f"cannot make an S3 client for the frame store (profile {profile or 'default'}): "
                                    f"{exc}. Set {PROFILE_VAR} or AWS credentials.") from None
        return _CLIENTS[key]


def _access_error(path: S3Path, operation: str, exc: Exception) -> Exception:
    """An actionable error for the calls that mean "fix your setup"; other errors are returned unchanged."""
    where = f"{path} ({operation})"
    if isinstance(exc, (botocore.exceptions.NoCredentialsError, botocore.exceptions.TokenRetrievalError,
                        botocore.exceptions.SSOTokenLoadError, botocore.exceptions.UnauthorizedSSOTokenError)):
        return S3AccessError(f"{where}: no valid AWS credentials for the frame store: set {PROFILE_VAR} (and run "
                             f"`aws sso login --profile ...`) or give the process a role")
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return S3AccessError(f"{where}: cannot reach S3: {exc}")
    if not isinstance(exc, botocore.exceptions.ClientError):
        return exc
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code == "NoSuchBucket":
        return S3AccessError(f"{where}: bucket {path.bucket!r} does not exist: create it, or point CXGM_DATA at "
                             f"s3://EXISTING_BUCKET/prefix")
    if code in ("AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return S3AccessError(f"{where}: access denied ({code}): the role running cxgm needs {NEEDED_ACTIONS} on "
                             f"arn:aws:s3:::{path.bucket} and its keys (the IAM policy in docs/security.md)")
    return exc


@dataclass(frozen=True)
class _Stat:
    st_mtime: float
    st_size: int


class _PutOnClose(io.BytesIO):
    """Collects a file's bytes and PUTs them once, on a clean close; a writer that raises sends nothing."""

    def __init__(self, path: S3Path):
        super().__init__()
        self._path, self._failed = path, False

    def __exit__(self, exc_type, *rest):
        self._failed = exc_type is not None
        return super().__exit__(exc_type, *rest)

    def close(self) -> None:
        if not self.closed and not self._failed:
            self._path.write_bytes(self.getvalue())
        super().close()


class S3Path:
    """An S3 key (or key prefix, a "folder") with pathlib's names: `/`, name, parent, open for writing,
    read/write, exists, iterdir, stat."""

    def __init__(self, url: str):
        if not url.startswith(SCHEME) or not url[len(SCHEME):].split("/", 1)[0]:
            raise ValueError(f"{url!r} is not an s3://bucket/key address")
        self.bucket, _, key = url[len(SCHEME):].partition("/")
        self.key = key.strip("/")

    # --- names ----------------------------------------------------------------------------------------
    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}" if self.key else f"{SCHEME}{self.bucket}"

    def __repr__(self) -> str:
        return f"S3Path({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, S3Path) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __truediv__(self, part: str) -> S3Path:
        part = str(part).strip("/")
        return S3Path(f"{self}/{part}") if part else self

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def parent(self) -> S3Path:
        return S3Path(f"{SCHEME}{self.bucket}/{self.key.rsplit('/', 1)[0] if '/' in self.key else ''}")

    # --- calls ----------------------------------------------------------------------------------------
    def _call(self, operation: str, **kwargs):
        try:
            return getattr(s3_client(), operation)(Bucket=self.bucket, **kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise _access_error(self, operation, exc) from None

    def _head(self) -> dict | None:
        try:
            return s3_client().head_object(Bucket=self.bucket, Key=self.key)
        except botocore.exceptions.ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None  # no such object (or no such bucket: the listing in exists() tells which)
            raise _access_error(self, "head_object", exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise _access_error(self, "head_object", exc) from None

    def _prefix(self) -> str:
        return f"{self.key}/" if self.key else ""

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Folders are key prefixes in S3: nothing to create."""

    def exists(self) -> bool:
        if self.key and self._head() is not None:
            return True
        listing = self._call("list_objects_v2", Prefix=self._prefix(), MaxKeys=1)
        return listing.get("KeyCount", 0) > 0

    def stat(self) -> _Stat:
        head = self._head()
        if head is None:
            raise FileNotFoundError(str(self))
        return _Stat(head["LastModified"].timestamp(), head["ContentLength"])

    def iterdir(self):
        """The keys and folders one level below this prefix."""
        paginator = s3_client().get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._prefix(), Delimiter="/"):
                for folder in page.get("CommonPrefixes", []):
                    yield S3Path(f"{SCHEME}{self.bucket}/{folder['Prefix']}")
                for item in page.get("Contents", []):
                    yield S3Path(f"{SCHEME}{self.bucket}/{item['Key']}")
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise _access_error(self, "list_objects_v2", exc) from None

    def read_bytes(self) -> bytes:
        try:
            return s3_client().get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
                raise FileNotFoundError(f"no {self}") from None
            raise _access_error(self, "get_object", exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise _access_error(self, "get_object", exc) from None

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        """One PutObject: atomic, the previous object stays whole until this one is complete."""
        self._call("put_object", Key=self.key, Body=data)
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        return self.write_bytes(text.encode(encoding))

    def open(self, mode: str = "w", encoding: str | None = None, newline: str | None = None):
        """For writing (w, wb): one PutObject on close; reads go through read_bytes / read_text."""
        if mode in ("wb", "w"):
            sink = _PutOnClose(self)
            return sink if mode == "wb" else _TextPutOnClose(sink, encoding=encoding or "utf-8", newline=newline)
        raise ValueError(f"{self}: mode {mode!r} is not supported (w, wb; read with read_bytes or read_text)")


class _TextPutOnClose(io.TextIOWrapper):
    """Text over `_PutOnClose`, keeping its rule: a writer that raises sends nothing."""

    def __exit__(self, exc_type, *rest):
        self.buffer._failed = exc_type is not None
        return super().__exit__(exc_type, *rest)
