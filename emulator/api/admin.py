"""The control plane under ``/_emulator``: tenants, scenarios, inspection, reset and the clock.

Never throttled and never journaled as SFMC traffic. Answers are JSON; errors use the SFMC REST
envelope so one error handler serves the whole emulator.
"""

from __future__ import annotations

import os

from flask import Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from .. import errors
from ..clock import ClockError
from ..domain.async_rows import admin_view
from ..domain.faults import FaultRuleError
from ..domain.journal import ANY, PatternError, parse_pattern
from ..domain.stats import WINDOW
from ..domain.tenants import TenantError
from ..metrics import exposition, registry_for
from ..openapi import query
from ..scenario import ScenarioError, apply_scenario, parse_scenario
from .common import emulator, int_arg, json_body, ok, routes
from .routes import Api

api = Api("admin", __name__, tag="admin", url_prefix="/_emulator")
LIMIT = [query("limit", "at most this many", {"type": "integer"})]
JOURNAL_QUERY = [
    query("tenant", "tenant id; 'null' for calls that failed auth"),
    query("method", "HTTP method"),
    query("path", "glob on the path"),
    query("path_contains", "substring of the path"),
    query("status", "status or class, e.g. 429 or 4xx"),
    query("since", "emulator-clock epoch seconds"),
    query("since_id", "only entries after this id", {"type": "integer"}),
    query("body_contains", "substring of the request body"),
    query("limit", "newest first, at most this many (default 100)", {"type": "integer"}),
]


def _tenant_or_404(tenant_id: str):
    tenant = emulator().tenant(tenant_id)
    if tenant is None:
        raise errors.not_found(f"No tenant '{tenant_id}'. List them with GET /_emulator/tenants.")
    return tenant


def _tenant_view(tenant, request_base: str) -> dict:
    out = tenant.to_dict()
    base = request_base.rstrip("/")
    out["auth_url"] = f"{base}/v2/token"
    out["rest_url"] = f"{base}/"
    out["data_extensions"] = [de.key for de in emulator().data_extensions.list(tenant.id)]
    return out


@api.get("/health", "Liveness; never needs the admin token")
def health():
    return ok({"status": "ok", "tenants": len(emulator().tenants.all()), "process": os.getpid()})


@api.get("/tenants", "List tenants")
def list_tenants():
    return ok({"items": [_tenant_view(t, request.host_url) for t in emulator().tenants.all()]})


@api.post("/tenants", "Create a tenant (?replace=true recreates it)", ok=201, body="TenantDefinition")
def create_tenant():
    body = json_body(dict)
    try:
        tenant = emulator().create_tenant(body, replace=request.args.get("replace") == "true")
    except TenantError as err:
        raise errors.invalid(err.problems) from None
    return ok(_tenant_view(tenant, request.host_url), 201)


@api.get("/tenants/<tenant_id>", "Get a tenant")
def get_tenant(tenant_id: str):
    return ok(_tenant_view(_tenant_or_404(tenant_id), request.host_url))


@api.delete("/tenants/<tenant_id>", "Delete a tenant")
def delete_tenant(tenant_id: str):
    _tenant_or_404(tenant_id)
    emulator().delete_tenant(tenant_id)
    return ok({"deleted": tenant_id})


@api.post("/tenants/<tenant_id>/reset", "Clear a tenant's rows, tokens, journal, stats and fault rules")
def reset_tenant(tenant_id: str):
    _tenant_or_404(tenant_id)
    emulator().reset(tenant_id)
    return ok({"reset": tenant_id})


@api.post("/reset", "Reset every tenant (definitions stay)")
def reset_all():
    emulator().reset()
    return ok({"reset": "all"})


@api.patch("/tenants/<tenant_id>/settings", "Change a tenant's settings", body="TenantSettings")
def update_settings(tenant_id: str):
    _tenant_or_404(tenant_id)
    try:
        tenant = emulator().tenants.update_settings(tenant_id, json_body(dict))
    except TenantError as err:
        raise errors.invalid(err.problems) from None
    return ok(tenant.to_dict()["settings"])


@api.post("/scenarios", "Load a YAML/JSON scenario (tenants and faults)", ok=201)
def load_scenario():
    text = request.get_data(as_text=True)
    try:
        ids = apply_scenario(emulator(), parse_scenario(text, "request body"))
    except ScenarioError as err:
        raise errors.invalid(err.problems) from None
    return ok({"tenants": ids}, 201)


@api.get("/tenants/<tenant_id>/data-extensions", "A tenant's Data Extensions")
def list_data_extensions(tenant_id: str):
    _tenant_or_404(tenant_id)
    return ok({"items": [de.to_dict() for de in emulator().data_extensions.list(tenant_id)]})


