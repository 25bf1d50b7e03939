"""Data Extension rows under SFMC's rules, through /hub/v1/dataevents and /data/v1 (FMT-1..5, TR-3, TR-4)."""

from __future__ import annotations

import pytest

PK = [{"name": "Contact Key", "type": "Text", "isPrimaryKey": True}]


def errors_of(response) -> list[str]:
    return [e["message"] for e in response.get_json().get("additionalErrors", [])]


# -- defining Data Extensions -------------------------------------------------------------------


def test_create_data_extension_and_read_it_back(tenant):
    body = {
        "name": "Orders",
        "key": "orders",
        "isSendable": False,
        "fields": [
            *PK,
            {"name": "Product Id", "type": "Text", "isPrimaryKey": True},
            {"name": "Revenue", "type": "Decimal", "length": 10, "scale": 2},
        ],
    }
    created = tenant.call("POST", "/data/v1/customobjects", json=body)
    assert created.status_code == 201
    de = created.get_json()
    assert de["key"] == "orders" and len(de["id"]) == 36
    fields = tenant.call("GET", f"/data/v1/customobjects/{de['id']}/fields").get_json()["fields"]
    assert [(f["name"], f["type"], f["isPrimaryKey"], f["isNullable"]) for f in fields] == [
        ("Contact Key", "Text", True, False),
        ("Product Id", "Text", True, False),
        ("Revenue", "Decimal", False, True),
    ]
    listed = tenant.call("GET", "/data/v1/customobjects?$search=ord").get_json()
    assert [i["key"] for i in listed["items"]] == ["orders"]
    again = tenant.call("POST", "/data/v1/customobjects", json=body)
    assert again.status_code == 409 and again.get_json()["errorcode"] == 30004


@pytest.mark.parametrize("name", ["firstName", "first name", "first_name", "Email address"])
def test_fields_must_be_title_case(tenant, name):
    """FMT-5: a DE whose attributes are not Title Case is refused with a clear error."""
    response = tenant.call(
        "POST", "/data/v1/customobjects", json={"name": "Bad", "fields": [*PK, {"name": name, "type": "Text"}]}
    )
    assert response.status_code == 400
    assert "Title Case" in response.get_json()["message"]
    assert tenant.call("GET", "/data/v1/customobjects?$search=Bad").get_json()["count"] == 0


@pytest.mark.parametrize("name", ["UTM Source", "IP Address", "Device-model", "Uuid", "Screen Width", "3rd Party Id"])
def test_title_case_accepts_acronyms_and_the_seeds_names(tenant, name):
    response = tenant.call(
        "POST", "/data/v1/customobjects", json={"name": "Ok", "key": f"ok-{name}", "fields": [*PK, {"name": name}]}
    )
    assert response.status_code == 201, response.get_json()


def test_title_case_can_be_relaxed_per_tenant(tenant):
    tenant.settings(require_title_case=False)
    response = tenant.call(
        "POST", "/data/v1/customobjects", json={"name": "Loose", "fields": [*PK, {"name": "firstName"}]}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "field,needle",
    [
        ({"name": "Age", "type": "Integer"}, "unknown type"),
        ({"name": "Notes", "type": "Text", "length": 5000}, "between 1 and 4000"),
        ({"name": "Price", "type": "Decimal", "length": 40}, "precision"),
        ({"name": "Contact Key", "type": "Text"}, "duplicates"),
        ({"name": "Code", "type": "Text", "isPrimaryKey": True, "isNullable": True}, "never be nullable"),
        ({"type": "Text"}, "'name' is required"),
    ],
)
def test_bad_field_definitions_are_explained(tenant, field, needle):
    response = tenant.call("POST", "/data/v1/customobjects", json={"name": "X", "fields": [*PK, field]})
    assert response.status_code == 400
    assert any(needle in m for m in errors_of(response)), errors_of(response)


# -- writing rows --------------------------------------------------------------------------------


