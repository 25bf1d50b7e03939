"""SFMC's SOAP API (``/Service.asmx``): reading request envelopes and writing answers. Pure: no Flask, no store.

Untrusted XML is parsed by ``defusedxml`` over the standard library's expat parser with every DTD
refused, so entity expansion (billion laughs) and external entities (XXE) never happen; depth and
size are bounded before anything walks the tree. Answers are built as element trees and serialised
by the library, never by joining strings. Shapes follow SFMC's recorded answers (see ``docs/soap.md``).
"""

from __future__ import annotations

import fnmatch
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
ET_NS = "http://exacttarget.com/wsdl/partnerAPI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
WSA_NS = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
XSI_TYPE = f"{{{XSI_NS}}}type"
XSI_NIL = f"{{{XSI_NS}}}nil"

MAX_DEPTH = 32  # the deepest legitimate request (nested ComplexFilterParts) stays far below this
MAX_ELEMENTS = 200_000  # a 2,500-object Create with 20 properties each is ~150,000 elements
MAX_FILTER_DEPTH = 10
MAX_ATTRIBUTES = 32  # namespace declarations are not attributes here; real requests carry one or two
MAX_ATTRIBUTE_LENGTH = 4096
PAGE_SIZE = 2500  # SFMC's Retrieve page

# request element -> (operation, answer element)
OPERATIONS = {
    "RetrieveRequestMsg": ("Retrieve", "RetrieveResponseMsg"),
    "CreateRequest": ("Create", "CreateResponse"),
    "UpdateRequest": ("Update", "UpdateResponse"),
    "DeleteRequest": ("Delete", "DeleteResponse"),
}
RESPONSE_OF = {op: answer for op, answer in OPERATIONS.values()}

for _prefix, _uri in (
    ("soap", SOAP_NS),
    ("xsi", XSI_NS),
    ("xsd", XSD_NS),
    ("wsa", WSA_NS),
    ("wsse", WSSE_NS),
    ("wsu", WSU_NS),
):
    ET.register_namespace(_prefix, _uri)


class SoapProblem(Exception):
    """A request SFMC answers with a SOAP Fault: ``kind`` is client, security, version or server."""

    def __init__(self, message: str, kind: str = "client", status: int = 400):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status


