"""One clock for the whole emulator, so tests and users can move time instead of sleeping.

Token expiry, throttle refills and async pickup delays all read this clock. The admin API can
freeze it or move it forward (``POST /_emulator/clock``), which makes expiry and rate-limit
behaviour testable in milliseconds.
"""

from __future__ import annotations

import math
import threading
import time

# The clock stays between the epoch and the end of year 9999: every date SFMC formats fits, and every
# step that reads the clock (token expiry, throttle refills, ISO dates) gets a finite number.
EARLIEST = 0.0
LATEST = 253402300799.0


class ClockError(ValueError):
    pass


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
        """Move time by ``seconds``; ClockError (and no change) for a move that is not finite or would
        leave the clock outside 1970..9999."""
        if not math.isfinite(seconds):
            raise ClockError(f"'advance' must be a finite number of seconds, not {seconds}")
        with self._lock:
            if not EARLIEST <= self.now() + seconds <= LATEST:
                raise ClockError("'advance' would move the clock outside the years 1970..9999")
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

    def state(self) -> dict[str, float | bool]:
        return {"now": self.now(), "frozen": self.frozen, "offset": round(self._offset, 6)}
