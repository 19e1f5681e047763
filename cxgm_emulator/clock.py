"""The emulator's simulated clock.

Running, it advances `speed` times faster than the wall but never passes the wall clock: the anchor is
chosen so that the live migration ends just as simulated time catches up with real time, so that every
timestamp boto3 sees is in the past, as in AWS. Paused (speed None), it moves only when told to
(tests, `cxgm-emulator clock`).
"""

from __future__ import annotations

import threading
import time


class SimClock:
    def __init__(self, start: float, speed: float | None = None):
        self._lock = threading.Lock()
        self._sim = start
        self._wall = time.time()
        self.speed = speed or None

    @property
    def paused(self) -> bool:
        return self.speed is None

    def now(self) -> float:
        with self._lock:
            if self.paused:
                return self._sim
            wall = time.time()
            return min(self._sim + (wall - self._wall) * self.speed, max(wall, self._sim))

    def _rebase(self, sim: float) -> None:
        self._sim, self._wall = sim, time.time()

    def advance(self, seconds: float) -> float:
        now = self.now()
        with self._lock:
            self._rebase(now + seconds)
        return self.now()

    def set(self, sim: float) -> float:
        with self._lock:
            self._rebase(sim)
        return self.now()

    def set_speed(self, speed: float | None) -> None:
        now = self.now()
        with self._lock:
            self._rebase(now)
            self.speed = speed or None
