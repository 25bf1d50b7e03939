"""The control plane under ``/_emulator``: tenants, scenarios, inspection, reset and the clock.

Never throttled and never journaled as SFMC traffic. Answers are JSON; errors use the SFMC REST
envelope so one error handler serves the whole emulator.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from .. import errors
from ..domain.faults import FaultRuleError
from ..domain.journal import ANY, PatternError, parse_pattern
from ..domain.stats import WINDOW
from ..domain.tenants import TenantError
from ..metrics import exposition, registry_for
from ..openapi import build_document
from ..scenario import ScenarioError, apply_scenario, parse_scenario
from .common import emulator, int_arg, json_body, ok

bp = Blueprint("admin", __name__, url_prefix="/_emulator")


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


def _invalid(problems: list[str]) -> errors.SfmcError:
    return errors.bad_request(
        problems[0], errors.INCORRECT_FORMAT, [errors.detail(p, errors.INCORRECT_FORMAT) for p in problems]
    )


@bp.get("/health")
def health():
    return ok({"status": "ok", "tenants": len(emulator().tenants.all())})


@bp.get("/tenants")
def list_tenants():
    return ok({"items": [_tenant_view(t, request.host_url) for t in emulator().tenants.all()]})


@bp.post("/tenants")
def create_tenant():
    body = json_body(dict)
    try:
        tenant = emulator().create_tenant(body, replace=request.args.get("replace") == "true")
    except TenantError as err:
        raise _invalid(err.problems) from None
    return ok(_tenant_view(tenant, request.host_url), 201)


@bp.get("/tenants/<tenant_id>")
def get_tenant(tenant_id: str):
    return ok(_tenant_view(_tenant_or_404(tenant_id), request.host_url))


@bp.delete("/tenants/<tenant_id>")
def delete_tenant(tenant_id: str):
    _tenant_or_404(tenant_id)
    emulator().delete_tenant(tenant_id)
    return ok({"deleted": tenant_id})


@bp.post("/tenants/<tenant_id>/reset")
def reset_tenant(tenant_id: str):
    _tenant_or_404(tenant_id)
    emulator().reset(tenant_id)
    return ok({"reset": tenant_id})


@bp.post("/reset")
def reset_all():
    emulator().reset()
    return ok({"reset": "all"})


@bp.patch("/tenants/<tenant_id>/settings")
def update_settings(tenant_id: str):
    _tenant_or_404(tenant_id)
    try:
        tenant = emulator().tenants.update_settings(tenant_id, json_body(dict))
    except TenantError as err:
        raise _invalid(err.problems) from None
    return ok(tenant.to_dict()["settings"])


@bp.post("/scenarios")
def load_scenario():
    text = request.get_data(as_text=True)
    try:
        ids = apply_scenario(emulator(), parse_scenario(text, "request body"))
    except ScenarioError as err:
        raise _invalid(err.problems) from None
    return ok({"tenants": ids}, 201)


@bp.get("/tenants/<tenant_id>/data-extensions")
def list_data_extensions(tenant_id: str):
    _tenant_or_404(tenant_id)
    return ok({"items": [de.to_dict() for de in emulator().data_extensions.list(tenant_id)]})


@bp.get("/tenants/<tenant_id>/data-extensions/<key>/rows")
def list_rows(tenant_id: str, key: str):
    _tenant_or_404(tenant_id)
    de = emulator().find_data_extension(tenant_id, key=key)
    if de is None:
        raise errors.not_found(f"Tenant '{tenant_id}' has no data extension with the key '{key}'.")
    page = int_arg("page", 1, 1, 10**9)
    page_size = int_arg("page_size", 100, 1, 10000)
    rows, total = emulator().rows.read(de, page=page, page_size=page_size, filter_text=request.args.get("filter"))
    return ok({"data_extension": de.key, "count": total, "page": page, "page_size": page_size, "items": rows})


@bp.get("/tenants/<tenant_id>/writes")
def list_writes(tenant_id: str):
    """Writes that ignored keys or failed rows: silently dropped data made visible."""
    _tenant_or_404(tenant_id)
    return ok({"items": emulator().store.list_writes(tenant_id, int_arg("limit", 100, 1, 10000))})


# -- inspection: stats, traffic, journal, faults, OpenAPI, metrics -------------------------------


@bp.get("/tenants/<tenant_id>/stats")
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


@bp.get("/tenants/<tenant_id>/traffic")
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
        raise errors.bad_request(f"Invalid journal pattern: {err}", errors.INVALID_PARAMETER) from None


@bp.get("/journal")
def journal_query():
    args = {k: v for k, v in request.args.items() if k != "limit"}
    entries = emulator().journal.query(_pattern(args), int_arg("limit", 100, 1, 100000))
    return ok({"count": len(entries), "evicted": emulator().journal.evicted(), "items": entries})


@bp.post("/journal/count")
def journal_count():
    """WireMock-style verification: ``{"method": "POST", "path": "/hub/*", "status": 429}`` → ``{"count": n}``."""
    return ok({"count": emulator().journal.count(_pattern(json_body(dict)))})


@bp.delete("/journal")
def journal_clear():
    tenant = request.args.get("tenant")
    removed = emulator().journal.clear(ANY if tenant is None else (None if tenant == "null" else tenant))
    return ok({"cleared": removed})


@bp.get("/journal/<int:entry_id>")
def journal_entry(entry_id: int):
    entry = emulator().journal.get(entry_id)
    if entry is None:
        raise errors.not_found(f"No journal entry {entry_id}; it may have been evicted or cleared.")
    return ok(entry)


@bp.get("/faults")
def list_faults():
    return ok({"items": emulator().faults.list()})


@bp.post("/faults")
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
        raise _invalid([prefix + p for p in err.problems]) from None
    rules = [faults.get(rule_id) for rule_id in added]
    return ok(rules if isinstance(body, list) else rules[0], 201)


@bp.delete("/faults")
def clear_faults():
    return ok({"removed": emulator().faults.clear(request.args.get("tenant"))})


@bp.get("/faults/<rule_id>")
def get_fault(rule_id: str):
    rule = emulator().faults.get(rule_id)
    if rule is None:
        raise errors.not_found(f"No fault rule '{rule_id}'. List them with GET /_emulator/faults.")
    return ok(rule)


@bp.delete("/faults/<rule_id>")
def delete_fault(rule_id: str):
    if not emulator().faults.remove(rule_id):
        raise errors.not_found(f"No fault rule '{rule_id}'. List them with GET /_emulator/faults.")
    return ok({"deleted": rule_id})


@bp.get("/openapi.json")
def openapi_document():
    return ok(build_document())


@bp.get("/metrics")
def metrics():
    registry = current_app.extensions.get("sfmc_metrics")
    if registry is None:
        registry = current_app.extensions["sfmc_metrics"] = registry_for(emulator())
    return Response(exposition(registry), mimetype="text/plain", headers={"Content-Type": CONTENT_TYPE_LATEST})


@bp.get("/clock")
def get_clock():
    return ok(emulator().clock.state())


@bp.post("/clock")
def move_clock():
    """``{"advance": seconds}``, ``{"freeze": true|false}``: expire tokens or refill buckets without sleeping."""
    body = json_body(dict)
    clock = emulator().clock
    if "freeze" in body:
        clock.freeze() if body["freeze"] else clock.unfreeze()
    if "advance" in body:
        try:
            seconds = float(body["advance"])
        except (TypeError, ValueError):
            raise errors.bad_request("'advance' must be a number of seconds.", errors.INCORRECT_FORMAT) from None
        clock.advance(seconds)
    return ok(clock.state())


# -- async jobs, Journey Builder and contacts ------------------------------------------------------


@bp.get("/tenants/<tenant_id>/async-jobs")
def list_async_jobs(tenant_id: str):
    """Async requests in call order, with state, counts, failed rows and, for a job in Error, the reason."""
    from ..domain.async_rows import admin_view

    _tenant_or_404(tenant_id)
    jobs = emulator().async_rows.list(tenant_id, int_arg("limit", 100, 1, 100000))
    return ok({"queue_depth": emulator().async_queue_depth(), "items": [admin_view(j) for j in jobs]})


@bp.get("/tenants/<tenant_id>/async-jobs/<request_id>")
def get_async_job(tenant_id: str, request_id: str):
    from ..domain.async_rows import admin_view

    _tenant_or_404(tenant_id)
    job = emulator().async_rows.get(tenant_id, request_id)
    if job is None:
        raise errors.not_found(f"Tenant '{tenant_id}' has no async request '{request_id}'.")
    return ok(admin_view(job))


@bp.get("/tenants/<tenant_id>/contacts")
def list_contacts(tenant_id: str):
    _tenant_or_404(tenant_id)
    return ok({"items": emulator().contacts.list(tenant_id, int_arg("limit", 1000, 1, 100000))})


@bp.get("/tenants/<tenant_id>/journey-entries")
def list_journey_entries(tenant_id: str):
    """Journey entries made by API events, newest first."""
    _tenant_or_404(tenant_id)
    return ok({"items": emulator().journeys.entries(tenant_id, int_arg("limit", 1000, 1, 100000))})


@bp.get("/tenants/<tenant_id>/event-definitions")
def list_event_definitions(tenant_id: str):
    _tenant_or_404(tenant_id)
    return ok({"items": emulator().journeys.definitions(tenant_id)})


def _document_engagement_routes() -> None:
    from ..openapi import _op, _q, register

    limit = [_q("limit", "at most this many", {"type": "integer"})]
    for path, summary in (
        ("/_emulator/tenants/{tenant_id}/async-jobs", "A tenant's async requests (state, counts, failures, reason)"),
        ("/_emulator/tenants/{tenant_id}/async-jobs/{request_id}", "One async request"),
        ("/_emulator/tenants/{tenant_id}/contacts", "A tenant's contacts with their attributes"),
        ("/_emulator/tenants/{tenant_id}/journey-entries", "Journey entries made by API events, newest first"),
        ("/_emulator/tenants/{tenant_id}/event-definitions", "A tenant's event definitions"),
    ):
        paged = path.endswith(("/async-jobs", "/contacts", "/journey-entries"))
        register("get", path, _op(summary, "admin", params=limit if paged else None))


_document_engagement_routes()
