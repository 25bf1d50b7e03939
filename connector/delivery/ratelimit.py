"""A client-side token bucket so the connector stays under the account's limit (RL-1).

Pacing by the limit, rather than by 429 answers, keeps the connector out of SFMC's penalty box:
a connector that only reacts to 429s spends a share of its quota on refused calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.rate = float(rate)
        # A burst of 1 spreads calls evenly; the server's bucket then never sees more than the rate.
        self.burst = float(burst if burst is not None else 1.0)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._updated = clock()

    def acquire(self) -> float:
        """Block until a call may go out; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return waited
                wait = (1.0 - self._tokens) / self.rate
            self._sleep(wait)
            waited += wait

    def penalise(self, seconds: float) -> None:
        """After a 429 with Retry-After, hold every sender back, not only the one that was refused."""
        with self._lock:
            self._tokens = min(self._tokens, 0.0) - seconds * self.rate
