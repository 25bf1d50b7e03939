"""Sync Data Extension rows: writes through ``/hub/v1/dataevents``, reads through ``/data/v1/customobjectdata``.

Rowsets upsert on the primary key and are not atomic: rows before the first bad row are saved,
the rest rejected, with one ``additionalErrors`` entry per problem of the bad row.
"""

from __future__ import annotations

import re

from flask import Blueprint

from .. import errors
from ..domain import rowsets
from ..domain.rows import RowInput, RowPlan
from .common import arg, auth, data_extension, emulator, int_arg, json_body, ok, requires

bp = Blueprint("rows", __name__)


def rows_failed(de, plan: RowPlan) -> errors.SfmcError:
    first = plan.failed[0]
    return errors.bad_request(
        f"Unable to save rows for data extension ID {de.id}",
        errors.ROWS_NOT_SAVED,
        [errors.detail(p) for p in first.problems],
    )


def rowset_inputs(body: list) -> list[RowInput]:
    if not body:
        raise errors.bad_request("The rowset is empty: send at least one row.", errors.MISSING_FIELD)
    rows = []
    for i, item in enumerate(body):
        if not isinstance(item, dict):
            raise errors.bad_request(f"Row {i} must be an object with 'keys' and 'values'.", errors.INCORRECT_FORMAT)
        rows.append(RowInput(item.get("keys") or {}, item.get("values") or {}, needs_value=True))
    return rows


@bp.post("/hub/v1/dataevents/<ref>/rowset")
@requires("data_extensions_write")
def post_rowset(ref: str):
    de = data_extension(ref)
    body = json_body(list, what="A rowset")
    plan = emulator().rows.write(auth().tenant_id, de, rowset_inputs(body), source="hub rowset")
    if plan.failed:
        raise rows_failed(de, plan)
    return ok(body)


def parse_primary_keys(text: str) -> dict[str, str]:
    """``Contact Key:abc`` or composite ``Contact Key:abc,Product Id:42`` (``&`` also separates)."""
    keys = {}
    for pair in re.split(r"[,&]", text):
        name, sep, value = pair.partition(":")
        if not sep or not name.strip():
            raise errors.bad_request(
                f"Parameter {text} is invalid: write primary keys as Column:value, separated by commas.",
                errors.INVALID_PARAMETER,
            )
        keys[name.strip()] = value
    return keys


@bp.put("/hub/v1/dataevents/<ref>/rows/<path:primary_keys>")
@requires("data_extensions_write")
def put_row(ref: str, primary_keys: str):
    de = data_extension(ref)
    keys = parse_primary_keys(primary_keys)
    body = json_body(dict)
    values = body.get("values", {})
    if not isinstance(values, dict):
        raise errors.bad_request("'values' must be an object.", errors.INCORRECT_FORMAT)
    plan = emulator().rows.write(auth().tenant_id, de, [RowInput(keys, values, needs_value=True)], source="hub row")
    if plan.failed:
        raise rows_failed(de, plan)
    return ok({"keys": keys, "values": values})


# -- reads: /data/v1/customobjectdata ------------------------------------------------------------


def _read_page(de, cursor, page: int):
    rows, total = emulator().rows.read(de, page=page, page_size=cursor.page_size, filter_text=cursor.filter_text)
    sfmc_formats = emulator().tenant(cursor.tenant_id).settings.sfmc_read_formats
    return ok(rowsets.page_body(de, cursor, page, rows, total, sfmc_formats))


def _rowset(de):
    """A read by key or id opens a cursor; its requestToken pages on through the token route."""
    page = int_arg("$page", 1, 1, 10**9)
    page_size = int_arg("$pageSize", rowsets.DEFAULT_PAGE_SIZE, 1, rowsets.DEFAULT_PAGE_SIZE)
    filter_text = arg("$filter")
    if filter_text:
        emulator().rows.read(de, page=1, page_size=1, filter_text=filter_text)  # a bad filter fails here, no cursor
    cursor = emulator().rows.cursors.open(auth().tenant_id, de.id, filter_text, page_size, emulator().clock.now())
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
    cursor = emulator().rows.cursors.find(auth().tenant_id, token, emulator().clock.now())
    de = emulator().find_data_extension(auth().tenant_id, de_id=cursor.de_id) if cursor else None
    if de is None:
        raise errors.rowset_token_not_found(token)
    return _read_page(de, cursor, int_arg("$page", 1, 1, 10**9))
