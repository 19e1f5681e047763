"""Client-side token buckets, one per AWS API and process, sized to AWS's default quotas: a bulk fetch paces
itself instead of provoking a throttling storm (botocore's standard retries stay as the safety net).

The rates are AWS's documented defaults per account and region (requests/s, burst). `CXGM_AWS_RATES` overrides
them, e.g. `FilterLogEvents=10:10,GetExecutionHistory=5:250`, or `off` for none."""

from __future__ import annotations

import os
import threading
import time

from portal_shapes import AWS_API_QUOTAS


def _with_headroom(rate: float, burst: float) -> tuple[float, float]:
    """AWS's rate, but a tenth of its burst kept in reserve: paced at exactly the quota, requests that the network
    delays and then bunches arrive early for AWS's bucket and are throttled (then retried a second later)."""
    return rate, max(1.0, burst - max(1.0, burst // 10))


# S3's own quotas are far above what cxgm asks: only the APIs that throttle early are paced.
DEFAULT_RATES = {api: _with_headroom(*q) for api, q in AWS_API_QUOTAS.items() if q[0] < 1000}
RATES_VAR = "CXGM_AWS_RATES"


class TokenBucket:
    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()
        self.lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        """Reserves the next token and sleeps until it is due: callers queue in order, none spins."""
        with self.lock:
            now = time.monotonic()
            balance = min(self.burst, self.tokens + (now - self.at) * self.rate) - 1
            self.tokens, self.at = balance, now
            wait = max(0.0, -balance / self.rate)
            self.waited += wait
        if wait:
            time.sleep(wait)


def _rates() -> dict[str, tuple[float, float]]:
    raw = os.environ.get(RATES_VAR, "").strip()
    if raw.lower() == "off":
        return {}
    rates = dict(DEFAULT_RATES)
    for item in filter(None, (p.strip() for p in raw.split(","))):
        try:
            name, spec = item.split("=", 1)
            rate, burst = (float(x) for x in spec.split(":", 1))
        except ValueError:
            from cxgm_pipeline.config import ConfigError

            raise ConfigError(f"{RATES_VAR}: {item!r} is not API=RATE:BURST, e.g. FilterLogEvents=5:5") from None
        rates[name.strip()] = (rate, burst)
    return rates


_BUCKETS: dict[str, TokenBucket] = {}
_LOCK = threading.Lock()


def bucket(operation: str) -> TokenBucket | None:
    with _LOCK:
        if not _BUCKETS:  # first call of the process: read the rates once (a sentinel marks "read, none")
            _BUCKETS.update({name: TokenBucket(*spec) for name, spec in _rates().items()})
            _BUCKETS["__read__"] = TokenBucket(1e9, 1e9)
        return _BUCKETS.get(operation)


def pace(model=None, **_) -> None:
    """botocore `before-call` handler: wait for the API's token."""
    found = bucket(getattr(model, "name", ""))
    if found is not None:
        found.acquire()


def reset() -> None:
    """Forget the buckets (tests, or after changing CXGM_AWS_RATES)."""
    with _LOCK:
        _BUCKETS.clear()
