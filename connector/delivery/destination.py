"""The destination: accept Segment events into the outbox, then deliver them to SFMC.

Each pending event is planned (``connector.plan``); its operations are grouped so SFMC sees as
few calls as the seed allows: synchronous rowsets of up to ``sync_group_size`` rows per Data
Extension, or with batching (BAT-1) async jobs of up to 32,000 items / 5 MB whose per-row
results are mapped back to the events. An event ends ``delivered`` when all its operations
succeeded, ``rejected`` (with SFMC's reason) when one was refused for good, ``dropped`` when the
seed says it is not sent (with the rule). When SFMC stays unreachable after retries the events
stay ``pending`` and the next run resumes them: delivery is at least once, never lost.

Every wait has a bound. An async job still unfinished after ``batching.job_deadline`` is
abandoned and its events go back to pending (``async_job_stalled``); a row SFMC refused for a
transient reason (``outcomes.row_error_kind``: a deadlock, a timeout) goes back too. Such events
are sent again after ``retry_delay`` (doubling, at most ``max_backoff``) up to
``transient_retries`` times, then rejected with the reason; other events keep flowing meanwhile.

Before rows go out, the Data Extension's column types are read once (``GET
/data/v1/customobjects/key:{key}/fields``, cached; dropped from the cache when SFMC refuses a
value for its type): text becomes ISO-8601 only for a ``Date`` column (``transform.bind_to_columns``),
and a row whose values name no column of the DE gets its key columns added there, since SFMC
refuses it otherwise and, in a rowset, every row after it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from .. import personas
from ..plan import EnsurePersonasDataExtension, FireApiEvent, Plan, UpsertContact, UpsertRow, plan
from ..settings import Settings
from ..transform import DATE_TYPE, AmbiguousDate, bind_to_columns, iso_date_string
from .client import DeliveryError, SfmcClient
from .collector import cyclic_gc_paused
from .outbox import DELIVERED, DROPPED, PENDING, REJECTED, Outbox, OutboxEvent
from .outcomes import TRANSIENT, is_type_problem, row_error_kind, row_result

ASYNC_DONE = ("Complete", "Error")
RESULTS_PAGE_SIZE = 50  # SFMC's default page of async results
MAX_RESULT_PAGES = 1000  # a results answer that never ends cannot keep delivery waiting
STALLED = "async_job_stalled"
EXHAUSTED = "transient_retries_exhausted"

Planner = Callable[[Mapping[str, Any], Settings], Plan]


class Refused(Exception):
    """SFMC refused an operation; ``code`` is a stable reason code for summaries.

    ``transient``: worth sending again later (a stalled job, a deadlocked row), not final.
    """

    def __init__(self, code: str, reason: str, *, transient: bool = False):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.transient = transient


def _error_text(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if isinstance(body, dict):
        details = [e.get("message", "") for e in body.get("additionalErrors") or []]
        results = [m.get("message", "") for m in body.get("resultMessages") or []]
        main = body.get("message") or body.get("error_description") or ""
        return f"HTTP {response.status_code}: " + "; ".join(x for x in [main, *details, *results] if x)
    return f"HTTP {response.status_code}"


def _next_link(body: dict) -> str | None:
    """A ``links.next`` of a results page, as a path on the REST host."""
    links = body.get("links")
    link = links.get("next") if isinstance(links, dict) else None
    if isinstance(link, dict):
        link = link.get("href")
    if not isinstance(link, str) or not link:
        return None
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "") if parts.scheme else link


def _is_row_error(response) -> bool:
    """400 errorcode 10006 naming problems: some row was bad (rows before it were saved)."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("errorcode") == 10006 and bool(body.get("additionalErrors"))


