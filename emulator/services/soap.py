"""The SOAP API's operations over the emulator's one rule engine: Retrieve, Create, Update, Delete.

Rows go through the very validator and upsert planner REST uses (``Emulator.write_rows``) and the
same store queries (``$filter`` trees), so a row written over SOAP reads back over REST and the
reverse. Envelopes are read and written by ``domain/soap.py``; this module decides what happens.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..clock import Clock
from ..domain import soap
from ..domain.auth import AuthContext
from ..domain.data_extensions import DataExtension
from ..domain.filters import BoolOp, Compare
from ..domain.rows import RowInput, prepare_row
from ..domain.soap import ObjectResult, RetrievedObject, SoapProblem
from ..domain.stats import WriteCapture
from ..errors import EmulatorError
from .data_extensions import DataExtensions
from .rows import Rows

READ_SCOPE = "data_extensions_read"
WRITE_SCOPE = "data_extensions_write"
CONTINUATIONS_KEPT = 1000

# Folder ids the emulator reports (inferred: SFMC's ids differ per account; see docs/soap.md)
ROOT_FOLDERS = (
    (1000, "dataextension", "Data Extensions", "dataextension_default"),
    (1001, "shared_dataextension", "Shared Data Extensions", "shared_dataextension_default"),
)
DE_ROOT = ROOT_FOLDERS[0][0]

# ErrorCodes of per-object results (inferred where no recorded answer settles them; docs/soap.md)
ERROR_DUPLICATE_KEY = 2
ERROR_ROW = 310007
ERROR_NO_DATA_EXTENSION = 310002
ERROR_DATA_EXTENSION = 310000

MESSAGES = {
    "Create": "Created DataExtensionObject",
    "Update": "Updated DataExtensionObject",
    "Delete": "Deleted DataExtensionObject",
}
RESULT_TYPES = {
    "Create": "DataExtensionCreateResult",
    "Update": "DataExtensionUpdateResult",
    "Delete": "DataExtensionDeleteResult",
}
WRITABLE = {
    "Create": ("DataExtensionObject", "DataExtension"),
    "Update": ("DataExtensionObject",),
    "Delete": ("DataExtensionObject", "DataExtension"),
}
RETRIEVABLE = ("DataExtension", "DataExtensionField", "DataExtensionObject", "DataFolder", "BusinessUnit")


@dataclass
class Continuation:
    tenant_id: str
    query: soap.RetrieveQuery
    offset: int


@dataclass
class SoapAnswer:
    body: bytes
    object_types: list[str]


class Soap:
    """Receives what it uses: the clock, a tenant lookup, the Data Extensions service and the Rows service
    (whose ``write`` is the one row writer every path uses)."""

    def __init__(self, clock: Clock, tenant: Callable, data_extensions: DataExtensions, rows: Rows):
        self.clock = clock
        self.tenant = tenant
        self.data_extensions = data_extensions
        self.rows = rows
        self._continuations: OrderedDict[str, Continuation] = OrderedDict()
        self._lock = threading.Lock()

    # -- entry point ------------------------------------------------------------------------------

    def handle(self, ctx: AuthContext, request: soap.SoapRequest, capture: WriteCapture | None = None) -> SoapAnswer:
        """Answer one SOAP call; ``capture`` records its row writes for the journal (``Rows.write``)."""
        if request.operation == "Retrieve":
            return self.retrieve(ctx, soap.parse_retrieve(request.element))
        objects = soap.children(request.element, "Objects")
        if not objects:
            raise SoapProblem(f"{request.operation}Request needs at least one Objects element.")
        kinds = [soap.object_type(o).partition("[")[0] for o in objects]
        for kind in kinds:
            if kind not in WRITABLE[request.operation]:
                raise SoapProblem(
                    f"The object type '{kind or '(none)'}' is not supported by {request.operation} here; "
                    f"supported: {', '.join(WRITABLE[request.operation])}."
                )
        self._require(ctx, WRITE_SCOPE)
        action = soap.save_action(request.element)
        results = self._write(ctx.tenant_id, request.operation, objects, kinds, action, capture)
        body = soap.write_answer(request.operation, results, request_id=_request_id(), now=self.clock.now())
        return SoapAnswer(body, sorted(set(kinds)))

    @staticmethod
    def _require(ctx: AuthContext, scope: str) -> None:
        if scope not in ctx.scopes:
            raise SoapProblem(
                f"Insufficient privileges to complete this action: the access token lacks the scope '{scope}'.",
                kind="security",
                status=403,
            )

    # -- Retrieve ---------------------------------------------------------------------------------

    def retrieve(self, ctx: AuthContext, query: soap.RetrieveQuery) -> SoapAnswer:
        offset = 0
        if query.continue_id:
            with self._lock:
                state = self._continuations.pop(query.continue_id, None)
            if state is None or state.tenant_id != ctx.tenant_id:
                return self._retrieve_error(f"Error: The ContinueRequest '{query.continue_id}' is unknown or spent.")
            query, offset = state.query, state.offset
        base, _, ref = query.object_type.partition("[")
        if base not in RETRIEVABLE:
            raise SoapProblem(
                f"The object type '{query.object_type}' is not supported by Retrieve here; "
                f"supported: {', '.join(RETRIEVABLE)}."
            )
        if base.startswith("DataExtension"):
            self._require(ctx, READ_SCOPE)
        if base == "DataExtensionObject":
            found = self._rows(ctx.tenant_id, ref.rstrip("]"), query, offset)
        else:
            found = self._metadata(ctx.tenant_id, base, query, offset)
        if isinstance(found, str):
            return self._retrieve_error(found)
        objects, total = found
        request_id = _request_id()
        status = "OK"
        if offset + len(objects) < total:
            status = "MoreDataAvailable"
            with self._lock:
                self._continuations[request_id] = Continuation(ctx.tenant_id, query, offset + len(objects))
                while len(self._continuations) > CONTINUATIONS_KEPT:
                    self._continuations.popitem(last=False)
        body = soap.write_retrieve(objects, status=status, request_id=request_id, now=self.clock.now())
        return SoapAnswer(body, [query.object_type])

    def _retrieve_error(self, status: str) -> SoapAnswer:
        """SFMC answers a Retrieve it cannot run with ``OverallStatus`` ``Error: ...`` and no Results."""
        body = soap.write_retrieve([], status=status, request_id=_request_id(), now=self.clock.now())
        return SoapAnswer(body, [])

    def _find_de(self, tenant_id: str, ref: str) -> DataExtension | None:
        """``DataExtensionObject[X]``: X is the DE's Name (as FuelSDK sends it) or its CustomerKey."""
        for de in self.data_extensions.list(tenant_id):
            if de.name.lower() == ref.lower():
                return de
        return self.data_extensions.find(tenant_id, key=ref)

    def _rows(self, tenant_id: str, ref: str, query: soap.RetrieveQuery, offset: int):
        de = self._find_de(tenant_id, ref) if ref else None
        if de is None:
            return f"Error: Unable to find the data extension '{ref}': retrieve DataExtensionObject[Name]."
        wanted = query.properties or [c.name for c in de.fields]
        unknown = [p for p in [*wanted, *soap.filter_properties(query.filter)] if de.column(p) is None]
        if unknown:
            names = ", ".join(dict.fromkeys(unknown))
            return (
                f"Error: The Request Property(s) {names} do not match with the fields of DataExtensionObject retrieve"
            )
        columns = [de.column(p) for p in wanted]
        where = _where(query.filter, de)
        rows, total = self.rows.query(tenant_id, de, where, offset, soap.PAGE_SIZE)
        objects = [
            RetrievedObject(
                "DataExtensionObject",
                {"ObjectID": None},
                [(c.name, row.get(c.name)) for c in columns],
            )
            for row in rows
        ]
        return objects, total

    def _metadata(self, tenant_id: str, kind: str, query: soap.RetrieveQuery, offset: int):
        everything = {
            "DataExtension": self._de_objects,
            "DataExtensionField": self._field_objects,
            "DataFolder": self._folder_objects,
            "BusinessUnit": self._unit_objects,
        }[kind](tenant_id)
        chosen = [o for o in everything if soap.matches(query.filter, lambda p, o=o: _lookup(o, p))]
        page = chosen[offset : offset + soap.PAGE_SIZE]
        return [RetrievedObject(kind, _project(o, query.properties)) for o in page], len(chosen)

    def _de_objects(self, tenant_id: str) -> list[dict]:
        out = []
        for de in self.data_extensions.list(tenant_id):
            stamp = soap.soap_datetime(de.created_at)
            out.append(
                {
                    "CreatedDate": stamp,
                    "ModifiedDate": stamp,
                    "ObjectID": de.id,
                    "CustomerKey": de.key,
                    "Name": de.name,
                    "Description": de.description,
                    "IsSendable": de.is_sendable,
                    "IsTestable": False,
                    "CategoryID": de.category_id or DE_ROOT,
                }
            )
        return out

    def _field_objects(self, tenant_id: str) -> list[dict]:
        out = []
        for de in self.data_extensions.list(tenant_id):
            for column in de.fields:
                item = {
                    "ObjectID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{de.id}/{column.name.lower()}")),
                    "CustomerKey": f"[{de.key}].[{column.name}]",
                    "Name": column.name,
                    "DefaultValue": column.default or "",
                    "IsRequired": not column.is_nullable,
                    "Ordinal": column.ordinal,
                    "IsPrimaryKey": column.is_primary_key,
                    "FieldType": column.type,
                    "DataExtension": {"ObjectID": de.id, "CustomerKey": de.key, "Name": de.name},
                }
                if column.length is not None and column.type != "Decimal":
                    item["MaxLength"] = column.length
                if column.type == "Decimal":
                    item["Precision"] = column.length
                    item["Scale"] = column.scale
                out.append(item)
        return out

    def _folder_objects(self, tenant_id: str) -> list[dict]:
        tenant = self.tenant(tenant_id)
        mid = tenant.default_mid if tenant else 0
        folders = []
        for folder_id, content_type, name, key in ROOT_FOLDERS:
            folders.append(_folder(mid, folder_id, 0, name, key, content_type, editable=False))
        categories = sorted({de.category_id for de in self.data_extensions.list(tenant_id)} - {0, DE_ROOT})
        for category in categories:
            folders.append(_folder(mid, category, DE_ROOT, f"Folder {category}", str(category), "dataextension"))
        return folders

    def _unit_objects(self, tenant_id: str) -> list[dict]:
        tenant = self.tenant(tenant_id)
        if tenant is None:
            return []
        parent = tenant.default_mid
        return [
            {
                "ID": unit.mid,
                "Client": {"ID": unit.mid},
                "Name": unit.name,
                "CustomerKey": str(unit.mid),
                "ParentID": 0 if unit.mid == parent else parent,
                "IsActive": True,
                "AccountType": "ENTERPRISE_2" if unit.mid == parent else "BUSINESS_UNIT",
                "MasterUnsubscribeBehavior": "ENTIRE_ENTERPRISE",
            }
            for unit in tenant.business_units
        ]

    # -- Create, Update, Delete -------------------------------------------------------------------

    def _write(
        self,
        tenant_id: str,
        operation: str,
        objects,
        kinds: list[str],
        action: str | None,
        capture: WriteCapture | None,
    ):
        results: list[ObjectResult | None] = [None] * len(objects)
        batch: list[tuple[int, object]] = []
        batch_de: DataExtension | None = None

        def flush():
            nonlocal batch, batch_de
            if batch:
                for index, result in self._write_rows(tenant_id, operation, batch_de, batch, action, capture):
                    results[index] = result
            batch, batch_de = [], None

        for index, (element, kind) in enumerate(zip(objects, kinds, strict=True)):
            if kind == "DataExtension":
                flush()
                results[index] = self._write_de(tenant_id, operation, index, element)
                continue
            ref = soap.text(element, "CustomerKey") or soap.text(element, "Name") or ""
            de = self.data_extensions.find(tenant_id, key=ref) if ref else None
            if de is None and ref:
                de = self._find_de(tenant_id, ref)
            if de is None:
                flush()
                message = f"Error: Unable to find the data extension with CustomerKey '{ref}'."
                results[index] = _row_result(operation, index, ref, [], message, ERROR_NO_DATA_EXTENSION)
                continue
            if batch_de is not None and batch_de.id != de.id:
                flush()
            batch_de = de
            batch.append((index, element))
        flush()
        return results

    def _write_rows(self, tenant_id, operation, de: DataExtension, batch, action, capture: WriteCapture | None):
        pk_names = {c.name.lower() for c in de.primary_keys}
        inputs, echoes = [], []
        for _index, element in batch:
            pairs = soap.name_values(element, "Properties", "Property") + soap.name_values(element, "Keys", "Key")
            keys = {n: v for n, v in pairs if n.lower() in pk_names}
            values = {n: v for n, v in pairs if n.lower() not in pk_names}
            inputs.append(RowInput(keys, values))
            echoes.append(pairs)
        if operation == "Delete":
            return self._delete_rows(tenant_id, de, batch, inputs, echoes)
        upsert = (action or "").lower() == "updateadd"
        missing: dict[int, str] = {}
        if operation == "Update" and not upsert and de.primary_keys:
            strict = self.tenant(tenant_id).settings.strict_columns
            prepared = [prepare_row(de, row, i, strict) for i, row in enumerate(inputs)]
            stored = self.rows.existing(tenant_id, de, [p.row_key for p in prepared if p.ok and p.row_key])
            for i, p in enumerate(prepared):
                if p.ok and p.row_key not in stored:
                    missing[i] = "Error: Unable to update the row: no row with these primary key values exists."
        writable = [i for i in range(len(inputs)) if i not in missing]
        plan = self.rows.write(
            tenant_id,
            de,
            [inputs[i] for i in writable],
            source="soap",
            insert_only=operation == "Create" and not upsert,
            stop_at_first_error=False,
            capture=capture,
        )
        out = []
        for position, outcome in zip(writable, plan.outcomes, strict=True):
            index = batch[position][0]
            failure = None if outcome.ok else "Error: " + "; ".join(outcome.problems)
            code = ERROR_DUPLICATE_KEY if any("PRIMARY KEY" in p for p in outcome.problems) else ERROR_ROW
            out.append((index, _row_result(operation, index, de.key, echoes[position], failure, code)))
        for position, message in missing.items():
            index = batch[position][0]
            out.append((index, _row_result(operation, index, de.key, echoes[position], message)))
        return out

    def _delete_rows(self, tenant_id: str, de: DataExtension, batch, inputs, echoes):
        out, keys = [], []
        for position, row in enumerate(inputs):
            index = batch[position][0]
            outcome = prepare_row(de, RowInput(row.keys, {}), position, strict=False)
            if not de.primary_keys:
                problem = "Error: Rows of a data extension without a primary key cannot be deleted by key."
            elif not outcome.ok:
                problem = "Error: " + "; ".join(outcome.problems)
            else:
                problem = None
            if problem:
                out.append((index, _row_result("Delete", index, de.key, echoes[position], problem)))
                continue
            keys.append((index, position, outcome.row_key))
        existing = self.rows.existing(tenant_id, de, [k for _, _, k in keys])
        self.rows.delete(tenant_id, de, [k for _, _, k in keys if k in existing])
        for index, position, key in keys:
            failure = None if key in existing else NO_ROW_TO_DELETE
            out.append((index, _row_result("Delete", index, de.key, echoes[position], failure)))
        return out

    def _write_de(self, tenant_id: str, operation: str, index: int, element) -> ObjectResult:
        key = soap.text(element, "CustomerKey")
        if operation == "Delete":
            object_id = soap.text(element, "ObjectID")
            de = self.data_extensions.find(tenant_id, key=key) if key else None
            if de is None and object_id:
                de = self.data_extensions.find(tenant_id, de_id=object_id)
            echo = {"ObjectID": object_id, "CustomerKey": key}
            if de is None:
                message = f"Error: Unable to find the data extension with CustomerKey '{key or object_id}'."
                return ObjectResult(False, message, index, "DataExtension", echo, ERROR_NO_DATA_EXTENSION, None)
            self.data_extensions.delete(tenant_id, de)
            return ObjectResult(True, "Data Extension deleted.", index, "DataExtension", echo, None, None)
        raw = _de_definition(element)
        try:
            de = self.data_extensions.create(tenant_id, raw)
        except EmulatorError as err:
            echo = {"CustomerKey": key, "Name": raw.get("name")}
            message = "Error: " + str(err)
            details = getattr(err, "additional", None) or []
            if details:
                message += " " + "; ".join(d.get("message", "") for d in details[1:])
            return ObjectResult(False, message.strip(), index, "DataExtension", echo, ERROR_DATA_EXTENSION, 0)
        echo = {
            "ObjectID": de.id,
            "CustomerKey": de.key,
            "Name": de.name,
            "Description": de.description,
            "IsSendable": de.is_sendable,
            "IsTestable": False,
            "Fields": {"Field": [_field_echo(f) for f in de.fields]},
            "CategoryID": de.category_id or DE_ROOT,
        }
        return ObjectResult(True, "Data Extension created.", index, "DataExtension", echo, None, 0, de.id)


