"""``create_app``: wires the blueprints, the emulator and the request chain; nothing else.

Every SFMC call passes one chain (authenticate → throttle → scope), so the cross-cutting rules
live here once. Every error, expected or not, leaves in an SFMC envelope.
"""

from __future__ import annotations

import logging

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from . import errors
from .api import admin, async_rows, auth, contacts, control, data_extensions, hosts, journeys, paths, rows, soap, ui
from .api.common import MAX_PAYLOAD, render_json
from .api.routes import RouteTable
from .clock import Clock
from .core import Config, Emulator
from .domain.throttle import retry_after_header
from .scenario import apply_scenario, load_scenario_file
from .store import open_store

log = logging.getLogger("sfmc_emulator")
PUBLIC = {"wsdl"}  # documents anyone may read (SFMC serves its WSDL without auth): no chain at all
UNTHROTTLED = {"auth", "admin"}  # token calls and the control plane do not count against the limit
CONTROL_PLANE = {"admin", "ui"}  # never journaled, never faulted; guarded by the admin token when one is set
ADMIN_MAX_PAYLOAD = 64 * 1024 * 1024


def create_app(
    config: Config | None = None,
    *,
    scenario: str | None = None,
    clock: Clock | None = None,
    emulator: Emulator | None = None,
) -> Flask:
    config = config or Config()
    if emulator is None:
        emulator = Emulator(open_store(config.database), clock or Clock(), config)
        if scenario:
            apply_scenario(emulator, load_scenario_file(scenario), replace=False)
    app = Flask(__name__)
    app.json.sort_keys = False
    # SFMC answers odd paths itself; never an HTML redirect for a doubled or trailing slash
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.extensions["sfmc"] = emulator
    apis = (auth.api, rows.api, data_extensions.api, async_rows.api, journeys.api, contacts.api, admin.api, ui.api)
    apis += (soap.api, soap.wsdl_api, soap.platform_api)
    for api in apis:
        app.register_blueprint(api.blueprint)
    app.extensions["sfmc_routes"] = route_table = RouteTable(apis)
    app.wsgi_app = paths.CaseInsensitivePaths(control.DropConnection(app.wsgi_app), app.url_map)
    app.config["SFMC_PUBLIC_URL"] = config.public_url
    if config.trust_forwarded:  # a TLS terminator in front says which scheme and host the client used
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=0, x_proto=1, x_host=1)
    emulator.async_rows.start()  # the async worker; emulator.async_rows.stop() ends it

    @app.before_request
    def request_chain():
        hosts.route_by_host(emulator)  # SFMC host names: the subdomain's tenant, only that host's routes
        family = (request.endpoint or "").partition(".")[0]
        request.max_content_length = ADMIN_MAX_PAYLOAD if family == "admin" else MAX_PAYLOAD
        if family in PUBLIC:
            return
        if family in CONTROL_PLANE or request.path.startswith("/_emulator"):
            control.check_admin_token(emulator)
            control.validate_body(family)
            return
        control.start_journal(emulator)  # every SFMC call from here on is journaled, refused ones included
        if not request.endpoint:
            return
        if family in UNTHROTTLED:
            g.token_tenant = control.tenant_of_token_call(emulator)
            dropped = control.apply_fault(emulator, g.token_tenant, token_call=True)
            control.validate_body(family)
            return dropped
        if family == "soap":  # SOAP: the token is in the envelope's header; SOAP calls count like REST ones
            ctx = soap.soap_step(emulator)
        else:
            ctx = emulator.auth.authenticate(request.headers.get("Authorization"))
        g.auth = ctx
        hosts.check_caller(ctx)  # on a tenant's own host name, only that tenant's tokens
        dropped = control.apply_fault(emulator, ctx.tenant_id)  # before the throttle: injected answers cost no token
        if dropped is not None:
            return dropped
        decision = emulator.admit(ctx.tenant_id)
        if not decision.allowed:
            raise errors.rate_limited(retry_after_header(decision.retry_after))
        scope = route_table.scope(request.endpoint)
        if scope and scope not in ctx.scopes:
            raise errors.insufficient_privileges(scope)
        control.validate_body(family)

    @app.after_request
    def journal(response):
        control.finish_journal(emulator, response, (request.endpoint or "").partition(".")[0])
        return response

    # How an error leaves, by protocol: the first renderer whose test matches the request answers it;
    # anything else is JSON (SFMC's REST envelope, OAuth's body or the async resultMessages, by error class).
    error_renderers = [(soap.is_soap_request, soap.fault_response)]

    @app.errorhandler(errors.EmulatorError)
    def emulator_error(err: errors.EmulatorError):
        for applies, render in error_renderers:
            if applies():
                return render(err)
        return render_json(err)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_err):
        limit = request.max_content_length or MAX_PAYLOAD
        return emulator_error(errors.payload_too_large(limit))

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        return emulator_error(errors.http_error(err.code, err.name))

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return emulator_error(errors.unexpected())

    return app
