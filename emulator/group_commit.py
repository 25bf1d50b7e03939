"""Group commit: writes that arrive while another commits are written together and committed once.

Leader and followers, without a thread of its own: the first write to find no group under way leads.
Once it has the writer's lock, it takes every write queued behind it so far, opens one transaction,
runs them all (a write that raises gets its own error in its own thread; the others go on), commits
once, hands the lead to the first write queued meanwhile, and wakes the writes it committed. A write
that finds a group under way queues and sleeps until its leader has committed it (or hands it the
lead). Every caller returns only after the transaction that holds its write has committed, as it
would with a transaction of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class _Pending(Generic[T]):
    __slots__ = ("error", "lead", "result", "wake", "work")

    def __init__(self, work: Callable[[], T]):
        self.work = work
        self.wake: threading.Lock | None = None  # a queued write sleeps on it until a leader releases it
        self.lead = False  # set when a queued write is handed the lead
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Runs ``work()`` callables in shared transactions; ``run`` returns each one's result once committed.

    ``lock``: the writer's lock, held from the group's first write to its commit. ``transaction``: the
    store's ``transaction``, the group's one transaction. Each ``work`` must leave nothing of itself when
    it raises (its store calls each undo their own changes: one statement, which SQLite undoes alone, or
    a savepoint of their own), so a write that raises leaves the rest of the group as it was, without a
    savepoint per write (two statements more, each handing the GIL around five times in Python 3.11's
    sqlite3). A write alone in its group runs as it would without one (its own transaction).
    ``commits`` and ``writes`` count the groups committed and the writes they stored.
    """

    def __init__(self, lock: AbstractContextManager[object], transaction: Callable[[], AbstractContextManager[object]]):
        self._lock = lock
        self._transaction = transaction
        self._mutex = threading.Lock()  # guards the queue and the leading flag, held only briefly
        self._queue: list[_Pending[T]] = []
        self._leading = False
        self.commits = 0
        self.writes = 0

    @property
    def leading(self) -> bool:
        """A group is under way (a write that comes now queues behind it)."""
        return self._leading

    @property
    def queued(self) -> int:
        """Writes waiting for the next group."""
        return len(self._queue)

    def run(self, work: Callable[[], T]) -> T:
        pending = _Pending(work)
        with self._mutex:
            lead = not self._leading
            if lead:
                self._leading = True
            else:
                pending.wake = wake = threading.Lock()
                wake.acquire()
                self._queue.append(pending)
        if not lead:
            wake.acquire()  # released once its group committed (or failed), or when handed the lead
            lead = pending.lead
        if lead:
            self._lead(pending)
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]  # set when no error was

    def _lead(self, own: _Pending[T]) -> None:
        """Write and commit this thread's write and every write queued by the time it has the writer's lock,
        then pass on the lead to the first write queued meanwhile and wake the rest."""
        batch = [own]
        try:
            with self._lock:
                with self._mutex:
                    batch += self._queue
                    self._queue.clear()
                if len(batch) == 1:  # alone: the write commits as it would without a group
                    own.result = own.work()
                    stored = 1
                else:
                    stored = 0
                    with self._transaction():
                        for pending in batch:
                            try:
                                pending.result = pending.work()  # a failure leaves nothing of it
                                stored += 1
                            except BaseException as err:  # the write's own error, raised in its own thread
                                pending.error = err
            self.commits += 1
            self.writes += stored
        except BaseException as err:  # no transaction or no commit: none of the group's writes is stored
            for pending in batch:
                if pending.error is None:
                    pending.result, pending.error = None, err
        finally:
            with self._mutex:
                after = self._queue.pop(0) if self._queue else None
                if after is None:
                    self._leading = False
            if after is not None:
                after.lead = True
                cast(threading.Lock, after.wake).release()
            for pending in batch[1:]:
                cast(threading.Lock, pending.wake).release()
