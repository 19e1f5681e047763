"""Client-side token buckets, one per AWS API and process, sized to AWS's default quotas: a bulk fetch paces
itself instead of provoking a throttling storm (botocore's adaptive retries stay as the safety net).

The rates are AWS's documented defaults per account and region (requests/s, burst). `CXGM_AWS_RATES` overrides
them, e.g. `FilterLogEvents=10:10,GetExecutionHistory=5:250`, or `off` for none."""

from __future__ import annotations

import os
import threading
import time

DEFAULT_RATES: dict[str, tuple[float, float]] = {
    "FilterLogEvents": (5, 5),
    "GetLogEvents": (25, 25),
    "ListJobs": (20, 40),
    "DescribeJobs": (20, 40),
    "ListExecutions": (2, 100),
    "DescribeExecution": (15, 250),
    "GetExecutionHistory": (5, 250),
    "ListMapRuns": (5, 100),
    "ListStateMachines": (2, 100),
}
RATES_VAR = "CXGM_AWS_RATES"


class TokenBucket:
    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, time.monotonic()
        self.lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        """Blocks until a token is free; fair enough for a handful of threads."""
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
                self.at = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
                self.waited += wait
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
