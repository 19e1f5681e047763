"""Giving freed memory back is an allocator's matter: it runs where glibc is, and is nothing elsewhere."""

import pytest

from cxgm_pipeline.monitor import memory

pytestmark = pytest.mark.unit


def test_freed_memory_is_given_back_with_or_without_glibc(monkeypatch):
    import pyarrow  # noqa: F401  (its pool is released too once loaded)

    memory.release_freed_memory()
    monkeypatch.setattr(memory, "_TRIM", None)  # macOS, musl: no malloc_trim
    memory.release_freed_memory()