def test_columns_match_case_insensitively(tenant):
    response = tenant.rowset(
        "identify", [{"keys": {"contact key": "u1"}, "values": {"FIRST NAME": "Ann", "email": "ann@example.com"}}]
    )
    assert response.status_code == 200
    assert response.get_json() == [
        {"keys": {"contact key": "u1"}, "values": {"FIRST NAME": "Ann", "email": "ann@example.com"}}
    ]
    [row] = tenant.rows("identify")
    assert row["Contact Key"] == "u1" and row["First Name"] == "Ann" and row["Email"] == "ann@example.com"


def test_any_text_is_stored_and_read_back_as_sent(tenant):
    # non-ASCII text is stored as sent; a lone surrogate (a valid JSON escape, but not Unicode) is refused
    # at the edge with 10004 before anything is stored (test_hostile_inputs.py)
    names = {"u1": "Zoë 日本 🎉", "u3": 'quote " back \\'}
    rows = [{"keys": {"Contact Key": key}, "values": {"First Name": name}} for key, name in names.items()]
    assert tenant.rowset("identify", rows).status_code == 200
    assert {r["Contact Key"]: r["First Name"] for r in tenant.rows("identify")} == names
    half = [{"keys": {"Contact Key": "u2"}, "values": {"First Name": "\ud800 half a pair"}}]
    refused = tenant.rowset("identify", half)
    assert refused.status_code == 400 and refused.get_json()["errorcode"] == 10004


def test_unknown_keys_are_ignored_but_recorded(tenant, client):
    """FMT-4: SFMC ignores keys without a column; the emulator makes that visible."""
    response = tenant.rowset(
        "identify",
        [{"keys": {"Contact Key": "u1"}, "values": {"First Name": "Ann", "nonexistent": "xyz", "firstName": "A"}}],
    )
    assert response.status_code == 200
    [row] = tenant.rows("identify")
    assert "nonexistent" not in row and row["First Name"] == "Ann"
    [write] = client.get(f"/_emulator/tenants/{tenant.id}/writes").get_json()["items"]
    assert write["ignored_keys"] == ["nonexistent", "firstName"]
    assert write["rows_saved"] == 1


def test_strict_tenant_refuses_unknown_keys(tenant):
    tenant.settings(strict_columns=True)
    response = tenant.rowset("identify", [{"keys": {"Contact Key": "u1"}, "values": {"nonexistent": "xyz"}}])
    assert response.status_code == 400
    assert response.get_json()["errorcode"] == 10006
    assert "[nonexistent] does not exist" in errors_of(response)[0]
    assert tenant.rows("identify") == []


def test_upsert_on_primary_key_keeps_latest_values(tenant):
    """TR-4: two writes with the same primary key leave one row with the most recent values."""
    tenant.rowset("identify", [{"keys": {"Contact Key": "u1"}, "values": {"First Name": "Ann", "Age": 30}}])
    tenant.rowset("identify", [{"keys": {"Contact Key": "U1"}, "values": {"First Name": "Anna"}}])
    [row] = tenant.rows("identify")
    assert row["First Name"] == "Anna"
    assert row["Age"] == "30"  # an upsert updates the given columns and keeps the others
    assert row["Contact Key"] == "u1"  # keys compare case-insensitively, as in SQL Server


