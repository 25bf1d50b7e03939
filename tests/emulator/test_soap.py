"""The SOAP API over plain HTTP: each operation, auth from the SOAP header, shared rules with REST."""

from __future__ import annotations

import pytest

from .soap_helpers import (
    NS,
    answer,
    create,
    delete,
    envelope,
    fault,
    results,
    retrieve,
    retrieved,
    row_object,
    row_values,
    simple,
    simple_part,
    update,
    upsert_options,
)

XML = {"Content-Type": "text/xml; charset=utf-8"}


def soap(tenant, body: str, *, token: str | None = None, action: str | None = None, path: str = "/Service.asmx"):
    headers = dict(XML)
    if action:
        headers["SOAPAction"] = action
    if token is None:
        token = tenant.token or tenant.get_token()
    return tenant.client.post(path, data=envelope(body, token), headers=headers)


def test_create_rows_then_read_them_over_rest_and_soap(tenant):
    rows = [
        {"Contact Key": "c1", "Email": "a@example.com", "Age": "30"},
        {"Contact Key": "c2", "Email": "b@example.com", "Age": "41"},
    ]
    response = soap(tenant, create("".join(row_object("identify", r) for r in rows)), action="Create")
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    out = results(response.data, "CreateResponse")
    assert [r["StatusCode"] for r in out] == ["OK", "OK"]
    assert [r["StatusMessage"] for r in out] == ["Created DataExtensionObject"] * 2
    assert [r["OrdinalID"] for r in out] == ["0", "1"]
    assert answer(response.data, "CreateResponse").findtext("e:OverallStatus", namespaces=NS) == "OK"
    # the same rows through REST's rowset read
    rest = tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset").get_json()
    assert {item["keys"]["contact key"] for item in rest["items"]} == {"c1", "c2"}
    # and through SOAP's Retrieve
    status, _, found = retrieved(soap(tenant, retrieve("DataExtensionObject[Identify]", ["Contact Key", "Age"])).data)
    assert status == "OK"
    assert sorted(row_values(r)["Contact Key"] for r in found) == ["c1", "c2"]
    assert {row_values(r)["Age"] for r in found} == {"30", "41"}


def test_rest_rows_are_readable_over_soap(tenant):
    assert (
        tenant.rowset("identify", [{"keys": {"Contact Key": "r1"}, "values": {"Email": "r@example.com"}}]).status_code
        == 200
    )
    status, _, found = retrieved(
        soap(tenant, retrieve("DataExtensionObject[identify]", ["Email"], simple("Contact Key", "equals", "R1"))).data
    )
    assert status == "OK"
    assert [row_values(r) for r in found] == [{"Email": "r@example.com"}]


def test_a_bad_row_is_an_error_result_and_the_rest_are_saved(tenant):
    body = create(
        row_object("identify", {"Contact Key": "ok1", "Age": "5"})
        + row_object("identify", {"Contact Key": "bad", "Age": "not a number"})
        + row_object("identify", {"Contact Key": "ok2"})
    )
    response = soap(tenant, body)
    assert response.status_code == 200
    out = results(response.data, "CreateResponse")
    assert [r["StatusCode"] for r in out] == ["OK", "Error", "OK"]
    assert "Age" in out[1]["StatusMessage"] and out[1]["ErrorCode"]
    assert answer(response.data, "CreateResponse").findtext("e:OverallStatus", namespaces=NS) == "Has Errors"
    assert sorted(r["Contact Key"] for r in tenant.rows("identify")) == ["ok1", "ok2"]


def test_create_refuses_a_duplicate_key_unless_update_add(tenant):
    first = soap(tenant, create(row_object("identify", {"Contact Key": "k", "First Name": "Ann"})))
    assert results(first.data, "CreateResponse")[0]["StatusCode"] == "OK"
    again = soap(tenant, create(row_object("identify", {"Contact Key": "K", "First Name": "Bo"})))
    out = results(again.data, "CreateResponse")[0]
    assert out["StatusCode"] == "Error" and "PRIMARY KEY" in out["StatusMessage"]
    assert answer(again.data, "CreateResponse").findtext("e:OverallStatus", namespaces=NS) == "Error"
    upsert = soap(tenant, create(row_object("identify", {"Contact Key": "K", "First Name": "Bo"}), upsert_options()))
    assert results(upsert.data, "CreateResponse")[0]["StatusCode"] == "OK"
    assert [(r["Contact Key"], r["First Name"]) for r in tenant.rows("identify")] == [("k", "Bo")]


