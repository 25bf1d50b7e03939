"""Bulk work with the cyclic garbage collector paused, counted across threads.

The row writer pauses it for a write of ``BULK_ROWS`` rows or more, and the async worker for a
bulk job from reading its items to its outcome (the items, their row inputs, outcomes and stored
rows are some 400,000 objects that live until the job ends).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BULK_ROWS = 1000  # a write of at least this many rows runs with the cyclic garbage collector paused

_gc_lock = threading.Lock()
_gc_pausers = 0  # writes (in any thread) running with the collector paused
_gc_was_enabled = False


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one bulk write (reference counting still frees everything).

    A 32,000-row write makes some 200,000 objects that live until it ends; the collector would
    walk them (and every other object of the process) again and again meanwhile, a third of
    the write's CPU time. Whatever cycles the write leaves are collected once it has resumed.
    Nested and concurrent pauses are counted: the last one out restores the collector as it was.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()
