"""Data Extension definitions and row reads: ``/data/v1/customobjects`` and ``/data/v1/customobjectdata``."""

from __future__ import annotations

from flask import Blueprint, request

from .. import errors
from ..domain import rowsets
from .common import arg, auth, data_extension, engine, int_arg, json_body, ok, requires

bp = Blueprint("data", __name__)


def _read_page(de, cursor, page: int):
    rows, total = engine().read_rows(de, page=page, page_size=cursor.page_size, filter_text=cursor.filter_text)
    sfmc_formats = engine().tenant(cursor.tenant_id).settings.sfmc_read_formats
    return ok(rowsets.page_body(de, cursor, page, rows, total, sfmc_formats))


def _rowset(de):
    """A read by key or id opens a cursor; its requestToken pages on through the token route."""
    page = int_arg("$page", 1, 1, 10**9)
    page_size = int_arg("$pageSize", rowsets.DEFAULT_PAGE_SIZE, 1, rowsets.DEFAULT_PAGE_SIZE)
    filter_text = arg("$filter")
    if filter_text:
        engine().read_rows(de, page=1, page_size=1, filter_text=filter_text)  # a bad filter fails here, no cursor
    cursor = engine().cursors.open(auth().tenant_id, de.id, filter_text, page_size, engine().clock.now())
    return _read_page(de, cursor, page)


@bp.get("/data/v1/customobjectdata/key/<key>/rowset")
@requires("data_extensions_read")
def rowset_by_key(key: str):
    return _rowset(data_extension(key, by="key"))


@bp.get("/data/v1/customobjectdata/id/<de_id>/rowset")
@requires("data_extensions_read")
def rowset_by_id(de_id: str):
    return _rowset(data_extension(de_id, by="id"))


@bp.get("/data/v1/customobjectdata/token/<token>/rowset")
@requires("data_extensions_read")
def rowset_by_token(token: str):
    """The pages after the first: the cursor keeps the DE, filter and page size of the first read."""
    cursor = engine().cursors.find(auth().tenant_id, token, engine().clock.now())
    de = engine().find_data_extension(auth().tenant_id, de_id=cursor.de_id) if cursor else None
    if de is None:
        raise errors.rowset_token_not_found(token)
    return _read_page(de, cursor, int_arg("$page", 1, 1, 10**9))


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