def _row_bytes(row: dict) -> bytes:
    """One async item as compact UTF-8 JSON: orjson (several times faster on a backfill's million rows),
    or ``json.dumps`` for what orjson refuses (an integer beyond 64 bits; a lone surrogate, which
    fails to encode either way). Values here are ``normalize_scalar``'s, never NaN or infinite."""
    try:
        return orjson.dumps(row)
    except orjson.JSONEncodeError:
        return json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode()


def _rewrites_a_date(values: Mapping[str, Any], date_columns: tuple[str, ...]) -> bool:
    """Whether ``bind_to_columns`` would change a value of these Date columns, or refuse one."""
    try:
        return any(isinstance(v := values[c], str) and iso_date_string(v) is not None for c in date_columns)
    except ValueError:  # an ambiguous or impossible date: bind_to_columns says which and why
        return True


@dataclass
class _Pass:
    """One batch of outbox events on its way: what is decided, what failed, async jobs to await."""

    size: int
    outcomes: dict[int, tuple[str, str | None, str | None]] = field(default_factory=dict)
    failures: dict[int, Refused] = field(default_factory=dict)
    retries: dict[int, Refused] = field(default_factory=dict)  # transient: sent again later
    retried_before: dict[int, int] = field(default_factory=dict)
    plans: dict = field(default_factory=dict)
    jobs: list = field(default_factory=list)
    settled: bool = False

    def refuse(self, seq: int, refused: Refused) -> None:
        (self.retries if refused.transient else self.failures).setdefault(seq, refused)

    def blocked(self, seq: int) -> bool:
        return seq in self.failures or seq in self.retries


@dataclass
class RunSummary:
    delivered: int = 0
    rejected: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    pending: int = 0
    stopped_because: str | None = None
    retried: Counter = field(default_factory=Counter)  # events sent again later, by reason

    def as_dict(self) -> dict:
        return {
            "delivered": self.delivered,
            "rejected": dict(self.rejected),
            "dropped": dict(self.dropped),
            "pending": self.pending,
            "retried": dict(self.retried),
            "stopped_because": self.stopped_because,
        }