def local(tag: object) -> str:
    """``{ns}Name`` -> ``Name`` (comments and processing instructions have no string tag)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def namespace(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


# -- reading a request ---------------------------------------------------------------------------


@dataclass
class SoapRequest:
    operation: str  # Retrieve | Create | Update | Delete
    element: ET.Element  # the operation element inside soap:Body
    token: str | None  # from <fueloauth> or <oAuth><oAuthToken>
    token_header: str | None  # which header carried it


def _check_shape(root: ET.Element) -> None:
    """Refuse trees deeper or larger than any real request, before anything recurses over them."""
    stack = [(root, 1)]
    count = 0
    while stack:
        element, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise SoapProblem(f"The request nests elements more than {MAX_DEPTH} levels deep.")
        if count > MAX_ELEMENTS:
            raise SoapProblem(f"The request has more than {MAX_ELEMENTS} elements.")
        attributes = element.attrib
        if len(attributes) > MAX_ATTRIBUTES or any(len(v) > MAX_ATTRIBUTE_LENGTH for v in attributes.values()):
            raise SoapProblem(
                f"An element carries more than {MAX_ATTRIBUTES} attributes or an attribute value longer than "
                f"{MAX_ATTRIBUTE_LENGTH} characters."
            )
        stack.extend((child, depth + 1) for child in element)


def parse_request(body: bytes, soap_action: str | None = None) -> SoapRequest:
    """The operation, its element and the auth token of a SOAP 1.1 request; raises SoapProblem."""
    if not body or not body.strip():
        raise SoapProblem("The request body is empty: send a SOAP envelope.")
    try:
        root = safe_fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise SoapProblem(
            f"The request XML is refused: {type(err).__name__} (DTDs and entities are not allowed)."
        ) from None
    except (ET.ParseError, ExpatError, ValueError, LookupError) as err:
        raise SoapProblem(f"The request is not well-formed XML: {err}") from None
    _check_shape(root)
    if local(root.tag) != "Envelope":
        raise SoapProblem("The request's root element must be a SOAP Envelope.")
    if namespace(root.tag) == SOAP12_NS:
        raise SoapProblem("SOAP 1.2 envelopes are not supported: use SOAP 1.1.", kind="version")
    if namespace(root.tag) != SOAP_NS:
        raise SoapProblem(f"The Envelope must be in the SOAP 1.1 namespace {SOAP_NS}.", kind="version")
    header = root.find(f"{{{SOAP_NS}}}Header")
    body_el = root.find(f"{{{SOAP_NS}}}Body")
    if body_el is None:
        raise SoapProblem("The Envelope has no soap:Body.")
    operations = [child for child in body_el if isinstance(child.tag, str)]
    if len(operations) != 1:
        raise SoapProblem("The soap:Body must hold exactly one operation element.")
    element = operations[0]
    name = local(element.tag)
    if name not in OPERATIONS:
        wanted = soap_action.strip('"') if soap_action else name
        raise SoapProblem(f"The operation '{wanted or name}' is not supported by this endpoint.")
    if namespace(element.tag) != ET_NS:
        raise SoapProblem(f"The operation element '{name}' must be in the namespace {ET_NS}.")
    token, which = _token(header)
    return SoapRequest(OPERATIONS[name][0], element, token, which)


def _token(header: ET.Element | None) -> tuple[str | None, str | None]:
    if header is None:
        return None, None
    for element in header:
        name = local(element.tag)
        if name == "fueloauth":
            return (element.text or "").strip(), "fueloauth"
        if name == "oAuth":
            for child in element:
                if local(child.tag) == "oAuthToken":
                    return (child.text or "").strip(), "oAuth"
    return None, None


def child(element: ET.Element | None, name: str) -> ET.Element | None:
    """The first child named ``name`` in any namespace (clients differ in how they qualify children)."""
    if element is None:
        return None
    for item in element:
        if local(item.tag) == name:
            return item
    return None


def children(element: ET.Element | None, name: str) -> list[ET.Element]:
    if element is None:
        return []
    return [item for item in element if local(item.tag) == name]


def text(element: ET.Element | None, name: str) -> str | None:
    found = child(element, name)
    if found is None or found.get(XSI_NIL) == "true":
        return None
    return found.text or ""


def xsi_type(element: ET.Element) -> str:
    return (element.get(XSI_TYPE) or "").rpartition(":")[2]


def object_type(element: ET.Element) -> str:
    """The APIObject type of an ``Objects`` element (``xsi:type``; ``Type`` or ``ObjectType`` as a fallback)."""
    return xsi_type(element) or text(element, "ObjectType") or ""


def name_values(element: ET.Element | None, container: str, item: str) -> list[tuple[str, str | None]]:
    """``<Properties><Property><Name/><Value/></Property></Properties>`` as (name, value) pairs."""
    pairs = []
    for holder in children(element, container):
        for entry in children(holder, item):
            name = text(entry, "Name")
            if name is not None:
                pairs.append((name.strip(), text(entry, "Value")))
    return pairs


# -- options -------------------------------------------------------------------------------------


def save_action(request_element: ET.Element) -> str | None:
    """The SaveAction of ``Options/SaveOptions/SaveOption`` for all properties (``*``), e.g. UpdateAdd."""
    options = child(request_element, "Options")
    for holder in children(options, "SaveOptions"):
        for option in children(holder, "SaveOption"):
            action = text(option, "SaveAction")
            prop = text(option, "PropertyName") or "*"
            if action and prop.strip() == "*":
                return action.strip()
    return None


# -- Retrieve requests and filters ---------------------------------------------------------------

SIMPLE_OPERATORS = {
    "equals": "eq",
    "notequals": "ne",
    "greaterthan": "gt",
    "lessthan": "lt",
    "greaterthanorequal": "ge",
    "lessthanorequal": "le",
    "isnull": "null",
    "isnotnull": "notnull",
    "like": "like",
    "in": "in",
    "between": "between",
}
ARITY = {"null": 0, "notnull": 0, "in": None, "between": 2}  # others take exactly one value


@dataclass(frozen=True)
class Simple:
    prop: str
    op: str  # a key of ARITY or eq/ne/gt/lt/ge/le/like
    values: tuple[str, ...]


@dataclass(frozen=True)
class Logical:
    op: str  # and | or
    parts: tuple[Simple | Logical, ...]


@dataclass
class RetrieveQuery:
    object_type: str
    properties: list[str]
    filter: Simple | Logical | None
    continue_id: str | None
    client_ids: list[str] = field(default_factory=list)


def parse_retrieve(element: ET.Element) -> RetrieveQuery:
    request = child(element, "RetrieveRequest")
    if request is None:
        raise SoapProblem("RetrieveRequestMsg needs a RetrieveRequest element.")
    continue_id = (text(request, "ContinueRequest") or "").strip() or None
    kind = (text(request, "ObjectType") or "").strip()
    if not kind and not continue_id:
        raise SoapProblem("RetrieveRequest needs an ObjectType (or a ContinueRequest).")
    properties = [(p.text or "").strip() for p in children(request, "Properties") if (p.text or "").strip()]
    filter_el = child(request, "Filter")
    parsed = parse_filter(filter_el, 0) if filter_el is not None and len(filter_el) else None
    clients = [text(c, "ID") or "" for c in children(request, "ClientIDs")]
    return RetrieveQuery(kind, properties, parsed, continue_id, clients)


def parse_filter(element: ET.Element, depth: int) -> Simple | Logical:
    if depth > MAX_FILTER_DEPTH:
        raise SoapProblem(f"Filters nest more than {MAX_FILTER_DEPTH} ComplexFilterParts deep.")
    kind = xsi_type(element)
    if kind == "ComplexFilterPart" or (not kind and child(element, "LogicalOperator") is not None):
        op = (text(element, "LogicalOperator") or "").strip().lower()
        if op not in ("and", "or"):
            raise SoapProblem("A ComplexFilterPart's LogicalOperator must be AND or OR.")
        left, right = child(element, "LeftOperand"), child(element, "RightOperand")
        if left is None or right is None:
            raise SoapProblem("A ComplexFilterPart needs a LeftOperand and a RightOperand.")
        operands = [left, right]
        for holder in children(element, "AdditionalOperands"):
            operands.extend(children(holder, "Operand"))
        return Logical(op, tuple(parse_filter(o, depth + 1) for o in operands))
    if kind not in ("", "SimpleFilterPart"):
        raise SoapProblem(f"The filter type '{kind}' is not supported: use SimpleFilterPart or ComplexFilterPart.")
    prop = (text(element, "Property") or "").strip()
    raw_op = (text(element, "SimpleOperator") or "").strip()
    simple_op = SIMPLE_OPERATORS.get(raw_op.lower())
    if not prop or simple_op is None:
        raise SoapProblem(f"A SimpleFilterPart needs a Property and a known SimpleOperator (got '{raw_op}').")
    values = tuple((v.text or "") for v in children(element, "Value"))
    values += tuple((v.text or "") for v in children(element, "DateValue"))
    arity = ARITY.get(simple_op, 1)
    if (arity is None and not values) or (arity is not None and len(values) < arity):
        raise SoapProblem(f"The SimpleOperator '{raw_op}' on '{prop}' needs {arity or 'at least one'} Value(s).")
    return Simple(prop, simple_op, values)


def filter_properties(node: Simple | Logical | None) -> list[str]:
    if node is None:
        return []
    if isinstance(node, Simple):
        return [node.prop]
    return [p for part in node.parts for p in filter_properties(part)]


def as_number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _like(pattern: str, value: str) -> bool:
    escaped = pattern.lower().replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")
    return fnmatch.fnmatchcase(value.lower(), escaped.replace("%", "*").replace("_", "?"))


def matches(node: Simple | Logical | None, get: Callable[[str], object]) -> bool:
    """Evaluate a filter over one object (metadata objects: Data Extensions, fields, folders, units)."""
    if node is None:
        return True
    if isinstance(node, Logical):
        results = (matches(part, get) for part in node.parts)
        return all(results) if node.op == "and" else any(results)
    raw = get(node.prop)
    value = "" if raw is None else (str(raw).lower() if isinstance(raw, bool) else str(raw))
    if node.op == "null":
        return value == ""
    if node.op == "notnull":
        return value != ""
    if node.op == "in":
        return value.lower() in {v.lower() for v in node.values}
    if node.op == "like":
        return _like(node.values[0], value)
    if node.op == "between":
        low, high, have = as_number(node.values[0]), as_number(node.values[1]), as_number(value)
        if low is not None and high is not None and have is not None:
            return low <= have <= high
        return node.values[0] <= value <= node.values[1]
    want = node.values[0]
    left, right = as_number(value), as_number(want)
    if left is not None and right is not None:
        return _compare(node.op, left, right)
    return _compare(node.op, value.lower(), want.lower())


_Comparable = TypeVar("_Comparable", float, str)


def _compare(op: str, a: _Comparable, b: _Comparable) -> bool:
    """eq/ne/gt/lt/ge/le between two numbers or two (lower-cased) strings."""
    return {
        "eq": a == b,
        "ne": a != b,
        "gt": a > b,
        "lt": a < b,
        "ge": a >= b,
        "le": a <= b,
    }[op]


# -- writing answers -----------------------------------------------------------------------------


def _q(name: str) -> str:
    return f"{{{ET_NS}}}{name}"


def soap_datetime(epoch: float) -> str:
    """SFMC's SOAP timestamps: ``2022-04-21T06:56:27.927`` (no zone)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _envelope(action: str, now: float, request_id: str) -> tuple[ET.Element, ET.Element]:
    envelope = ET.Element(f"{{{SOAP_NS}}}Envelope")
    header = ET.SubElement(envelope, f"{{{SOAP_NS}}}Header")
    ET.SubElement(header, f"{{{WSA_NS}}}Action").text = action
    ET.SubElement(header, f"{{{WSA_NS}}}MessageID").text = f"urn:uuid:{request_id}"
    ET.SubElement(header, f"{{{WSA_NS}}}To").text = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
    security = ET.SubElement(header, f"{{{WSSE_NS}}}Security")
    stamp = ET.SubElement(security, f"{{{WSU_NS}}}Timestamp")
    iso = "%Y-%m-%dT%H:%M:%SZ"
    ET.SubElement(stamp, f"{{{WSU_NS}}}Created").text = datetime.fromtimestamp(now, UTC).strftime(iso)
    ET.SubElement(stamp, f"{{{WSU_NS}}}Expires").text = datetime.fromtimestamp(now + 300, UTC).strftime(iso)
    body = ET.SubElement(envelope, f"{{{SOAP_NS}}}Body")
    return envelope, body


