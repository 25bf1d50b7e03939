"""Node SOAP clients, unmodified: sfmc-fuelsdk-node DataExtensionRow and sfmc-sdk through the proxy mode,
and node-soap building its client from the emulator's WSDL alone."""

from __future__ import annotations

from .test_node_clients import run_node


def test_sfmc_fuelsdk_node_data_extension_rows(client_tenant):
    out = run_node("soap-fuelsdk.js", client_tenant)
    assert (out["post"]["status"], out["post"]["overall"]) == (200, "OK")
    assert out["post"]["results"][0]["StatusMessage"] == "Created DataExtensionObject"
    props = out["get"]["results"][0]["Properties"]["Property"]
    assert {p["Name"]: p["Value"] for p in props} == {"Contact Key": "node-1", "Email": "n1@example.com"}
    assert out["patch"]["results"][0]["StatusMessage"] == "Updated DataExtensionObject"
    assert out["bad"]["error"] == "Soap Error"
    assert out["bad"]["results"][0]["StatusCode"] == "Error" and "Email" in out["bad"]["results"][0]["StatusMessage"]
    assert out["delete"]["results"][0]["StatusMessage"] == "Deleted DataExtensionObject"
    assert client_tenant.rows("identify") == []
    soap_calls = [e for e in client_tenant.journal() if e.get("soap")]
    assert {e["host"] for e in soap_calls} == {f"{client_tenant.subdomain}.soap.marketingcloudapis.com"}
    assert sorted(e["soap"]["operation"] for e in soap_calls) == ["Create", "Create", "Delete", "Retrieve", "Update"]


def test_sfmc_sdk_soap_retrieve_and_create(client_tenant):
    out = run_node("soap-sdk.mjs", client_tenant)
    sub = client_tenant.subdomain
    assert out["soap_instance_url"] == f"https://{sub}.soap.marketingcloudapis.com/"
    assert out["units"]["OverallStatus"] == "OK" and out["units"]["Results"][0]["ID"] == client_tenant.mid
    assert [r["CustomerKey"] for r in out["de"]["Results"]] == ["identify"]
    assert out["created"]["OverallStatus"] == "OK" and out["again"]["OverallStatus"] == "OK"
    assert out["bad"] == {"message": "One or more errors in the Results", "code": "Error", "status": "Error"}
    props = out["rows"]["Results"][0]["Properties"]["Property"]
    assert {p["Name"]: p["Value"] for p in props} == {"Contact Key": "soap-1", "Email": "s1b@example.com"}
    assert out["unknown"]["message"] and out["unknown"]["message"] != "accepted"
    assert client_tenant.rows("identify") == [{"Contact Key": "soap-1", "Email": "s1b@example.com"}]


def test_node_soap_builds_its_client_from_the_wsdl(client_tenant):
    """node-soap knows nothing of SFMC: everything it sends comes from the emulator's WSDL."""
    out = run_node("soap-wsdl.js", client_tenant)
    assert out["operations"] == ["Create", "Delete", "Retrieve", "Update"]
    created = out["created"]
    assert created["OverallStatus"] == "OK"
    assert created["Results"][0]["StatusMessage"] == "Created DataExtensionObject"
    [found] = out["retrieved"]["Results"]
    assert found["attributes"]["xsi:type"] == "DataExtensionObject"
    assert {p["Name"]: p["Value"] for p in found["Properties"]["Property"]} == {
        "Contact Key": "wsdl-1",
        "Email": "w1@example.com",
    }
    assert client_tenant.rows("identify") == [{"Contact Key": "wsdl-1", "Email": "w1@example.com"}]
