"""Async jobs on a store several processes share (PostgreSQL): the database is the queue.

Every process runs a worker thread that claims the next due job with ``FOR UPDATE SKIP LOCKED``
and runs it inside the claiming transaction: its rows, its outcome and its write-log entry commit
together, or not at all. So

- two workers never run the same job at once (the second skips the locked row);
- a worker killed mid-job (even ``kill -9``) loses its connection; PostgreSQL rolls the transaction
  back, which frees the job, and another worker runs it from the start;
- a job runs to completion once: completion is the commit that also moves it out of the claimable
  states.

Nothing is kept in memory, so a job submitted to one process can be run by any of them. Idle
workers look for due jobs every ``POLL`` seconds (on the emulator clock, like the in-process queue).
"""

from __future__ import annotations

from ..domain import async_rows as jobs
from .async_rows import POLL, AsyncRows


class SharedAsyncRows(AsyncRows):
    def _recover(self) -> None:
        """Nothing to load: unfinished jobs stay in the database until a worker claims them."""

    def _enqueue(self, job: dict) -> None:
        """No queue in this process: any worker claims a due job from the database."""

    def queue_depth(self) -> int:
        return len(self.store.list_async_jobs(None, 1_000_000, jobs.UNFINISHED))

    def forget(self, tenant_id: str | None = None) -> None:
        """Nothing held in memory: a reset's deletions in the database are all there is."""

    def run_due(self) -> float:
        """Claim and run one due job; say how long the worker may sleep."""
        store, now = self.store, self.clock.now()
        with store.transaction():  # due jobs are picked up (Pending) even while others run
            for job in store.claim_async_jobs(now, (jobs.QUEUED,), limit=1000):
                store.put_async_job({**job, "state": jobs.PENDING, "picked_up_at": now})
        with store.transaction():
            for job in store.claim_async_jobs(now, jobs.UNFINISHED):
                fault = self.faults.for_async_job(job["tenant_id"], job["data_extension"])
                if fault is not None and fault.action == "stall":  # stays Pending; asked again after POLL
                    store.put_async_job({**job, "due_at": now + POLL})
                    return POLL
                self._fault = fault
                self._execute(job["id"], job["tenant_id"])
                return 0.0
        due = store.next_async_due(jobs.UNFINISHED)
        return POLL if due is None else max(0.0, min(POLL, due - now))
