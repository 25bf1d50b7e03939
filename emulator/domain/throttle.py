"""Per-tenant token buckets: SFMC's ~20 requests/second, exact under concurrency.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second on the emulator clock.
Each REST call takes one token or is refused with the seconds until one is available. Over any
window of W seconds a tenant gets at most ``rate * W + burst`` calls through.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..clock import Clock


@dataclass
class Decision:
    allowed: bool
    retry_after: float = 0.0  # seconds until the next token, when refused
    remaining: float = 0.0


class TokenBucket:
    def __init__(self, rate: float, burst: float, now: float):
        self.rate = float(rate)
        self.burst = max(float(burst), 1.0)
        self.tokens = self.burst
        self.updated = now
        self.lock = threading.Lock()

    def take(self, now: float) -> Decision:
        with self.lock:
            if now > self.updated:
                self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return Decision(True, remaining=self.tokens)
            wait = (1.0 - self.tokens) / self.rate if self.rate > 0 else math.inf
            return Decision(False, retry_after=wait, remaining=self.tokens)


class Throttle:
    """Buckets by tenant id; limits read from the tenant's settings and changeable at runtime."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def check(self, tenant_id: str, rate: float | None, burst: float | None) -> Decision:
        """Take a token for ``tenant_id``; ``rate`` None or 0 means throttling is off."""
        if not rate:
            return Decision(True)
        burst = burst or rate
        bucket = self._buckets.get(tenant_id)
        if bucket is None or bucket.rate != rate or bucket.burst != max(float(burst), 1.0):
            with self._lock:
                bucket = self._buckets.get(tenant_id)
                if bucket is None or bucket.rate != rate or bucket.burst != max(float(burst), 1.0):
                    bucket = TokenBucket(rate, burst, self.clock.now())
                    self._buckets[tenant_id] = bucket
        return bucket.take(self.clock.now())

    def forget(self, tenant_id: str | None = None) -> None:
        with self._lock:
            if tenant_id is None:
                self._buckets.clear()
            else:
                self._buckets.pop(tenant_id, None)


class SharedThrottle:
    """The same buckets kept where several processes see them: ``take(tenant, rate, burst, now)``
    takes a token atomically in the shared store and answers (let through, tokens left)."""

    def __init__(
        self,
        clock: Clock,
        take: Callable[[str, float, float, float], tuple[bool, float]],
        forget: Callable[[str | None], None],
    ):
        self.clock = clock
        self._take = take
        self._forget = forget

    def check(self, tenant_id: str, rate: float | None, burst: float | None) -> Decision:
        if not rate:
            return Decision(True)
        allowed, tokens = self._take(tenant_id, float(rate), max(float(burst or rate), 1.0), self.clock.now())
        if allowed:
            return Decision(True, remaining=tokens)
        return Decision(False, retry_after=(1.0 - tokens) / rate, remaining=tokens)

    def forget(self, tenant_id: str | None = None) -> None:
        self._forget(tenant_id)


def retry_after_header(seconds: float) -> int:
    """Whole seconds for ``Retry-After``: never 0, so a client that honours it does wait."""
    return max(1, math.ceil(seconds))