class Destination:
    def __init__(
        self,
        settings: Settings,
        *,
        outbox: Outbox | None = None,
        client: SfmcClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        planner: Planner = plan,
    ):
        """``planner`` turns one event into its operations (``connector.plan.plan`` unless another is given)."""
        self.settings = settings
        self.planner = planner
        self.outbox = outbox or Outbox(settings.outbox_path)
        self.client = client or SfmcClient(settings, sleep=sleep)
        self._sleep = sleep
        self._personas_ready: set[tuple[str, str]] = set()
        self._column_types: dict[str, dict[str, str] | None] = {}  # DE key -> folded column -> type
        self._sender: ThreadPoolExecutor | None = None  # async request bodies go out from here

    # -- intake -------------------------------------------------------------------------------

    def accept(self, events: Iterable[dict]) -> tuple[int, int]:
        """Durably queue events; returns (accepted, duplicates by messageId)."""
        return self.outbox.accept(events)

    # -- delivery -----------------------------------------------------------------------------

    def chunk_size(self) -> int:
        # with batching, several jobs per pass: SFMC works on one while the next is planned and sent
        return self.settings.batching.max_items * 4 if self.settings.batching.enabled else 500

    def deliver_pending(self, *, on_progress: Callable[[int], None] | None = None) -> RunSummary:
        """Deliver every pending event; stops early (events kept) when SFMC stays unreachable.

        Passes overlap: while SFMC works through one pass's async jobs the next pass is planned and
        submitted, so a backfill keeps both sides busy.
        """
        summary = RunSummary()
        while self._sweep(summary, on_progress):
            # events with a transient failure wait for their next attempt; each waits at most
            # max_backoff and is sent at most transient_retries more times, so this ends
            due = self.outbox.next_due()
            if due is None:
                break
            self._sleep(max(0.0, min(due - time.time(), self.settings.max_backoff)))
        summary.pending = self.outbox.counts()[PENDING]
        return summary

    @contextmanager
    def _sending(self) -> Iterator[None]:
        """A thread that sends the async jobs' bodies while this one plans the next ones.

        A job's body is 5 MB that SFMC reads and stores before it answers 202: this thread would
        otherwise wait for that, job after job. Ends with the block: requests already handed
        over are finished (their answers go unread when delivery stopped), queued ones dropped;
        their events are still pending, for the next run.
        """
        if self._sender is not None:  # nested: the outer block owns the thread
            yield
            return
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sfmc-async-sender")
        try:
            yield
        finally:
            sender, self._sender = self._sender, None
            sender.shutdown(wait=True, cancel_futures=True)

    def _sweep(self, summary: RunSummary, on_progress: Callable[[int], None] | None) -> bool:
        """One pass over the pending events that are due; False when SFMC stayed unreachable."""
        with self._sending():
            return self._sweep_passes(summary, on_progress)

    def _sweep_passes(self, summary: RunSummary, on_progress: Callable[[int], None] | None) -> bool:
        last = 0
        open_passes: list[_Pass] = []  # started, not yet finished: at most two
        try:
            while True:
                with cyclic_gc_paused():
                    batch = self.outbox.pending(self.chunk_size(), after_seq=last)
                    if not batch:
                        break
                    last = batch[-1].seq
                    open_passes.append(self._start(batch, summary))
                    del batch
                if len(open_passes) > 1:
                    with cyclic_gc_paused():
                        self._finish(open_passes[0], summary, on_progress)
                    open_passes.pop(0)
            while open_passes:
                with cyclic_gc_paused():
                    self._finish(open_passes[0], summary, on_progress)
                open_passes.pop(0)
        except DeliveryError as err:
            summary.stopped_because = str(err)
            for started in open_passes:
                self._abandon(started, err, summary)
            return False
        return True

    def process(self, batch: list[OutboxEvent], summary: RunSummary | None = None) -> None:
        """Deliver one batch of outbox events completely (raises DeliveryError, events kept, on an outage)."""
        summary = summary if summary is not None else RunSummary()
        with self._sending():
            this_pass = self._start(batch, summary)
            try:
                self._finish(this_pass, summary)
            except DeliveryError as err:
                self._abandon(this_pass, err, summary)
                raise

    def _start(self, batch: list[OutboxEvent], summary: RunSummary) -> _Pass:
        """Plan a batch and send what it calls for; async jobs are submitted, not awaited."""
        this_pass = _Pass(size=len(batch))
        for item in batch:
            if item.retries:
                this_pass.retried_before[item.seq] = item.retries
            planned = self.planner(item.event, self.settings)
            if planned.is_dropped:
                first = planned.dropped[0] if planned.dropped else None
                this_pass.outcomes[item.seq] = (
                    DROPPED,
                    str(first.reason_code) if first else "dropped",
                    first.reason if first else "nothing to send",
                )
            else:
                this_pass.plans[item.seq] = planned
        ops: dict[type, list[tuple[int, object]]] = defaultdict(list)
        for seq, planned in this_pass.plans.items():
            for op in planned.operations:
                ops[type(op)].append((seq, op))
        try:
            for seq, op in ops[EnsurePersonasDataExtension]:
                self._guard(seq, this_pass, self._ensure_personas, op)
            rows = ops[UpsertRow]
            if this_pass.failures or this_pass.retries:
                rows = [(seq, op) for seq, op in rows if not this_pass.blocked(seq)]
            rows = self._bound_rows(rows, this_pass)
            if self.settings.batching.enabled:
                this_pass.jobs = self._submit_async(rows, this_pass)
            else:
                self._rows_sync(rows, this_pass)
            self._contacts([(s, op) for s, op in ops[UpsertContact] if not this_pass.blocked(s)], this_pass)
            for seq, op in ops[FireApiEvent]:
                if not this_pass.blocked(seq):
                    self._guard(seq, this_pass, self._api_event, op)
        except DeliveryError as err:
            self._abandon(this_pass, err, summary)
            raise
        # what is left to do needs only which events were planned: the operations can go
        this_pass.plans = dict.fromkeys(this_pass.plans)
        return this_pass

    def _finish(self, this_pass: _Pass, summary: RunSummary, on_progress=None) -> None:
        """Await the pass's async jobs, then record every event's outcome."""
        accepted = []
        for de_key, sent in this_pass.jobs:
            for chunk, response, submitted_at in sent.result():  # DeliveryError: SFMC stayed unreachable
                if response.status_code == 202:
                    accepted.append((de_key, response.json()["requestId"], chunk, submitted_at))
                    continue
                refused = Refused(
                    f"async_refused_{response.status_code}", f"data extension '{de_key}': {_error_text(response)}"
                )
                for seq, _ in chunk:
                    this_pass.refuse(seq, refused)
        for job in accepted:
            self._await_job(*job, this_pass)
        later: dict[int, tuple[str, str, float]] = {}
        if not this_pass.failures and not this_pass.retries:  # every planned event delivered
            this_pass.outcomes.update(dict.fromkeys(this_pass.plans, (DELIVERED, None, None)))
        else:
            self._decide(this_pass, summary, later)
        self.outbox.retry_later(later)
        self.outbox.settle(this_pass.outcomes)
        this_pass.settled = True
        self._count(this_pass.outcomes, summary)
        if on_progress:
            on_progress(this_pass.size)

    def _decide(self, this_pass: _Pass, summary: RunSummary, later: dict[int, tuple[str, str, float]]) -> None:
        """Each planned event's outcome when some failed: rejected, sent again later (into ``later``) or delivered."""
        for seq in this_pass.plans:
            failure = this_pass.failures.get(seq)
            transient = this_pass.retries.get(seq)
            if failure is not None:
                this_pass.outcomes[seq] = (REJECTED, failure.code, failure.reason)
            elif transient is not None:
                retried = this_pass.retried_before.get(seq, 0)
                if retried >= self.settings.transient_retries:
                    code = STALLED if transient.code == STALLED else EXHAUSTED
                    limit = self.settings.transient_retries
                    reason = f"{transient.reason} (sent {retried + 1} times; transient_retries is {limit})"
                    this_pass.outcomes[seq] = (REJECTED, code, reason)
                else:
                    delay = min(self.settings.max_backoff, self.settings.retry_delay * 2**retried)
                    later[seq] = (transient.code, transient.reason, delay)
                    summary.retried[transient.code] += 1
            else:
                this_pass.outcomes[seq] = (DELIVERED, None, None)

    def _abandon(self, this_pass: _Pass, err: DeliveryError, summary: RunSummary) -> None:
        """SFMC unreachable: settle what is decided, keep the rest pending for the next run."""
        if this_pass.settled:
            return
        decided = dict(this_pass.outcomes)
        decided.update({s: (REJECTED, f.code, f.reason) for s, f in this_pass.failures.items()})
        self.outbox.settle(decided)
        self.outbox.note_attempt([s for s in this_pass.plans if s not in this_pass.failures], str(err))
        this_pass.settled = True
        self._count(decided, summary)

    @staticmethod
    def _count(outcomes, summary: RunSummary) -> None:
        for (status, code, _reason), n in Counter(outcomes.values()).items():
            if status == DELIVERED:
                summary.delivered += n
            elif status == REJECTED:
                summary.rejected[code] += n
            elif status == DROPPED:
                summary.dropped[code] += n

    @staticmethod
    def _guard(seq: int, this_pass: _Pass, action, op) -> None:
        try:
            action(op)
        except Refused as refused:
            this_pass.refuse(seq, refused)

    # -- column types (FMT-3) and rows SFMC would refuse for shape ---------------------------

    def column_types(self, de_key: str) -> dict[str, str] | None:
        """Folded column name -> SFMC type of a DE, read once; None when SFMC does not say."""
        if de_key not in self._column_types:
            response = self.client.call("GET", f"/data/v1/customobjects/key:{quote(de_key, safe='')}/fields")
            try:
                fields = response.json().get("fields") if response.ok else None
            except (ValueError, AttributeError):  # not the JSON object SFMC documents: judge nothing
                fields = None
            self._column_types[de_key] = (
                {str(f.get("name", "")).casefold(): str(f.get("type", "")) for f in fields if isinstance(f, dict)}
                if isinstance(fields, list)
                else None
            )
        return self._column_types[de_key]

    def _forget_types(self, de_key: str, message: str) -> None:
        """SFMC refused a value for its type: read the DE's column types again next time."""
        if is_type_problem(message):
            self._column_types.pop(de_key, None)

    def _bound_rows(self, rows: list[tuple[int, UpsertRow]], this_pass: _Pass) -> list[tuple[int, UpsertRow]]:
        """Rows with values bound to their DE's column types, and naming at least one of its columns."""
        bound: list[tuple[int, UpsertRow]] = []
        date_columns: dict[str, frozenset[str]] = {}  # DE key -> its Date columns (folded), for this call
        # (DE key, the row's columns) -> (whether one is a column of the DE, those that are Date columns):
        # the rows of a backfill name the same few column lists, each worked out once per call
        shapes: dict[tuple[str, tuple[str, ...]], tuple[bool, tuple[str, ...]]] = {}
        for seq, op in rows:
            types = self.column_types(op.de_key)
            if types is None:
                bound.append((seq, op))
                continue
            shape_key = (op.de_key, tuple(op.values))
            shape = shapes.get(shape_key)
            if shape is None:
                dates = date_columns.get(op.de_key)
                if dates is None:
                    dates = date_columns[op.de_key] = frozenset(
                        c for c, kind in types.items() if kind.casefold() == DATE_TYPE
                    )
                folded = [column.casefold() for column in op.values]
                shape = shapes[shape_key] = (
                    any(f in types for f in folded),
                    tuple(column for column, f in zip(op.values, folded, strict=True) if f in dates),
                )
            names_a_column, row_dates = shape
            if names_a_column and not _rewrites_a_date(op.values, row_dates):
                bound.append((seq, op))  # nothing to change (bind_to_columns would copy it as it is)
                continue
            values = dict(op.values)
            if not names_a_column:
                # no value names a column of the DE: SFMC would refuse the row ("At least one existing
                # field is required in the values property"); the keys are columns, so they go there
                values = {**values, **op.keys}
            try:
                values = bind_to_columns(values, types)
            except AmbiguousDate as error:
                this_pass.refuse(seq, Refused("ambiguous_date", f"data extension '{op.de_key}': {error}"))
                continue
            except ValueError as error:
                this_pass.refuse(seq, Refused("invalid_date", f"data extension '{op.de_key}': {error}"))
                continue
            bound.append(
                (seq, op if values == op.values else UpsertRow(op.de_key, op.keys, values, op.source_message_id))
            )
        return bound

    # -- synchronous rowsets ------------------------------------------------------------------

    def _rows_sync(self, rows: list[tuple[int, UpsertRow]], this_pass: _Pass) -> None:
        by_de: dict[str, list[tuple[int, UpsertRow]]] = defaultdict(list)
        for seq, op in rows:
            by_de[op.de_key].append((seq, op))
        size = self.settings.sync_group_size
        for de_key, items in by_de.items():
            for start in range(0, len(items), size):
                self._rowset(de_key, items[start : start + size], this_pass)

    def _rowset(self, de_key: str, items: list[tuple[int, UpsertRow]], this_pass: _Pass) -> None:
        # SFMC refuses a row whose values name no existing field: a keys-only row repeats its keys there
        body = [{"keys": op.keys, "values": op.values or dict(op.keys)} for _, op in items]
        response = self.client.call("POST", f"/hub/v1/dataevents/key:{quote(de_key, safe='')}/rowset", body)
        if response.ok:
            return
        text = _error_text(response)
        if len(items) > 1 and response.status_code == 400 and _is_row_error(response):
            # SFMC saved the rows before the bad one but does not say which it was: upserts are
            # idempotent, so send each row alone to find the bad ones and land the rest.
            for item in items:
                self._rowset(de_key, [item], this_pass)
            return
        transient = response.status_code == 400 and row_error_kind(text) == TRANSIENT
        code = "transient_row_error" if transient else f"rows_refused_{response.status_code}"
        refused = Refused(code, f"data extension '{de_key}': {text}", transient=transient)
        self._forget_types(de_key, text)
        for seq, _ in items:
            this_pass.refuse(seq, refused)

    # -- async jobs (batching) ----------------------------------------------------------------

    def _async_requests(self, items: list[tuple[int, UpsertRow]]):
        """Split one DE's rows into request bodies within the item and byte limits."""
        limit_items, limit_bytes = self.settings.batching.max_items, self.settings.batching.max_bytes - 64
        chunk, size = [], 0
        for seq, op in items:
            # each row is encoded once: its size decides the split, its bytes go into the body
            row = _row_bytes({**op.values, **op.keys})
            if chunk and (len(chunk) >= limit_items or size + len(row) + 1 > limit_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append((seq, row))
            size += len(row) + 1
        if chunk:
            yield chunk

    def _submit_async(self, rows: list[tuple[int, UpsertRow]], this_pass: _Pass) -> list:
        """Hand async jobs (BAT-1) to the sending thread; returns (de key, the answers to come) per request body.

        The answers (``_put_rows``) are read when the pass finishes.
        """
        by_de: dict[str, list[tuple[int, UpsertRow]]] = defaultdict(list)
        for seq, op in rows:
            by_de[op.de_key].append((seq, op))
        submitted: list[tuple[str, Future]] = []
        for de_key, items in by_de.items():
            path = f"/data/v1/async/dataextensions/key:{quote(de_key, safe='')}/rows"
            for chunk in self._async_requests(items):
                if self._sender is None:  # not inside _sending (a subclass calling _start): send here
                    done: Future = Future()
                    done.set_result(self._put_rows(path, chunk))
                    submitted.append((de_key, done))
                else:
                    submitted.append((de_key, self._sender.submit(self._put_rows, path, chunk)))
        return submitted

    def _put_rows(self, path: str, chunk: list[tuple[int, bytes]]) -> list[tuple[list, Any, float]]:
        """Send one request body of rows (in halves while SFMC answers 413); (rows, answer, sent at) for each.

        Runs on the sending thread: it only calls SFMC, the pass's bookkeeping stays with the planner.
        """
        answers = []
        chunks = [chunk]
        while chunks:
            part = chunks.pop(0)
            response = self.client.call("PUT", path, b'{"items":[' + b",".join(row for _, row in part) + b"]}")
            if response.status_code == 413 and len(part) > 1:  # the account's limit is lower: halve
                chunks[:0] = [part[: len(part) // 2], part[len(part) // 2 :]]
                continue
            answers.append((part, response, time.monotonic()))
        return answers

    def _await_job(self, de_key: str, request_id: str, chunk: list, submitted_at: float, this_pass: _Pass) -> None:
        """Wait for one async job, at most ``job_deadline``; map its per-row results to the events."""
        deadline = submitted_at + self.settings.batching.job_deadline
        # a job handed over a moment ago is given one poll interval; one that has had it is asked at once
        # (the jobs of a pass are awaited after the next pass is planned: most are done by then)
        next_poll = submitted_at + self.settings.batching.poll_interval
        status: dict = {}
        while status.get("requestStatus") not in ASYNC_DONE:
            if time.monotonic() >= deadline:
                stalled = Refused(
                    STALLED,
                    f"async request {request_id} into '{de_key}' still "
                    f"{status.get('requestStatus') or 'not picked up'} after "
                    f"{self.settings.batching.job_deadline:g}s (job_deadline); abandoned, its rows are sent again",
                    transient=True,
                )
                for seq, _ in chunk:
                    this_pass.refuse(seq, stalled)
                return
            wait = next_poll - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            response = self.client.call("GET", f"/data/v1/async/{request_id}/status")
            next_poll = time.monotonic() + self.settings.batching.poll_interval
            if not response.ok:
                raise DeliveryError(f"async request {request_id}: status unavailable: {_error_text(response)}")
            status = response.json().get("status") or {}
        if status["requestStatus"] == "Complete" and status.get("resultStatus") == "OK" and not status.get("hasErrors"):
            return  # every row saved: the per-row results have nothing to add
        items, messages, complete = self._job_results(request_id, len(chunk))
        if status["requestStatus"] == "Error" and not any(row_result(i).ok for i in items):
            # the whole job failed, e.g. the async API is not enabled on the account (BAT-3)
            why = "; ".join(str(m.get("message", "")) for m in messages if isinstance(m, dict))
            refused = Refused(
                "async_job_failed",
                f"async request {request_id} into '{de_key}' ended in Error"
                f"{': ' + why if why else ''} (BAT-3: is the async API enabled "
                "on the account?)",
            )
            for seq, _ in chunk:
                this_pass.refuse(seq, refused)
            return
        for (seq, _), item in zip(chunk, items, strict=False):
            result = row_result(item)
            if result.ok:
                continue
            transient = row_error_kind(result.message) == TRANSIENT
            self._forget_types(de_key, result.message)
            this_pass.refuse(
                seq,
                Refused(
                    "transient_row_error" if transient else "row_refused",
                    f"data extension '{de_key}': {result.message}",
                    transient=transient,
                ),
            )
        missing = Refused(
            "row_result_missing",
            f"async request {request_id} gave no result for the row"
            + ("" if complete else " (its results could not be read)"),
            transient=not complete,
        )
        for seq, _ in chunk[len(items) :]:
            this_pass.refuse(seq, missing)

    def _job_results(self, request_id: str, expected: int) -> tuple[list[dict], list, bool]:
        """Every result item of a job, page by page: (items, resultMessages, whether all pages were read).

        Reads both recorded shapes: one page holding every item, or SFMC's pages of ``$pageSize``
        items with ``count`` the total; a ``links.next`` is followed when given.
        """
        items: list[dict] = []
        messages: list = []
        path: str | None = f"/data/v1/async/{request_id}/results?$page=1&$pageSize={RESULTS_PAGE_SIZE}"
        page = 1
        while path is not None and page <= MAX_RESULT_PAGES:
            response = self.client.call("GET", path)
            if not response.ok:
                return items, messages, False
            body = response.json()
            got = [i for i in body.get("items") or [] if isinstance(i, dict)]
            items.extend(got)
            messages.extend(body.get("resultMessages") or [])
            count = body.get("count") if isinstance(body.get("count"), int) else expected
            if not got or len(items) >= count:
                break
            page += 1
            path = _next_link(body) or f"/data/v1/async/{request_id}/results?$page={page}&$pageSize={RESULTS_PAGE_SIZE}"
        return items, messages, len(items) >= expected

    # -- contacts, API events, Personas ------------------------------------------------------

    def _contacts(self, items: list[tuple[int, UpsertContact]], this_pass: _Pass) -> None:
        """Create each contact once (ID-5): keys created before, with the same attributes, are skipped.

        The created keys live in the outbox database, so a restarted connector skips them too;
        a changed attribute set (another digest) is sent again.
        """
        by_key: dict[str, list[int]] = defaultdict(list)
        for seq, op in items:
            by_key[op.contact_key].append(seq)
        bodies = {key: {"contactKey": key, "attributeSets": []} for key in by_key}
        digests = {
            key: hashlib.sha256(json.dumps(body["attributeSets"], sort_keys=True).encode()).hexdigest()
            for key, body in bodies.items()
        }
        known = self.outbox.known_contacts(digests)
        created: dict[str, str] = {}
        for key, seqs in by_key.items():
            if key in known:
                continue
            response = self.client.call("POST", "/contacts/v1/contacts", bodies[key])
            if response.ok:
                created[key] = digests[key]
                continue
            refused = Refused(f"contact_refused_{response.status_code}", f"contact '{key}': {_error_text(response)}")
            for seq in seqs:
                this_pass.refuse(seq, refused)
        self.outbox.remember_contacts(created)

    def _api_event(self, op: FireApiEvent) -> None:
        response = self.client.call(
            "POST",
            "/interaction/v1/events",
            {"ContactKey": op.contact_key, "EventDefinitionKey": op.event_definition_key, "Data": op.data},
        )
        if not response.ok:
            raise Refused(
                f"api_event_refused_{response.status_code}",
                f"API event '{op.event_definition_key}': {_error_text(response)}",
            )

    def _data_extension_folder(self) -> int | None:
        """The folder (categoryId) SFMC's REST create needs, PER-1's "default location": the folder the
        account's Data Extensions are in, else the root "Data Extensions" folder read over SOAP."""
        response = self.client.call("GET", "/data/v1/customobjects?$search=")
        items = response.json().get("items", []) if response.ok else []
        folders = [i.get("categoryId") for i in items if isinstance(i.get("categoryId"), int) and i["categoryId"] > 0]
        if folders:
            return max(set(folders), key=folders.count)
        found = self.client.soap("Retrieve", personas.ROOT_FOLDER_RETRIEVE)
        return personas.root_folder_id(found.content) if found is not None and found.ok else None

    def _ensure_personas(self, op: EnsurePersonasDataExtension) -> None:
        """PER-1/PER-2: create the Personas DE, or check an existing one and add the missing column."""
        if (op.de_key, op.column_name.lower()) in self._personas_ready:
            return
        self._column_types.pop(op.de_key, None)  # the DE may be created or gain a column here
        key = quote(op.de_key, safe="")
        response = self.client.call("GET", f"/data/v1/customobjects/key:{key}/fields")
        if response.status_code == 404 and op.create_if_missing:
            created = self.client.call(
                "POST",
                "/data/v1/customobjects",
                {
                    "name": personas.DEFAULT_PERSONAS_DE_NAME,
                    "key": op.de_key,
                    "categoryId": self._data_extension_folder(),
                    "isSendable": False,
                    "fields": personas.new_data_extension_fields(op.column_name, op.column_type),
                },
            )
            if created.status_code not in (201, 409):
                raise Refused("personas_de_not_created", f"could not create '{op.de_key}': {_error_text(created)}")
            response = self.client.call("GET", f"/data/v1/customobjects/key:{key}/fields")
        if not response.ok:
            raise Refused("personas_de_missing", f"Personas data extension '{op.de_key}': {_error_text(response)}")
        fields = response.json().get("fields", [])
        problems = personas.requirements_problems(fields, op.column_name, op.column_type)
        if problems:
            raise Refused(
                "personas_de_invalid",
                f"data extension '{op.de_key}' cannot take the Personas sync: " + "; ".join(problems),
            )
        if not any(f.get("name", "").lower() == op.column_name.lower() for f in fields):
            added = self.client.call(
                "POST",
                f"/data/v1/customobjects/key:{key}/fields",
                {"fields": [personas.column_field(op.column_name, op.column_type)]},
            )
            if not added.ok and added.status_code != 409:
                raise Refused(
                    "personas_column_not_added",
                    f"could not add '{op.column_name}' to '{op.de_key}': {_error_text(added)}",
                )
        self._personas_ready.add((op.de_key, op.column_name.lower()))
