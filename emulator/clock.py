"""One clock for the whole emulator, so tests and users can move time instead of sleeping.

Token expiry, throttle refills and async pickup delays all read this clock. The admin API can
freeze it or move it forward (``POST /_emulator/clock``), which makes expiry and rate-limit
behaviour testable in milliseconds.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall-clock time plus an adjustable offset; can be frozen at a point in time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None

    def now(self) -> float:
        """Seconds since the epoch, as the emulator sees them."""
        frozen = self._frozen_at
        if frozen is not None:
            return frozen
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds
            return self.now()

    def freeze(self) -> float:
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = time.time() + self._offset
            return self._frozen_at

    def unfreeze(self) -> float:
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None
            return self.now()

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def state(self) -> dict:
        return {"now": self.now(), "frozen": self.frozen, "offset": round(self._offset, 6)}
