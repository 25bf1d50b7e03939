"""The seed's formatting rules (FMT-1..FMT-3, ID-2, ID-3, CTX-1) as the connector applies them."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.transform import (
    CONTEXT_ATTRIBUTES,
    AmbiguousDate,
    UnsupportedValue,
    bind_to_columns,
    contact_key,
    context_attributes,
    flatten_payload,
    iso_date_string,
    normalize_scalar,
    title_case,
)

# -- Title Case (FMT-1, design notes "Title Case") ---------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        # the seed's own examples (FMT-1)
        ("firstName", "First Name"),
        ("first_name", "First Name"),
        ("lastName", "Last Name"),
        ("createdAt", "Created At"),
        ("created_at", "Created At"),
        ("email", "Email"),
        # the design notes' split rules
        ("userID", "User ID"),
        ("first-name", "First Name"),
        ("first name", "First Name"),
        ("  padded \t key  ", "Padded Key"),
        ("snake__double_", "Snake Double"),
        ("utm_source", "Utm Source"),
        ("UTM_source", "UTM Source"),
        ("ipAddress", "Ip Address"),
        ("FIRST_NAME", "FIRST NAME"),
        ("plan", "Plan"),
        ("Contact Key", "Contact Key"),
        # boundaries the design notes do not name are not split
        ("IPAddress", "IPAddress"),
        ("address2", "Address2"),
        ("line2Address", "Line2Address"),
        ("user.name", "User.name"),
        # nothing but separators
        ("", ""),
        ("_-_ ", ""),
    ],
)
def test_title_case_fmt_1(key: str, expected: str) -> None:
    assert title_case(key) == expected


@given(st.text())
def test_title_case_is_idempotent(key: str) -> None:
    once = title_case(key)
    assert title_case(once) == once


@given(st.text())
def test_title_case_output_is_single_spaced_words_without_separators(key: str) -> None:
    result = title_case(key)
    assert "_" not in result and "-" not in result
    assert result == " ".join(result.split())
    assert all(word[0] == word[0].upper() for word in result.split(" ") if word)


# Words of two or more letters: camelCase cannot mark where a one-letter word ends ("aAA").
_LOWER_WORDS = st.lists(st.from_regex(r"[a-z]{2,8}", fullmatch=True), min_size=1, max_size=5)


@given(_LOWER_WORDS)
def test_camel_snake_kebab_and_spaced_keys_meet_in_one_column_fmt_1(words: list[str]) -> None:
    camel = words[0] + "".join(word[0].upper() + word[1:] for word in words[1:])
    expected = " ".join(word[0].upper() + word[1:] for word in words)
    for spelling in (camel, "_".join(words), "-".join(words), " ".join(words)):
        assert title_case(spelling) == expected


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_\- ]{0,30}", fullmatch=True))
def test_title_case_output_is_a_title_case_column_name_fmt_5(key: str) -> None:
    # design notes: "is Title Case" = every space-separated word starts upper-case or with a digit
    result = title_case(key)
    assert result
    assert all(word[0].isupper() or word[0].isdigit() for word in result.split(" "))


# -- Contact Key (ID-2, ID-3) ---------------------------------------------------------------------


def test_contact_key_is_the_user_id_when_present_id_2() -> None:
    event = {"type": "identify", "userId": "u-1", "traits": {"email": "a@example.com"}}
    assert contact_key(event) == "u-1"


def test_contact_key_falls_back_to_the_email_trait_id_2() -> None:
    assert contact_key({"type": "identify", "traits": {"email": "a@example.com"}}) == "a@example.com"


def test_colons_are_removed_from_the_contact_key_id_3() -> None:
    assert contact_key({"type": "identify", "userId": "auth0:abc:123"}) == "auth0abc123"
    assert contact_key({"type": "identify", "traits": {"email": "a:b@example.com"}}) == "ab@example.com"


@pytest.mark.parametrize("user_id", ["", "   ", ":::", None, True, 1.5, {"id": 1}, ["u"]])
def test_unusable_user_ids_fall_back_to_email_id_2_id_3(user_id: object) -> None:
    event = {"type": "identify", "userId": user_id, "traits": {"email": "a@example.com"}}
    assert contact_key(event) == "a@example.com"


def test_integer_user_id_is_used_as_text_id_2() -> None:
    assert contact_key({"type": "track", "userId": 42}) == "42"


def test_identify_prefers_traits_email_over_context_traits() -> None:
    event = {
        "type": "identify",
        "traits": {"email": "trait@example.com"},
        "context": {"traits": {"email": "context@example.com"}},
    }
    assert contact_key(event) == "trait@example.com"
    del event["traits"]
    assert contact_key(event) == "context@example.com"


def test_track_prefers_the_users_context_traits_over_a_property_email() -> None:
    event = {
        "type": "track",
        "properties": {"email": "invitee@example.com"},
        "context": {"traits": {"email": "user@example.com"}},
    }
    assert contact_key(event) == "user@example.com"
    del event["context"]
    assert contact_key(event) is None  # a property may name someone else: never the Contact Key


def test_track_ignores_top_level_traits_which_segment_does_not_send_on_track() -> None:
    assert contact_key({"type": "track", "traits": {"email": "a@example.com"}}) is None


@pytest.mark.parametrize(
    "event",
    [
        {"type": "identify"},
        {"type": "identify", "traits": {"email": ""}},
        {"type": "identify", "traits": {"email": 7}},
        {"type": "identify", "traits": ["email"], "context": "not an object"},
        {"type": "identify", "anonymousId": "anon-1"},
    ],
)
def test_no_contact_key_without_user_id_or_email_id_1(event: dict) -> None:
    assert contact_key(event) is None


# -- dates (FMT-3) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("05/30/2020", "2020-05-30"),
        ("5/30/2020", "2020-05-30"),
        ("30/05/2020", "2020-05-30"),  # the first number cannot be a month
        ("30-05-2020", "2020-05-30"),
        ("05/05/2020", "2020-05-05"),  # both readings are the same day
        ("05-30-2020", "2020-05-30"),
        ("2020/05/30", "2020-05-30"),
        ("2020-5-3", "2020-05-03"),
        ("30 May 2020", "2020-05-30"),
        ("30th May 2020", "2020-05-30"),
        ("May 30, 2020", "2020-05-30"),
        ("Saturday, May 30, 2020", "2020-05-30"),
        ("30 May 2020 13:30", "2020-05-30T13:30:00"),
        ("5/30/2020, 1:30:00 PM", "2020-05-30T13:30:00"),
        ("May 30th, 2020 at 1:30pm", "2020-05-30T13:30:00"),
        ("2020-05-30 1:30 PM", "2020-05-30T13:30:00"),
        ("05/30/2020 13:30:15.250", "2020-05-30T13:30:15.250000"),
        ("Sat, 30 May 2020 13:30:00 GMT", "2020-05-30T13:30:00+00:00"),
        ("Sat, 30 May 2020 13:30:00 +0000", "2020-05-30T13:30:00+00:00"),
        ("Sat, 30 May 2020 13:30:00 -0700", "2020-05-30T13:30:00-07:00"),
        ("Sat, 30 May 2020 13:30:00 EST", "2020-05-30T13:30:00-05:00"),
        ("2020-05-30 13:30:00 +05:30", "2020-05-30T13:30:00+05:30"),
        # JavaScript's Date.toString(): "GMT-0700" means seven hours behind UTC
        ("Sat May 30 2020 13:30:00 GMT-0700 (Pacific Daylight Time)", "2020-05-30T13:30:00-07:00"),
        ("Sat May 30 2020 13:30:00 GMT+0200 (Central European Summer Time)", "2020-05-30T13:30:00+02:00"),
    ],
)
def test_recognizable_dates_become_iso_8601_fmt_3(text: str, expected: str) -> None:
    assert iso_date_string(text) == expected
    assert datetime.fromisoformat(expected)  # what we send parses as ISO-8601


@pytest.mark.parametrize(
    "text",
    [
        # already ISO-8601: sent unchanged
        "2020-05-30T13:30:00+00:00",
        "2020-05-30T13:30:00Z",
        "2020-05-30",
        "2020-05-30 13:30",
        "2020-05-30T13:30:00.123456789Z",
        # not dates, even if dateutil alone would read them as one
        "12",
        "May",
        "May 30",
        "May 2020",
        "13:30",
        "2020",
        "20200530",
        "v1.2.2020",
        "30.05.2020",
        "555-12-1234",
        "Order 5/30/2020 shipped",
        "Sat, 30 May 2020 13:30:00 IST",  # a zone name with several meanings
        "",
    ],
)
def test_other_strings_are_not_dates(text: str) -> None:
    assert iso_date_string(text) is None


@pytest.mark.parametrize("text", ["02/30/2020", "13/13/2020", "May 32, 2020", "05/30/2020 25:00", "0000/01/01"])
def test_impossible_dates_raise(text: str) -> None:  # "13/13/2020": neither number is a month
    with pytest.raises(ValueError, match="looks like a date"):
        iso_date_string(text)


def test_out_of_range_zone_offset_raises() -> None:
    with pytest.raises(ValueError, match="out of range"):
        iso_date_string("Sat, 30 May 2020 13:30:00 +2500")


def test_date_and_datetime_objects_become_iso_8601_fmt_3() -> None:
    assert normalize_scalar(date(2020, 5, 30)) == "2020-05-30"
    assert normalize_scalar(datetime(2020, 5, 30, 13, 30, tzinfo=UTC)) == "2020-05-30T13:30:00+00:00"
    aware = datetime(2020, 5, 30, 13, 30, tzinfo=timezone(timedelta(hours=-7)))
    assert normalize_scalar(aware) == "2020-05-30T13:30:00-07:00"


def test_normalize_scalar_refuses_what_no_column_holds() -> None:
    for value in ({"a": 1}, [1], math.nan, math.inf, object(), b"bytes"):
        with pytest.raises(UnsupportedValue):
            normalize_scalar(value)


# -- flattening (FMT-1, FMT-2, FMT-3) -----------------------------------------------------------

SEED_EXPECTED = {
    "First Name": "Amanda",
    "Last Name": "Smith",
    "Email": "amanda@example.com",
    "Created At": "2020-05-30T13:30:00+00:00",
}


@pytest.mark.parametrize(
    "payload",
    [
        {
            "firstName": "Amanda",
            "lastName": "Smith",
            "email": "amanda@example.com",
            "createdAt": "2020-05-30T13:30:00+00:00",
        },
        {
            "first_name": "Amanda",
            "last_name": "Smith",
            "email": "amanda@example.com",
            "created_at": "2020-05-30T13:30:00+00:00",
        },
    ],
)
def test_the_seeds_formatting_example_fmt_1(payload: dict) -> None:
    warnings: list[str] = []
    assert flatten_payload(payload, warnings) == SEED_EXPECTED
    assert warnings == []


def test_nested_objects_and_lists_are_left_out_silently_fmt_2() -> None:
    warnings: list[str] = []
    payload = {"plan": "Free", "address": {"city": "Paris"}, "tags": ["a", "b"], "empty": {}}
    assert flatten_payload(payload, warnings) == {"Plan": "Free"}
    assert warnings == []


def test_scalars_keep_their_type_and_null_is_kept() -> None:
    payload = {"count": 3, "ratio": 0.5, "active": False, "nickname": None, "name": "x"}
    assert flatten_payload(payload) == {
        "Count": 3,
        "Ratio": 0.5,
        "Active": False,
        "Nickname": None,
        "Name": "x",
    }


def test_payload_text_is_never_rewritten_only_date_objects_become_iso_fmt_3() -> None:
    payload = {"signedUp": "05/30/2020", "seenAt": datetime(2020, 5, 30, 13, 30, tzinfo=UTC), "orderRef": "12-11-2020"}
    assert flatten_payload(payload) == {
        "Signed Up": "05/30/2020",
        "Seen At": "2020-05-30T13:30:00+00:00",
        "Order Ref": "12-11-2020",
    }


@pytest.mark.parametrize(("text", "expected"), [("05/30/2020", "2020-05-30"), ("30/05/2020", "2020-05-30")])
def test_text_for_a_date_column_becomes_iso_and_text_columns_keep_it_fmt_3(text: str, expected: str) -> None:
    types = {"signed up": "Date", "order ref": "Text"}
    bound = bind_to_columns({"Signed Up": text, "Order Ref": text, "Unknown": text}, types)
    assert bound == {"Signed Up": expected, "Order Ref": text, "Unknown": text}


@pytest.mark.parametrize("text", ["05/06/2020", "12-11-2020", "1/2/2020 10:00"])
def test_an_ambiguous_day_and_month_for_a_date_column_is_refused_fmt_3(text: str) -> None:
    with pytest.raises(AmbiguousDate, match=r"column 'Signed Up'.*day/month or month/day"):
        bind_to_columns({"Signed Up": text}, {"signed up": "Date"})


def test_an_impossible_date_for_a_date_column_is_refused_fmt_3() -> None:
    with pytest.raises(ValueError, match=r"column 'Birthday'.*not a valid one"):
        bind_to_columns({"Birthday": "02/30/2020"}, {"birthday": "Date"})


def test_colliding_keys_keep_the_later_one_and_say_so() -> None:
    warnings: list[str] = []
    assert flatten_payload({"first_name": "A", "firstName": "B"}, warnings) == {"First Name": "B"}
    assert warnings == [
        "keys 'first_name' and 'firstName' both become column 'First Name'; kept the value of 'firstName' "
        "(the later one)"
    ]
    assert flatten_payload({"firstName": "B", "first_name": "A"}) == {"First Name": "A"}


def test_keys_differing_only_in_case_collide_as_sfmc_columns_do() -> None:
    warnings: list[str] = []
    assert flatten_payload({"userID": "1", "user_id": "2"}, warnings) == {"User Id": "2"}
    assert "'userID' and 'user_id'" in warnings[0]


def test_unsendable_values_and_separator_only_keys_are_left_out_with_a_warning() -> None:
    warnings: list[str] = []
    assert flatten_payload({"score": math.nan, "__": "x", "blob": b"x", "ok": 1}, warnings) == {"Ok": 1}
    assert len(warnings) == 3
    assert any("'__'" in warning for warning in warnings)


# keys that collide (case, separators, camelCase), name no column ("__") or are not text; values of
# every kind flatten_payload meets: plain scalars, NaN and infinities, nested, dates, bytes
_PAYLOAD_KEYS = st.sampled_from(
    ["firstName", "city", "plan", "x", "optedIn", "score", "age", "country", "first_name", "City", "__", "", 7]
)
_PAYLOAD_VALUES = st.one_of(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    st.floats() | st.sampled_from([math.nan, math.inf, -math.inf]),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2) | st.lists(st.integers(), max_size=2),
    st.datetimes() | st.binary(max_size=2),
)


@settings(max_examples=400)
@given(st.lists(st.dictionaries(_PAYLOAD_KEYS, _PAYLOAD_VALUES, max_size=5), min_size=1, max_size=4))
def test_payloads_of_a_known_key_set_flatten_exactly_as_key_by_key(payloads: list[dict]) -> None:
    """The columns of a key set are worked out once; a later payload with the same keys gets the same
    row and the same warnings as when every key is judged on its own."""
    from connector.transform import _flatten_each

    for payload in payloads + payloads:  # twice: the second time every key set is known
        fast: list[str] = []
        slow: list[str] = []
        assert repr(flatten_payload(payload, fast)) == repr(_flatten_each(payload, slow))
        assert fast == slow


def test_flatten_without_a_warnings_list_still_works() -> None:
    assert flatten_payload({"a": math.inf, "b": "02/30/2020", "c": 1, "C": 2}) == {"B": "02/30/2020", "C": 2}


# -- context attributes (CTX-1) -------------------------------------------------------------------

FULL_CONTEXT = {
    "app": {"name": "Shop", "version": "2.1", "build": "210"},
    "campaign": {
        "name": "spring",
        "source": "newsletter",
        "medium": "email",
        "term": "shoes",
        "content": "cta",
    },
    "locale": "en-US",
    "userAgent": "Mozilla/5.0",
    "ip": "203.0.113.7",
    "device": {
        "adTrackingEnabled": True,
        "manufacturer": "Apple",
        "model": "iPhone12,1",
        "name": "Amy's",
        "type": "ios",
    },
    "network": {"bluetooth": False, "carrier": "T-Mobile", "cellular": True, "wifi": False},
    "screen": {"density": 2.0, "height": 896, "width": 414},
    "library": {"name": "analytics.js"},
    "traits": {"email": "a@example.com"},
}


def test_every_context_field_maps_to_its_fixed_attribute_name_ctx_1() -> None:
    assert context_attributes(FULL_CONTEXT) == {
        "App Name": "Shop",
        "App Version": "2.1",
        "App Build": "210",
        "UTM Campaign": "spring",
        "UTM Source": "newsletter",
        "UTM Medium": "email",
        "UTM Term": "shoes",
        "UTM Content": "cta",
        "Locale": "en-US",
        "User Agent": "Mozilla/5.0",
        "IP Address": "203.0.113.7",
        "Ad Tracking Enabled": True,
        "Device Manufacturer": "Apple",
        "Device-model": "iPhone12,1",
        "Device Name": "Amy's",
        "Device Type": "ios",
        "Bluetooth Enabled": False,
        "Network Carrier": "T-Mobile",
        "Cellular Enabled": True,
        "Wifi Enabled": False,
        "Screen Density": 2.0,
        "Screen Height": 896,
        "Screen Width": 414,
    }
    assert len(CONTEXT_ATTRIBUTES) == 23


def test_missing_null_and_nested_context_fields_are_omitted_ctx_1() -> None:
    context = {"app": {"name": None, "version": {"major": 2}}, "device": "iPhone", "ip": "203.0.113.7"}
    assert context_attributes(context) == {"IP Address": "203.0.113.7"}
    assert context_attributes({}) == {}
    assert context_attributes(None) == {}
    assert context_attributes("not an object") == {}  # type: ignore[arg-type]
