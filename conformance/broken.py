"""Deliberately broken connectors: the bundled one with exactly ONE seed rule broken each.

They give the suite teeth: ``tests/conformance/test_broken_connectors.py`` runs the cases of
each one's rule and expects that rule among the failures. Each is usable from the CLI too, e.g.
``sfmc-conformance run --connector python:conformance.broken:colons_kept -k ID-3``.

Most wrap our planner (plan with ``connector.plan.plan``, then bend the operations) and hand it to
their own ``Destination(planner=...)``; a few bend the HTTP client or the settings of one
``Destination``. Nothing is patched process-wide, so they run in parallel.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable
from urllib.parse import quote

from dateutil import parser as date_parser

from connector import plan as planning
from connector.delivery.destination import Refused
from connector.plan import FireApiEvent, Plan, UpsertContact, UpsertRow
from connector.settings import BatchingSettings
from connector.transform import CONTEXT_ATTRIBUTES, iso_date_string

from .bundled import build, deliver

PlanMutator = Callable[[dict, object, Plan], Plan]


def _with_plan(mutate: PlanMutator, settings: dict, events: list[dict]) -> dict:
    def broken_plan(event, s):
        return mutate(event, s, planning.plan(event, s))

    with tempfile.TemporaryDirectory(prefix="sfmc-broken-") as tmp:
        return deliver(build(settings, tmp, planner=broken_plan), events)


def _rows(result: Plan, change: Callable[[UpsertRow], UpsertRow | None]) -> Plan:
    operations = []
    for op in result.operations:
        if isinstance(op, UpsertRow):
            op = change(op)
        if op is not None:
            operations.append(op)
    return dataclasses.replace(result, operations=tuple(operations))


def _camel(column: str) -> str:
    words = column.replace("-", " ").split()
    return (words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])) if words else column


# -- FMT-1 ------------------------------------------------------------------------------------------


def keys_not_title_cased(settings, events, env):
    """Sends value columns as camelCase (``firstName``) instead of Title Case (breaks FMT-1)."""

    def mutate(event, s, result):
        return _rows(result, lambda op: dataclasses.replace(op, values={_camel(k): v for k, v in op.values.items()}))

    return _with_plan(mutate, settings, events)


# -- ID-3 -------------------------------------------------------------------------------------------


def colons_kept(settings, events, env):
    """Keeps the colons of the userId in the Contact Key (breaks ID-3)."""

    def mutate(event, s, result):
        raw = event.get("userId")
        if not isinstance(raw, str) or ":" not in raw:
            return result
        stripped = raw.replace(":", "")
        operations = []
        for op in result.operations:
            if isinstance(op, UpsertRow):
                op = dataclasses.replace(
                    op,
                    keys={k: raw if v == stripped else v for k, v in op.keys.items()},
                    values={k: raw if v == stripped else v for k, v in op.values.items()},
                )
            elif isinstance(op, UpsertContact | FireApiEvent) and op.contact_key == stripped:
                op = dataclasses.replace(op, contact_key=raw)
            operations.append(op)
        return dataclasses.replace(result, operations=tuple(operations))

    return _with_plan(mutate, settings, events)


# -- FMT-2 ------------------------------------------------------------------------------------------


def nested_objects_sent(settings, events, env):
    """Sends nested trait/property objects as values instead of leaving them out (breaks FMT-2)."""

    def mutate(event, s, result):
        payload = event.get("traits") or event.get("properties") or {}
        nested = {planning.title_case(k): v for k, v in payload.items() if isinstance(v, dict | list)}
        return _rows(result, lambda op: dataclasses.replace(op, values={**op.values, **nested}))

    return _with_plan(mutate, settings, events)


# -- ID-2 -------------------------------------------------------------------------------------------


def email_fallback_missing(settings, events, env):
    """Only uses userId as the Contact Key: an identify with just an email is dropped (breaks ID-2)."""

    def mutate(event, s, result):
        if event.get("type") == "identify" and not event.get("userId"):
            return Plan(dropped=result.dropped, warnings=result.warnings)
        return result

    return _with_plan(mutate, settings, events)


# -- TR-3 -------------------------------------------------------------------------------------------


def primary_keys_ignored(settings, events, env):
    """Keys conversion rows by Contact Key alone, ignoring the other Primary Key columns (breaks TR-3)."""

    def mutate(event, s, result):
        def change(op):
            if "Contact Key" not in op.keys or len(op.keys) == 1:
                return op
            return dataclasses.replace(op, keys={"Contact Key": op.keys["Contact Key"]})

        return _rows(result, change)

    return _with_plan(mutate, settings, events)


# -- TR-5 -------------------------------------------------------------------------------------------


def uuid_ignored(settings, events, env):
    """Keys UUID conversion rows by Contact Key instead of Uuid = messageId (breaks TR-5)."""

    def mutate(event, s, result):
        def change(op):
            if "Uuid" not in op.keys:
                return op
            return dataclasses.replace(
                op,
                keys={"Contact Key": op.values.get("Contact Key")},
                values={k: v for k, v in op.values.items() if k != "Contact Key"},
            )

        return _rows(result, change)

    return _with_plan(mutate, settings, events)


# -- ID-5 -------------------------------------------------------------------------------------------


def contacts_always_created(settings, events, env):
    """Ignores "Do Not Create or Update Contacts" (breaks ID-5)."""
    with tempfile.TemporaryDirectory(prefix="sfmc-broken-") as tmp:
        return deliver(build({**settings, "do_not_create_contacts": False}, tmp), events)


# -- RL-1 -------------------------------------------------------------------------------------------


def no_429_retry(settings, events, env):
    """Gives up on the first 429 (no retries at all) (breaks RL-1)."""
    with tempfile.TemporaryDirectory(prefix="sfmc-broken-") as tmp:
        return deliver(build({**settings, "max_retries": 0}, tmp), events)


def retry_after_ignored(settings, events, env):
    """Retries a 429 at once, whatever its Retry-After says (breaks RL-1 / SFMC-RETRY-AFTER)."""
    with tempfile.TemporaryDirectory(prefix="sfmc-broken-") as tmp:
        destination = build(settings, tmp)
        destination.client._wait = lambda state: 0.01
        return deliver(destination, events)


def unpaced(settings, events, env):
    """No client-side pacing: fires as fast as it can and lets SFMC's 429s sort it out (breaks RL-1)."""
    with tempfile.TemporaryDirectory(prefix="sfmc-broken-") as tmp:
        return deliver(build({**settings, "rate_limit": 1000.0}, tmp), events)


