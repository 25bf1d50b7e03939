"""Planning Segment events into SFMC operations (ID-*, TR-*, CTX-*, API-1, BAT-2, PER-*)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.personas import DEFAULT_PERSONAS_DE_KEY
from connector.plan import (
    Dropped,
    DropReason,
    EnsurePersonasDataExtension,
    FireApiEvent,
    Plan,
    UpsertContact,
    UpsertRow,
    operation_from_dict,
    operation_to_dict,
    plan,
)
from connector.settings import BatchingSettings, ConversionEvent, Settings
from connector.transform import is_nested

CONVERSIONS = (
    ConversionEvent("Order Completed", "orders", "Contact Key,Product Id"),
    ConversionEvent("Plan Chosen", "plans", "contact key"),
    ConversionEvent("Button Clicked", "clicks", (), uuid_primary_key=True),
    ConversionEvent("Item Viewed", "items", "ProductId"),
)


def make_settings(**changes: Any) -> Settings:
    base: dict[str, Any] = {
        "client_id": "id",
        "client_secret": "secret",
        "identify_de_key": "identify-de",
        "conversion_events": CONVERSIONS,
        "api_events": {"Order Completed": "APIEvent-orders", "Cart Abandoned": "APIEvent-cart"},
    }
    return Settings(**{**base, **changes})


SETTINGS = make_settings()
BATCHING = make_settings(batching=BatchingSettings(enabled=True))


def identify(**fields: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": "msg-1", **fields}


def track(event: str, **fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "messageId": "msg-2", "userId": "user-1", **fields}


def only_dropped(result: Plan) -> Dropped:
    assert result.operations == ()
    assert len(result.dropped) == 1, result.dropped
    return result.dropped[0]


# -- identify (ID-1..ID-6, CTX-2) --------------------------------------------------------------


def test_identify_without_user_id_or_email_is_not_sent_id_1() -> None:
    dropped = only_dropped(plan(identify(anonymousId="anon", traits={"name": "A"}), SETTINGS))
    assert dropped.reason_code is DropReason.NO_IDENTIFIER
    assert "ID-1" in dropped.reason
    assert dropped.source_message_id == "msg-1"


def test_identify_upserts_the_contact_and_the_title_cased_traits_keyed_by_contact_key_id_4_id_5() -> None:
    event = identify(userId="user-1", traits={"firstName": "Amanda", "email": "amanda@example.com"})
    assert plan(event, SETTINGS) == Plan(
        operations=(
            UpsertContact("user-1", "msg-1"),
            UpsertRow(
                "identify-de",
                {"Contact Key": "user-1"},
                {"First Name": "Amanda", "Email": "amanda@example.com"},
                "msg-1",
            ),
        )
    )


def test_identify_contact_key_falls_back_to_email_without_colons_id_2_id_3() -> None:
    result = plan(identify(userId=":", traits={"email": "a:b@example.com"}), SETTINGS)
    assert result.operations[0] == UpsertContact("ab@example.com", "msg-1")
    assert result.operations[1].keys == {"Contact Key": "ab@example.com"}


def test_identify_without_contact_creation_writes_only_the_row_id_5() -> None:
    result = plan(identify(userId="u1", traits={"plan": "pro"}), make_settings(do_not_create_contacts=True))
    assert [type(operation) for operation in result.operations] == [UpsertRow]


def test_identify_creates_no_contacts_while_batching_bat_2() -> None:
    result = plan(identify(userId="u1", traits={"plan": "pro"}), BATCHING)
    assert [type(operation) for operation in result.operations] == [UpsertRow]


def test_identify_without_an_identify_data_extension_writes_no_row_id_6() -> None:
    result = plan(identify(userId="u1", traits={"plan": "pro"}), make_settings(identify_de_key=None))
    assert result.operations == (UpsertContact("u1", "msg-1"),)


@pytest.mark.parametrize(
    ("changes", "rule"),
    [({"do_not_create_contacts": True}, "(ID-5)"), ({"batching": BatchingSettings(enabled=True)}, "(BAT-2)")],
)
def test_identify_with_nowhere_to_go_is_dropped_with_the_reason_id_6(changes: dict, rule: str) -> None:
    dropped = only_dropped(plan(identify(userId="u1"), make_settings(identify_de_key=None, **changes)))
    assert dropped.reason_code is DropReason.IDENTIFY_NOT_CONFIGURED
    assert "(ID-6)" in dropped.reason and rule in dropped.reason


def test_identify_rows_carry_context_attributes_ctx_1_ctx_2() -> None:
    event = identify(
        userId="u1",
        traits={"plan": "pro"},
        context={"ip": "203.0.113.7", "device": {"model": "Pixel 5"}, "campaign": {"source": "newsletter"}},
    )
    row = plan(event, SETTINGS).operations[1]
    assert row.values == {
        "Plan": "pro",
        "UTM Source": "newsletter",
        "IP Address": "203.0.113.7",
        "Device-model": "Pixel 5",
    }


def test_traits_win_over_context_attributes_with_a_warning() -> None:
    result = plan(identify(userId="u1", traits={"locale": "fr-FR"}, context={"locale": "en-US"}), SETTINGS)
    assert result.operations[1].values == {"Locale": "fr-FR"}
    assert result.warnings == ("context attribute 'Locale' not used: traits already give it",)


def test_a_contact_key_trait_cannot_replace_the_user_id_id_2() -> None:
    result = plan(identify(userId="u1", traits={"contact_key": "spoof", "plan": "pro"}), SETTINGS)
    row = result.operations[1]
    assert row.keys == {"Contact Key": "u1"} and row.values == {"Plan": "pro"}
    assert result.warnings == (
        "traits column 'Contact Key' left out: the Contact Key comes from userId or email (ID-2, TR-2)",
    )


def test_nested_traits_are_not_sent_and_date_like_text_is_kept_fmt_2_fmt_3() -> None:
    """Only the DE's column type can make text a date (bound at delivery, ``bind_to_columns``)."""
    event = identify(userId="u1", traits={"address": {"city": "Paris"}, "tags": ["a"], "createdAt": "05/30/2020"})
    assert plan(event, SETTINGS).operations[1].values == {"Created At": "05/30/2020"}


