"""Optional latency, quota and fault injection in front of the emulated AWS endpoint (a WSGI middleware).

AWS throttles per account and API with token buckets; FilterLogEvents, for instance, allows 5 requests/s.
Off by default; benchmarks and reliability tests turn it on to see how cxgm behaves against real limits.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import dataclass, field

from portal_shapes import AWS_API_QUOTAS

# (rate per second, burst) per API: AWS's documented defaults.
AWS_DEFAULT_QUOTAS: dict[str, tuple[float, float]] = dict(AWS_API_QUOTAS)


class TokenBucket:
    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


@dataclass
class Injection:
    latency_ms: float = 0.0
    quotas: dict[str, tuple[float, float]] = field(default_factory=dict)
    error_rate: float = 0.0  # share of calls answered with a 5xx
    seed: int = 0

    @property
    def active(self) -> bool:
        return bool(self.latency_ms or self.quotas or self.error_rate)


def action_of(environ: dict) -> str:
    """The API action of a request: X-Amz-Target (JSON protocols) or the REST path (Batch, S3)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    path = environ.get("PATH_INFO", "")
    if path.startswith("/v1/"):  # Batch: /v1/describejobs
        name = path[4:].strip("/")
        return {"describejobs": "DescribeJobs", "listjobs": "ListJobs"}.get(name, name)
    method = environ.get("REQUEST_METHOD", "")
    # the signature's credential scope names the service: `Credential=KEY/DATE/REGION/SERVICE/aws4_request`
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    service = scope[1] if scope else ""
    if service in ("", "s3") and method in ("GET", "PUT"):
        return {"GET": "GetObject", "PUT": "PutObject"}[method]
    # a query-protocol call (STS) names its action in the form body, which is not read here
    return f"{service or 'unsigned'} {method}".strip()


class InjectionMiddleware:
    def __init__(self, app, injection: Injection):
        self.app, self.injection = app, injection
        self.buckets: dict[str, TokenBucket] = {}
        self.set_quotas(injection.quotas)
        self.rng = random.Random(injection.seed)
        self.counts: dict[str, int] = {}
        self.throttled: dict[str, int] = {}
        self._lock = threading.Lock()

    def set_quotas(self, quotas: dict[str, tuple[float, float]]) -> None:
        """Per-API (rate/s, burst) token buckets; {} turns quotas off."""
        self.buckets = {api: TokenBucket(*q) for api, q in quotas.items()}

    def _error(self, start_response, status: str, code: str, message: str):
        body = json.dumps({"__type": code, "message": message}).encode()
        start_response(status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                                ("Content-Length", str(len(body)))])
        return [body]

    def __call__(self, environ, start_response):
        action = action_of(environ)
        with self._lock:
            self.counts[action] = self.counts.get(action, 0) + 1
            fail = self.injection.error_rate and self.rng.random() < self.injection.error_rate
        if self.injection.latency_ms:
            time.sleep(self.injection.latency_ms / 1000)
        bucket = self.buckets.get(action)
        if bucket is not None and not bucket.take():
            with self._lock:
                self.throttled[action] = self.throttled.get(action, 0) + 1
            return self._error(start_response, "400 Bad Request", "ThrottlingException", "Rate exceeded")
        if fail:
            return self._error(start_response, "503 Service Unavailable", "ServiceUnavailableException",
                               "Service unavailable (injected)")
        return self.app(environ, start_response)
