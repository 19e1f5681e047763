"""Staged access failures of the emulated account: actions the caller's role is denied, and credentials that have
expired, answered as AWS answers them (each service in its own protocol), for `cxgm doctor` and its tests.

Steered through POST /_cxgm/access {"deny": ["batch:ListJobs", ...], "expired": true|false, "clear": true}.
"""

from __future__ import annotations

import io
import json
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

ACCOUNT = "123456789012"
ROLE = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_ReadOnly/cxgm-emulator"


@lru_cache(maxsize=1)
def _batch_paths() -> dict[str, str]:
    """Batch is REST-JSON: the action is in the path (/v1/describejobqueues), read from botocore's model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("batch")
    return {model.operation_model(op).http["requestUri"].rstrip("/"): op for op in model.operation_names}


def service_of(environ: dict) -> str:
    """The signing name in the SigV4 credential scope: `Credential=KEY/DATE/REGION/SERVICE/aws4_request`."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    for part in auth.replace(",", " ").split():
        if part.startswith("Credential="):
            scope = part[len("Credential="):].split("/")
            if len(scope) >= 4:
                return scope[3]
    return ""


def _s3_action(environ: dict) -> str:
    """The IAM action of an S3 request (path-style, as boto3 addresses a custom endpoint)."""
    path = environ.get("PATH_INFO", "/").lstrip("/")
    method = environ.get("REQUEST_METHOD", "GET")
    has_key = "/" in path and path.split("/", 1)[1] != ""
    if not has_key:
        return {"PUT": "s3:CreateBucket", "DELETE": "s3:DeleteBucket"}.get(method, "s3:ListBucket")
    return {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject",
            "DELETE": "s3:DeleteObject"}.get(method, "s3:PutObject")


def iam_action(environ: dict) -> str:
    """`service:Action` as an IAM policy names it, e.g. `states:ListExecutions`, `s3:GetObject`."""
    service = service_of(environ)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    if service == "batch":
        return f"batch:{_batch_paths().get(environ.get('PATH_INFO', '').rstrip('/'), '')}"
    if service == "s3":
        return _s3_action(environ)
    if service == "sts":
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(size) if size else b""
        environ["wsgi.input"] = io.BytesIO(body)  # read once here, again by moto
        action = urllib.parse.parse_qs(body.decode()).get("Action", [""])[0]
        return f"sts:{action}"
    return f"{service}:"


def _json(start_response, status: str, code: str, message: str, content_type: str):
    body = json.dumps({"__type": code, "message": message}).encode()
    start_response(status, [("Content-Type", content_type), ("x-amzn-ErrorType", code),
                            ("x-amzn-RequestId", str(uuid.uuid4())), ("Content-Length", str(len(body)))])
    return [body]


def _xml(start_response, status: str, body: str, head: bool):
    data = b"" if head else body.encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(data)))])
    return [data]


def answer(environ: dict, start_response, code: str, message: str):
    """An error answer in the requesting service's protocol, as AWS writes it."""
    service = service_of(environ)
    denied = code in ("AccessDenied", "AccessDeniedException")
    if service == "s3":
        # S3's REST-XML error (a HEAD gets the status alone): 403 AccessDenied, 400 ExpiredToken
        s3_code = "AccessDenied" if denied else "ExpiredToken"
        text = "Access Denied" if denied else "The provided token has expired."
        xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{s3_code}</Code><Message>{text}</Message>'
               f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId><HostId>emulated</HostId></Error>")
        return _xml(start_response, "403 Forbidden" if denied else "400 Bad Request", xml,
                    environ.get("REQUEST_METHOD") == "HEAD")
    if service == "sts":  # the query protocol's ErrorResponse
        xml = (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
               f"<Code>{'AccessDenied' if denied else 'ExpiredToken'}</Code><Message>{message}</Message></Error>"
               f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
        return _xml(start_response, "403 Forbidden", xml, False)
    if service == "batch":  # REST-JSON: the code is in x-amzn-ErrorType
        return _json(start_response, "403 Forbidden", code, message, "application/json")
    version = "1.0" if service == "states" else "1.1"  # Step Functions speaks JSON 1.0, Logs JSON 1.1
    return _json(start_response, "400 Bad Request", code, message, f"application/x-amz-json-{version}")


@dataclass
class AccessFaults:
    denied: set[str] = field(default_factory=set)  # IAM actions, e.g. "batch:ListJobs"
    expired: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, body: dict) -> dict:
        with self._lock:
            if body.get("clear"):
                self.denied, self.expired = set(), False
            self.denied |= set(body.get("deny", []))
            self.denied -= set(body.get("allow", []))
            if "expired" in body:
                self.expired = bool(body["expired"])
            return self.state()

    def state(self) -> dict:
        return {"deny": sorted(self.denied), "expired": self.expired}

    @property
    def active(self) -> bool:
        return bool(self.denied or self.expired)


class AccessMiddleware:
    """In front of the AWS APIs: refuses what the staged faults say, as AWS would, before moto sees it."""

    def __init__(self, app, faults: AccessFaults):
        self.app, self.faults = app, faults

    def __call__(self, environ, start_response):
        if not self.faults.active or not environ.get("HTTP_AUTHORIZATION"):
            return self.app(environ, start_response)
        if self.faults.expired:
            if service_of(environ) in ("states", "logs", "batch"):
                return answer(environ, start_response, "ExpiredTokenException",
                              "The security token included in the request is expired")
            return answer(environ, start_response, "ExpiredToken",
                          "The security token included in the request is expired")
        action = iam_action(environ)
        if action in self.faults.denied:
            service = service_of(environ)
            code = "AccessDenied" if service in ("s3", "sts") else "AccessDeniedException"
            return answer(environ, start_response, code,
                          f"User: {ROLE} is not authorized to perform: {action} on resource: * because no "
                          f"identity-based policy allows the {action} action")
        return self.app(environ, start_response)
