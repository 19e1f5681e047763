"""Client-side pacing at AWS's per-API quotas: a burst goes at once, then calls wait for their tokens."""

import time

import pytest

from cxgm_pipeline.config import ConfigError
from cxgm_pipeline.monitor.aws import pacing as ratelimit


def test_a_bucket_lets_a_burst_through_then_paces_at_its_rate():
    bucket = ratelimit.TokenBucket(rate=50, burst=5)
    began = time.monotonic()
    for _ in range(5):
        bucket.acquire()
    assert time.monotonic() - began < 0.05
    for _ in range(10):
        bucket.acquire()
    assert 0.15 < time.monotonic() - began < 0.6  # 10 more at 50/s


def test_rates_come_from_aws_defaults_and_can_be_overridden(monkeypatch):
    monkeypatch.setenv(ratelimit.RATES_VAR, "FilterLogEvents=10:20")
    ratelimit.reset()
    try:
        assert ratelimit.bucket("FilterLogEvents").rate == 10
        assert ratelimit.bucket("GetExecutionHistory").rate == 5  # AWS's default refill
        monkeypatch.setenv(ratelimit.RATES_VAR, "off")
        ratelimit.reset()
        assert ratelimit.bucket("FilterLogEvents") is None
        monkeypatch.setenv(ratelimit.RATES_VAR, "FilterLogEvents=fast")
        ratelimit.reset()
        with pytest.raises(ConfigError, match="API=RATE:BURST"):
            ratelimit.bucket("FilterLogEvents")
    finally:
        ratelimit.reset()
