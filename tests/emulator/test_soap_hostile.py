"""Hostile and broken XML on the SOAP endpoint: every body gets a SOAP Fault, fast, never a 500 or JSON."""

from __future__ import annotations

import time

import pytest

from .soap_helpers import ETNS, SOAP, envelope, fault, retrieve

OK_BODY = retrieve("BusinessUnit", ["ID"])


def _with_token(token: str) -> dict[str, bytes]:
    """Hostile bodies; some carry a valid token so that the parser, not auth, must refuse them."""
    header = f'<fueloauth xmlns="http://exacttarget.com">{token}</fueloauth>'
    laughs = '<!DOCTYPE lolz [<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    deep = "<a>" * 5000 + "</a>" * 5000
    return {
        "billion_laughs": (
            f'<?xml version="1.0"?>{laughs}]><s:Envelope xmlns:s="{SOAP}"><s:Header>{header}</s:Header>'
            f'<s:Body><RetrieveRequestMsg xmlns="{ETNS}"><RetrieveRequest><ObjectType>&lol9;</ObjectType>'
            "</RetrieveRequest></RetrieveRequestMsg></s:Body></s:Envelope>"
        ).encode(),
        "external_entity_file": (
            f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            f'<s:Envelope xmlns:s="{SOAP}"><s:Header>{header}</s:Header><s:Body>'
            f'<RetrieveRequestMsg xmlns="{ETNS}"><RetrieveRequest><ObjectType>&xxe;</ObjectType>'
            "</RetrieveRequest></RetrieveRequestMsg></s:Body></s:Envelope>"
        ).encode(),
        "external_entity_http": (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>'
            f'<s:Envelope xmlns:s="{SOAP}"><s:Body>&xxe;</s:Body></s:Envelope>'
        ).encode(),
        "parameter_entity": (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/hostname"> %p;]>'
            f'<s:Envelope xmlns:s="{SOAP}"><s:Body/></s:Envelope>'
        ).encode(),
        "external_dtd": (
            '<?xml version="1.0"?><!DOCTYPE s:Envelope SYSTEM "http://127.0.0.1:9/soap.dtd">'
            f'<s:Envelope xmlns:s="{SOAP}"><s:Body/></s:Envelope>'
        ).encode(),
        "internal_entity_only": (
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY t "BusinessUnit">]>'
            + envelope(retrieve("&t;", ["ID"]), token).decode().split("?>", 1)[1]
        ).encode(),
        "deep_nesting": envelope(
            f'<RetrieveRequestMsg xmlns="{ETNS}"><RetrieveRequest><ObjectType>BusinessUnit</ObjectType>'
            f"{deep}</RetrieveRequest></RetrieveRequestMsg>",
            token,
        ),
        "deep_filters": envelope(
            retrieve(
                "DataExtensionObject[Identify]",
                ["Contact Key"],
                '<Filter xsi:type="ComplexFilterPart">' * 20 + "</Filter>" * 20,
            ),
            token,
        ),
        "huge_attribute": envelope(
            OK_BODY.replace("<RetrieveRequest>", f'<RetrieveRequest a="{"x" * 4_000_000}">'), token
        ),
        "many_attributes": envelope(
            OK_BODY.replace(
                "<RetrieveRequest>", "<RetrieveRequest " + " ".join(f'a{i}="1"' for i in range(50000)) + ">"
            ),
            token,
        ),
        "over_payload_limit": envelope(OK_BODY + "<!--" + "x" * (6 * 1024 * 1024) + "-->", token),
        "wrong_envelope_namespace": envelope(OK_BODY, token).replace(SOAP.encode(), b"http://example.com/not-soap"),
        "soap12_envelope": envelope(OK_BODY, token).replace(SOAP.encode(), b"http://www.w3.org/2003/05/soap-envelope"),
        "wrong_operation_namespace": envelope(OK_BODY.replace(ETNS, "http://example.com/other"), token),
        "no_namespace_operation": envelope(OK_BODY.replace(f' xmlns="{ETNS}"', ""), token),
        "latin1_bytes_declared_utf8": envelope(OK_BODY, token).replace(b"BusinessUnit", b"Business\xe9Unit"),
        "utf16_without_bom_declared_utf8": envelope(OK_BODY, token).decode().encode("utf-16-le"),
        "unknown_encoding": envelope(OK_BODY, token).replace(b'encoding="UTF-8"', b'encoding="x-klingon"'),
        "not_xml": b'{"json": true}',
        "empty_body": b"",
        "truncated": envelope(OK_BODY, token)[:-40],
        "two_operations": envelope(OK_BODY + OK_BODY, token),
        "no_body": f'<s:Envelope xmlns:s="{SOAP}"><s:Header>{header}</s:Header></s:Envelope>'.encode(),
        "processing_instruction_only": b'<?xml version="1.0"?><?evil run?>',
        "nul_bytes": envelope(OK_BODY, token).replace(b"BusinessUnit", b"Business\x00Unit"),
        "unclosed_cdata": envelope(OK_BODY, token).replace(b"<ObjectType>", b"<ObjectType><![CDATA["),
    }


BODY_NAMES = sorted(_with_token("t").keys())


@pytest.mark.parametrize("name", BODY_NAMES)
def test_hostile_body_gets_a_soap_fault_quickly(tenant, name):
    token = tenant.get_token()
    body = _with_token(token)[name]
    started = time.monotonic()
    response = tenant.client.post("/Service.asmx", data=body, headers={"Content-Type": "text/xml"})
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"{name} took {elapsed:.1f}s"
    assert 400 <= response.status_code < 500, (name, response.status_code, response.data[:300])
    assert response.mimetype == "text/xml"
    code, message = fault(response.data)
    assert code in ("soap:Client", "soap:VersionMismatch"), (name, code, message)
    assert "root:" not in message  # nothing from /etc/passwd


def test_there_are_at_least_fifteen_hostile_bodies():
    assert len(BODY_NAMES) >= 15


def test_the_emulator_still_answers_after_the_hostile_set(tenant):
    token = tenant.get_token()
    for name in BODY_NAMES:
        tenant.client.post("/Service.asmx", data=_with_token(token)[name], headers={"Content-Type": "text/xml"})
    response = tenant.client.post("/Service.asmx", data=envelope(OK_BODY, token), headers={"Content-Type": "text/xml"})
    assert response.status_code == 200