def test_rowsets_of_new_and_partly_stored_keys_upsert_alike(tenant):
    """A rowset of new keys is stored as new rows without reading its keys first; one whose keys are partly
    stored still updates those rows where they stand (the columns it sends replaced, the others and the
    stored spelling of the key kept) and appends the new ones, and new keys after it are created again."""
    first = [{"keys": {"Contact Key": f"u{i}"}, "values": {"First Name": f"Ann {i}", "Age": i}} for i in range(10)]
    mixed = [{"keys": {"Contact Key": f"U{i}"}, "values": {"First Name": f"Bob {i}"}} for i in range(5, 15)]
    fresh = [{"keys": {"Contact Key": f"v{i}"}, "values": {"First Name": f"Cy {i}", "Age": i}} for i in range(20)]
    for rowset in (first, mixed, fresh[:10], fresh[10:]):
        assert tenant.rowset("identify", rowset).status_code == 200
    rows = [(row["Contact Key"], row["First Name"], row.get("Age")) for row in tenant.rows("identify")]
    assert rows == [
        *[(f"u{i}", f"Ann {i}", str(i)) for i in range(5)],
        *[(f"u{i}", f"Bob {i}", str(i)) for i in range(5, 10)],
        *[(f"U{i}", f"Bob {i}", None) for i in range(10, 15)],
        *[(f"v{i}", f"Cy {i}", str(i)) for i in range(20)],
    ]


def test_composite_primary_key_order_does_not_matter(tenant_factory):
    """TR-3: with several key columns, rows dedupe only when all match, in any order."""
    tenant = tenant_factory(
        data_extensions=[
            {
                "key": "clicks",
                "name": "Clicks",
                "fields": [*PK, {"name": "Button Title", "isPrimaryKey": True}, {"name": "Count", "type": "Number"}],
            }
        ]
    )
    tenant.rowset(
        "clicks",
        [
            {"keys": {"Contact Key": "u1", "Button Title": "Start"}, "values": {"Count": 1}},
            {"keys": {"Button Title": "Stop", "Contact Key": "u1"}, "values": {"Count": 1}},
            {"keys": {"Button Title": "Start", "Contact Key": "u1"}, "values": {"Count": 2}},
        ],
    )
    rows = sorted(tenant.rows("clicks"), key=lambda r: r["Button Title"])
    assert [(r["Button Title"], r["Count"]) for r in rows] == [("Start", "2"), ("Stop", "1")]


def test_keys_must_hold_every_primary_key_column(tenant_factory):
    tenant = tenant_factory(
        data_extensions=[
            {"key": "clicks", "name": "Clicks", "fields": [*PK, {"name": "Button Title", "isPrimaryKey": True}]}
        ]
    )
    response = tenant.rowset("clicks", [{"keys": {"Contact Key": "u1"}, "values": {}}])
    assert response.status_code == 400
    assert errors_of(response) == [
        "At least one existing field is required in the values property",
        "Button Title: The primary key column [Button Title] is required.",
    ]


def test_non_key_column_in_keys_is_refused(tenant):
    response = tenant.rowset("identify", [{"keys": {"Contact Key": "u1", "Email": "a@example.com"}, "values": {}}])
    assert response.status_code == 400
    assert "Primary key 'Email' does not exist." in errors_of(response)


def test_empty_primary_key_value_is_an_error(tenant):
    for value in ("", None, "   "):
        response = tenant.rowset("identify", [{"keys": {"Contact Key": value}, "values": {"First Name": "A"}}])
        assert response.status_code == 400
    assert tenant.rows("identify") == []


def test_data_extension_without_primary_key_appends(tenant_factory):
    tenant = tenant_factory(
        data_extensions=[{"key": "log", "name": "Log", "fields": [{"name": "Contact Key"}, {"name": "Event"}]}]
    )
    for _ in range(2):
        assert tenant.rowset("log", [{"values": {"Contact Key": "u1", "Event": "x"}}]).status_code == 200
    assert len(tenant.rows("log")) == 2


