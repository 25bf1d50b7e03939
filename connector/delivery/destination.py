"""The destination: accept Segment events into the outbox, then deliver them to SFMC.

Each pending event is planned (``connector.plan``); its operations are grouped so SFMC sees as
few calls as the seed allows: synchronous rowsets of up to ``sync_group_size`` rows per Data
Extension, or with batching (BAT-1) async jobs of up to 32,000 items / 5 MB whose per-row
results are mapped back to the events. An event ends ``delivered`` when all its operations
succeeded, ``rejected`` (with SFMC's reason) when one was refused for good, ``dropped`` when the
seed says it is not sent (with the rule). When SFMC stays unreachable after retries the events
stay ``pending`` and the next run resumes them: delivery is at least once, never lost.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .. import personas
from ..plan import EnsurePersonasDataExtension, FireApiEvent, Plan, UpsertContact, UpsertRow, plan
from ..settings import Settings
from .client import DeliveryError, SfmcClient
from .outbox import DELIVERED, DROPPED, PENDING, REJECTED, Outbox, OutboxEvent

ASYNC_DONE = ("Complete", "Error")

Planner = Callable[[Mapping[str, Any], Settings], Plan]


class Refused(Exception):
    """SFMC refused an operation for good; ``code`` is a stable reason code for summaries."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


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


