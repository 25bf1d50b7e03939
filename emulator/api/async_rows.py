"""Async Data Extension rows: ``/data/v1/async`` and ``/hub/v1/dataeventsasync``.

Submissions are stored and answered 202 with a ``requestId``; the emulator's worker (``services/async_rows.py``)
validates and writes the rows later, each row standing or failing alone. Errors of the
``/data/v1/async`` family use its ``resultMessages`` envelope; the hub twins keep the REST envelope
of ``/hub/v1/dataevents``. Inferred where SFMC's docs are silent: the hub twins answer like
``/data/v1/async`` (202 ``{requestId, resultMessages}``) and their jobs are read through
``/data/v1/async/{requestId}/status|results``; an unknown request id answers 404; status and
results need ``data_extensions_read``; more than 32,000 items is ``resultCode: MaxItemsExceeded``.
"""

from __future__ import annotations

import functools

from flask import Response

from .. import errors
from ..domain import async_rows as jobs
from ..openapi import page_params
from .common import auth, data_extension, emulator, find_data_extension, int_arg, json_body, ok, reference
from .routes import Api
from .rows import parse_primary_keys

R, W = "data_extensions_read", "data_extensions_write"
ASYNC = "async-data-extensions"
api = Api("async_rows", __name__, tag=ASYNC)


def async_envelope(view):
    """Answer this family's own request errors in the ``resultMessages`` envelope."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except errors.SfmcError as err:
            raise errors.as_async(err) from None

    return wrapped


def _resolve(raw: str):
    ref = reference(raw)
    de = find_data_extension(auth().tenant_id, ref)
    if de is None:
        raise errors.custom_object_not_found(**({"key": ref.value} if ref.kind == "key" else {"de_id": ref.value}))
    return de


def _submit(de, items: list, *, insert_only: bool, shape: str, source: str):
    job = emulator().async_rows.submit(auth().tenant_id, de, items, insert_only=insert_only, shape=shape, source=source)
    if shape == jobs.KEYED:  # /hub/v1/dataeventsasync answers 202 with an empty body (se-265434)
        return Response(status=202)
    return ok({"requestId": job["id"], "resultMessages": []}, 202)


def _rows(ref: str, insert_only: bool):
    body = json_body(dict)
    de = _resolve(ref)
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise errors.async_invalid_request("'items' must be a non-empty array of rows.")
    if len(items) > jobs.MAX_ITEMS:
        raise errors.async_max_items_exceeded(len(items), jobs.MAX_ITEMS)
    return _submit(
        de, items, insert_only=insert_only, shape=jobs.FLAT, source="async insert" if insert_only else "async upsert"
    )


@api.post(
    "/data/v1/async/dataextensions/<ref>/rows",
    "Insert rows asynchronously",
    ok=202,
    body="AsyncRows",
    response="AsyncAccepted",
    scope=W,
    envelope="async",
    description="ref is key:{key}, id:{guid} or a bare guid. At most 32,000 items; a duplicate primary key "
    "fails that row only.",
)
@async_envelope
def insert_rows(ref: str):
    return _rows(ref, insert_only=True)


@api.put(
    "/data/v1/async/dataextensions/<ref>/rows",
    "Upsert rows asynchronously",
    ok=202,
    body="AsyncRows",
    response="AsyncAccepted",
    scope=W,
    envelope="async",
    description="ref is key:{key}, id:{guid} or a bare guid. At most 32,000 items.",
)
@async_envelope
def upsert_rows(ref: str):
    return _rows(ref, insert_only=False)


def _job(request_id: str) -> dict:
    job = emulator().async_rows.get(auth().tenant_id, request_id)
    if job is None:
        raise errors.async_request_not_found(request_id)
    return job


@api.get(
    "/data/v1/async/<request_id>/status",
    "Status of an async request ('status' absent until it is picked up)",
    response="AsyncStatus",
    scope=R,
    envelope="async",
)
@async_envelope
def job_status(request_id: str):
    return ok(jobs.status_view(_job(request_id)))


@api.get(
    "/data/v1/async/<request_id>/results",
    "Per-row results of an async request, in submission order",
    scope=R,
    envelope="async",
    response="AsyncResults",
    params=page_params(jobs.MAX_ITEMS),
)
@async_envelope
def job_results(request_id: str):
    job = _job(request_id)
    page = int_arg("$page", 1, 1, 10**9)
    page_size = int_arg("$pageSize", jobs.DEFAULT_RESULTS_PAGE_SIZE, 1, jobs.MAX_ITEMS)
    return ok(jobs.results_view(job, page, page_size))


# -- /hub/v1/dataeventsasync: the sync rowset shapes, processed by the same jobs -------------------


@api.post(
    "/hub/v1/dataeventsasync/<ref>/rowset",
    "Upsert a rowset asynchronously (202, no body)",
    ok=202,
    ok_media=None,
    body="HubAsyncRowset",
    scope=W,
)
def hub_rowset(ref: str):
    de = data_extension(ref)
    body = json_body(list, what="A rowset")
    if not body:
        raise errors.missing_field("The rowset is empty: send at least one row.")
    if len(body) > jobs.MAX_ITEMS:
        raise errors.incorrect_format(f"The rowset has {len(body)} rows; at most {jobs.MAX_ITEMS:,} are allowed.")
    return _submit(de, body, insert_only=False, shape=jobs.KEYED, source="hub async rowset")


@api.put(
    "/hub/v1/dataeventsasync/<ref>/rows/<path:primary_keys>",
    "Upsert one row asynchronously (202, no body)",
    ok=202,
    ok_media=None,
    body="HubAsyncRowValues",
    scope=W,
)
def hub_row(ref: str, primary_keys: str):
    de = data_extension(ref)
    keys = parse_primary_keys(primary_keys)
    values = json_body(dict).get("values") or {}
    if not isinstance(values, dict):
        raise errors.incorrect_format("'values' must be an object.")
    return _submit(de, [{"keys": keys, "values": values}], insert_only=False, shape=jobs.KEYED, source="hub async row")