def test_non_nullable_columns(tenant_factory):
    tenant = tenant_factory(
        data_extensions=[
            {
                "key": "strict",
                "name": "Strict",
                "fields": [
                    *PK,
                    {"name": "Email", "type": "EmailAddress", "isNullable": False},
                    {"name": "Tier", "isNullable": False, "defaultValue": "Free"},
                    {"name": "Note"},
                ],
            }
        ]
    )
    missing = tenant.rowset("strict", [{"keys": {"Contact Key": "u1"}, "values": {"Note": "n"}}])
    assert missing.status_code == 400
    assert errors_of(missing) == ["Email: The column [Email] is required and cannot be null or empty."]
    created = tenant.rowset("strict", [{"keys": {"Contact Key": "u1"}, "values": {"Email": "a@example.com"}}])
    assert created.status_code == 200
    assert tenant.rows("strict")[0]["Tier"] == "Free"  # a default fills a required column
    # an existing row may be updated without the required column, but never emptied
    assert tenant.rowset("strict", [{"keys": {"Contact Key": "u1"}, "values": {"Note": "m"}}]).status_code == 200
    for empty in (None, ""):
        response = tenant.rowset("strict", [{"keys": {"Contact Key": "u1"}, "values": {"Email": empty}}])
        assert response.status_code == 400
    assert tenant.rows("strict")[0]["Email"] == "a@example.com"


@pytest.mark.parametrize(
    "column,value,stored",
    [
        ("First Name", "Ann", "Ann"),
        ("First Name", 42, "42"),
        ("Age", 42, "42"),
        ("Age", "42", "42"),
        ("Age", 42.0, "42"),
        ("Score", "123.456", "123.46"),
        ("Score", 1, "1.00"),
        ("Created At", "2020-05-30T13:30:00+00:00", "2020-05-30T13:30:00+00:00"),
        ("Created At", "2020-05-30T13:30:00Z", "2020-05-30T13:30:00Z"),
        ("Created At", "2020-05-30", "2020-05-30"),
        ("Created At", "2020-05-30T13:30:00.123456-0700", "2020-05-30T13:30:00.123456-0700"),
        ("Opted In", True, "True"),
        ("Opted In", "false", "False"),
        ("Opted In", 1, "True"),
        ("Email", "ann@example.com", "ann@example.com"),
        ("Phone", "+1 (555) 010-9999", "+1 (555) 010-9999"),
        ("Locale", "en-US", "en-US"),
    ],
)
def test_valid_values_by_type(tenant, column, value, stored):
    response = tenant.rowset("identify", [{"keys": {"Contact Key": "u1"}, "values": {column: value}}])
    assert response.status_code == 200, response.get_json()
    assert tenant.rows("identify")[0][column] == stored


@pytest.mark.parametrize(
    "column,value,needle",
    [
        ("First Name", "x" * 21, "too long (21 characters, the column allows 20)"),
        ("First Name", {"nested": 1}, "not a JSON object"),
        ("First Name", [1, 2], "not a JSON array"),
        ("Age", "forty", "not a valid number"),
        ("Age", 4.5, "not a valid number"),
        ("Age", True, "not a valid number"),
        ("Age", 2**31, "out of range"),
        ("Score", "abc", "not a valid decimal"),
        ("Score", 1234.5, "exceeds the column's precision"),
        ("Created At", "05/30/2020", "ISO-8601"),
        ("Created At", "Sat, 30 May 2020 13:30:00 GMT", "ISO-8601"),
        ("Created At", "2020-13-45", "not a valid date"),
        ("Created At", 1590845400, "ISO-8601"),
        ("Opted In", "maybe", "not a valid boolean"),
        ("Email", "not-an-email", "not a valid email address"),
        ("Phone", "call me", "not a valid phone number"),
        ("Locale", "e1", "not a valid locale"),
    ],
)
def test_invalid_values_get_sfmc_errors(tenant, column, value, needle):
    """FMT-3 (dates ISO-8601 only) and SFMC's type rules, answered as 400 errorcode 10006."""
    response = tenant.rowset("identify", [{"keys": {"Contact Key": "u1"}, "values": {column: value}}])
    assert response.status_code == 400
    body = response.get_json()
    assert body["errorcode"] == 10006
    assert body["message"].startswith("Unable to save rows for data extension ID ")
    [problem] = body["additionalErrors"]
    assert problem["errorcode"] == 10000
    assert problem["message"].startswith(f"{column}: ") and needle in problem["message"], problem["message"]


