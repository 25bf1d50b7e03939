"""The control plane under ``/_emulator``: tenants, scenarios, inspection, reset and the clock.

Never throttled and never journaled as SFMC traffic. Answers are JSON; errors use the SFMC REST
envelope so one error handler serves the whole emulator.
"""

from __future__ import annotations

from flask import Blueprint, request

from .. import errors
from ..domain.tenants import TenantError
from ..scenario import ScenarioError, apply_scenario, parse_scenario
from .common import engine, int_arg, json_body, ok

bp = Blueprint("admin", __name__, url_prefix="/_emulator")


def _tenant_or_404(tenant_id: str):
    tenant = engine().tenant(tenant_id)
    if tenant is None:
        raise errors.not_found(f"No tenant '{tenant_id}'. List them with GET /_emulator/tenants.")
    return tenant


def _tenant_view(tenant, request_base: str) -> dict:
    out = tenant.to_dict()
    base = request_base.rstrip("/")
    out["auth_url"] = f"{base}/v2/token"
    out["rest_url"] = f"{base}/"
    out["data_extensions"] = [de.key for de in engine().data_extensions(tenant.id)]
    return out


def _invalid(problems: list[str]) -> errors.SfmcError:
    return errors.bad_request(problems[0], errors.INCORRECT_FORMAT,
                              [errors.detail(p, errors.INCORRECT_FORMAT) for p in problems])


@bp.get("/health")
def health():
    return ok({"status": "ok", "tenants": len(engine().tenants())})


@bp.get("/tenants")
def list_tenants():
    return ok({"items": [_tenant_view(t, request.host_url) for t in engine().tenants()]})


@bp.post("/tenants")
def create_tenant():
    body = json_body(dict)
    try:
        tenant = engine().create_tenant(body, replace=request.args.get("replace") == "true")
    except TenantError as err:
        raise _invalid(err.problems) from None
    return ok(_tenant_view(tenant, request.host_url), 201)


@bp.get("/tenants/<tenant_id>")
def get_tenant(tenant_id: str):
    return ok(_tenant_view(_tenant_or_404(tenant_id), request.host_url))


@bp.delete("/tenants/<tenant_id>")
def delete_tenant(tenant_id: str):
    _tenant_or_404(tenant_id)
    engine().delete_tenant(tenant_id)
    return ok({"deleted": tenant_id})


@bp.post("/tenants/<tenant_id>/reset")
def reset_tenant(tenant_id: str):
    _tenant_or_404(tenant_id)
    engine().reset(tenant_id)
    return ok({"reset": tenant_id})


@bp.post("/reset")
def reset_all():
    engine().reset()
    return ok({"reset": "all"})


@bp.patch("/tenants/<tenant_id>/settings")
def update_settings(tenant_id: str):
    _tenant_or_404(tenant_id)
    try:
        tenant = engine().update_settings(tenant_id, json_body(dict))
    except TenantError as err:
        raise _invalid(err.problems) from None
    return ok(tenant.to_dict()["settings"])


@bp.post("/scenarios")
def load_scenario():
    text = request.get_data(as_text=True)
    try:
        ids = apply_scenario(engine(), parse_scenario(text, "request body"))
    except ScenarioError as err:
        raise _invalid(err.problems) from None
    return ok({"tenants": ids}, 201)


@bp.get("/tenants/<tenant_id>/data-extensions")
def list_data_extensions(tenant_id: str):
    _tenant_or_404(tenant_id)
    return ok({"items": [de.to_dict() for de in engine().data_extensions(tenant_id)]})


@bp.get("/tenants/<tenant_id>/data-extensions/<key>/rows")
def list_rows(tenant_id: str, key: str):
    _tenant_or_404(tenant_id)
    de = engine().find_data_extension(tenant_id, key=key)
    if de is None:
        raise errors.not_found(f"Tenant '{tenant_id}' has no data extension with the key '{key}'.")
    page = int_arg("page", 1, 1, 10**9)
    page_size = int_arg("page_size", 100, 1, 10000)
    rows, total = engine().read_rows(de, page=page, page_size=page_size, filter_text=request.args.get("filter"))
    return ok({"data_extension": de.key, "count": total, "page": page, "page_size": page_size, "items": rows})


@bp.get("/tenants/<tenant_id>/writes")
def list_writes(tenant_id: str):
    """Writes that ignored keys or failed rows: silently dropped data made visible."""
    _tenant_or_404(tenant_id)
    return ok({"items": engine().store.list_writes(tenant_id, int_arg("limit", 100, 1, 10000))})


@bp.get("/clock")
def get_clock():
    return ok(engine().clock.state())


@bp.post("/clock")
def move_clock():
    """``{"advance": seconds}``, ``{"freeze": true|false}``: expire tokens or refill buckets without sleeping."""
    body = json_body(dict)
    clock = engine().clock
    if "freeze" in body:
        clock.freeze() if body["freeze"] else clock.unfreeze()
    if "advance" in body:
        try:
            seconds = float(body["advance"])
        except (TypeError, ValueError):
            raise errors.bad_request("'advance' must be a number of seconds.", errors.INCORRECT_FORMAT) from None
        clock.advance(seconds)
    return ok(clock.state())