def _is_row_error(response) -> bool:
    """400 errorcode 10006 naming problems: some row was bad (rows before it were saved)."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("errorcode") == 10006 and bool(body.get("additionalErrors"))


@dataclass
class _Pass:
    """One batch of outbox events on its way: what is decided, what failed, async jobs to await."""

    size: int
    outcomes: dict[int, tuple[str, str | None, str | None]] = field(default_factory=dict)
    failures: dict[int, Refused] = field(default_factory=dict)
    plans: dict = field(default_factory=dict)
    jobs: list = field(default_factory=list)
    settled: bool = False


@dataclass
class RunSummary:
    delivered: int = 0
    rejected: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    pending: int = 0
    stopped_because: str | None = None

    def as_dict(self) -> dict:
        return {
            "delivered": self.delivered,
            "rejected": dict(self.rejected),
            "dropped": dict(self.dropped),
            "pending": self.pending,
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
        last = 0
        open_passes: list[_Pass] = []  # started, not yet finished: at most two
        try:
            while True:
                batch = self.outbox.pending(self.chunk_size(), after_seq=last)
                if not batch:
                    break
                last = batch[-1].seq
                open_passes.append(self._start(batch, summary))
                if len(open_passes) > 1:
                    self._finish(open_passes[0], summary, on_progress)
                    open_passes.pop(0)
            while open_passes:
                self._finish(open_passes[0], summary, on_progress)
                open_passes.pop(0)
        except DeliveryError as err:
            summary.stopped_because = str(err)
            for started in open_passes:
                self._abandon(started, err, summary)
        summary.pending = self.outbox.counts()[PENDING]
        return summary

    def process(self, batch: list[OutboxEvent], summary: RunSummary | None = None) -> None:
        """Deliver one batch of outbox events completely (raises DeliveryError, events kept, on an outage)."""
        summary = summary if summary is not None else RunSummary()
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
        failures = this_pass.failures
        try:
            for seq, op in ops[EnsurePersonasDataExtension]:
                self._guard(seq, failures, self._ensure_personas, op)
            rows = [(seq, op) for seq, op in ops[UpsertRow] if seq not in failures]
            if self.settings.batching.enabled:
                this_pass.jobs = self._submit_async(rows, failures)
            else:
                self._rows_sync(rows, failures)
            self._contacts([(s, op) for s, op in ops[UpsertContact] if s not in failures], failures)
            for seq, op in ops[FireApiEvent]:
                if seq not in failures:
                    self._guard(seq, failures, self._api_event, op)
        except DeliveryError as err:
            self._abandon(this_pass, err, summary)
            raise
        return this_pass

    def _finish(self, this_pass: _Pass, summary: RunSummary, on_progress=None) -> None:
        """Await the pass's async jobs, then record every event's outcome."""
        for de_key, request_id, chunk in this_pass.jobs:
            self._await_job(de_key, request_id, chunk, this_pass.failures)
        for seq in this_pass.plans:
            failure = this_pass.failures.get(seq)
            this_pass.outcomes[seq] = (REJECTED, failure.code, failure.reason) if failure else (DELIVERED, None, None)
        self.outbox.settle(this_pass.outcomes)
        this_pass.settled = True
        self._count(this_pass.outcomes, summary)
        if on_progress:
            on_progress(this_pass.size)

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
        for status, code, _reason in outcomes.values():
            if status == DELIVERED:
                summary.delivered += 1
            elif status == REJECTED:
                summary.rejected[code] += 1
            elif status == DROPPED:
                summary.dropped[code] += 1

    @staticmethod
    def _guard(seq: int, failures: dict, action, op) -> None:
        try:
            action(op)
        except Refused as refused:
            failures.setdefault(seq, refused)

    # -- synchronous rowsets ------------------------------------------------------------------

    def _rows_sync(self, rows: list[tuple[int, UpsertRow]], failures: dict) -> None:
        by_de: dict[str, list[tuple[int, UpsertRow]]] = defaultdict(list)
        for seq, op in rows:
            by_de[op.de_key].append((seq, op))
        size = self.settings.sync_group_size
        for de_key, items in by_de.items():
            for start in range(0, len(items), size):
                self._rowset(de_key, items[start : start + size], failures)

    def _rowset(self, de_key: str, items: list[tuple[int, UpsertRow]], failures: dict) -> None:
        # SFMC refuses a row whose values name no existing field: a keys-only row repeats its keys there
        body = [{"keys": op.keys, "values": op.values or dict(op.keys)} for _, op in items]
        response = self.client.call("POST", f"/hub/v1/dataevents/key:{quote(de_key, safe='')}/rowset", body)
        if response.ok:
            return
        refused = Refused(f"rows_refused_{response.status_code}", f"data extension '{de_key}': {_error_text(response)}")
        if len(items) > 1 and response.status_code == 400 and _is_row_error(response):
            # SFMC saved the rows before the bad one but does not say which it was: upserts are
            # idempotent, so send each row alone to find the bad ones and land the rest.
            for item in items:
                self._rowset(de_key, [item], failures)
            return
        for seq, _ in items:
            failures.setdefault(seq, refused)

    # -- async jobs (batching) ----------------------------------------------------------------

    def _async_requests(self, items: list[tuple[int, UpsertRow]]):
        """Split one DE's rows into request bodies within the item and byte limits."""
        limit_items, limit_bytes = self.settings.batching.max_items, self.settings.batching.max_bytes - 64
        chunk, size = [], 0
        for seq, op in items:
            # each row is encoded once: its size decides the split, its bytes go into the body
            row = json.dumps({**op.values, **op.keys}, separators=(",", ":"), ensure_ascii=False).encode()
            if chunk and (len(chunk) >= limit_items or size + len(row) + 1 > limit_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append((seq, row))
            size += len(row) + 1
        if chunk:
            yield chunk

    def _submit_async(self, rows: list[tuple[int, UpsertRow]], failures: dict) -> list:
        """Submit async jobs (BAT-1); returns (de key, request id, rows) for each job to await."""
        by_de: dict[str, list[tuple[int, UpsertRow]]] = defaultdict(list)
        for seq, op in rows:
            by_de[op.de_key].append((seq, op))
        submitted = []
        for de_key, items in by_de.items():
            path = f"/data/v1/async/dataextensions/key:{quote(de_key, safe='')}/rows"
            chunks = list(self._async_requests(items))
            while chunks:
                chunk = chunks.pop(0)
                response = self.client.call("PUT", path, b'{"items":[' + b",".join(row for _, row in chunk) + b"]}")
                if response.status_code == 413 and len(chunk) > 1:  # the account's limit is lower: halve
                    chunks[:0] = [chunk[: len(chunk) // 2], chunk[len(chunk) // 2 :]]
                    continue
                if response.status_code != 202:
                    refused = Refused(
                        f"async_refused_{response.status_code}",
                        f"data extension '{de_key}': {_error_text(response)}",
                    )
                    for seq, _ in chunk:
                        failures.setdefault(seq, refused)
                    continue
                submitted.append((de_key, response.json()["requestId"], chunk))
        return submitted

    def _await_job(self, de_key: str, request_id: str, chunk: list, failures: dict) -> None:
        status = {}
        while status.get("requestStatus") not in ASYNC_DONE:
            self._sleep(self.settings.batching.poll_interval)
            response = self.client.call("GET", f"/data/v1/async/{request_id}/status")
            if not response.ok:
                raise DeliveryError(f"async request {request_id}: status unavailable: {_error_text(response)}")
            status = response.json().get("status") or {}
        results, items = self._job_results(request_id)
        if status["requestStatus"] == "Error" and not any(i.get("status") == "OK" for i in items):
            # the whole job failed, e.g. the async API is not enabled on the account (BAT-3)
            why = (
                "; ".join(m.get("message", "") for m in (results.json().get("resultMessages") or []))
                if results.ok
                else ""
            )
            refused = Refused(
                "async_job_failed",
                f"async request {request_id} into '{de_key}' ended in Error"
                f"{': ' + why if why else ''} (BAT-3: is the async API enabled "
                "on the account?)",
            )
            for seq, _ in chunk:
                failures.setdefault(seq, refused)
            return
        for (seq, _), item in zip(chunk, items, strict=False):
            if item.get("status") != "OK":
                failures.setdefault(
                    seq,
                    Refused(
                        "row_refused",
                        f"data extension '{de_key}': {item.get('message') or item.get('errors')}",
                    ),
                )
        for seq, _ in chunk[len(items) :]:
            failures.setdefault(seq, Refused("row_result_missing", f"async request {request_id} gave no result"))

    def _job_results(self, request_id: str):
        """Every result item of a job: SFMC pages them (50 a page by default), so read page after page."""
        items: list = []
        page = 1
        while True:
            results = self.client.call("GET", f"/data/v1/async/{request_id}/results?$page={page}&$pageSize=50")
            if not results.ok:
                return results, items
            body = results.json()
            batch = body.get("items") or []
            items += batch
            if not batch or len(items) >= int(body.get("count") or 0):
                return results, items
            page += 1

    # -- contacts, API events, Personas ------------------------------------------------------

    def _contacts(self, items: list[tuple[int, UpsertContact]], failures: dict) -> None:
        by_key: dict[str, list[int]] = defaultdict(list)
        for seq, op in items:
            by_key[op.contact_key].append(seq)
        for key, seqs in by_key.items():
            response = self.client.call("POST", "/contacts/v1/contacts", {"contactKey": key, "attributeSets": []})
            if not response.ok:
                refused = Refused(
                    f"contact_refused_{response.status_code}", f"contact '{key}': {_error_text(response)}"
                )
                for seq in seqs:
                    failures.setdefault(seq, refused)

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