def test_one_additional_error_per_problem(tenant):
    response = tenant.rowset(
        "identify", [{"keys": {"Contact Key": "u1"}, "values": {"Email": "bad", "Age": "x", "Created At": "yesterday"}}]
    )
    assert len(errors_of(response)) == 3


def test_rowset_is_not_atomic(tenant):
    """Rows before the first bad row are saved; the bad row and all after it are rejected."""
    response = tenant.rowset(
        "identify",
        [
            {"keys": {"Contact Key": "u1"}, "values": {"Age": 1}},
            {"keys": {"Contact Key": "u2"}, "values": {"Age": 2}},
            {"keys": {"Contact Key": "u3"}, "values": {"Age": "three"}},
            {"keys": {"Contact Key": "u4"}, "values": {"Age": 4}},
        ],
    )
    assert response.status_code == 400
    assert errors_of(response) == ["Age: The value for column [Age] is not a valid number."]
    assert sorted(r["Contact Key"] for r in tenant.rows("identify")) == ["u1", "u2"]


def test_rowset_by_id_and_id_prefix(tenant):
    de_id = tenant.call("GET", "/data/v1/customobjects/key:identify").get_json()["id"]
    paths = (f"/hub/v1/dataevents/{de_id}/rowset", f"/hub/v1/dataevents/id:{de_id.upper()}/rowset")
    for n, path in enumerate(paths):
        response = tenant.call("POST", path, json=[{"keys": {"Contact Key": f"u{n}"}, "values": {"Age": n}}])
        assert response.status_code == 200, response.get_json()
    assert len(tenant.rows("identify")) == 2
    bad = tenant.call("POST", "/hub/v1/dataevents/not-a-guid/rowset", json=[])
    assert bad.status_code == 400 and bad.get_json()["errorcode"] == 10001


def test_put_single_row_with_composite_key(tenant_factory):
    tenant = tenant_factory(
        data_extensions=[
            {
                "key": "orders",
                "name": "Orders",
                "fields": [*PK, {"name": "Product Id", "isPrimaryKey": True}, {"name": "Quantity", "type": "Number"}],
            }
        ]
    )
    for sep in (",", "&"):
        response = tenant.call(
            "PUT",
            f"/hub/v1/dataevents/key:orders/rows/Contact Key:u1{sep}Product Id:p1",
            json={"values": {"Quantity": 3}},
        )
        assert response.status_code == 200
        assert response.get_json() == {"keys": {"Contact Key": "u1", "Product Id": "p1"}, "values": {"Quantity": 3}}
    assert [(r["Product Id"], r["Quantity"]) for r in tenant.rows("orders")] == [("p1", "3")]
    single = tenant.call("PUT", "/hub/v1/dataevents/key:orders/rows/Contact Key:u1", json={"values": {}})
    assert single.status_code == 400
    malformed = tenant.call("PUT", "/hub/v1/dataevents/key:orders/rows/garbage", json={"values": {}})
    assert malformed.status_code == 400 and malformed.get_json()["errorcode"] == 10001


# -- reading rows --------------------------------------------------------------------------------


def _seed_people(tenant, n=7):
    rows = [
        {"keys": {"Contact Key": f"u{i}"}, "values": {"First Name": "Ann" if i % 2 else "Bob", "Age": i}}
        for i in range(n)
    ]
    assert tenant.rowset("identify", rows).status_code == 200


def test_rowset_paging(tenant):
    _seed_people(tenant)
    first = tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset?$page=1&$pageSize=3").get_json()
    assert first["count"] == 7 and first["page"] == 1 and first["pageSize"] == 3
    assert [i["keys"]["contact key"] for i in first["items"]] == ["u0", "u1", "u2"]
    assert "next" in first["links"]
    last = tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset?$page=3&$pageSize=3").get_json()
    assert [i["keys"]["contact key"] for i in last["items"]] == ["u6"]
    beyond = tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset?$page=9&$pageSize=3").get_json()
    assert "items" not in beyond and beyond["count"] == 7


