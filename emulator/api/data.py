"""Data Extension definitions and row reads: ``/data/v1/customobjects`` and ``/data/v1/customobjectdata``."""

from __future__ import annotations

from flask import Blueprint, request

from .common import auth, data_extension, engine, int_arg, json_body, ok, requires

bp = Blueprint("data", __name__)

DEFAULT_PAGE_SIZE = 2500


def _row_item(de, row: dict) -> dict:
    """A row as SFMC's rowset read returns it: lower-cased names, values as strings."""
    keys, values = {}, {}
    for column in de.fields:
        value = row.get(column.name)
        (keys if column.is_primary_key else values)[column.name.lower()] = "" if value is None else value
    return {"keys": keys, "values": values}


def _rowset(de, by: str):
    page = int_arg("$page", 1, 1, 10**9)
    page_size = int_arg("$pageSize", DEFAULT_PAGE_SIZE, 1, DEFAULT_PAGE_SIZE)
    rows, total = engine().read_rows(de, page=page, page_size=page_size, filter_text=request.args.get("$filter"))
    base = f"/data/v1/customobjectdata/{by}/rowset"
    links = {"self": {"href": f"{base}?$page={page}"}}
    if page * page_size < total:
        links["next"] = {"href": f"{base}?$page={page + 1}"}
    if page > 1:
        links["prev"] = {"href": f"{base}?$page={page - 1}"}
    body = {
        "links": links,
        "requestToken": auth().token[:16],
        "customObjectId": de.id,
        "customObjectKey": de.key,
        "pageSize": page_size,
        "page": page,
        "count": total,
        "top": 0,
    }
    if rows:
        body["items"] = [_row_item(de, r) for r in rows]
    return ok(body)


@bp.get("/data/v1/customobjectdata/key/<key>/rowset")
@requires("data_extensions_read")
def rowset_by_key(key: str):
    return _rowset(data_extension(key, by="key"), f"key/{key}")


@bp.get("/data/v1/customobjectdata/id/<de_id>/rowset")
@requires("data_extensions_read")
def rowset_by_id(de_id: str):
    return _rowset(data_extension(de_id, by="id"), f"id/{de_id}")


@bp.post("/data/v1/customobjects")
@requires("data_extensions_write")
def create_custom_object():
    de = engine().create_data_extension(auth().tenant_id, json_body(dict))
    return ok(de.to_dict(), 201)


@bp.get("/data/v1/customobjects")
@requires("data_extensions_read")
def list_custom_objects():
    search = (request.args.get("$search") or "").lower()
    page = int_arg("$page", 1, 1, 10**9)
    page_size = int_arg("$pageSize", 50, 1, 2500)
    found = [
        de for de in engine().data_extensions(auth().tenant_id) if search in de.name.lower() or search in de.key.lower()
    ]
    items = found[(page - 1) * page_size : page * page_size]
    summary = [{k: v for k, v in de.to_dict().items() if k != "fields"} for de in items]
    return ok({"count": len(found), "page": page, "pageSize": page_size, "items": summary})


@bp.get("/data/v1/customobjects/<ref>")
@requires("data_extensions_read")
def get_custom_object(ref: str):
    return ok(data_extension(ref).to_dict())


@bp.get("/data/v1/customobjects/<ref>/fields")
@requires("data_extensions_read")
def get_custom_object_fields(ref: str):
    de = data_extension(ref)
    return ok({"id": de.id, "key": de.key, "fields": [f.to_dict() for f in de.fields]})


@bp.post("/data/v1/customobjects/<ref>/fields")
@requires("data_extensions_write")
def add_custom_object_fields(ref: str):
    """Add nullable columns (inferred: SFMC's public docs show no REST call for it)."""
    de = data_extension(ref)
    grown = engine().add_fields(auth().tenant_id, de, json_body(dict).get("fields"))
    return ok({"id": grown.id, "key": grown.key, "fields": [f.to_dict() for f in grown.fields]}, 201)