def serialise(envelope: ET.Element, *, default_namespace: str | None = ET_NS) -> bytes:
    """SFMC's answers declare the partner API namespace as the default one, so unprefixed ``xsi:type``
    values (``DataExtensionObject``) resolve into it; a fault has unqualified children and no default."""
    # any encoding but "unicode" gives bytes (typeshed types a named encoding's result as Any)
    out: bytes = ET.tostring(envelope, encoding="utf-8", xml_declaration=True, default_namespace=default_namespace)
    return out


def add_value(parent: ET.Element, name: str, value: object) -> None:
    """One property: None -> ``xsi:nil``, bool -> ``true``/``false``, dict -> nested, list -> repeated."""
    if isinstance(value, list):
        for item in value:
            add_value(parent, name, item)
        return
    element = ET.SubElement(parent, _q(name))
    if value is None:
        element.set(XSI_NIL, "true")
    elif isinstance(value, dict):
        for key, inner in value.items():
            add_value(element, key, inner)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


def typed(parent: ET.Element, name: str, kind: str, properties: Mapping[str, object]) -> ET.Element:
    element = ET.SubElement(parent, _q(name))
    element.set(XSI_TYPE, kind)
    for key, value in properties.items():
        add_value(element, key, value)
    return element


def properties_element(parent: ET.Element, pairs: Iterable[tuple[str, object]]) -> None:
    holder = ET.SubElement(parent, _q("Properties"))
    for name, value in pairs:
        prop = ET.SubElement(holder, _q("Property"))
        ET.SubElement(prop, _q("Name")).text = name
        ET.SubElement(prop, _q("Value")).text = "" if value is None else str(value)


