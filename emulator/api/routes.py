"""Routes declared once: URL rule, method, required scope and OpenAPI operation (with its body schema).

Each API module makes one ``Api`` (a Flask blueprint plus the declarations of its routes) and
declares every view with it::

    api = Api("rows", __name__, tag="data-extensions")

    @api.post("/hub/v1/dataevents/<ref>/rowset", "Upsert rows (sync)", scope=W, body="Rowset")
    def post_rowset(ref): ...

``create_app`` registers the blueprints and builds one ``RouteTable`` from the same declarations:
the request chain reads a route's scope and body validator from it, and ``/_emulator/openapi.json``
is its document. Nothing else lists routes, so the rule, the scope and the documentation cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Blueprint

from ..openapi import OpenApi, flask_to_openapi, operation


@dataclass(frozen=True)
class Route:
    endpoint: str  # Flask's "<blueprint>.<view>"
    method: str  # lower case
    rule: str  # the full Flask rule, blueprint prefix included
    scope: str | None  # the OAuth scope the caller's token needs; None for token and control-plane calls
    operation: dict  # its OpenAPI operation


class Api:
    """The routes of one API family (or of the control plane): a blueprint and what each route declares."""

    def __init__(self, name: str, import_name: str, *, tag: str, url_prefix: str = "", envelope: str = "sfmc"):
        self.blueprint = Blueprint(name, import_name, url_prefix=url_prefix or None)
        self.tag = tag
        self.prefix = url_prefix
        self.envelope = envelope  # how a body failing its schema is answered, unless a route says otherwise
        self.routes: list[Route] = []

    def route(
        self,
        method: str,
        rule: str,
        summary: str,
        *,
        scope: str | None = None,
        body: str | None = None,
        ok: int = 200,
        response: str | None = None,
        ok_media: str | None = "application/json",
        envelope: str | None = None,
        params: list[dict] | None = None,
        description: str | None = None,
        written_out: dict | None = None,
    ) -> Callable:
        """Declare a view: its rule and method, the scope it needs, and its OpenAPI operation.

        ``written_out`` gives the rest of the operation (beyond summary and tag) in full instead of
        building it from the other arguments: for a route whose body is not JSON, such as SOAP's.
        """

        def declare(view: Callable) -> Callable:
            self.blueprint.add_url_rule(rule, view_func=view, methods=[method.upper()])
            op = (
                {"summary": summary, "tags": [self.tag], **written_out}
                if written_out
                else operation(
                    summary,
                    self.tag,
                    body=body,
                    ok=ok,
                    response=response,
                    ok_media=ok_media,
                    scope=scope,
                    envelope=envelope or self.envelope,
                    params=params,
                    description=description,
                )
            )
            full_rule = (self.prefix + rule) if rule else self.prefix
            self.routes.append(Route(f"{self.blueprint.name}.{view.__name__}", method.lower(), full_rule, scope, op))
            return view

        return declare

    def get(self, rule: str, summary: str, **declared) -> Callable:
        return self.route("get", rule, summary, **declared)

    def post(self, rule: str, summary: str, **declared) -> Callable:
        return self.route("post", rule, summary, **declared)

    def put(self, rule: str, summary: str, **declared) -> Callable:
        return self.route("put", rule, summary, **declared)

    def patch(self, rule: str, summary: str, **declared) -> Callable:
        return self.route("patch", rule, summary, **declared)

    def delete(self, rule: str, summary: str, **declared) -> Callable:
        return self.route("delete", rule, summary, **declared)


class RouteTable:
    """Every declared route of an app: scopes by endpoint, the OpenAPI document, body validation."""

    def __init__(self, apis: Iterable[Api]):
        self.routes = [route for api in apis for route in api.routes]
        self._scopes = {route.endpoint: route.scope for route in self.routes}
        self.openapi = OpenApi({(route.method, flask_to_openapi(route.rule)): route.operation for route in self.routes})

    def scope(self, endpoint: str | None) -> str | None:
        return self._scopes.get(endpoint or "")

    def body_problems(self, method: str, rule: str, body: object) -> tuple[list[str], str]:
        return self.openapi.body_problems(method, rule, body)

    @property
    def document(self) -> dict:
        return self.openapi.document