# -- track (TR-1..TR-5, CTX-2) ------------------------------------------------------------------


def test_only_configured_conversion_events_are_sent_tr_1() -> None:
    dropped = only_dropped(plan(track("Page Scrolled", properties={"depth": 3}), SETTINGS))
    assert dropped.reason_code is DropReason.NOT_A_CONVERSION_EVENT
    assert dropped.reason == "'Page Scrolled' is not a configured conversion event (TR-1) or API event (API-1)"


def test_track_without_an_event_name_matches_nothing_tr_1() -> None:
    dropped = only_dropped(plan({"type": "track", "userId": "u1"}, SETTINGS))
    assert dropped.reason_code is DropReason.NOT_A_CONVERSION_EVENT


def test_track_row_has_title_cased_properties_and_the_user_id_as_contact_key_tr_2_tr_3() -> None:
    event = track("Order Completed", properties={"productId": "p-9", "unitPrice": 9.5, "coupon": None})
    result = plan(event, make_settings(api_events={}))
    assert result == Plan(
        operations=(
            UpsertRow(
                "orders",
                {"Contact Key": "user-1", "Product Id": "p-9"},
                {"Unit Price": 9.5, "Coupon": None},
                "msg-2",
            ),
        )
    )


def test_the_order_of_primary_keys_does_not_change_the_row_tr_3() -> None:
    event = track("Order Completed", properties={"product_id": "p-9", "qty": 2})
    forwards = make_settings(api_events={})
    backwards = make_settings(
        api_events={},
        conversion_events=(ConversionEvent("Order Completed", "orders", "Product Id, Contact Key"),),
    )
    assert plan(event, forwards).operations[0] == plan(event, backwards).operations[0]


def test_primary_key_columns_match_case_insensitively_and_keep_the_configured_spelling_tr_3() -> None:
    row = plan(track("Plan Chosen", properties={"plan": "pro"}), SETTINGS).operations[0]
    assert row == UpsertRow("plans", {"contact key": "user-1"}, {"Plan": "pro"}, "msg-2")