def test_update_changes_existing_rows_and_reports_missing_ones(tenant):
    soap(tenant, create(row_object("identify", {"Contact Key": "u1", "First Name": "Ann", "Age": "3"})))
    response = soap(
        tenant,
        update(
            row_object("identify", {"Contact Key": "u1", "First Name": "Anna"})
            + row_object("identify", {"Contact Key": "nobody", "First Name": "X"})
        ),
    )
    out = results(response.data, "UpdateResponse")
    assert [r["StatusCode"] for r in out] == ["OK", "Error"]
    assert out[0]["StatusMessage"] == "Updated DataExtensionObject"
    rows = tenant.rows("identify")
    assert [(r["Contact Key"], r["First Name"], r["Age"]) for r in rows] == [("u1", "Anna", "3")]
    upsert = soap(tenant, update(row_object("identify", {"Contact Key": "new"}), upsert_options()))
    assert results(upsert.data, "UpdateResponse")[0]["StatusCode"] == "OK"
    assert len(tenant.rows("identify")) == 2


def test_delete_rows_by_key(tenant):
    soap(tenant, create(row_object("identify", {"Contact Key": "d1"}) + row_object("identify", {"Contact Key": "d2"})))
    response = soap(
        tenant,
        delete(
            row_object("identify", {"Contact Key": "d1"}, "Keys", "Key")
            + row_object("identify", {"Contact Key": "gone"}, "Keys", "Key")
        ),
    )
    out = results(response.data, "DeleteResponse")
    assert [r["StatusCode"] for r in out] == ["OK", "Error"]
    assert out[0]["StatusMessage"] == "Deleted DataExtensionObject"
    assert [r["Contact Key"] for r in tenant.rows("identify")] == ["d2"]


def test_create_retrieve_and_delete_a_data_extension(tenant):
    definition = (
        '<Objects xsi:type="DataExtension"><CustomerKey>soap_de</CustomerKey><Name>Soap DE</Name>'
        "<CategoryID>77</CategoryID><Fields>"
        "<Field><Name>Subscriber Key</Name><FieldType>Text</FieldType><MaxLength>100</MaxLength>"
        "<IsPrimaryKey>true</IsPrimaryKey><IsRequired>true</IsRequired></Field>"
        "<Field><Name>Points</Name><FieldType>Number</FieldType></Field>"
        "</Fields></Objects>"
    )
    response = soap(tenant, create(definition))
    out = results(response.data, "CreateResponse")[0]
    assert out["StatusCode"] == "OK" and out["StatusMessage"] == "Data Extension created."
    # REST sees it, with the same field rules
    rest = tenant.call("GET", "/data/v1/customobjects/key:soap_de").get_json()
    assert [f["name"] for f in rest["fields"]] == ["Subscriber Key", "Points"]
    status, _, found = retrieved(
        soap(
            tenant,
            retrieve("DataExtension", ["Name", "CustomerKey", "CategoryID"], simple("CategoryID", "equals", "77")),
        ).data
    )
    assert status == "OK" and len(found) == 1
    assert found[0].findtext("e:CustomerKey", namespaces=NS) == "soap_de"
    fields = retrieved(
        soap(
            tenant,
            retrieve(
                "DataExtensionField",
                ["Name", "FieldType", "IsPrimaryKey"],
                simple("DataExtension.CustomerKey", "equals", "soap_de"),
            ),
        ).data
    )[2]
    assert [(f.findtext("e:Name", namespaces=NS), f.findtext("e:IsPrimaryKey", namespaces=NS)) for f in fields] == [
        ("Subscriber Key", "true"),
        ("Points", "false"),
    ]
    gone = soap(tenant, delete('<Objects xsi:type="DataExtension"><CustomerKey>soap_de</CustomerKey></Objects>'))
    assert results(gone.data, "DeleteResponse")[0]["StatusCode"] == "OK"
    assert tenant.call("GET", "/data/v1/customobjects/key:soap_de").status_code == 404


def test_a_data_extension_breaking_the_title_case_rule_is_an_error_result(tenant):
    definition = (
        '<Objects xsi:type="DataExtension"><CustomerKey>lower</CustomerKey><Name>Lower</Name><Fields>'
        "<Field><Name>first_name</Name><FieldType>Text</FieldType></Field></Fields></Objects>"
    )
    out = results(soap(tenant, create(definition)).data, "CreateResponse")[0]
    assert out["StatusCode"] == "Error" and "first_name" in out["StatusMessage"]


