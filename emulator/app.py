"""``create_app``: wires the blueprints, the emulator and the request chain; nothing else.

Every SFMC call passes one chain of named steps (``api/chain.py``), so the cross-cutting rules
live there once. Every error, expected or not, leaves in its protocol's envelope.
"""

from __future__ import annotations

import logging

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from . import errors
from .api import admin, async_rows, auth, chain, contacts, control, data_extensions, journeys, paths, rows, soap, ui
from .api.common import MAX_PAYLOAD, render_json
from .api.routes import RouteTable
from .api.routing import EmulatorFlask
from .clock import Clock
from .core import Config, Emulator
from .json_provider import FastJSONProvider
from .scenario import apply_scenario, load_scenario_file
from .store import open_store

log = logging.getLogger("sfmc_emulator")


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
    app = EmulatorFlask(__name__)  # Flask, with its per-request routing work remembered (api/routing.py)
    app.json = FastJSONProvider(app)  # orjson, the same bytes as json.dumps (json_provider.py)
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
        # the steps, in order: api/chain.py STEPS
        return chain.run(chain.Call(emulator, route_table, request._get_current_object(), g._get_current_object()))

    @app.after_request
    def journal(response):
        endpoint = request._get_current_object().endpoint  # the proxy resolved once
        control.finish_journal(emulator, response, (endpoint or "").partition(".")[0])
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

    @app.errorhandler(MethodNotAllowed)
    def method_not_allowed(err: MethodNotAllowed):
        allowed = [m for m in (err.valid_methods or []) if m != "OPTIONS"]
        token_route = request.path.lower() == "/v2/token"
        return emulator_error(errors.method_not_allowed(request.method, allowed, token_route=token_route))

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        return emulator_error(errors.http_error(err.code, err.name))

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return emulator_error(errors.unexpected())

    return app