def test_track_contact_key_falls_back_to_the_users_email_tr_2() -> None:
    event = track(
        "Plan Chosen", userId=None, properties={"plan": "pro"}, context={"traits": {"email": "a@example.com"}}
    )
    assert plan(event, SETTINGS).operations[0].keys == {"contact key": "a@example.com"}


def test_a_missing_primary_key_value_drops_the_row_naming_the_column_tr_3() -> None:
    dropped = only_dropped(plan(track("Order Completed", properties={"sku": "x"}), make_settings(api_events={})))
    assert dropped.reason_code is DropReason.MISSING_PRIMARY_KEY
    assert dropped.reason == (
        "'Order Completed' has no value for primary key column 'Product Id' of data extension 'orders' (TR-3)"
    )


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_blank_primary_key_value_counts_as_missing_tr_3(value: object) -> None:
    event = track("Order Completed", properties={"productId": value})
    assert only_dropped(plan(event, make_settings(api_events={}))).reason_code is DropReason.MISSING_PRIMARY_KEY


def test_a_track_without_an_identity_says_why_tr_2() -> None:
    event = track("Order Completed", userId=None, properties={"productId": "p", "email": "someone@example.com"})
    dropped = only_dropped(plan(event, make_settings(api_events={})))
    assert dropped.reason_code is DropReason.NO_IDENTIFIER
    assert "neither a userId nor context.traits.email" in dropped.reason


def test_a_primary_key_named_in_another_case_style_gets_a_hint_fmt_5() -> None:
    dropped = only_dropped(plan(track("Item Viewed", properties={"productId": "p"}), SETTINGS))
    assert dropped.reason.endswith(
        "; the event sends it as 'Product Id' (Title Case, FMT-1, FMT-5): name the column that"
    )


def test_uuid_primary_key_makes_every_event_a_new_row_keyed_by_message_id_tr_5() -> None:
    first = plan(track("Button Clicked", properties={"label": "Start"}), SETTINGS)
    second = plan(track("Button Clicked", messageId="msg-3", properties={"label": "Start"}), SETTINGS)
    assert first.operations == (
        UpsertRow("clicks", {"Uuid": "msg-2"}, {"Contact Key": "user-1", "Label": "Start"}, "msg-2"),
    )
    assert second.operations[0].keys == {"Uuid": "msg-3"}


def test_uuid_primary_key_without_a_message_id_is_dropped_tr_5() -> None:
    event = track("Button Clicked")
    del event["messageId"]
    dropped = only_dropped(plan(event, SETTINGS))
    assert dropped.reason_code is DropReason.MISSING_PRIMARY_KEY
    assert "(TR-5)" in dropped.reason and dropped.source_message_id is None


def test_a_uuid_property_cannot_replace_the_message_id_tr_5() -> None:
    result = plan(track("Button Clicked", properties={"uuid": "spoof"}), SETTINGS)
    assert result.operations[0].keys == {"Uuid": "msg-2"}
    assert "Uuid" not in result.operations[0].values
    assert len(result.warnings) == 1 and "TR-5" in result.warnings[0]


def test_a_track_without_an_identity_is_dropped_even_for_uuid_rows_tr_2() -> None:
    dropped = only_dropped(plan(track("Button Clicked", userId=None, properties={"label": "Go"}), SETTINGS))
    assert dropped.reason_code is DropReason.NO_IDENTIFIER and "properties.email" in dropped.reason


def test_track_rows_carry_context_attributes_ctx_2() -> None:
    event = track(
        "Plan Chosen", properties={"plan": "pro"}, context={"app": {"name": "Shop"}, "screen": {"width": 414}}
    )
    assert plan(event, SETTINGS).operations[0].values == {
        "Plan": "pro",
        "App Name": "Shop",
        "Screen Width": 414,
    }


# -- API events (API-1, BAT-2) --------------------------------------------------------------------


def test_a_conversion_event_that_is_also_an_api_event_writes_the_row_and_fires_the_event_api_1() -> None:
    event = track("Order Completed", properties={"productId": "p-9", "total": 20})
    result = plan(event, SETTINGS)
    assert result.operations == (
        UpsertRow("orders", {"Contact Key": "user-1", "Product Id": "p-9"}, {"Total": 20}, "msg-2"),
        FireApiEvent("APIEvent-orders", "user-1", {"Contact Key": "user-1", "Product Id": "p-9", "Total": 20}, "msg-2"),
    )
    assert result.dropped == ()