def test_filters_simple_and_complex(tenant):
    rows = "".join(
        row_object("identify", {"Contact Key": f"f{i}", "Age": str(i * 10), "First Name": name})
        for i, name in enumerate(["Ann", "Bob", "Cy", "Dee"])
    )
    soap(tenant, create(rows))

    def keys(filter_xml):
        status, _, found = retrieved(
            soap(tenant, retrieve("DataExtensionObject[Identify]", ["Contact Key"], filter_xml)).data
        )
        assert status == "OK", status
        return sorted(row_values(r)["Contact Key"] for r in found)

    assert keys(simple("Age", "greaterThan", "10")) == ["f2", "f3"]
    assert keys(simple("Age", "lessThanOrEqual", "10")) == ["f0", "f1"]
    assert keys(simple("Age", "between", "5", "25")) == ["f1", "f2"]
    assert keys(simple("First Name", "IN", "ann", "Dee")) == ["f0", "f3"]
    assert keys(simple("First Name", "like", "%e%")) == ["f3"]
    assert keys(simple("Email", "isNull")) == ["f0", "f1", "f2", "f3"]
    assert keys(simple("Contact Key", "notEquals", "f0")) == ["f1", "f2", "f3"]
    complex_filter = (
        '<Filter xsi:type="ComplexFilterPart">'
        + simple_part("LeftOperand", "Age", "greaterThan", "0")
        + "<LogicalOperator>AND</LogicalOperator>"
        + '<RightOperand xsi:type="ComplexFilterPart">'
        + simple_part("LeftOperand", "First Name", "equals", "Bob")
        + "<LogicalOperator>OR</LogicalOperator>"
        + simple_part("RightOperand", "First Name", "equals", "Dee")
        + "</RightOperand></Filter>"
    )
    assert keys(complex_filter) == ["f1", "f3"]


def test_retrieve_errors_come_in_overall_status(tenant):
    status, _, found = retrieved(soap(tenant, retrieve("DataExtensionObject[Identify]", ["Nope"])).data)
    assert status.startswith("Error: ") and "Nope" in status and found == []
    status, _, _ = retrieved(soap(tenant, retrieve("DataExtensionObject[missing]", ["X"])).data)
    assert status.startswith("Error: ")


def test_paging_by_continue_request(tenant):
    values = [{"keys": {"Contact Key": f"p{i:05d}"}, "values": {"Age": i}} for i in range(5100)]
    for start in range(0, len(values), 2500):
        assert tenant.rowset("identify", values[start : start + 2500]).status_code == 200
    seen = []
    status, request_id, found = retrieved(soap(tenant, retrieve("DataExtensionObject[Identify]", ["Contact Key"])).data)
    pages = [len(found)]
    seen += [row_values(r)["Contact Key"] for r in found]
    while status == "MoreDataAvailable":
        status, request_id, found = retrieved(soap(tenant, retrieve("", continue_id=request_id)).data)
        pages.append(len(found))
        seen += [row_values(r)["Contact Key"] for r in found]
    assert status == "OK"
    assert pages == [2500, 2500, 100]
    assert len(set(seen)) == 5100


def test_folders_and_business_units(tenant):
    status, _, folders = retrieved(
        soap(
            tenant,
            retrieve(
                "DataFolder",
                ["ID", "Name", "ContentType", "ParentFolder.ID"],
                simple("ContentType", "IN", "dataextension", "shared_dataextension"),
            ),
        ).data
    )
    assert status == "OK" and {f.findtext("e:ContentType", namespaces=NS) for f in folders} == {
        "dataextension",
        "shared_dataextension",
    }
    assert folders[0].find("e:ParentFolder/e:ID", NS).text == "0"
    status, _, units = retrieved(soap(tenant, retrieve("BusinessUnit", ["ID", "Name"])).data)
    assert status == "OK"
    assert [int(u.findtext("e:ID", namespaces=NS)) for u in units] == tenant.mids


@pytest.mark.parametrize("path", ["/service.asmx", "/SERVICE.ASMX", "/Service.asmx"])
def test_path_is_case_insensitive(tenant, path):
    response = soap(tenant, retrieve("BusinessUnit", ["ID"]), path=path)
    assert response.status_code == 200 and retrieved(response.data)[0] == "OK"


def test_legacy_oauth_header(tenant):
    legacy = tenant.client.post(
        "/v1/requestToken?legacy=1", json={"clientId": tenant.client_id, "clientSecret": tenant.client_secret}
    ).get_json()["legacyToken"]
    header = f'<oAuth xmlns="http://exacttarget.com"><oAuthToken>{legacy}</oAuthToken></oAuth>'
    response = tenant.client.post(
        "/Service.asmx", data=envelope(retrieve("BusinessUnit", ["ID"]), header=header), headers=XML
    )
    assert response.status_code == 200 and retrieved(response.data)[0] == "OK"