@pytest.mark.parametrize(
    "expr,expected",
    [
        ("First Name eq 'ann'", ["u1", "u3", "u5"]),
        ("[First Name] eq 'Bob' and Age eq 4", ["u4"]),
        ("Age eq 1 or Age eq '6'", ["u1", "u6"]),
        ("(Age eq 1 or Age eq 2) and First Name ne 'Ann'", ["u2"]),
        ("\"Contact Key\" eq 'U3'", ["u3"]),
    ],
)
def test_rowset_filter(tenant, expr, expected):
    _seed_people(tenant)
    response = tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset", query_string={"$filter": expr})
    assert response.status_code == 200, response.get_json()
    assert [i["keys"]["contact key"] for i in response.get_json().get("items", [])] == expected


@pytest.mark.parametrize("expr", ["Nope eq 'x'", "Age gt 3", "Age eq", "(Age eq 1", "Age eq 1 2", "'x'"])
def test_bad_filters_are_400(tenant, expr):
    response = tenant.call("GET", "/data/v1/customobjectdata/key/identify/rowset", query_string={"$filter": expr})
    assert response.status_code == 400
    assert response.get_json()["errorcode"] == 10003


@pytest.mark.parametrize("query", ["$page=0", "$page=x", "$pageSize=0", "$pageSize=2501"])
def test_bad_paging_is_400(tenant, query):
    response = tenant.call("GET", f"/data/v1/customobjectdata/key/identify/rowset?{query}")
    assert response.status_code == 400 and response.get_json()["errorcode"] == 10001


def test_rows_are_checked_by_the_schema_in_force_after_a_column_is_added_or_the_de_recreated(client, tenant_factory):
    """Row validators are compiled once per schema and kept; a changed schema is checked as it now is.

    The same tenant, DE id and key come back with another type for a column, and then a column is
    added: both take effect at the next rowset, of one row and of ten (the two validator paths)."""
    de_id = "5a4b1c2d-0000-4000-8000-00000000abcd"

    def create(level_type: str):
        fields = [*PK, {"name": "Level", "type": level_type}]
        return tenant_factory(
            id="schema-change", data_extensions=[{"id": de_id, "key": "prefs", "name": "Prefs", "fields": fields}]
        )

    def rowset(tenant, count: int, **values):
        rows = [{"keys": {"Contact Key": f"c{i}"}, "values": values} for i in range(count)]
        return tenant.rowset("prefs", rows)

    tenant = create("Number")
    for count in (1, 10):
        refused = rowset(tenant, count, Level="high")
        assert refused.status_code == 400
        assert errors_of(refused)[0] == "Level: The value for column [Level] is not a valid number."
        assert rowset(tenant, count, Level="3").status_code == 200
    assert client.delete("/_emulator/tenants/schema-change").status_code in (200, 204)

    tenant = create("Text")
    for count in (1, 10):
        assert rowset(tenant, count, Level=" 3 ").status_code == 200, count  # a Number column would store "3"
        assert {r["Level"] for r in tenant.rows("prefs")} == {" 3 "}
    added = tenant.call(
        "POST", "/data/v1/customobjects/key:prefs/fields", json={"fields": [{"name": "Score", "type": "Number"}]}
    )
    assert added.status_code == 201, added.get_json()
    for count in (1, 10):
        refused = rowset(tenant, count, Level="5", Score="lots")
        assert refused.status_code == 400
        assert errors_of(refused)[0] == "Score: The value for column [Score] is not a valid number."
        assert rowset(tenant, count, Level="5", Score="7").status_code == 200
    assert {(r["Contact Key"], r["Level"], r["Score"]) for r in tenant.rows("prefs")} == {
        (f"c{i}", "5", "7") for i in range(10)
    }