@dataclass
class ObjectResult:
    """One per-object result of Create/Update/Delete."""

    ok: bool
    message: str
    ordinal: int
    object_type: str
    obj: dict[str, object]  # properties echoed in <Object>, in order; "Properties"/"Keys" as (name, value) pairs
    error_code: int | None = None
    new_id: int | None = 0
    new_object_id: str | None = None
    result_type: str | None = None  # xsi:type of <Results>, e.g. DataExtensionCreateResult


def overall_status(results: list[ObjectResult]) -> str:
    """``OK``, ``Has Errors`` (some objects failed) or ``Error`` (all failed), as SFMC reports."""
    failed = sum(1 for r in results if not r.ok)
    if not failed:
        return "OK"
    return "Error" if failed == len(results) else "Has Errors"


def _object_element(parent: ET.Element, kind: str, obj: Mapping[str, object]) -> None:
    element = ET.SubElement(parent, _q("Object"))
    element.set(XSI_TYPE, kind)
    add_value(element, "PartnerKey", None)
    for key, value in obj.items():
        if key in ("Properties", "Keys") and isinstance(value, list):  # always lists of (name, value) pairs
            holder = ET.SubElement(element, _q(key))
            item_name = "Property" if key == "Properties" else "Key"
            for name, inner in value:
                entry = ET.SubElement(holder, _q(item_name))
                ET.SubElement(entry, _q("Name")).text = name
                ET.SubElement(entry, _q("Value")).text = "" if inner is None else str(inner)
        else:
            add_value(element, key, value)