@api.get(
    "/tenants/<tenant_id>/data-extensions/<key>/rows",
    "A Data Extension's rows",
    params=[
        query("page", "1-based", {"type": "integer"}),
        query("page_size", "rows per page", {"type": "integer"}),
        query("filter", "SFMC $filter syntax"),
    ],
)
def list_rows(tenant_id: str, key: str):
    _tenant_or_404(tenant_id)
    de = emulator().find_data_extension(tenant_id, key=key)
    if de is None:
        raise errors.not_found(f"Tenant '{tenant_id}' has no data extension with the key '{key}'.")
    page = int_arg("page", 1, 1, 10**9)
    page_size = int_arg("page_size", 100, 1, 10000)
    rows, total = emulator().rows.read(
        tenant_id, de, page=page, page_size=page_size, filter_text=request.args.get("filter")
    )
    return ok({"data_extension": de.key, "count": total, "page": page, "page_size": page_size, "items": rows})


@api.get("/tenants/<tenant_id>/writes", "Writes that ignored keys or failed rows")
def list_writes(tenant_id: str):
    """Writes that ignored keys or failed rows: silently dropped data made visible."""
    _tenant_or_404(tenant_id)
    return ok({"items": emulator().rows.writes(tenant_id, int_arg("limit", 100, 1, 10000))})


# -- inspection: stats, traffic, journal, faults, OpenAPI, metrics -------------------------------


@api.get("/tenants/<tenant_id>/stats", "Request, status, row and ignored-key counters of a tenant")
def tenant_stats(tenant_id: str):
    """Totals since the tenant was created or reset; they never evict, unlike the journal."""
    _tenant_or_404(tenant_id)
    current = emulator()
    return ok(
        {
            "tenant": tenant_id,
            **current.stats.tenant(tenant_id),
            "journal_evicted": current.journal.evicted(tenant_id),
        }
    )


@api.get(
    "/tenants/<tenant_id>/traffic",
    "Requests per second (accepted and 429) over the last seconds",
    params=[query("seconds", "window, 1..600 (default 60)", {"type": "integer"})],
)
def tenant_traffic(tenant_id: str):
    """Per-second accepted and 429 counts on the emulator clock, for the inspector's chart."""
    tenant = _tenant_or_404(tenant_id)
    seconds = int_arg("seconds", 60, 1, WINDOW)
    return ok(
        {
            "tenant": tenant_id,
            "rate_limit": tenant.settings.rate_limit,
            "burst": tenant.settings.burst,
            "points": emulator().stats.traffic(tenant_id, seconds),
        }
    )


def _pattern(raw: dict):
    try:
        return parse_pattern(raw)
    except PatternError as err:
        raise errors.invalid_parameter(f"Invalid journal pattern: {err}") from None


@api.get("/journal", "Query the request journal, newest first", params=JOURNAL_QUERY)
def journal_query():
    args = {k: v for k, v in request.args.items() if k != "limit"}
    entries = emulator().journal.query(_pattern(args), int_arg("limit", 100, 1, 100000))
    return ok({"count": len(entries), "evicted": emulator().journal.evicted(), "items": entries})


@api.post("/journal/count", "Count journal entries matching a pattern", body="JournalPattern")
def journal_count():
    """WireMock-style verification: ``{"method": "POST", "path": "/hub/*", "status": 429}`` → ``{"count": n}``."""
    return ok({"count": emulator().journal.count(_pattern(json_body(dict)))})


@api.delete(
    "/journal",
    "Clear the journal (?tenant= for one tenant)",
    params=[query("tenant", "tenant id; 'null' for unauthenticated calls")],
)
def journal_clear():
    tenant = request.args.get("tenant")
    removed = emulator().journal.clear(ANY if tenant is None else (None if tenant == "null" else tenant))
    return ok({"cleared": removed})


@api.get("/journal/<int:entry_id>", "One journal entry", response="JournalEntry")
def journal_entry(entry_id: int):
    entry = emulator().journal.get(entry_id)
    if entry is None:
        raise errors.not_found(f"No journal entry {entry_id}; it may have been evicted or cleared.")
    return ok(entry)


@api.get("/faults", "List fault rules, with how often each fired")
def list_faults():
    return ok({"items": emulator().faults.list()})


