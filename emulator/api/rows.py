"""Sync Data Extension rows: writes through ``/hub/v1/dataevents``, reads through ``/data/v1/customobjectdata``.

Rowsets upsert on the primary key and are not atomic: rows before the first bad row are saved,
the rest rejected, with one ``additionalErrors`` entry per problem of the bad row.
"""

from __future__ import annotations

import re

from .. import errors
from ..domain import rowsets
from ..domain.rows import RowInput, RowPlan
from ..openapi import MAX_PAGE, page_params, query
from .common import arg, auth, data_extension, emulator, int_arg, json_body, ok, write_capture
from .routes import Api

_tuple_new = tuple.__new__
R, W = "data_extensions_read", "data_extensions_write"
api = Api("rows", __name__, tag="data-extensions")


def rows_failed(de, plan: RowPlan) -> errors.SfmcError:
    return errors.rows_not_saved(f"Unable to save rows for data extension ID {de.id}", plan.failed[0].problems)


def rowset_inputs(body: list) -> list[RowInput]:
    if not body:
        raise errors.missing_field("The rowset is empty: send at least one row.")
    for i, item in enumerate(body):
        if not isinstance(item, dict):
            raise errors.incorrect_format(f"Row {i} must be an object with 'keys' and 'values'.")
    # RowInput(keys, values, needs_value=True), made as its own __new__ makes it (a tuple of its fields)
    # without that Python-level call: half the cost of a 50-row rowset's inputs
    return [_tuple_new(RowInput, (item.get("keys") or {}, item.get("values") or {}, True)) for item in body]


@api.post(
    "/hub/v1/dataevents/<ref>/rowset",
    "Upsert rows (sync)",
    body="Rowset",
    response="RowsetEcho",
    scope=W,
    description="ref is key:{key}, id:{guid} or a bare guid. Failures: 400 errorcode 10006.",
)
def post_rowset(ref: str):
    de = data_extension(ref)
    body = json_body(list, what="A rowset")
    plan = emulator().rows.write(
        auth().tenant_id, de, rowset_inputs(body), source="hub rowset", capture=write_capture()
    )
    if plan.failed:
        raise rows_failed(de, plan)
    return ok(body)


def parse_primary_keys(text: str) -> dict[str, str]:
    """``Contact Key:abc`` or composite ``Contact Key:abc,Product Id:42`` (``&`` also separates)."""
    keys = {}
    for pair in re.split(r"[,&]", text):
        name, sep, value = pair.partition(":")
        if not sep or not name.strip():
            raise errors.invalid_parameter(
                f"Parameter {text} is invalid: write primary keys as Column:value, separated by commas."
            )
        keys[name.strip()] = value
    return keys


@api.put(
    "/hub/v1/dataevents/<ref>/rows/<path:primary_keys>",
    "Upsert one row (sync)",
    body="RowValues",
    response="RowEcho",
    scope=W,
    description="primary_keys: Column:value, several separated by ',' or '&'.",
)
def put_row(ref: str, primary_keys: str):
    de = data_extension(ref)
    keys = parse_primary_keys(primary_keys)
    body = json_body(dict)
    values = body.get("values", {})
    if not isinstance(values, dict):
        raise errors.incorrect_format("'values' must be an object.")
    rows = [RowInput(keys, values, needs_value=True)]
    plan = emulator().rows.write(auth().tenant_id, de, rows, source="hub row", capture=write_capture())
    if plan.failed:
        raise rows_failed(de, plan)
    return ok({"keys": keys, "values": values})


# -- reads: /data/v1/customobjectdata ------------------------------------------------------------


def _read_page(de, cursor, page: int):
    rows, total = emulator().rows.read(
        auth().tenant_id, de, page=page, page_size=cursor.page_size, filter_text=cursor.filter_text
    )
    sfmc_formats = emulator().tenant(cursor.tenant_id).settings.sfmc_read_formats
    return ok(rowsets.page_body(de, cursor, page, rows, total, sfmc_formats))


def _rowset(de):
    """A read by key or id opens a cursor; its requestToken pages on through the token route."""
    page = int_arg("$page", 1, 1, 10**9)
    page_size = int_arg("$pageSize", rowsets.DEFAULT_PAGE_SIZE, 1, rowsets.DEFAULT_PAGE_SIZE)
    filter_text = arg("$filter")
    if filter_text:
        emulator().rows.read(
            auth().tenant_id, de, page=1, page_size=1, filter_text=filter_text
        )  # a bad filter fails here, no cursor
    cursor = emulator().rows.cursors.open(auth().tenant_id, de.id, filter_text, page_size, emulator().clock.now())
    return _read_page(de, cursor, page)


@api.get(
    "/data/v1/customobjectdata/key/<key>/rowset",
    "Read rows by DE key",
    scope=R,
    response="RowsetPage",
    params=[*page_params(rowsets.DEFAULT_PAGE_SIZE), query("$filter", "e.g. Email eq 'a@b.c'")],
)
def rowset_by_key(key: str):
    return _rowset(data_extension(key, by="key"))


@api.get(
    "/data/v1/customobjectdata/id/<de_id>/rowset",
    "Read rows by DE id",
    scope=R,
    response="RowsetPage",
    params=[*page_params(rowsets.DEFAULT_PAGE_SIZE), query("$filter", "e.g. Age gt 30")],
)
def rowset_by_id(de_id: str):
    return _rowset(data_extension(de_id, by="id"))


@api.get(
    "/data/v1/customobjectdata/token/<token>/rowset",
    "Read the next pages of a row read through its requestToken (links.next)",
    scope=R,
    response="RowsetPage",
    params=[query("$page", "1-based page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE})],
)
def rowset_by_token(token: str):
    """The pages after the first: the cursor keeps the DE, filter and page size of the first read."""
    cursor = emulator().rows.cursors.find(auth().tenant_id, token, emulator().clock.now())
    de = emulator().find_data_extension(auth().tenant_id, de_id=cursor.de_id) if cursor else None
    if de is None:
        raise errors.rowset_token_not_found(token)
    return _read_page(de, cursor, int_arg("$page", 1, 1, 10**9))
