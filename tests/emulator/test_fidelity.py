"""SFMC fidelity: one test per row of docs/fidelity.md, each over real HTTP with plain ``requests``.

Every test here is named in the catalogue and every catalogue row names a test here
(tests/emulator/test_fidelity_catalogue.py keeps the two in step).
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
import requests

from emulator.clock import Clock
from tests.conftest import ThreadedEmulator
from tests.fixtures import IDENTIFY_DE

from .soap_helpers import envelope, retrieve

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?$")


@pytest.fixture(scope="module")
def server():
    emulator = ThreadedEmulator(Clock())
    yield emulator
    emulator.close()


class Account:
    """A fresh tenant on the shared server, spoken to with plain ``requests``."""

    def __init__(self, server: ThreadedEmulator, **body):
        body.setdefault("settings", {"rate_limit": 0})
        body.setdefault("data_extensions", [IDENTIFY_DE])
        created = server.create_tenant(**body)
        self.server, self.url, self.id = server, server.url, created["id"]
        self.package = created["packages"][0]
        self.token = self.new_token()["access_token"]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def new_token(self) -> dict:
        response = requests.post(
            f"{self.url}/v2/token",
            json={
                "grant_type": "client_credentials",
                "client_id": self.package["client_id"],
                "client_secret": self.package["client_secret"],
            },
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=60, **kwargs)

    def settings(self, **changes) -> None:
        response = self.server.admin("PATCH", f"/tenants/{self.id}/settings", json=changes)
        assert response.status_code == 200, response.text

    def upsert(self, rows: list[dict], key: str = "identify") -> None:
        for start in range(0, len(rows), 1000):
            chunk = [{"keys": {"Contact Key": r["Contact Key"]}, "values": r} for r in rows[start : start + 1000]]
            response = self.call("POST", f"/hub/v1/dataevents/key:{key}/rowset", json=chunk)
            assert response.status_code == 200, response.text[:500]


@pytest.fixture
def account(server) -> Account:
    return Account(server)


# -- ROW: reading rows -------------------------------------------------------------------------


def test_rowset_links_are_strings_on_the_token_path(account):
    account.upsert([{"Contact Key": f"c{i}", "Email": f"c{i}@example.com"} for i in range(3)])
    body = account.call("GET", "/data/v1/customobjectdata/key/identify/rowset?$pageSize=2").json()
    token = body["requestToken"]
    assert GUID.match(token)
    assert body["links"] == {
        "self": f"/v1/customobjectdata/token/{token}/rowset?$page=1",
        "next": f"/v1/customobjectdata/token/{token}/rowset?$page=2",
    }
    assert NO_OFFSET.match(body["tokenExpireDateUtc"])
    assert (body["page"], body["pageSize"], body["count"], body["top"]) == (1, 2, 3, 0)


def test_following_links_next_reads_every_row_exactly_once(account):
    total = 7000
    account.upsert([{"Contact Key": f"k{i:05d}", "Age": i} for i in range(total)])
    seen: list[str] = []
    response = account.call("GET", "/data/v1/customobjectdata/key/identify/rowset")
    pages = 0
    while True:
        assert response.status_code == 200, response.text[:300]
        body = response.json()
        pages += 1
        seen += [item["keys"]["contact key"] for item in body.get("items", [])]
        if "next" not in body["links"]:
            break
        response = requests.get(
            account.url + "/data" + body["links"]["next"],
            headers={"Authorization": f"Bearer {account.token}"},
            timeout=60,
        )
    assert pages == 3  # SFMC's default page of 2,500 rows
    assert len(seen) == total and set(seen) == {f"k{i:05d}" for i in range(total)}


def test_query_parameter_names_are_case_insensitive(account):
    account.upsert([{"Contact Key": f"c{i}"} for i in range(5)])
    body = account.call("GET", "/data/v1/customobjectdata/key/identify/rowset?$pagesize=2&$PAGE=2").json()
    assert (body["page"], body["pageSize"], len(body["items"])) == (2, 2, 2)
    assert body["links"]["prev"].endswith("$page=1") and body["links"]["next"].endswith("$page=3")
    filtered = account.call("GET", "/data/v1/customobjectdata/key/identify/rowset?$FILTER=Contact Key eq 'c3'").json()
    assert [item["keys"]["contact key"] for item in filtered["items"]] == ["c3"]


def test_a_request_token_answers_only_its_own_tenant(server, account):
    account.upsert([{"Contact Key": f"c{i}"} for i in range(3)])
    token = account.call("GET", "/data/v1/customobjectdata/key/identify/rowset?$pageSize=1").json()["requestToken"]
    other = Account(server)
    stolen = other.call("GET", f"/data/v1/customobjectdata/token/{token}/rowset?$page=2")
    assert stolen.status_code == 404 and stolen.json()["errorcode"] == 30003
    own = account.call("GET", f"/data/v1/customobjectdata/token/{token}/rowset?$page=2")
    assert own.status_code == 200 and own.json()["page"] == 2
    unknown = account.call("GET", f"/data/v1/customobjectdata/token/{uuid.uuid4()}/rowset")
    assert unknown.status_code == 404


def test_read_values_come_back_in_sfmc_formats(account):
    account.upsert(
        [
            {"Contact Key": "a", "Created At": "2024-06-23", "Opted In": True, "Age": 42},
            {"Contact Key": "b", "Created At": "2024-06-23T15:04:05Z", "Opted In": "false"},
        ]
    )
    items = account.call("GET", "/data/v1/customobjectdata/key/identify/rowset").json()["items"]
    a, b = (item["values"] for item in items)
    assert (a["created at"], a["opted in"], a["age"], a["email"]) == ("6/23/2024 12:00:00 AM", "True", "42", "")
    assert (b["created at"], b["opted in"], b["age"]) == ("6/23/2024 3:04:05 PM", "False", "")
    account.settings(sfmc_read_formats=False)
    items = account.call("GET", "/data/v1/customobjectdata/key/identify/rowset").json()["items"]
    assert items[1]["values"]["created at"] == "2024-06-23T15:04:05Z"


# -- PATH: routing -----------------------------------------------------------------------------


def test_paths_are_case_insensitive(account):
    account.upsert([{"Contact Key": "Ab"}])
    listed = account.call("GET", "/DATA/v1/CustomObjects/key:identify/Fields")
    assert listed.status_code == 200 and listed.json()["key"] == "identify"
    rows = account.call("GET", "/data/V1/customObjectData/Key/identify/RowSet")
    assert rows.status_code == 200 and rows.json()["items"][0]["keys"]["contact key"] == "Ab"
    # variable segments keep their spelling: the primary-key value is stored as sent
    put = account.call("PUT", "/HUB/v1/DataEvents/key:identify/Rows/Contact Key:MiXeD", json={"values": {"Age": 3}})
    assert put.status_code == 200 and put.json()["keys"] == {"Contact Key": "MiXeD"}


# -- SEC: credentials ----------------------------------------------------------------------------


def test_no_response_contains_any_part_of_the_callers_token(server, account):
    account.upsert([{"Contact Key": f"c{i}"} for i in range(3)])
    answers = [
        account.call("GET", "/data/v1/customobjectdata/key/identify/rowset?$pageSize=1"),
        account.call("GET", "/data/v1/customobjects/key:identify"),
        account.call("PUT", "/data/v1/async/dataextensions/key:identify/rows", json={"items": [{"Contact Key": "z"}]}),
        account.call("GET", "/data/v1/customobjectdata/key/nope/rowset"),
        account.call("GET", "/no/such/path"),
        server.admin("GET", "/journal", params={"tenant": account.id, "limit": 1000}),
        server.admin("GET", f"/tenants/{account.id}/stats"),
    ]
    token = account.call("GET", "/data/v1/customobjectdata/key/identify/rowset?$pageSize=1").json()["requestToken"]
    answers.append(account.call("GET", f"/data/v1/customobjectdata/token/{token}/rowset?$page=2"))
    fragments = {account.token[i : i + 8] for i in range(len(account.token) - 7)}
    for response in answers:
        text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
        leaked = [f for f in fragments if f in text]
        assert not leaked, (response.request.method, response.url, leaked[:3])


@pytest.mark.parametrize(
    "header",
    [
        '<fueloauth xmlns="http://exacttarget.com">{token}</fueloauth>',
        "<fueloauth><![CDATA[{token}]]></fueloauth>",
        '<oAuth xmlns="http://exacttarget.com"><oAuthToken>{token}</oAuthToken></oAuth>',
        '<wsse:Security xmlns:wsse="urn:wsse"><wsse:UsernameToken><wsse:Username>u</wsse:Username>'
        '<wsse:Password Type="PasswordText">{token}</wsse:Password></wsse:UsernameToken></wsse:Security>',
    ],
    ids=["fueloauth", "fueloauth-cdata", "oAuthToken", "wsse-password"],
)
def test_soap_calls_are_recorded_without_the_callers_credential(server, account, header):
    marker = f"call-of-{uuid.uuid4().hex}"  # the token of a refused caller leaves the entry without a tenant
    query = f"<!--{marker}-->" + retrieve("DataExtensionObject[Identify]", ["Contact Key"])
    body = envelope(query, header=header.format(token=account.token))
    account.call("POST", "/Service.asmx", data=body, headers={"Content-Type": "text/xml; charset=utf-8"})
    recorded = server.admin("GET", "/journal", params={"path": "/Service.asmx", "limit": 1000})
    (entry,) = [e for e in recorded.json()["items"] if marker in e["request_body"]]
    assert ">…</" in entry["request_body"]
    fragments = {account.token[i : i + 8] for i in range(len(account.token) - 7)}
    assert not [f for f in fragments if f in recorded.text]


# -- VAL: what a write may name -----------------------------------------------------------------


def test_a_row_whose_values_name_no_existing_column_is_refused(account):
    rows = [
        {"keys": {"Contact Key": "first"}, "values": {"Age": 1, "Shoe Size": 44}},
        {"keys": {"Contact Key": "second"}, "values": {"Shoe Size": 44}},
        {"keys": {"Contact Key": "third"}, "values": {"Age": 3}},
    ]
    response = account.call("POST", "/hub/v1/dataevents/key:identify/rowset", json=rows)
    body = response.json()
    assert response.status_code == 400 and body["errorcode"] == 10006
    assert body["additionalErrors"][0]["message"] == "At least one existing field is required in the values property"
    stored = account.call("GET", "/data/v1/customobjectdata/key/identify/rowset").json()["items"]
    assert [item["keys"]["contact key"] for item in stored] == ["first"]  # not atomic: rows after the bad one fail
    empty = account.call("PUT", "/hub/v1/dataevents/key:identify/rows/Contact Key:x", json={"values": {}})
    assert empty.status_code == 400


def test_an_event_whose_data_names_a_field_its_de_lacks_is_refused(server):
    account = Account(server, event_definitions=[{"key": "signup", "name": "Signup", "data_extension": "identify"}])
    event = {"ContactKey": "c1", "EventDefinitionKey": "signup", "Data": {"Age": 30, "Shoe Size": 44}}
    refused = account.call("POST", "/interaction/v1/events", json=event)
    assert refused.status_code == 400 and refused.json()["errorcode"] == 10006
    assert "Shoe Size" in refused.text
    accepted = account.call("POST", "/interaction/v1/events", json={**event, "Data": {"Age": 30}})
    assert accepted.status_code == 201 and GUID.match(accepted.json()["eventInstanceId"])


# -- ASYNC: the async Data Extension API ---------------------------------------------------------


def _finished(account: Account, request_id: str) -> dict:
    for _ in range(400):
        body = account.call("GET", f"/data/v1/async/{request_id}/status").json()
        if body.get("status", {}).get("requestStatus") in ("Complete", "Error"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"async request {request_id} never finished")


def test_async_status_dates_have_no_utc_offset(account):
    submitted = account.call(
        "PUT", "/data/v1/async/dataextensions/key:identify/rows", json={"items": [{"Contact Key": "a"}]}
    )
    body = _finished(account, submitted.json()["requestId"])
    status = body["status"]
    for name in ("callDateTime", "pickupDateTime", "completionDateTime"):
        assert NO_OFFSET.match(status[name]), (name, status[name])
    assert GUID.match(body["requestId"]) and body["requestId"] != status["requestId"]


def test_async_results_are_paged_by_50_with_sfmc_items(account):
    items = [{"Contact Key": f"c{i:03d}", "Age": i} for i in range(120)]
    items[3] = {"Age": 5}  # no primary key
    items[7] = {"Contact Key": "bad", "Email": "not-an-email"}
    request_id = account.call("PUT", "/data/v1/async/dataextensions/key:identify/rows", json={"items": items}).json()[
        "requestId"
    ]
    _finished(account, request_id)
    first = account.call("GET", f"/data/v1/async/{request_id}/results").json()
    assert (first["page"], first["pageSize"], first["count"], len(first["items"])) == (1, 50, 120, 50)
    assert first["items"][0] == {"message": "Upserted DataExtensionObject", "status": "OK"}
    missing = first["items"][3]
    assert missing["status"] == "Error" and missing["errorCode"] == 2
    assert missing["message"] == "Cannot locate the existing record. Required keys are missing."
    assert missing["errors"] == [
        {"errorMessage": "Column [contact key] does not allow null value.", "name": "contact key", "errorCode": 70001}
    ]
    bad = first["items"][7]
    assert bad["status"] == "Error" and {"errorMessage", "name", "errorCode"} == set(bad["errors"][0])
    last = account.call("GET", f"/data/v1/async/{request_id}/results?$page=3").json()
    assert (last["page"], len(last["items"])) == (3, 20)


def test_async_insert_of_a_duplicate_key_fails_that_row_in_sqls_words(account):
    account.upsert([{"Contact Key": "taken", "Age": 1}])
    request_id = account.call(
        "POST",
        "/data/v1/async/dataextensions/key:identify/rows",
        json={"items": [{"Contact Key": "taken"}, {"Contact Key": "new"}]},
    ).json()["requestId"]
    _finished(account, request_id)
    duplicate, inserted = account.call("GET", f"/data/v1/async/{request_id}/results").json()["items"]
    assert duplicate["status"] == "Error" and duplicate["errorCode"] == "UnexpectedError"
    assert duplicate["message"].startswith("Violation of PRIMARY KEY constraint 'PK_")
    assert "The duplicate key value is (taken)." in duplicate["message"]
    assert inserted["status"] == "OK"


def test_async_write_to_an_unknown_de_is_refused_with_a_request_id(account):
    response = account.call("PUT", "/data/v1/async/dataextensions/key:nope/rows", json={"items": [{"A": 1}]})
    body = response.json()
    assert response.status_code == 400 and GUID.match(body["requestId"])
    [message] = body["resultMessages"]
    assert (message["resultType"], message["resultClass"], message["resultCode"]) == (
        "Validation",
        "Error",
        "CustomObjectNotFound",
    )
    assert message["message"] == (
        "Failed to resolve the Custom Object from the provided ObjectReferenceIdentifier [Id: , Key: nope]."
    )


def test_hub_dataeventsasync_answers_202_with_an_empty_body(server, account):
    rows = [{"keys": {"Contact Key": "h1"}, "values": {"Age": 7}}]
    response = account.call("POST", "/hub/v1/dataeventsasync/key:identify/rowset", json=rows)
    assert response.status_code == 202 and response.content == b""
    for _ in range(400):
        if server.rows(account.id, "identify"):
            break
        time.sleep(0.02)
    assert [(r["Contact Key"], r["Age"]) for r in server.rows(account.id, "identify")] == [("h1", "7")]


# -- AUTH: tokens and limits -----------------------------------------------------------------------


def test_v2_token_reports_1079_seconds(account):
    body = account.new_token()
    assert body["expires_in"] == 1079 and body["token_type"] == "Bearer"


def test_legacy_token_reports_3479_seconds_and_offline_access_refreshes(account):
    credentials = {"clientId": account.package["client_id"], "clientSecret": account.package["client_secret"]}
    plain = requests.post(f"{account.url}/v1/requestToken", json=credentials, timeout=30).json()
    assert plain["expiresIn"] == 3479 and "refreshToken" not in plain
    offline = requests.post(f"{account.url}/v1/requestToken", json={**credentials, "accessType": "offline"}, timeout=30)
    refresh = offline.json()["refreshToken"]
    assert refresh and refresh != offline.json()["accessToken"]
    renewed = requests.post(
        f"{account.url}/v1/requestToken",
        json={**credentials, "refreshToken": refresh, "accessType": "offline"},
        timeout=30,
    )
    assert renewed.status_code == 200 and renewed.json()["refreshToken"] != refresh
    reused = requests.post(f"{account.url}/v1/requestToken", json={**credentials, "refreshToken": refresh}, timeout=30)
    assert reused.status_code == 401


def test_429_content_type_carries_the_charset(server):
    account = Account(server, settings={"rate_limit": 1, "burst": 1})
    answers = [account.call("GET", "/data/v1/customobjects/key:identify") for _ in range(3)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited and limited[0].headers["Content-Type"] == "application/json; charset=utf-8"
    assert limited[0].json()["errorcode"] == 50100 and "Retry-After" in limited[0].headers


def test_async_event_member_errorcode_is_a_string(server):
    account = Account(server, event_definitions=[{"key": "signup", "name": "Signup", "data_extension": "identify"}])
    body = {"eventDefinitionKey": "signup", "members": [{"contactKey": "ok", "data": {}}, {"contactKey": "a:b"}]}
    answer = account.call("POST", "/interaction/v1/async/events", json=body).json()
    good, bad = answer["members"]
    assert "errorcode" not in good and GUID.match(good["eventInstanceId"])
    assert isinstance(bad["errorcode"], str) and bad["errorcode"] == "10003"


def test_contact_answers_carry_response_date_time(account):
    answer = account.call("POST", "/contacts/v1/contacts", json={"contactKey": "c1", "attributeSets": []}).json()
    assert answer["operationStatus"] == "OK" and isinstance(answer["responseDateTime"], str)


# -- DE: Data Extension definitions ----------------------------------------------------------------

FLAGS = ("isTemplateField", "isHidden", "isReadOnly", "isInheritable", "isOverridable", "mustOverride")


def _complete(name: str, kind: str, ordinal: int, **given) -> dict:
    base = {"name": name, "type": kind, "ordinal": ordinal, "isPrimaryKey": False, "isNullable": True}
    return {**base, **dict.fromkeys(FLAGS, False), **given}


def test_listing_data_extensions_needs_search_and_pages_by_25(server):
    many = [{"key": f"de-{i:02d}", "name": f"List {i:02d}", "fields": [{"name": "Contact Key"}]} for i in range(30)]
    account = Account(server, data_extensions=many)
    refused = account.call("GET", "/data/v1/customobjects")
    assert refused.status_code == 400 and refused.json()["errorcode"] == 10001
    first = account.call("GET", "/data/v1/customobjects?$search=List").json()
    assert (first["count"], first["page"], first["pageSize"], len(first["items"])) == (30, 1, 25, 25)
    assert first["links"]["next"].startswith("/v1/customobjects?$search=List")
    assert {"id", "key", "name", "categoryId", "rowCount"} <= set(first["items"][0])
    assert first["items"][0]["rowCount"] == 0
    second = account.call("GET", "/data/v1/customobjects?$search=list&$page=2").json()
    assert len(second["items"]) == 5 and "next" not in second["links"]


def test_creating_a_data_extension_needs_a_folder_and_complete_fields(account):
    folder = account.call("GET", "/data/v1/customobjects?$search=identify").json()["items"][0]["categoryId"]
    assert isinstance(folder, int) and folder > 0
    partial = {
        "name": "Partial",
        "key": "partial",
        "fields": [{"name": "Contact Key", "type": "Text", "isPrimaryKey": True}],
    }
    refused = account.call("POST", "/data/v1/customobjects", json=partial)
    assert refused.status_code == 400 and refused.json()["errorcode"] == 10002
    assert "categoryId" in refused.text and "isHidden" in refused.text
    complete = {
        "name": "Complete",
        "key": "complete",
        "categoryId": folder,
        "isSendable": False,
        "fields": [_complete("Contact Key", "Text", 0, isPrimaryKey=True, isNullable=False, length=254)],
    }
    created = account.call("POST", "/data/v1/customobjects", json=complete)
    assert created.status_code == 201 and created.json()["categoryId"] == folder
    account.settings(require_complete_definitions=False)
    assert account.call("POST", "/data/v1/customobjects", json=partial).status_code == 201


# -- EVT: Journey Builder event definitions --------------------------------------------------------


def test_an_event_definition_with_only_a_schema_creates_its_data_extension(account):
    body = {
        "name": "Signup Event",
        "eventDefinitionKey": "signup-event",
        "type": "APIEvent",
        "schema": {
            "fields": [
                {
                    "name": "Contact Key",
                    "dataType": "Text",
                    "maxLength": "254",
                    "isPrimaryKey": True,
                    "isNullable": False,
                },
                {"name": "Plan", "dataType": "Text", "maxLength": "50", "isNullable": True, "isPrimaryKey": False},
            ]
        },
    }
    created = account.call("POST", "/interaction/v1/eventDefinitions", json=body)
    assert created.status_code == 201, created.text
    answer = created.json()
    assert re.fullmatch(r"Signup Event - \d{4}-\d{2}-\d{2}T\d{9}", answer["dataExtensionName"])
    assert answer["schema"]["id"] == answer["dataExtensionId"]
    assert answer["schema"]["fields"][0] == {
        "name": "Contact Key",
        "dataType": "Text",
        "maxLength": "254",
        "isNullable": False,
        "isPrimaryKey": True,
        "isDevicePreference": False,
    }
    de = account.call("GET", f"/data/v1/customobjects/{answer['dataExtensionId']}").json()
    assert [f["name"] for f in de["fields"]] == ["Contact Key", "Plan"]
    fired = account.call(
        "POST",
        "/interaction/v1/events",
        json={"ContactKey": "c1", "EventDefinitionKey": "signup-event", "Data": {"Plan": "pro"}},
    )
    assert fired.status_code == 201


def test_event_definition_answers_carry_only_sfmcs_fields(account):
    created = account.call(
        "POST",
        "/interaction/v1/eventDefinitions",
        json={
            "name": "E",
            "eventDefinitionKey": "e1",
            "schema": {"fields": [{"name": "Contact Key", "dataType": "Text", "isPrimaryKey": True}]},
        },
    ).json()
    recorded = {
        "id",
        "type",
        "name",
        "description",
        "createdDate",
        "createdBy",
        "modifiedDate",
        "modifiedBy",
        "mode",
        "eventDefinitionKey",
        "dataExtensionId",
        "dataExtensionName",
        "sourceApplicationExtensionId",
        "filterDefinitionId",
        "filterDefinitionTemplate",
        "iconUrl",
        "arguments",
        "configurationArguments",
        "metaData",
        "schedule",
        "interactionCount",
        "isVisibleInPicker",
        "isPlatformObject",
        "category",
        "publishedInteractionCount",
        "automationId",
        "disableDEDataLogging",
        "schema",
    }  # every field of devtools-events' recorded answers
    assert set(created) <= recorded and "status" not in created
    assert NO_OFFSET.match(created["createdDate"]) and NO_OFFSET.match(created["modifiedDate"])
    listed = account.call("GET", "/interaction/v1/eventDefinitions").json()
    assert listed["links"] == {} and (listed["count"], listed["page"], listed["pageSize"]) == (1, 1, 50)
    assert set(listed["items"][0]) <= recorded


def test_deleting_an_event_definition_answers_an_empty_body(account):
    account.call(
        "POST",
        "/interaction/v1/eventDefinitions",
        json={
            "name": "E",
            "eventDefinitionKey": "gone",
            "schema": {"fields": [{"name": "Contact Key", "dataType": "Text", "isPrimaryKey": True}]},
        },
    )
    deleted = account.call("DELETE", "/interaction/v1/eventDefinitions/key:gone")
    assert deleted.status_code == 200 and deleted.content == b""
    assert account.call("GET", "/interaction/v1/eventDefinitions/key:gone").status_code == 404


# -- FMT: dates on write -----------------------------------------------------------------------------


def test_dates_on_write_are_iso_8601_unless_the_tenant_accepts_sfmcs_formats(account):
    us = [{"keys": {"Contact Key": "d1"}, "values": {"Created At": "6/23/2024 3:04 PM"}}]
    refused = account.call("POST", "/hub/v1/dataevents/key:identify/rowset", json=us)
    assert refused.status_code == 400 and "not a valid date" in refused.text  # seed FMT-3, the default
    account.settings(accept_sfmc_date_formats=True)
    accepted = account.call("POST", "/hub/v1/dataevents/key:identify/rowset", json=us)
    assert accepted.status_code == 200, accepted.text
    rows = [{"keys": {"Contact Key": "d2"}, "values": {"Created At": "12/12/12"}}]
    assert account.call("POST", "/hub/v1/dataevents/key:identify/rowset", json=rows).status_code == 200
    items = {
        i["keys"]["contact key"]: i["values"]["created at"]
        for i in account.call("GET", "/data/v1/customobjectdata/key/identify/rowset").json()["items"]
    }
    assert items == {"d1": "6/23/2024 3:04:00 PM", "d2": "12/12/2012 12:00:00 AM"}
    bad = [{"keys": {"Contact Key": "d3"}, "values": {"Created At": "13/40/2024"}}]
    assert account.call("POST", "/hub/v1/dataevents/key:identify/rowset", json=bad).status_code == 400
