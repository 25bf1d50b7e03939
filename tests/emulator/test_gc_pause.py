"""Bulk work pauses the cyclic collector; nested and concurrent pauses give it back as it was."""

from __future__ import annotations

import gc
import threading

from emulator.gc_pause import cyclic_gc_paused


def test_nested_and_concurrent_pauses_restore_the_collector_once_the_last_ends():
    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def other_bulk_write():
        with cyclic_gc_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other_bulk_write)
    with cyclic_gc_paused():
        assert not gc.isenabled()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
        thread.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the other thread's write still runs
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