# -- helpers ---------------------------------------------------------------------------------------


def _request_id() -> str:
    return str(uuid.uuid4())


NO_ROW_TO_DELETE = "Error: Unable to delete the row: no row with these primary key values exists."


def _row_result(
    operation: str, index: int, key: str, pairs, failure: str | None = None, code: int = ERROR_ROW
) -> ObjectResult:
    """One row's result: SFMC's message for ``operation``, or ``failure`` with its error ``code``."""
    obj = {"ObjectID": None, "CustomerKey": key, ("Keys" if operation == "Delete" else "Properties"): pairs}
    message, error_code = (MESSAGES[operation], None) if failure is None else (failure, code)
    return ObjectResult(
        failure is None, message, index, "DataExtensionObject", obj, error_code, 0, None, RESULT_TYPES[operation]
    )


def _folder(mid, folder_id, parent, name, key, content_type, editable=True) -> dict:
    return {
        "Client": {"ID": mid},
        "ID": folder_id,
        "ObjectID": None,
        "CustomerKey": key,
        "ParentFolder": {"ID": parent, "ObjectID": None},
        "Name": name,
        "Description": "",
        "ContentType": content_type,
        "IsActive": True,
        "IsEditable": editable,
        "AllowChildren": True,
    }


_ABSENT = object()


