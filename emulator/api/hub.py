"""Sync Data Extension rows: ``/hub/v1/dataevents``.

Rowsets upsert on the primary key and are not atomic: rows before the first bad row are saved,
the rest rejected, with one ``additionalErrors`` entry per problem of the bad row.
"""

from __future__ import annotations

import re

from flask import Blueprint

from .. import errors
from ..domain.rows import RowInput, RowPlan
from .common import auth, data_extension, engine, json_body, ok, requires

bp = Blueprint("hub", __name__)


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
        rows.append(RowInput(item.get("keys") or {}, item.get("values") or {}))
    return rows


@bp.post("/hub/v1/dataevents/<ref>/rowset")
@requires("data_extensions_write")
def post_rowset(ref: str):
    de = data_extension(ref)
    body = json_body(list, what="A rowset")
    plan = engine().write_rows(auth().tenant_id, de, rowset_inputs(body), source="hub rowset")
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
    plan = engine().write_rows(auth().tenant_id, de, [RowInput(keys, values)], source="hub row")
    if plan.failed:
        raise rows_failed(de, plan)
    return ok({"keys": keys, "values": values})
