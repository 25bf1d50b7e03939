"""Async Data Extension rows: durable submission and one background worker thread per emulator.

``submit`` stores the job with its items in SQLite before the 202 goes out, so an answered job
survives ``kill -9``; on start, unfinished jobs are loaded again and any that was ``Executing`` is
run again (its rows and its outcome commit in one transaction, so a re-run never sees half of it).

The worker reads only the emulator clock: a job is picked up once ``clock.now()`` reaches its
``due_at`` (call time + the tenant's ``async_pickup_delay``). It sleeps on a condition that
``submit`` signals, and polls the clock while jobs wait, so a frozen or advanced clock works in
tests without sleeping. The thread holds the service only through a weak reference and ends when
the emulator is garbage collected, or on ``stop()``.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from contextlib import nullcontext

from ..clock import Clock
from ..domain import async_rows as jobs
from ..domain.data_extensions import DataExtension
from ..domain.faults import FaultSet
from ..domain.tenants import Tenant
from ..gc_pause import BULK_ROWS, cyclic_gc_paused
from ..store import Store
from .rows import WriteRows

log = logging.getLogger("sfmc_emulator.async")
POLL = 0.05  # seconds between clock reads while a job waits for its pickup time
IDLE = 1.0  # seconds between wake-ups with nothing queued (only to notice the emulator is gone)


class AsyncRows:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        faults: FaultSet,
        tenant: Callable[[str], Tenant | None],
        find_data_extension: Callable[..., DataExtension | None],
        write_rows: WriteRows,
    ):
        self.store = store
        self.clock = clock
        self.faults = faults
        self.tenant = tenant
        self.find_data_extension = find_data_extension
        self.write_rows = write_rows
        self._cond = threading.Condition()
        self._queued: dict[str, tuple[float, str]] = {}  # job id -> (due_at, tenant id)
        self._fault = None  # the fault rule answer for the job about to run (asked once per job)
        self._pending: list[tuple[str, str]] = []  # picked up, in call order: (job id, tenant id)
        self._kicked = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._recover()

    # -- submission and reads -----------------------------------------------------------------

    def submit(
        self, tenant_id: str, de: DataExtension, items: list, *, insert_only: bool, shape: str, source: str
    ) -> dict:
        """Store a job (durably) and queue it; the caller answers 202 with its id."""
        tenant = self.tenant(tenant_id)
        settings = tenant.settings if tenant else None
        job = jobs.new_job(
            tenant_id,
            de,
            insert_only=insert_only,
            shape=shape,
            source=source,
            now=self.clock.now(),
            pickup_delay=settings.async_pickup_delay if settings else 0.0,
            count=len(items),
        )
        self.store.put_async_job(job, items)  # committed before the 202
        with self._cond:
            self._enqueue(job)
            self._kicked = True
            self._cond.notify_all()
            stopped = self._stopping
        if not stopped:  # an emulator used without create_app gets its worker on the first job
            self.start()
        return job

    def _enqueue(self, job: dict) -> None:
        """Queue a stored job for this process's worker (called with the condition held)."""
        self._queued[job["id"]] = (job["due_at"], job["tenant_id"])

    def get(self, tenant_id: str, job_id: str) -> dict | None:
        """A job of ``tenant_id``; another tenant's job is not found."""
        return self.store.get_async_job(tenant_id, job_id)

    def list(self, tenant_id: str, limit: int) -> list[dict]:
        return self.store.list_async_jobs(tenant_id, limit)

    def queue_depth(self) -> int:
        with self._cond:
            return len(self._queued) + len(self._pending)

    def forget(self, tenant_id: str | None = None) -> None:
        """Drop queued work of one tenant (or all) after a reset or delete removed its jobs."""
        with self._cond:
            self._queued = {k: v for k, v in self._queued.items() if tenant_id is not None and v[1] != tenant_id}
            self._pending = [p for p in self._pending if tenant_id is not None and p[1] != tenant_id]

    # -- the worker ---------------------------------------------------------------------------

    def start(self) -> None:
        """Run the worker (again, after ``stop``); ``submit`` starts it unless it was stopped."""
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._thread = threading.Thread(
                target=_work, args=(weakref.ref(self), self._cond), name="sfmc-async-jobs", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def run_due(self) -> float:
        """Pick up due jobs, run the oldest picked-up one, and say how long the worker may sleep."""
        now = self.clock.now()
        with self._cond:
            due = sorted((v[0], k, v[1]) for k, v in self._queued.items() if v[0] <= now)
            for _, job_id, _tenant_id in due:
                del self._queued[job_id]
        for _, job_id, tenant_id in due:
            job = self.store.get_async_job(tenant_id, job_id)
            if job is not None and job["state"] == jobs.QUEUED:
                self.store.put_async_job({**job, "state": jobs.PENDING, "picked_up_at": now})
            with self._cond:
                self._pending.append((job_id, tenant_id))
        with self._cond:
            current = self._pending[0] if self._pending else None
        if current is not None and self._stalled(*current, now):
            return POLL
        if current is not None:
            try:
                self._execute(*current)
            finally:
                with self._cond:
                    if current in self._pending:
                        self._pending.remove(current)
            return 0.0
        with self._cond:
            if not self._queued:
                return IDLE
            return max(0.0, min(POLL, min(v[0] for v in self._queued.values()) - now))

    def _stalled(self, job_id: str, tenant_id: str, now: float) -> bool:
        """An ``async_stall`` fault leaves the job Pending; it is asked about again after POLL seconds."""
        job = self.store.get_async_job(tenant_id, job_id)
        fault = self.faults.for_async_job(tenant_id, job["data_extension"]) if job else None
        if fault is None or fault.action != "stall":
            self._fault = fault
            return False
        with self._cond:
            if (job_id, tenant_id) in self._pending:
                self._pending.remove((job_id, tenant_id))
            self._queued[job_id] = (now + POLL, tenant_id)
        return True

    def _execute(self, job_id: str, tenant_id: str) -> None:
        store = self.store
        job = store.get_async_job(tenant_id, job_id)
        if job is None or job["state"] not in jobs.UNFINISHED:  # reset or deleted meanwhile
            return
        job = {
            **job,
            "state": jobs.EXECUTING,
            "started_at": self.clock.now(),
            "picked_up_at": job["picked_up_at"] or self.clock.now(),
        }
        store.put_async_job(job)
        tenant = self.tenant(job["tenant_id"])
        if tenant is None:
            return
        de = self.find_data_extension(tenant.id, de_id=job["data_extension_id"])
        if not tenant.settings.async_api_enabled:
            self._fail(job, jobs.ASYNC_DISABLED)
            return
        if de is None:
            self._fail(job, f"The data extension '{job['data_extension']}' no longer exists.")
            return
        fault, self._fault = self._fault, None
        if fault is not None and fault.action == "fail_rows":  # e.g. a deadlock: every row fails, none lands
            store.put_async_job(jobs.fail_every_row(job, fault.message, self.clock.now()))
            return
        # a bulk job's items, row inputs and plan are some 400,000 live objects: no collector walks meanwhile
        with cyclic_gc_paused() if job["item_count"] >= BULK_ROWS else nullcontext():
            self._write_items(job, tenant.id, de)

    def _write_items(self, job: dict, tenant_id: str, de: DataExtension) -> None:
        store, job_id = self.store, job["id"]
        rows, positions, refused = jobs.row_inputs(de, store.async_job_items(tenant_id, job_id) or [], job["shape"])

        def record(plan) -> None:  # runs inside the rows' transaction: rows and outcome land together
            store.put_async_job(jobs.finish(job, plan.failed, positions, refused, plan.ignored_keys, self.clock.now()))
            with self._cond:  # off the queue before the outcome is visible, so no reader sees both
                self._pending = [p for p in self._pending if p[0] != job_id]

        try:
            self.write_rows(
                tenant_id,
                de,
                rows,
                source=job["source"],
                insert_only=job["operation"] == "insert",
                stop_at_first_error=False,
                then=record,
            )
        except Exception as err:  # never leave a job running forever; say why in its record
            log.exception("async job %s failed", job_id)
            self._fail(job, f"The emulator could not process this request: {err}")

    def _fail(self, job: dict, reason: str) -> None:
        self.store.put_async_job(jobs.fail(job, reason, self.clock.now()))
        self.store.log_write(
            job["tenant_id"],
            {
                "at": self.clock.now(),
                "source": job["source"],
                "data_extension": job["data_extension"],
                "rows_submitted": job["item_count"],
                "rows_saved": 0,
                "ignored_keys": [],
                "problems": [reason],
                "async_request_id": job["id"],
            },
        )

    def _recover(self) -> None:
        """Queue what a previous process left unfinished; a job cut off while Executing runs again."""
        for job in self.store.list_async_jobs(None, 10**9, jobs.UNFINISHED):
            if job["state"] == jobs.QUEUED:
                self._queued[job["id"]] = (job["due_at"], job["tenant_id"])
            else:
                if job["state"] == jobs.EXECUTING:
                    self.store.put_async_job({**job, "state": jobs.PENDING, "started_at": None})
                self._pending.append((job["id"], job["tenant_id"]))


def _work(ref: weakref.ref, cond: threading.Condition) -> None:
    while True:
        service = ref()
        if service is None or service._stopping:
            return
        try:
            wait = service.run_due()
        except Exception:  # a store error must not kill the worker; try again shortly
            if getattr(service.store, "closed", False):  # the emulator is shutting down: a clean stop
                return
            log.exception("async worker step failed")
            wait = POLL
        del service  # hold no reference while asleep, so a dropped emulator can be collected
        if wait <= 0:
            continue
        with cond:
            service = ref()
            if service is None or service._stopping:
                return
            kicked, service._kicked = service._kicked, False
            del service
            if not kicked:
                cond.wait(wait)
