"""Data Extension rows over the store: the one row writer (sync, async and API-event writes) and row reads.

``plan_rows`` in ``domain/rows.py`` validates rows and plans upserts; this service runs the plan
and the store write as one step under the shared lock (on a store several processes share, in one
transaction under the Data Extension's lock in the database), counts the outcome and logs what was
written with ignored keys or refused rows. ``$filter`` parsing is ``domain/filters.py``'s.

On the one-process SQLite store, sync writes that arrive while another commits are planned and written
in one transaction and committed once (``group_commit.py``); each still returns only after its rows are
committed, with its own plan or error (a write that fails leaves nothing: its store calls undo their own).
Async jobs (their outcome is written in their rows' transaction) and bulk writes keep a transaction of
their own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from functools import partial
from typing import Protocol, cast

from .. import errors
from ..clock import Clock
from ..domain.data_extensions import DataExtension
from ..domain.filters import Compare, FilterError, columns_in, parse_filter
from ..domain.rows import RowInput, RowPlan, plan_rows
from ..domain.rowsets import Cursors
from ..domain.stats import Stats, WriteCapture
from ..gc_pause import BULK_ROWS, cyclic_gc_paused
from ..group_commit import GroupCommit
from ..store import Store
from .tenants import Tenants


class WriteRows(Protocol):
    """The row-writing function other services receive (``Rows.write``)."""

    def __call__(
        self,
        tenant_id: str,
        de: DataExtension,
        rows: Sequence[RowInput],
        *,
        source: str,
        insert_only: bool = False,
        stop_at_first_error: bool = True,
        strict_columns: bool | None = None,
        then: Callable[[RowPlan], None] | None = None,
        capture: WriteCapture | None = None,
    ) -> RowPlan: ...


class Rows:
    def __init__(self, store: Store, clock: Clock, tenants: Tenants, stats: Stats, lock: threading.RLock):
        self.store = store
        self.clock = clock
        self.tenants = tenants
        self.stats = stats
        self.lock = lock
        self.cursors = Cursors()  # row-read cursors behind each requestToken
        # sync writes on a one-process store: those that arrive while another commits share its commit
        # (``sfmc_emulator_row_commits`` and ``..._row_commit_writes`` in the metrics count them)
        self.group: GroupCommit[RowPlan] = GroupCommit(lock, store.transaction)

    def forget(self, tenant_id: str | None = None) -> None:
        """Drop the read cursors of one tenant (or all) after a reset or delete."""
        self.cursors.forget(tenant_id)

    def write(
        self,
        tenant_id: str,
        de: DataExtension,
        rows: Sequence[RowInput],
        *,
        source: str,
        insert_only: bool = False,
        stop_at_first_error: bool = True,
        strict_columns: bool | None = None,
        then: Callable[[RowPlan], None] | None = None,
        capture: WriteCapture | None = None,
    ) -> RowPlan:
        """Validate and store rows; logs what was written and ignored. Row failures are in the plan.

        ``then(plan)`` runs in the rows' store transaction (an async job records its outcome with them).
        ``capture``: the SFMC call's record of what it wrote (its journal entry shows it).
        """
        tenant = self.tenants.get(tenant_id)
        strict = (tenant.settings.strict_columns if tenant else False) if strict_columns is None else strict_columns
        shared = self.store.shared
        grouped = not shared and then is None and len(rows) < BULK_ROWS
        # a grouped write of new keys is stored without reading them first (plan_rows' ``create``)
        create = partial(self.store.insert_new_rows, tenant_id, de.id) if grouped and len(rows) > 1 else None

        def plan_and_write() -> RowPlan:
            if shared:
                self.store.lock_rows(tenant_id, de.id)
            plan = plan_rows(
                de,
                rows,
                lambda keys: self.store.rows_by_key(tenant_id, de.id, keys),
                strict=strict,
                insert_only=insert_only,
                stop_at_first_error=stop_at_first_error,
                sfmc_dates=bool(tenant and tenant.settings.accept_sfmc_date_formats),
                create=create,
                merge=True,
            )
            if plan.merge is not None:  # a lone row the store merges into its stored row (no read before)
                ((key, data),) = plan.writes.items()
                self.store.merge_row(tenant_id, de.id, cast(str, key), data, plan.merge)
            elif not plan.written and (plan.writes or plan.appends):
                self.store.write_rows(tenant_id, de.id, plan.writes, plan.appends)
            if then is not None:
                then(plan)
            return plan

        if grouped and not self.lock._is_owned():  # type: ignore[attr-defined]
            # on a one-process store, a write that arrives while another commits shares its transaction
            # and its commit (``group_commit.py``); never from under the lock, which a group's leader waits for
            # a write that raises leaves nothing, as the group needs: its one store call that writes undoes its
            # own changes (merge_row and insert_new_rows are one statement, which SQLite undoes alone when it
            # fails; write_rows has a savepoint of its own), and nothing that can fail runs after it
            plan = self.group.run(plan_and_write)
        else:
            # plan and write as one step, so concurrent upserts of a key never interleave: under this
            # process's lock, or on a shared store under the Data Extension's lock in the database
            with (
                cyclic_gc_paused() if len(rows) >= BULK_ROWS else nullcontext(),
                nullcontext() if shared else self.lock,
                self.store.transaction(pipeline=shared) if then is not None or shared else nullcontext(),
            ):
                plan = plan_and_write()
        failed, ignored_keys = plan.failed, plan.ignored_keys
        problems = [p for o in failed for p in o.problems] if failed else []
        self.stats.record_write(tenant_id, saved=len(rows) - len(failed), failed=len(failed), ignored_keys=ignored_keys)
        if capture is not None:
            capture.add(saved=len(rows) - len(failed), ignored_keys=ignored_keys, problems=problems)
        if ignored_keys or failed:
            self.store.log_write(
                tenant_id,
                {
                    "at": self.clock.now(),
                    "source": source,
                    "data_extension": de.key,
                    "rows_submitted": len(rows),
                    "rows_saved": len(rows) - len(failed),
                    "ignored_keys": ignored_keys,
                    "problems": problems[:50],
                },
            )
        return plan

    def existing(self, tenant_id: str, de: DataExtension, row_keys: list[str]) -> dict[str, dict]:
        """The stored rows of these keys (``domain.rows.row_key_of``)."""
        return self.store.rows_by_key(tenant_id, de.id, row_keys)

    def delete(self, tenant_id: str, de: DataExtension, row_keys: list[str]) -> int:
        with self.lock:
            return self.store.delete_rows(tenant_id, de.id, row_keys)

    def query(self, tenant_id: str, de: DataExtension, where, offset: int, limit: int) -> tuple[list[dict], int]:
        """Rows matching a filter tree whose columns are already canonical (SOAP's filters build one)."""
        return self.store.query_rows(tenant_id, de.id, where, offset, limit)

    def writes(self, tenant_id: str, limit: int) -> list[dict]:
        """The logged writes of a tenant that ignored keys or refused rows, newest first."""
        return self.store.list_writes(tenant_id, limit)

    def read(self, tenant_id: str, de: DataExtension, *, page: int, page_size: int, filter_text: str | None):
        where = None
        if filter_text:
            try:
                where = parse_filter(filter_text)
            except FilterError as err:
                raise errors.incorrect_format(f"Invalid $filter: {err}") from None
            for name in columns_in(where):
                if de.column(name) is None:
                    raise errors.incorrect_format(f"Invalid $filter: the column '{name}' does not exist.")
            where = _canonical(where, de)
        return self.store.query_rows(tenant_id, de.id, where, (page - 1) * page_size, page_size)


def _canonical(node, de: DataExtension):
    if isinstance(node, Compare):
        return Compare(de.column(node.column).name, node.op, node.value)
    return type(node)(node.op, _canonical(node.left, de), _canonical(node.right, de))