@pytest.mark.parametrize("token", ["", "not-a-token"])
def test_missing_or_unknown_token_is_a_security_fault(tenant, token):
    response = tenant.client.post(
        "/Service.asmx", data=envelope(retrieve("BusinessUnit", ["ID"]), token or None), headers=XML
    )
    assert response.status_code == 401 and response.mimetype == "text/xml"
    code, message = fault(response.data)
    assert code.endswith(":Security") and message == "Login Failed"


def test_an_expired_token_is_a_token_expired_fault(tenant, clock):
    token = tenant.get_token()
    clock.advance(3600)
    response = soap(tenant, retrieve("BusinessUnit", ["ID"]), token=token)
    assert response.status_code == 401
    code, message = fault(response.data)
    assert code.endswith(":Security") and message == "Token Expired"


def test_unknown_operation_and_object_type_are_faults(tenant):
    unknown_op = soap(tenant, '<ExecuteRequestMsg xmlns="http://exacttarget.com/wsdl/partnerAPI"/>')
    assert unknown_op.status_code == 400 and fault(unknown_op.data)[0] == "soap:Client"
    unknown_type = soap(tenant, retrieve("Subscriber", ["EmailAddress"]))
    assert unknown_type.status_code == 400 and "Subscriber" in fault(unknown_type.data)[1]


def test_scopes_apply(tenant_factory):
    limited = tenant_factory(packages=[{"scopes": ["data_extensions_read"]}])
    response = soap(limited, create(row_object("identify", {"Contact Key": "x"})))
    assert response.status_code == 403
    assert "data_extensions_write" in fault(response.data)[1]


def test_soap_calls_count_against_the_rate_limit(tenant):
    tenant.get_token()
    tenant.settings(rate_limit=1, burst=1)
    first = soap(tenant, retrieve("BusinessUnit", ["ID"]))
    second = soap(tenant, retrieve("BusinessUnit", ["ID"]))
    assert first.status_code == 200
    assert second.status_code == 429 and second.headers.get("Retry-After")
    assert fault(second.data)[0] == "soap:Client"


def test_journal_records_operation_and_object_type(tenant):
    soap(tenant, create(row_object("identify", {"Contact Key": "j"})), action="Create")
    entries = tenant.client.get(f"/_emulator/journal?tenant={tenant.id}").get_json()["items"]
    soap_entries = [e for e in entries if e.get("soap")]
    assert soap_entries[-1]["soap"] == {"operation": "Create", "object_types": ["DataExtensionObject"]}


def test_journal_shows_the_rows_a_call_wrote_and_the_keys_it_ignored(tenant):
    objects = row_object("identify", {"Contact Key": "j1", "Shoe Size": "9"}) + row_object(
        "identify", {"Contact Key": "j2"}
    )
    assert soap(tenant, create(objects), action="Create").status_code == 200
    entries = tenant.client.get(f"/_emulator/journal?tenant={tenant.id}").get_json()["items"]
    [entry] = [e for e in entries if e.get("soap")]
    assert entry["rows_written"] == 2 and entry["keys_ignored"] == ["Shoe Size"]


def test_wsdl_and_endpoint_discovery(tenant):
    wsdl = tenant.client.get("/etframework.wsdl")
    assert wsdl.status_code == 200 and b'location="http://localhost/Service.asmx"' in wsdl.data
    discovered = tenant.call("GET", "/platform/v1/endpoints/soap")
    assert discovered.get_json() == {"url": "http://localhost/Service.asmx"}


def test_get_on_the_endpoint_is_a_fault_not_json(client):
    response = client.get("/Service.asmx")
    assert response.status_code == 405 and response.mimetype == "text/xml"
    fault(response.data)


def test_journal_shows_the_rules_a_partly_refused_call_broke(tenant):
    """A Create with one refused row answers 200 (the refusal is in its result); its journal entry
    lists the row's problem among the rules broken, beside the row written and the key ignored."""
    objects = row_object("identify", {"Contact Key": "p1", "Shoe Size": "9"}) + row_object(
        "identify", {"Contact Key": "p2", "Email": "not-an-email"}
    )
    response = soap(tenant, create(objects), action="Create")
    assert response.status_code == 200 and b"Error" in response.data
    entries = tenant.client.get(f"/_emulator/journal?tenant={tenant.id}").get_json()["items"]
    [entry] = [e for e in entries if e.get("soap")]
    assert entry["rows_written"] == 1 and entry["keys_ignored"] == ["Shoe Size"]
    assert len(entry["rules_broken"]) == 1 and "Email" in entry["rules_broken"][0]
    assert tenant.client.get(f"/_emulator/journal/{entry['id']}").get_json() == entry