def _find(obj: dict, path: str) -> object:
    """A property by its SOAP name, dotted for nested ones (``DataExtension.CustomerKey``), case-insensitive;
    ``_ABSENT`` when the object has no such property."""
    current: object = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return _ABSENT
        match = next((k for k in current if k.lower() == part.lower()), None)
        if match is None:
            return _ABSENT
        current = current[match]
    return current


def _lookup(obj: dict, path: str) -> object:
    """A property's value as a filter compares it: None when absent."""
    value = _find(obj, path)
    return None if value is _ABSENT else value


def _project(obj: dict, properties: list[str]) -> dict:
    """The requested properties only (all when none are named); properties the emulator does not model
    are left out rather than refused, so tools that ask for many (sfmc-devtools) still get an answer."""
    if not properties:
        return obj
    out: dict = {}
    for path in properties:
        value = _find(obj, path)
        if value is _ABSENT:
            continue
        parts = path.split(".")
        target = out
        source: object = obj
        for part in parts[:-1]:
            name = next(k for k in source if k.lower() == part.lower())
            source = source[name]
            target = target.setdefault(name, {})
        name = next(k for k in source if k.lower() == parts[-1].lower())
        target[name] = value
    return out


def _where(node, de: DataExtension):
    """A SOAP filter as the store's filter tree (columns resolved to their canonical names)."""
    if node is None:
        return None
    if isinstance(node, soap.Simple):
        column = de.column(node.prop)
        numeric = column.type in ("Number", "Decimal")
        comparable = node.op not in ("null", "notnull", "in", "like")
        if numeric and comparable and any(soap.as_number(v) is None for v in node.values):
            raise SoapProblem(f"The filter on '{column.name}' compares a number column with a non-number.")
        value = node.values[0] if node.values else ""
        return Compare(column.name, node.op, value, tuple(node.values), numeric)
    parts = [_where(p, de) for p in node.parts]
    tree = parts[0]
    for part in parts[1:]:
        tree = BoolOp(node.op, tree, part)
    return tree


