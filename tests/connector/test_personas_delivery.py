"""Personas audiences and computed traits against a live emulator (PER-1..PER-5)."""

from __future__ import annotations

from tests.connector.delivery_helpers import destination, sfmc_tenant


def audience(user: str, entered: bool, n: int) -> dict:
    return {
        "type": "track",
        "event": "Audience Entered" if entered else "Audience Exited",
        "userId": user,
        "messageId": f"aud-{user}-{n}",
        "properties": {"active_users": entered},
        "context": {"personas": {"computation_class": "audience", "computation_key": "active_users"}},
    }


def trait(user: str, value, n: int) -> dict:
    return {
        "type": "identify",
        "userId": user,
        "messageId": f"trait-{user}-{n}",
        "traits": {"lifetime_value": value},
        "context": {"personas": {"computation_class": "computed_trait", "computation_key": "lifetime_value"}},
    }


def test_audience_creates_its_data_extension_and_flags_members(emulator_server, tmp_path):
    """PER-1 (blank key: create the DE), PER-3 (true on entry), PER-4 (false on exit, row kept)."""
    tenant = sfmc_tenant(emulator_server)
    dest = destination(emulator_server, tenant, tmp_path)
    dest.accept([audience("u1", True, 1), audience("u2", True, 1)])
    assert dest.deliver_pending().delivered == 2
    fields = emulator_server.admin("GET", f"/tenants/{tenant['id']}/data-extensions").json()["items"]
    personas_de = next(de for de in fields if de["key"] == "segment-personas")
    assert [(f["name"], f["type"], f["isPrimaryKey"]) for f in personas_de["fields"]] == [
        ("Contact Key", "Text", True),
        ("Active Users", "Boolean", False),
    ]
    dest.accept([audience("u1", False, 2)])
    assert dest.deliver_pending().delivered == 1
    rows = {r["Contact Key"]: r["Active Users"] for r in emulator_server.rows(tenant["id"], "segment-personas")}
    assert rows == {"u1": "False", "u2": "True"}


def test_computed_trait_adds_its_column_to_an_existing_data_extension(emulator_server, tmp_path):
    """PER-1 (existing DE), PER-2 (missing column created), PER-5 (trait value per user)."""
    tenant = sfmc_tenant(
        emulator_server,
        data_extensions=[
            {
                "key": "traits",
                "name": "Traits",
                "fields": [
                    {"name": "Contact Key", "type": "Text", "isPrimaryKey": True},
                    {"name": "Plan", "type": "Text"},
                ],
            }
        ],
    )
    dest = destination(emulator_server, tenant, tmp_path, personas_de_key="traits")
    dest.accept([trait("u1", 120, 1), trait("u2", 7, 1), trait("u1", 130, 2)])
    assert dest.deliver_pending().delivered == 3
    rows = {r["Contact Key"]: r.get("Lifetime Value") for r in emulator_server.rows(tenant["id"], "traits")}
    assert rows == {"u1": "130", "u2": "7"}


def test_existing_data_extension_that_breaks_the_rules_is_refused_clearly(emulator_server, tmp_path):
    """PER-2: a foreign primary key and a required field keep the sync out, with the reason recorded."""
    tenant = sfmc_tenant(
        emulator_server,
        data_extensions=[
            {
                "key": "bad",
                "name": "Bad",
                "fields": [
                    {"name": "Contact Key", "type": "Text", "isPrimaryKey": True},
                    {"name": "Region", "type": "Text", "isPrimaryKey": True},
                    {"name": "Tier", "type": "Text", "isNullable": False},
                ],
            }
        ],
    )
    dest = destination(emulator_server, tenant, tmp_path, personas_de_key="bad")
    dest.accept([audience("u1", True, 1)])
    summary = dest.deliver_pending()
    assert dict(summary.rejected) == {"personas_de_invalid": 1}
    reason = dest.outbox.listing("rejected")[0]["reason"]
    assert "'Region' is a primary key" in reason and "'Tier' is required" in reason
    assert emulator_server.rows(tenant["id"], "bad") == []


def test_wrong_column_type_is_refused(emulator_server, tmp_path):
    """PER-2, DE-1: an existing audience column that is not Boolean is not written to."""
    tenant = sfmc_tenant(
        emulator_server,
        data_extensions=[
            {
                "key": "aud",
                "name": "Aud",
                "fields": [
                    {"name": "Contact Key", "type": "Text", "isPrimaryKey": True},
                    {"name": "Active Users", "type": "Date"},
                ],
            }
        ],
    )
    dest = destination(emulator_server, tenant, tmp_path, personas_de_key="aud")
    dest.accept([audience("u1", True, 1)])
    assert dict(dest.deliver_pending().rejected) == {"personas_de_invalid": 1}