def test_an_api_event_alone_only_fires_the_event_api_1() -> None:
    result = plan(track("Cart Abandoned", properties={"cartValue": 30}, context={"locale": "en-GB"}), SETTINGS)
    assert result.operations == (
        FireApiEvent(
            "APIEvent-cart", "user-1", {"Contact Key": "user-1", "Cart Value": 30, "Locale": "en-GB"}, "msg-2"
        ),
    )


def test_an_api_event_needs_a_contact_key_api_1() -> None:
    dropped = only_dropped(plan(track("Cart Abandoned", userId=None), SETTINGS))
    assert dropped.reason_code is DropReason.NO_IDENTIFIER
    assert "Cart Abandoned" in dropped.reason


def test_api_events_are_not_fired_while_batching_bat_2() -> None:
    dropped = only_dropped(plan(track("Cart Abandoned"), BATCHING))
    assert dropped.reason_code is DropReason.API_EVENTS_DISABLED
    assert "(BAT-2)" in dropped.reason

    both = plan(track("Order Completed", properties={"productId": "p-9", "quantity": 1}), BATCHING)
    assert [type(operation) for operation in both.operations] == [UpsertRow]
    assert [dropped.reason_code for dropped in both.dropped] == [DropReason.API_EVENTS_DISABLED]


# -- other calls ----------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", ["page", "screen", "group", "alias", "unknown", None])
def test_calls_other_than_identify_and_track_are_not_sent(event_type: str | None) -> None:
    dropped = only_dropped(plan({"type": event_type, "userId": "u1", "messageId": "m"}, SETTINGS))
    assert dropped.reason_code is DropReason.UNSUPPORTED_TYPE


def test_an_event_that_is_not_an_object_is_malformed() -> None:
    dropped = only_dropped(plan(["not", "an", "event"], SETTINGS))  # type: ignore[arg-type]
    assert dropped.reason_code is DropReason.MALFORMED_EVENT


def test_malformed_parts_count_as_empty_with_one_warning_each() -> None:
    event = identify(userId="u1", traits="oops", context=["x"])
    result = plan(event, SETTINGS)
    assert result.operations[1].values == {"Contact Key": "u1"}  # never empty: the key is repeated
    assert sorted(result.warnings) == [
        "context is not an object (got a list); treated as empty",
        "the row for data extension 'identify-de' has only its key columns; they are repeated in values, which "
        "SFMC requires to name at least one existing field",
        "traits is not an object (got a str); treated as empty",
    ]


def test_an_integer_message_id_is_carried_as_text() -> None:
    assert plan(identify(userId="u1", messageId=7), SETTINGS).operations[0].source_message_id == "7"


# -- Personas (PER-1, PER-3, PER-4, PER-5) ------------------------------------------------------


def audience_identify(member: bool, **fields: Any) -> dict[str, Any]:
    return identify(
        userId="u1",
        traits={"active_users": member, "email": "a@example.com"},
        context={"personas": {"computation_class": "audience", "computation_key": "active_users", "space_id": "s"}},
        **fields,
    )


def audience_track(event_name: str, member: Any = None) -> dict[str, Any]:
    properties = {} if member is None else {"active_users": member}
    return track(
        event_name,
        properties=properties,
        context={"personas": {"computation_class": "audience", "computation_key": "active_users"}},
    )


def test_audience_entry_sets_a_title_cased_column_true_in_a_created_data_extension_per_1_per_3() -> None:
    result = plan(audience_identify(True), SETTINGS)
    assert result == Plan(
        operations=(
            EnsurePersonasDataExtension(DEFAULT_PERSONAS_DE_KEY, True, "Active Users", "Boolean", "msg-1"),
            UpsertRow(DEFAULT_PERSONAS_DE_KEY, {"Contact Key": "u1"}, {"Active Users": True}, "msg-1"),
        )
    )


def test_audiences_sync_to_an_existing_data_extension_when_its_key_is_set_per_1() -> None:
    result = plan(audience_identify(True), make_settings(personas_de_key="my-audiences"))
    ensure, row = result.operations
    assert ensure == EnsurePersonasDataExtension("my-audiences", False, "Active Users", "Boolean", "msg-1")
    assert row.de_key == "my-audiences"