def _field_echo(f) -> dict:
    out = {"ObjectID": None, "Name": f.name, "DefaultValue": f.default or ""}
    if f.length is not None:
        out["MaxLength"] = f.length
    out.update({"IsRequired": not f.is_nullable, "IsPrimaryKey": f.is_primary_key, "FieldType": f.type})
    return out


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("true", "1")


def _de_definition(element) -> dict:
    """A SOAP DataExtension as the definition REST's ``customobjects`` takes (same rules, same builder)."""
    fields = []
    for holder in soap.children(element, "Fields"):
        for field_el in soap.children(holder, "Field"):
            required = _bool(soap.text(field_el, "IsRequired"))
            primary = _bool(soap.text(field_el, "IsPrimaryKey"))
            length = soap.text(field_el, "MaxLength")
            precision = soap.text(field_el, "Precision")
            item = {
                "name": soap.text(field_el, "Name"),
                "type": soap.text(field_el, "FieldType") or "Text",
                "length": (length or precision or None),
                "scale": soap.text(field_el, "Scale") or None,
                "isPrimaryKey": primary,
                "defaultValue": soap.text(field_el, "DefaultValue") or None,
            }
            if required is not None and not primary:
                item["isNullable"] = not required
            fields.append(item)
    raw = {
        "name": soap.text(element, "Name"),
        "description": soap.text(element, "Description") or "",
        "isSendable": _bool(soap.text(element, "IsSendable")) or False,
        "fields": fields,
    }
    key = soap.text(element, "CustomerKey")
    if key:
        raw["key"] = key
    category = soap.text(element, "CategoryID")
    if category and category.strip().isdigit():
        raw["categoryId"] = int(category)
    return raw
