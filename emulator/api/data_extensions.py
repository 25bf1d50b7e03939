"""Data Extension definitions: ``/data/v1/customobjects``."""

from __future__ import annotations

from flask import request

from ..openapi import PAGE, query
from .common import auth, data_extension, emulator, json_body, ok, paged
from .routes import Api

R, W = "data_extensions_read", "data_extensions_write"
api = Api("data_extensions", __name__, tag="data-extensions")


@api.post("/data/v1/customobjects", "Create a Data Extension", ok=201, body="DataExtensionDefinition", scope=W)
def create_custom_object():
    de = emulator().data_extensions.create(auth().tenant_id, json_body(dict))
    return ok(de.to_dict(), 201)


@api.get(
    "/data/v1/customobjects",
    "List Data Extensions",
    scope=R,
    params=[*PAGE, query("$search", "substring of name or key")],
)
def list_custom_objects():
    search = (request.args.get("$search") or "").lower()
    found = [
        de
        for de in emulator().data_extensions.list(auth().tenant_id)
        if search in de.name.lower() or search in de.key.lower()
    ]
    summary = lambda de: {k: v for k, v in de.to_dict().items() if k != "fields"}  # noqa: E731
    return ok(paged(found, summary, page_size=50, max_page_size=2500))


@api.get("/data/v1/customobjects/<ref>", "Get a Data Extension", scope=R)
def get_custom_object(ref: str):
    return ok(data_extension(ref).to_dict())


@api.get("/data/v1/customobjects/<ref>/fields", "Get a Data Extension's fields", scope=R)
def get_custom_object_fields(ref: str):
    de = data_extension(ref)
    return ok({"id": de.id, "key": de.key, "fields": [f.to_dict() for f in de.fields]})


@api.post("/data/v1/customobjects/<ref>/fields", "Add nullable fields (inferred)", ok=201, body="AddFields", scope=W)
def add_custom_object_fields(ref: str):
    """Add nullable columns (inferred: SFMC's public docs show no REST call for it)."""
    de = data_extension(ref)
    grown = emulator().data_extensions.add_fields(auth().tenant_id, de, json_body(dict).get("fields"))
    return ok({"id": grown.id, "key": grown.key, "fields": [f.to_dict() for f in grown.fields]}, 201)
