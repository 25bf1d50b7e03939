"""Journey Builder over the store: event definitions, API events and the journey entries they make.

Rules live in ``domain/journeys.py``; event data reaches its Data Extension through the row
writer it is given (``services/rows.py``), the one row validator.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from .. import errors
from ..clock import Clock
from ..domain import journeys as rules
from ..domain.data_extensions import DataExtension
from ..domain.journeys import EventDefinitionError
from ..domain.stats import WriteCapture
from ..store import Store
from .rows import WriteRows


class Journeys:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        find_data_extension: Callable[..., DataExtension | None],
        write_rows: WriteRows,
    ):
        self.store = store
        self.clock = clock
        self.find_data_extension = find_data_extension
        self.write_rows = write_rows
        self._lock = threading.Lock()

    # -- definitions ----------------------------------------------------------------------------

    def definitions(self, tenant_id: str) -> list[dict]:
        return self.store.list_event_definitions(tenant_id)

    def find(self, tenant_id: str, *, key: str | None = None, definition_id: str | None = None) -> dict | None:
        for definition in self.definitions(tenant_id):
            if (key is not None and definition["key"].lower() == key.lower()) or (
                definition_id is not None and definition["id"] == definition_id.lower()
            ):
                return definition
        return None

    def _find_de(self, tenant_id: str):
        return lambda key=None, de_id=None: self.find_data_extension(tenant_id, key=key, de_id=de_id)

    def create(self, tenant_id: str, body: dict) -> dict:
        try:
            definition = rules.build_definition(body, self._find_de(tenant_id), now=self.clock.now(), client_id=False)
        except EventDefinitionError as err:
            raise errors.invalid(err.problems) from None
        with self._lock:
            if self.find(tenant_id, key=definition["key"]):
                raise errors.already_exists(f"An event definition with the key '{definition['key']}' already exists.")
            self.store.put_event_definition(tenant_id, definition)
        return definition

    def update(self, tenant_id: str, current: dict, body: dict) -> dict:
        try:
            definition = rules.build_definition(body, self._find_de(tenant_id), now=self.clock.now(), current=current)
        except EventDefinitionError as err:
            raise errors.invalid(err.problems) from None
        with self._lock:
            other = self.find(tenant_id, key=definition["key"])
            if other is not None and other["id"] != current["id"]:
                raise errors.already_exists(f"An event definition with the key '{definition['key']}' already exists.")
            self.store.put_event_definition(tenant_id, definition)
        return definition

    def delete(self, tenant_id: str, definition: dict) -> bool:
        return self.store.delete_event_definition(tenant_id, definition["id"])

    # -- events ---------------------------------------------------------------------------------

    def fire(
        self, tenant_id: str, body: dict, *, source: str = "api event", capture: WriteCapture | None = None
    ) -> dict:
        """``POST /interaction/v1/events``: write the entry data, record the journey entry; SfmcError if refused.

        ``capture`` records the row write for the call's journal entry (``Rows.write``).
        """
        contact_key, event_key, data, problems = rules.parse_event(body)
        if problems:
            raise errors.invalid_or_missing(problems)
        return self._enter(tenant_id, contact_key, event_key, data, source, capture)

    def _enter(
        self, tenant_id: str, contact_key: str, event_key: str, data: dict, source: str, capture: WriteCapture | None
    ) -> dict:
        definition = self.find(tenant_id, key=event_key)
        if definition is None:
            raise errors.invalid_parameter(f"Event definition with the key '{event_key}' was not found.")
        de = self.find_data_extension(tenant_id, de_id=definition["dataExtensionId"])
        if de is None:
            raise errors.invalid_parameter(f"The data extension of event definition '{event_key}' no longer exists.")
        # Data naming a field the event's DE lacks is refused, never ignored (docs/fidelity.md, EVT-4)
        plan = self.write_rows(
            tenant_id,
            de,
            [rules.event_row(de, contact_key, data)],
            source=source,
            strict_columns=True,
            capture=capture,
        )
        if plan.failed:
            raise errors.rows_not_saved(
                f"Unable to save the event data to data extension ID {de.id}", plan.failed[0].problems
            )
        entry = rules.journey_entry(definition, contact_key, data, now=self.clock.now(), source=source)
        self.store.add_journey_entry(tenant_id, entry)
        return entry

    def fire_many(self, tenant_id: str, body: dict, *, capture: WriteCapture | None = None) -> dict:
        """``POST /interaction/v1/async/events``: each member enters (or not) on its own."""
        fields = rules.any_case(body)
        event_key, members = fields.get("eventdefinitionkey"), fields.get("members")
        problems = []
        if not isinstance(event_key, str) or not event_key.strip():
            problems.append("eventDefinitionKey is required.")
        if not isinstance(members, list) or not members:
            problems.append("members must be a non-empty list of {contactKey, data}.")
        elif len(members) > rules.MAX_ASYNC_MEMBERS:
            problems.append(f"members has {len(members)} entries; at most {rules.MAX_ASYNC_MEMBERS} are allowed.")
        if problems:
            raise errors.invalid_or_missing(problems)
        if self.find(tenant_id, key=event_key) is None:
            raise errors.invalid_parameter(f"Event definition with the key '{event_key}' was not found.")
        results = []
        for member in members:
            member = rules.any_case(member) if isinstance(member, dict) else {}
            contact = member.get("contactkey")
            out = {"contactKey": contact}
            try:
                problem = rules.contact_key_problem(contact, "contactKey")
                data = member.get("data")
                if problem is None and data is not None and not isinstance(data, dict):
                    problem = "data must be an object of the event's attributes."
                if problem is not None:
                    raise errors.incorrect_format(problem)
                entry = self._enter(tenant_id, str(contact), event_key, data or {}, "async api event", capture)
                out["eventInstanceId"] = entry["eventInstanceId"]
            except errors.SfmcError as err:
                out["errorcode"] = str(err.errorcode)  # a string in SFMC's async-event answers
                out["message"] = "; ".join([err.message, *(a["message"] for a in err.additional)])
            results.append(out)
        failed = sum(1 for r in results if "errorcode" in r)
        return {"requestId": str(uuid.uuid4()), "count": len(results), "notQueuedCount": failed, "members": results}

    def entries(self, tenant_id: str, limit: int) -> list[dict]:
        return self.store.list_journey_entries(tenant_id, limit)
