"""Building SOAP requests and reading SOAP answers in tests, as a client library would."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
ETNS = "http://exacttarget.com/wsdl/partnerAPI"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"s": SOAP, "e": ETNS}


def envelope(body: str, token: str | None = None, header: str | None = None) -> bytes:
    if header is None:
        header = f'<fueloauth xmlns="http://exacttarget.com">{escape(token)}</fueloauth>' if token else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" xmlns:xsi="{XSI}">'
        f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def props(pairs: dict, container: str = "Properties", item: str = "Property") -> str:
    inner = "".join(
        f"<{item}><Name>{escape(k)}</Name><Value>{escape(str(v))}</Value></{item}>" for k, v in pairs.items()
    )
    return f"<{container}>{inner}</{container}>"


def row_object(key: str, values: dict, container: str = "Properties", item: str = "Property") -> str:
    return (
        f'<Objects xsi:type="DataExtensionObject"><CustomerKey>{escape(key)}</CustomerKey>'
        f"{props(values, container, item)}</Objects>"
    )


def upsert_options() -> str:
    option = "<SaveOption><PropertyName>*</PropertyName><SaveAction>UpdateAdd</SaveAction></SaveOption>"
    return f"<Options><SaveOptions>{option}</SaveOptions></Options>"


def create(objects: str, options: str = "<Options/>") -> str:
    return f'<CreateRequest xmlns="{ETNS}">{options}{objects}</CreateRequest>'


def update(objects: str, options: str = "<Options/>") -> str:
    return f'<UpdateRequest xmlns="{ETNS}">{options}{objects}</UpdateRequest>'


def delete(objects: str) -> str:
    return f'<DeleteRequest xmlns="{ETNS}"><Options/>{objects}</DeleteRequest>'


def retrieve(object_type: str, properties=(), filter_xml: str = "", continue_id: str | None = None) -> str:
    inner = f"<ObjectType>{escape(object_type)}</ObjectType>" if object_type else ""
    inner += "".join(f"<Properties>{escape(p)}</Properties>" for p in properties)
    inner += filter_xml
    if continue_id:
        inner += f"<ContinueRequest>{escape(continue_id)}</ContinueRequest>"
    return f'<RetrieveRequestMsg xmlns="{ETNS}"><RetrieveRequest>{inner}</RetrieveRequest></RetrieveRequestMsg>'


def simple(prop: str, op: str, *values: str) -> str:
    vals = "".join(f"<Value>{escape(v)}</Value>" for v in values)
    return (
        f'<Filter xsi:type="SimpleFilterPart"><Property>{escape(prop)}</Property>'
        f"<SimpleOperator>{op}</SimpleOperator>{vals}</Filter>"
    )


def simple_part(tag: str, prop: str, op: str, *values: str) -> str:
    vals = "".join(f"<Value>{escape(v)}</Value>" for v in values)
    return (
        f'<{tag} xsi:type="SimpleFilterPart"><Property>{escape(prop)}</Property>'
        f"<SimpleOperator>{op}</SimpleOperator>{vals}</{tag}>"
    )


def parse(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == f"{{{SOAP}}}Envelope"
    return root


def fault(data: bytes) -> tuple[str, str]:
    root = parse(data)
    found = root.find("s:Body/s:Fault", NS)
    assert found is not None, data[:500]
    return found.findtext("faultcode"), found.findtext("faultstring")


def answer(data: bytes, name: str) -> ET.Element:
    root = parse(data)
    found = root.find(f"s:Body/e:{name}", NS)
    assert found is not None, data[:800]
    return found


def results(data: bytes, name: str) -> list[dict]:
    """Per-object results (Create/Update/Delete) as dicts of their simple children."""
    out = []
    for item in answer(data, name).findall("e:Results", NS):
        out.append({local(c.tag): c.text for c in item if len(c) == 0})
    return out


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def retrieved(data: bytes) -> tuple[str, str | None, list[ET.Element]]:
    msg = answer(data, "RetrieveResponseMsg")
    return (
        msg.findtext("e:OverallStatus", namespaces=NS),
        msg.findtext("e:RequestID", namespaces=NS),
        msg.findall("e:Results", NS),
    )


def row_values(result: ET.Element) -> dict:
    return {
        p.findtext("e:Name", namespaces=NS): p.findtext("e:Value", namespaces=NS)
        for p in result.findall("e:Properties/e:Property", NS)
    }
