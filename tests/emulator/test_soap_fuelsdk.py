"""FuelSDK-Python (``Salesforce-FuelSDK-Sans``, unmodified) against the emulator's SOAP API.

The SDK is pointed at the emulator by its own configuration: ``authenticationurl`` (OAuth2 token),
``defaultwsdl`` (it downloads our ``/etframework.wsdl`` and builds its suds client from it) and the
``soap_instance_url`` of the token answer (it appends ``service.asmx``, lower case, as it does against SFMC).
"""

from __future__ import annotations

import FuelSDK
import pytest
import requests

FIELDS = [
    {"name": "Contact Key", "type": "Text", "length": 100, "isPrimaryKey": True},
    {"name": "First Name", "type": "Text", "length": 50},
    {"name": "Age", "type": "Number"},
]


@pytest.fixture
def sdk(emulator_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the SDK may write its soap_cache_file.json into the working directory
    tenant = emulator_server.create_tenant(
        settings={"rate_limit": 0},
        data_extensions=[{"key": "fuel_rows", "name": "Fuel Rows", "fields": FIELDS}],
    )
    package = tenant["packages"][0]
    client = FuelSDK.ET_Client(
        False,
        False,
        {
            "clientid": package["client_id"],
            "clientsecret": package["client_secret"],
            "authenticationurl": emulator_server.url,
            "useOAuth2Authentication": "True",
            "defaultwsdl": f"{emulator_server.url}/etframework.wsdl",
            "wsdl_file_local_loc": str(tmp_path / "ExactTargetWSDL.xml"),
            "baseapiurl": emulator_server.url,
        },
    )
    return client, tenant, emulator_server


def _row(client, **props):
    row = FuelSDK.ET_DataExtension_Row()
    row.auth_stub = client
    row.CustomerKey = "fuel_rows"
    row.Name = "Fuel Rows"
    row.props = props
    return row


def test_client_uses_the_emulator_wsdl_and_endpoint(sdk):
    client, _, server = sdk
    assert client.soap_endpoint == f"{server.url}/service.asmx"
    assert client.soap_client.factory.create("DataExtensionObject") is not None


def test_data_extension_get(sdk):
    client, _, _ = sdk
    de = FuelSDK.ET_DataExtension()
    de.auth_stub = client
    de.props = ["CustomerKey", "Name"]
    de.search_filter = {"Property": "CustomerKey", "SimpleOperator": "equals", "Value": "fuel_rows"}
    got = de.get()
    assert got.status is True and got.code == 200 and got.message == "OK"
    assert [(r.CustomerKey, r.Name) for r in got.results] == [("fuel_rows", "Fuel Rows")]


def test_rows_post_get_patch_delete(sdk):
    client, tenant, server = sdk
    posted = _row(client, **{"Contact Key": "fuel-1", "First Name": "Ann", "Age": "30"}).post()
    assert posted.status is True, posted.results
    assert posted.results[0].StatusCode == "OK"
    assert [r["Contact Key"] for r in server.rows(tenant["id"], "fuel_rows")] == ["fuel-1"]

    reader = _row(client)
    reader.props = ["Contact Key", "First Name", "Age"]
    reader.search_filter = {"Property": "Contact Key", "SimpleOperator": "equals", "Value": "fuel-1"}
    got = reader.get()
    assert got.status is True
    values = {p.Name: p.Value for p in got.results[0].Properties.Property}
    assert values == {"Contact Key": "fuel-1", "First Name": "Ann", "Age": "30"}

    patched = _row(client, **{"Contact Key": "fuel-1", "First Name": "Anna"}).patch()
    assert patched.status is True and patched.results[0].StatusMessage == "Updated DataExtensionObject"
    assert server.rows(tenant["id"], "fuel_rows")[0]["First Name"] == "Anna"

    deleted = _row(client, **{"Contact Key": "fuel-1"}).delete()
    assert deleted.status is True and deleted.results[0].StatusCode == "OK"
    assert server.rows(tenant["id"], "fuel_rows") == []


def test_a_bad_row_is_reported_by_the_sdk(sdk):
    client, _, _ = sdk
    posted = _row(client, **{"Contact Key": "fuel-2", "Age": "many"}).post()
    assert posted.status is False and posted.message == "Error"
    assert posted.results[0].StatusCode == "Error" and "Age" in posted.results[0].StatusMessage


def test_paging_past_2500_rows(sdk):
    client, tenant, server = sdk
    rows = [{"keys": {"Contact Key": f"p{i:05d}"}, "values": {"Age": i}} for i in range(2600)]
    package = tenant["packages"][0]
    token = requests.post(
        f"{server.url}/v2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": package["client_id"],
            "client_secret": package["client_secret"],
        },
        timeout=30,
    ).json()["access_token"]
    for start in range(0, len(rows), 1300):
        response = requests.post(
            f"{server.url}/hub/v1/dataevents/key:fuel_rows/rowset",
            json=rows[start : start + 1300],
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
    reader = _row(client)
    reader.props = ["Contact Key"]
    first = reader.get()
    assert first.status is True and first.more_results is True and len(first.results) == 2500
    more = reader.getMoreResults()
    assert more.status is True and more.more_results is False and len(more.results) == 100
    keys = {p.Value for r in [*first.results, *more.results] for p in r.Properties.Property}
    assert len(keys) == 2600