def write_answer(operation: str, results: list[ObjectResult], *, request_id: str, now: float) -> bytes:
    """The answer to Create, Update or Delete: one ``Results`` per object, then RequestID and OverallStatus."""
    answer = RESPONSE_OF[operation]
    envelope, body = _envelope(f"{operation}Response", now, request_id)
    response = ET.SubElement(body, _q(answer))
    for result in results:
        item = ET.SubElement(response, _q("Results"))
        if result.result_type:
            item.set(XSI_TYPE, result.result_type)
        ET.SubElement(item, _q("StatusCode")).text = "OK" if result.ok else "Error"
        ET.SubElement(item, _q("StatusMessage")).text = result.message
        ET.SubElement(item, _q("OrdinalID")).text = str(result.ordinal)
        if result.error_code is not None:
            ET.SubElement(item, _q("ErrorCode")).text = str(result.error_code)
        if operation == "Create" and result.new_id is not None:
            ET.SubElement(item, _q("NewID")).text = str(result.new_id)
        if result.new_object_id:
            ET.SubElement(item, _q("NewObjectID")).text = result.new_object_id
        _object_element(item, result.object_type, result.obj)
    ET.SubElement(response, _q("RequestID")).text = request_id
    ET.SubElement(response, _q("OverallStatus")).text = overall_status(results)
    return serialise(envelope)


@dataclass
class RetrievedObject:
    kind: str  # xsi:type of <Results>
    properties: dict[str, object]  # name -> value (nested dicts for DataExtension.CustomerKey and the like)
    pairs: list[tuple[str, object]] | None = None  # DataExtensionObject: <Properties><Property> pairs


def write_retrieve(
    objects: list[RetrievedObject], *, status: str, request_id: str, now: float, with_nil_keys: bool = True
) -> bytes:
    envelope, body = _envelope("RetrieveResponse", now, request_id)
    response = ET.SubElement(body, _q("RetrieveResponseMsg"))
    ET.SubElement(response, _q("OverallStatus")).text = status
    ET.SubElement(response, _q("RequestID")).text = request_id
    for obj in objects:
        element = ET.SubElement(response, _q("Results"))
        element.set(XSI_TYPE, obj.kind)
        if with_nil_keys:
            add_value(element, "PartnerKey", None)
        for key, value in obj.properties.items():
            add_value(element, key, value)
        if obj.pairs is not None:
            properties_element(element, obj.pairs)
    return serialise(envelope)


FAULT_CODES = {
    "client": ("soap", "Client"),
    "server": ("soap", "Server"),
    "version": ("soap", "VersionMismatch"),
    "security": ("wsse", "Security"),
}


def write_fault(message: str, kind: str = "client", *, request_id: str, actor: str | None = None, now: float) -> bytes:
    """A SOAP 1.1 Fault; a security fault carries the WS-Security ``Security`` code SFMC sends."""
    envelope, body = _envelope("http://schemas.xmlsoap.org/ws/2004/08/addressing/fault", now, request_id)
    fault = ET.SubElement(body, f"{{{SOAP_NS}}}Fault")
    prefix, code = FAULT_CODES.get(kind, FAULT_CODES["client"])
    # the header's wsse:Security element declares the wsse prefix the security code uses
    ET.SubElement(fault, "faultcode").text = f"{prefix}:{code}"
    ET.SubElement(fault, "faultstring").text = message
    if actor:
        ET.SubElement(fault, "faultactor").text = actor
    return serialise(envelope, default_namespace=None)