def test_audience_exit_sets_false_and_never_deletes_per_4() -> None:
    for event in (
        audience_identify(False),
        audience_track("Audience Exited", False),
        audience_track("Audience Exited"),
    ):
        result = plan(event, SETTINGS)
        assert [type(operation) for operation in result.operations] == [
            EnsurePersonasDataExtension,
            UpsertRow,
        ]
        assert result.operations[1].values == {"Active Users": False}


def test_audience_entered_track_sets_true_per_3() -> None:
    result = plan(audience_track("Audience Entered", True), SETTINGS)
    assert result.operations[1].values == {"Active Users": True}
    assert result.warnings == ()


def test_the_audience_event_name_decides_membership_per_3_per_4() -> None:
    result = plan(audience_track("Audience Exited", True), SETTINGS)
    assert result.operations[1].values == {"Active Users": False}
    assert len(result.warnings) == 1 and "(PER-3, PER-4)" in result.warnings[0]


def test_personas_events_do_not_also_write_the_identify_data_extension_or_contacts() -> None:
    operations = plan(audience_identify(True), SETTINGS).operations
    assert not any(isinstance(operation, UpsertContact) for operation in operations)
    assert all(operation.de_key == DEFAULT_PERSONAS_DE_KEY for operation in operations)


def test_personas_audience_track_events_need_no_conversion_event_setting() -> None:
    assert SETTINGS.conversion_for("Audience Entered") is None
    assert plan(audience_track("Audience Entered", True), SETTINGS).operations


def computed_trait(value: Any, key: str = "lifetime_value") -> dict[str, Any]:
    return identify(
        userId="u1",
        traits={key: value},
        context={"personas": {"computation_class": "computed_trait", "computation_key": key}},
    )


@pytest.mark.parametrize(
    ("value", "column_type", "sent"),
    [
        (120.5, "Decimal", 120.5),
        (42, "Number", 42),
        (2**40, "Decimal", 2**40),
        ("gold", "Text", "gold"),
        (True, "Boolean", True),
        ("05/30/2020", "Text", "05/30/2020"),  # text stays text: only a Date column makes it a date
    ],
)
def test_a_computed_trait_is_a_column_holding_its_value_per_5(value: Any, column_type: str, sent: Any) -> None:
    ensure, row = plan(computed_trait(value), SETTINGS).operations
    assert ensure == EnsurePersonasDataExtension(DEFAULT_PERSONAS_DE_KEY, True, "Lifetime Value", column_type, "msg-1")
    assert row == UpsertRow(DEFAULT_PERSONAS_DE_KEY, {"Contact Key": "u1"}, {"Lifetime Value": sent}, "msg-1")


def test_a_null_computed_trait_clears_the_column_without_typing_it_per_5() -> None:
    assert plan(computed_trait(None), SETTINGS).operations == (
        UpsertRow(DEFAULT_PERSONAS_DE_KEY, {"Contact Key": "u1"}, {"Lifetime Value": None}, "msg-1"),
    )


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (computed_trait({"nested": 1}), DropReason.PERSONAS_VALUE_UNSUPPORTED),
        (computed_trait(["a", "b"]), DropReason.PERSONAS_VALUE_UNSUPPORTED),
        (computed_trait(1, key="contact_key"), DropReason.PERSONAS_VALUE_UNSUPPORTED),
        ({**computed_trait(1), "traits": {}}, DropReason.PERSONAS_VALUE_MISSING),
        (
            {**audience_identify(True), "traits": {"email": "a@example.com"}},
            DropReason.PERSONAS_VALUE_MISSING,
        ),
        (
            {**audience_identify(True), "traits": {"active_users": "yes"}},
            DropReason.PERSONAS_VALUE_UNSUPPORTED,
        ),
        (
            {**audience_identify(True), "context": {"personas": {"computation_class": "audience"}}},
            DropReason.PERSONAS_VALUE_MISSING,
        ),
        (
            {**audience_identify(True), "userId": None, "traits": {"active_users": True}},
            DropReason.NO_IDENTIFIER,
        ),
    ],
)
def test_unusable_personas_events_are_dropped_with_a_reason(event: dict, code: DropReason) -> None:
    assert only_dropped(plan(event, SETTINGS)).reason_code is code


