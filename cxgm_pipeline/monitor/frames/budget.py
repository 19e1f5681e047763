"""How much one build may spend on a slow source (calls, seconds, or both): what is left over is marked in the frame
and read by the next build, so a slow source never holds back what the fast ones already tell."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from cxgm_pipeline.config import ConfigError


@dataclass
class Budget:
    calls: int | None = None  # None: no limit
    seconds: float | None = None
    spent: int = 0
    _start: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_env(cls, seconds_var: str, calls_var: str, default_seconds: float) -> Budget:
        """$seconds_var (0: no limit) and $calls_var (default: none); a value that is not a number is a ConfigError
        naming the variable."""
        seconds, calls = os.environ.get(seconds_var, "").strip(), os.environ.get(calls_var, "").strip()
        try:
            limit = float(seconds) if seconds else default_seconds
            most = int(calls) if calls else None
        except ValueError:
            raise ConfigError(f"{seconds_var}={seconds!r} / {calls_var}={calls!r}: seconds as a number (0: no limit), "
                              f"calls as a whole number") from None
        return cls(calls=most, seconds=limit if limit > 0 else None)

    def room(self) -> int | None:
        """Calls still allowed (None: any number); 0 once the time is up."""
        if self.seconds is not None and time.monotonic() - self._start >= self.seconds:
            return 0
        return None if self.calls is None else max(0, self.calls - self.spent)

    def add(self, calls: int = 0, items: int = 0) -> None:
        with self._lock:
            self.spent += calls