@api.post("/faults", "Add one fault rule or a list of them", ok=201, body="FaultRules")
def add_faults():
    """One rule object or a list of them; all or none are added."""
    body = json_body((dict, list))
    raws = body if isinstance(body, list) else [body]
    faults, added = emulator().faults, []
    try:
        for raw in raws:
            added.append(faults.add(raw).id)
    except FaultRuleError as err:
        for rule_id in added:
            faults.remove(rule_id)
        prefix = f"[{len(added)}] " if isinstance(body, list) else ""
        raise errors.invalid([prefix + p for p in err.problems]) from None
    rules = [faults.get(rule_id) for rule_id in added]
    return ok(rules if isinstance(body, list) else rules[0], 201)


@api.delete("/faults", "Remove every fault rule (?tenant= for one tenant's)")
def clear_faults():
    return ok({"removed": emulator().faults.clear(request.args.get("tenant"))})


@api.get("/faults/<rule_id>", "One fault rule")
def get_fault(rule_id: str):
    rule = emulator().faults.get(rule_id)
    if rule is None:
        raise errors.not_found(f"No fault rule '{rule_id}'. List them with GET /_emulator/faults.")
    return ok(rule)


@api.delete("/faults/<rule_id>", "Remove one fault rule")
def delete_fault(rule_id: str):
    if not emulator().faults.remove(rule_id):
        raise errors.not_found(f"No fault rule '{rule_id}'. List them with GET /_emulator/faults.")
    return ok({"deleted": rule_id})


@api.get("/openapi.json", "This document")
def openapi_document():
    return ok(routes().document)


@api.get("/metrics", "Prometheus metrics (text exposition format)", ok_media="text/plain")
def metrics():
    registry = current_app.extensions.get("sfmc_metrics")
    if registry is None:
        registry = current_app.extensions["sfmc_metrics"] = registry_for(emulator())
    return Response(exposition(registry), mimetype="text/plain", headers={"Content-Type": CONTENT_TYPE_LATEST})


@api.get("/clock", "The emulator clock")
def get_clock():
    return ok(emulator().clock.state())


@api.post("/clock", "Freeze, unfreeze or advance the clock", body="ClockChange")
def move_clock():
    """``{"advance": seconds}``, ``{"freeze": true|false}``: expire tokens or refill buckets without sleeping."""
    body = json_body(dict)
    if emulator().config.workers > 1:
        raise errors.clock_per_process(emulator().config.workers)
    clock = emulator().clock
    if "freeze" in body:
        clock.freeze() if body["freeze"] else clock.unfreeze()
    if "advance" in body:
        raw = body["advance"]
        try:
            if isinstance(raw, bool) or (isinstance(raw, str) and len(raw) > 40):
                raise ValueError(raw)
            clock.advance(float(raw))
        except ClockError as err:
            raise errors.incorrect_format(str(err)) from None
        except (TypeError, ValueError):
            raise errors.incorrect_format("'advance' must be a number of seconds.") from None
    return ok(clock.state())


# -- async jobs, Journey Builder and contacts ------------------------------------------------------


@api.get("/tenants/<tenant_id>/async-jobs", "A tenant's async requests (state, counts, failures, reason)", params=LIMIT)
def list_async_jobs(tenant_id: str):
    """Async requests in call order, with state, counts, failed rows and, for a job in Error, the reason."""
    _tenant_or_404(tenant_id)
    jobs = emulator().async_rows.list(tenant_id, int_arg("limit", 100, 1, 100000))
    return ok({"queue_depth": emulator().async_queue_depth(), "items": [admin_view(j) for j in jobs]})


@api.get("/tenants/<tenant_id>/async-jobs/<request_id>", "One async request")
def get_async_job(tenant_id: str, request_id: str):
    _tenant_or_404(tenant_id)
    job = emulator().async_rows.get(tenant_id, request_id)
    if job is None:
        raise errors.not_found(f"Tenant '{tenant_id}' has no async request '{request_id}'.")
    return ok(admin_view(job))


@api.get("/tenants/<tenant_id>/contacts", "A tenant's contacts with their attributes", params=LIMIT)
def list_contacts(tenant_id: str):
    _tenant_or_404(tenant_id)
    return ok({"items": emulator().contacts.list(tenant_id, int_arg("limit", 1000, 1, 100000))})


@api.get("/tenants/<tenant_id>/journey-entries", "Journey entries made by API events, newest first", params=LIMIT)
def list_journey_entries(tenant_id: str):
    """Journey entries made by API events, newest first."""
    _tenant_or_404(tenant_id)
    return ok({"items": emulator().journeys.entries(tenant_id, int_arg("limit", 1000, 1, 100000))})


@api.get("/tenants/<tenant_id>/event-definitions", "A tenant's event definitions")
def list_event_definitions(tenant_id: str):
    _tenant_or_404(tenant_id)
    return ok({"items": emulator().journeys.definitions(tenant_id)})