def test_an_audience_member_known_only_by_email_is_keyed_by_email_per_3() -> None:
    event = {**audience_identify(True), "userId": None}
    assert plan(event, SETTINGS).operations[1].keys == {"Contact Key": "a@example.com"}


def test_other_personas_computation_classes_plan_as_ordinary_events() -> None:
    event = identify(userId="u1", traits={"plan": "pro"}, context={"personas": {"computation_class": "journey_step"}})
    result = plan(event, SETTINGS)
    assert [type(operation) for operation in result.operations] == [UpsertContact, UpsertRow]
    assert len(result.warnings) == 1 and "'journey_step'" in result.warnings[0]


# -- the plan as data -------------------------------------------------------------------------


def test_a_plan_serializes_to_json_and_operations_round_trip() -> None:
    result = plan(track("Order Completed", properties={"productId": "p", "quantity": 2}), BATCHING)
    document = json.loads(json.dumps(result.to_dict()))
    assert document["operations"][0]["op"] == "UpsertRow"
    assert document["dropped"][0] == {
        "op": "Dropped",
        "reason_code": "api_events_disabled",
        "reason": result.dropped[0].reason,
        "source_message_id": "msg-2",
    }
    for item in [*result.operations, *result.dropped, *plan(audience_identify(True), SETTINGS).operations]:
        assert operation_from_dict(json.loads(json.dumps(operation_to_dict(item)))) == item
    with pytest.raises(ValueError, match="unknown operation 'DeleteRow'"):
        operation_from_dict({"op": "DeleteRow"})


def test_operations_are_frozen() -> None:
    operation = UpsertContact("u1", "m")
    with pytest.raises(dataclasses.FrozenInstanceError):
        operation.contact_key = "u2"  # type: ignore[misc]


# -- no event is lost without a reason ------------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
_events = st.fixed_dictionaries(
    {"type": st.sampled_from(["identify", "track", "page", "group"])},
    optional={
        "event": st.sampled_from(["Order Completed", "Button Clicked", "Cart Abandoned", "Audience Entered", "Other"]),
        "userId": st.none() | st.text(max_size=6) | st.integers(),
        "messageId": st.none() | st.text(max_size=6),
        "traits": st.dictionaries(st.sampled_from(["email", "firstName", "active_users", "ltv"]), _json, max_size=4),
        "properties": st.dictionaries(st.sampled_from(["productId", "email", "uuid", "total"]), _json, max_size=4),
        "context": st.fixed_dictionaries(
            {},
            optional={
                "ip": _scalars,
                "device": st.dictionaries(st.sampled_from(["model", "type"]), _json, max_size=2),
                "traits": st.dictionaries(st.just("email"), _json, max_size=1),
                "personas": st.fixed_dictionaries(
                    {"computation_class": st.sampled_from(["audience", "computed_trait", "other"])},
                    optional={"computation_key": st.sampled_from(["active_users", "ltv", "", "contact_key"])},
                ),
            },
        ),
    },
)


@given(
    _events,
    st.sampled_from([SETTINGS, BATCHING, make_settings(identify_de_key=None, do_not_create_contacts=True)]),
)
def test_every_event_is_either_planned_or_dropped_with_a_reason(event: dict, settings: Settings) -> None:
    result = plan(event, settings)
    assert result.operations or result.dropped
    json.dumps(result.to_dict(), allow_nan=False)  # everything planned can be sent as JSON
    for operation in result.operations:
        if isinstance(operation, UpsertRow):
            assert operation.keys and all(value is not None for value in operation.keys.values())
            assert operation.values  # never empty: SFMC refuses such a row and the rows after it
            # no column twice, except a keys-only row, which repeats its keys as its values
            columns = [*operation.keys, *operation.values] if operation.values != operation.keys else [*operation.keys]
            assert len({column.casefold() for column in columns}) == len(columns)
            assert not any(is_nested(value) for value in operation.values.values())  # FMT-2
        if isinstance(operation, UpsertContact | FireApiEvent):
            assert operation.contact_key and ":" not in operation.contact_key  # ID-3
