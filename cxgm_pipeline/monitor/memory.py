"""Memory a step of a fetch freed, given back to the system before the next one.

What a frame's build frees stays with the allocators: glibc's malloc keeps it in its heaps (one for each thread
that allocated: a fetch builds on a pool of them) and returns to the system only what sits at a heap's top, and
Arrow's pool keeps what a Parquet write used. Neither lends it to the other, nor one glibc heap to another: a first
fetch at 20,000 datasets still held ~230 MB no build was using when it wrote its frames, and each write added its
own on top. Giving it back changes no result, only the peak.
"""

from __future__ import annotations

import ctypes
import sys


def _malloc_trim():
    """glibc's malloc_trim, or None where there is none (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Returns the free pages of every glibc heap, and what Arrow's pool holds unused (if Arrow is loaded)."""
    if _TRIM is not None:
        _TRIM(0)
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