# -- ID-1 -------------------------------------------------------------------------------------------


def identify_without_ids_forwarded(settings, events, env):
    """Forwards an identify with neither userId nor email, keyed by its anonymousId (breaks ID-1)."""

    def mutate(event, s, result):
        if event.get("type") != "identify" or result.operations or not s.identify_de_key:
            return result
        key = str(event.get("anonymousId") or event.get("messageId"))
        values = {
            planning.title_case(k): v for k, v in (event.get("traits") or {}).items() if not isinstance(v, dict | list)
        }
        return Plan(operations=(UpsertRow(s.identify_de_key, {"Contact Key": key}, values, None),))

    return _with_plan(mutate, settings, events)


# -- BAT-1, BAT-2, BAT-3 ------------------------------------------------------------------------------


def api_events_under_batching(settings, events, env):
    """Fires API events and creates contacts even while batching is on (breaks BAT-2)."""

    def mutate(event, s, result):
        if not s.batching.enabled:
            return result
        unbatched = dataclasses.replace(s, batching=BatchingSettings(enabled=False), do_not_create_contacts=False)
        extra = [
            op for op in planning.plan(event, unbatched).operations if isinstance(op, FireApiEvent | UpsertContact)
        ]
        return dataclasses.replace(result, operations=result.operations + tuple(extra))

    return _with_plan(mutate, settings, events)


def sync_rows_under_batching(settings, events, env):
    """Ignores the batching setting and writes rows through sync rowsets (breaks BAT-1)."""
    batching = {**(settings.get("batching") or {}), "enabled": False}
    with tempfile.TemporaryDirectory(prefix="sfmc-broken-") as tmp:
        return deliver(build({**settings, "batching": batching, "do_not_create_contacts": True}, tmp), events)


def async_failure_silent(settings, events, env):
    """Never checks how an async job ended, so a dropped batch counts as delivered (breaks BAT-3)."""
    with tempfile.TemporaryDirectory(prefix="sfmc-broken-") as tmp:
        destination = build(settings, tmp)
        destination._await_job = lambda *args: None
        return deliver(destination, events)


# -- CTX-1, FMT-3 -------------------------------------------------------------------------------------


def context_not_mapped(settings, events, env):
    """Leaves the context attributes out of the rows (breaks CTX-1)."""
    names = set(CONTEXT_ATTRIBUTES.values())

    def mutate(event, s, result):
        return _rows(
            result, lambda op: dataclasses.replace(op, values={k: v for k, v in op.values.items() if k not in names})
        )

    return _with_plan(mutate, settings, events)


_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def dates_not_iso(settings, events, env):
    """Sends dates as MM/DD/YYYY instead of ISO-8601 (breaks FMT-3)."""

    def us_date(value):
        match = _ISO_DAY.match(value) if isinstance(value, str) else None
        return f"{match[2]}/{match[3]}/{match[1]}" if match else value

    def mutate(event, s, result):
        return _rows(result, lambda op: dataclasses.replace(op, values={k: us_date(v) for k, v in op.values.items()}))

    return _with_plan(mutate, settings, events)


# -- SFMC-TOKEN-EXPIRY ---------------------------------------------------------------------------------


def token_never_renewed(settings, events, env):
    """Keeps using its first token after a 401 (breaks SFMC-TOKEN-EXPIRY)."""
    with tempfile.TemporaryDirectory(prefix="sfmc-broken-") as tmp:
        destination = build(settings, tmp)
        client = destination.client
        original = client.token

        def token(*, renew: bool = False):
            return original(renew=False) if renew and client._token else original(renew=renew)

        client.token = token
        return deliver(destination, events)


