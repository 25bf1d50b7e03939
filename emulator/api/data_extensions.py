"""Data Extension definitions: ``/data/v1/customobjects``."""

from __future__ import annotations

from urllib.parse import quote

from .. import errors
from ..domain.data_extensions import rest_create_problems, summary
from ..openapi import page_params, query
from .common import arg, auth, data_extension, emulator, int_arg, json_body, ok
from .routes import Api

R, W = "data_extensions_read", "data_extensions_write"
api = Api("data_extensions", __name__, tag="data-extensions")
LIST_PAGE_SIZE = 25  # SFMC's page of Data Extensions


@api.post(
    "/data/v1/customobjects",
    "Create a Data Extension",
    ok=201,
    body="DataExtensionDefinition",
    response="DataExtension",
    scope=W,
)
def create_custom_object():
    body = json_body(dict)
    if emulator().tenants.get(auth().tenant_id).settings.require_complete_definitions:
        problems = rest_create_problems(body)
        if problems:
            raise errors.incomplete_definition(problems)
    de = emulator().data_extensions.create(auth().tenant_id, body)
    return ok(de.to_dict(), 201)


@api.get(
    "/data/v1/customobjects",
    "List Data Extensions",
    scope=R,
    response="DataExtensionList",
    params=[*page_params(2500), query("$search", "required: substring of name, key or description")],
)
def list_custom_objects():
    """SFMC requires ``$search`` and pages by 25 with ``links`` and each DE's ``rowCount`` (probe-notes)."""
    search = arg("$search")
    if search is None:
        raise errors.search_required()
    page = int_arg("$page", 1, 1, 10**9)
    page_size = int_arg("$pageSize", LIST_PAGE_SIZE, 1, 2500)
    wanted = search.lower()
    found = [
        de
        for de in emulator().data_extensions.list(auth().tenant_id)
        if wanted in de.name.lower() or wanted in de.key.lower() or wanted in de.description.lower()
    ]
    items = [
        summary(de, emulator().rows.query(auth().tenant_id, de, None, 0, 0)[1])
        for de in found[(page - 1) * page_size : page * page_size]
    ]
    base = f"/v1/customobjects?$search={quote(search)}&$pageSize={page_size}&$page="
    links = {"self": f"{base}{page}"}
    if page > 1:
        links["prev"] = f"{base}{page - 1}"
    if page * page_size < len(found):
        links["next"] = f"{base}{page + 1}"
    return ok({"count": len(found), "page": page, "pageSize": page_size, "links": links, "items": items})


@api.get("/data/v1/customobjects/<ref>", "Get a Data Extension", response="DataExtension", scope=R)
def get_custom_object(ref: str):
    return ok(data_extension(ref).to_dict())


@api.get(
    "/data/v1/customobjects/<ref>/fields", "Get a Data Extension's fields", response="DataExtensionFields", scope=R
)
def get_custom_object_fields(ref: str):
    de = data_extension(ref)
    return ok({"id": de.id, "key": de.key, "fields": [f.to_dict() for f in de.fields]})


@api.post(
    "/data/v1/customobjects/<ref>/fields",
    "Add nullable fields (inferred)",
    ok=201,
    body="AddFields",
    response="DataExtensionFields",
    scope=W,
)
def add_custom_object_fields(ref: str):
    """Add nullable columns (inferred: SFMC's public docs show no REST call for it)."""
    de = data_extension(ref)
    grown = emulator().data_extensions.add_fields(auth().tenant_id, de, json_body(dict).get("fields"))
    return ok({"id": grown.id, "key": grown.key, "fields": [f.to_dict() for f in grown.fields]}, 201)