# -- connector hardening: stalls, deadlocks, text as dates, empty values, borrowed identity -------------


def hangs_on_stalled_job(settings, events, env):
    """Waits for a stalled async job as long as it takes (no job deadline) (breaks SFMC-ASYNC-STALL)."""
    batching = {**(settings.get("batching") or {}), "job_deadline": 3600}
    with tempfile.TemporaryDirectory(prefix="sfmc-broken-") as tmp:
        return deliver(build({**settings, "batching": batching}, tmp), events)


def loses_deadlocked_rows(settings, events, env):
    """Rejects deadlocked rows as final instead of sending them again (breaks SFMC-DEADLOCK-RETRY)."""
    with tempfile.TemporaryDirectory(prefix="sfmc-broken-") as tmp:
        return deliver(build({**settings, "transient_retries": 0}, tmp), events)


def _guessed_date(value):
    """The old planner's guess: any date-shaped text as ISO, slash dates month first."""
    if not isinstance(value, str):
        return value
    try:
        iso = iso_date_string(value)
    except ValueError:
        try:
            iso = date_parser.parse(value, dayfirst=False).date().isoformat()
        except (ValueError, OverflowError):
            return value
    return value if iso is None else iso


def rewrites_text_as_dates(settings, events, env):
    """Rewrites every date-like string as an ISO date, whatever its column (breaks FMT-3)."""

    def mutate(event, s, result):
        return _rows(
            result, lambda op: dataclasses.replace(op, values={k: _guessed_date(v) for k, v in op.values.items()})
        )

    return _with_plan(mutate, settings, events)


def sends_empty_values(settings, events, env):
    """Sends rows that have nothing but their keys with empty values (breaks SFMC-EMPTY-VALUES)."""

    def mutate(event, s, result):
        return _rows(result, lambda op: dataclasses.replace(op, values={}) if op.values == op.keys else op)

    def broken_plan(event, s):
        return mutate(event, s, planning.plan(event, s))

    with tempfile.TemporaryDirectory(prefix="sfmc-broken-") as tmp:
        destination = build(settings, tmp, planner=broken_plan)
        client = destination.client

        def rowset(de_key, items, this_pass):  # values as planned, empty or not, and no look at the DE's columns
            body = [{"keys": op.keys, "values": op.values} for _, op in items]
            response = client.call("POST", f"/hub/v1/dataevents/key:{quote(de_key, safe='')}/rowset", body)
            if not response.ok:
                for seq, _ in items:
                    this_pass.refuse(seq, Refused(f"rows_refused_{response.status_code}", response.text[:300]))

        destination._bound_rows = lambda rows, this_pass: rows
        destination._rowset = rowset
        return deliver(destination, events)


def borrows_properties_email(settings, events, env):
    """Without a userId, keys a track by properties.email, someone else's maybe (breaks TR-2)."""

    def mutate(event, s, result):
        email = (event.get("properties") or {}).get("email")
        own = ((event.get("context") or {}).get("traits") or {}).get("email")
        if event.get("type") != "track" or event.get("userId") or own or not isinstance(email, str):
            return result
        return planning.plan({**event, "userId": email}, s)

    return _with_plan(mutate, settings, events)


BROKEN: dict[str, tuple[Callable, str]] = {
    "keys_not_title_cased": (keys_not_title_cased, "FMT-1"),
    "colons_kept": (colons_kept, "ID-3"),
    "nested_objects_sent": (nested_objects_sent, "FMT-2"),
    "email_fallback_missing": (email_fallback_missing, "ID-2"),
    "primary_keys_ignored": (primary_keys_ignored, "TR-3"),
    "uuid_ignored": (uuid_ignored, "TR-5"),
    "contacts_always_created": (contacts_always_created, "ID-5"),
    "no_429_retry": (no_429_retry, "RL-1"),
    "retry_after_ignored": (retry_after_ignored, "SFMC-RETRY-AFTER"),
    "unpaced": (unpaced, "RL-1"),
    "identify_without_ids_forwarded": (identify_without_ids_forwarded, "ID-1"),
    "api_events_under_batching": (api_events_under_batching, "BAT-2"),
    "sync_rows_under_batching": (sync_rows_under_batching, "BAT-1"),
    "async_failure_silent": (async_failure_silent, "BAT-3"),
    "context_not_mapped": (context_not_mapped, "CTX-1"),
    "dates_not_iso": (dates_not_iso, "FMT-3"),
    "token_never_renewed": (token_never_renewed, "SFMC-TOKEN-EXPIRY"),
    "hangs_on_stalled_job": (hangs_on_stalled_job, "SFMC-ASYNC-STALL"),
    "loses_deadlocked_rows": (loses_deadlocked_rows, "SFMC-DEADLOCK-RETRY"),
    "rewrites_text_as_dates": (rewrites_text_as_dates, "FMT-3"),
    "sends_empty_values": (sends_empty_values, "SFMC-EMPTY-VALUES"),
    "borrows_properties_email": (borrows_properties_email, "TR-2"),
}
"""name → (connector function, the one rule it breaks)."""
