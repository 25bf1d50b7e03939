"""Destination settings: the seed's "Settings" section (AUTH-*, ID-5, ID-6, TR-*, API-1, BAT-*, PER-1)."""

from __future__ import annotations

import dataclasses
import json
import math
import textwrap
from pathlib import Path

import pytest
import yaml

import connector.settings.loading as settings_module
from connector.settings import (
    BatchingSettings,
    ConversionEvent,
    Settings,
    SettingsError,
    load_settings,
    read_settings_file,
    settings_from_mapping,
)

SUBDOMAIN = "mc563885gzs27c5t9-63k636ttgm"
MINIMAL = {"client_id": "id-123", "client_secret": "s3cret-value"}


def problems_of(data: dict) -> tuple[str, ...]:
    with pytest.raises(SettingsError) as caught:
        settings_from_mapping(data)
    return caught.value.problems


def only_problem(data: dict) -> str:
    problems = problems_of(data)
    assert len(problems) == 1, problems
    return problems[0]


def docstring_example() -> str:
    doc = settings_module.__doc__ or ""
    block = doc.split("Example::", 1)[1].split("Environment variables:", 1)[0]
    return textwrap.dedent(block.strip("\n"))


# -- loading ----------------------------------------------------------------------------------


def test_minimal_settings_take_the_documented_defaults() -> None:
    settings = settings_from_mapping(MINIMAL)
    assert settings.client_id == "id-123"
    assert settings.subdomain is None and settings.account_id is None
    assert settings.identify_de_key is None and settings.personas_de_key is None
    assert settings.conversion_events == () and dict(settings.api_events) == {}
    assert settings.do_not_create_contacts is False
    assert settings.batching == BatchingSettings(
        enabled=False, max_items=32_000, max_bytes=5 * 1024 * 1024, flush_interval=1.0, poll_interval=1.0
    )
    assert (settings.sync_group_size, settings.rate_limit, settings.max_retries) == (50, 20.0, 8)
    assert settings.auth_base_url is None and settings.rest_base_url is None
    assert settings.outbox_path == "sfmc-outbox.sqlite3"


def test_the_module_docstring_example_loads_as_yaml_and_as_json(tmp_path: Path) -> None:
    example = docstring_example()
    yaml_file = tmp_path / "settings.yaml"
    yaml_file.write_text(example)
    json_file = tmp_path / "settings.json"
    json_file.write_text(json.dumps(yaml.safe_load(example)))

    from_yaml = load_settings(yaml_file, env={})
    assert load_settings(json_file, env={}) == from_yaml
    assert from_yaml.subdomain == SUBDOMAIN
    assert from_yaml.account_id == "510001234"
    assert from_yaml.conversion_events == (
        ConversionEvent("Order Completed", "orders", ("Contact Key", "Product Id")),
        ConversionEvent("Button Clicked", "clicks", (), uuid_primary_key=True),
    )
    assert dict(from_yaml.api_events) == {"Order Completed": "APIEvent-6c4e2a1f"}
    assert from_yaml.personas_de_key == "personas-audiences"
    assert from_yaml.auth_base_url == "http://localhost:8080"


def test_yml_extension_is_yaml(tmp_path: Path) -> None:
    path = tmp_path / "s.yml"
    path.write_text("client_id: a\nclient_secret: b\n")
    assert load_settings(path, env={}).client_id == "a"


def test_environment_overrides_the_file_and_overrides_win_over_both(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(f"client_id: from-file\nclient_secret: file-secret\nsubdomain: {SUBDOMAIN}\n")
    env = {
        "SFMC_CLIENT_ID": "from-env",
        "SFMC_ACCOUNT_ID": "123",
        "SFMC_AUTH_BASE_URL": "http://127.0.0.1:8085/",
        "SFMC_REST_BASE_URL": "http://127.0.0.1:8085",
        "SFMC_SUBDOMAIN": "",  # empty counts as unset
        "UNRELATED": "x",
    }
    settings = load_settings(path, env=env)
    assert settings.client_id == "from-env"
    assert settings.client_secret == "file-secret"
    assert settings.subdomain == SUBDOMAIN
    assert settings.account_id == "123"
    assert settings.auth_base_url == "http://127.0.0.1:8085"  # trailing slash dropped
    assert settings.rest_base_url == "http://127.0.0.1:8085"

    overridden = load_settings(path, env=env, overrides={"client_id": "from-flag"})
    assert overridden.client_id == "from-flag"


def test_settings_from_the_environment_alone() -> None:
    env = {"SFMC_CLIENT_ID": "a", "SFMC_CLIENT_SECRET": "b", "SFMC_SUBDOMAIN": SUBDOMAIN}
    settings = load_settings(env=env)
    assert (settings.client_id, settings.client_secret, settings.subdomain) == ("a", "b", SUBDOMAIN)


def test_overrides_merge_into_nested_mappings(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("client_id: a\nclient_secret: b\nbatching:\n  enabled: true\n  max_items: 1000\n")
    settings = load_settings(path, env={}, overrides={"batching": {"max_items": 500}})
    assert settings.batching.enabled is True
    assert settings.batching.max_items == 500


def test_text_values_are_stripped_and_blank_optional_values_are_unset() -> None:
    settings = settings_from_mapping(
        {**MINIMAL, "client_id": "  id-123 ", "identify_de_key": "   ", "subdomain": f" {SUBDOMAIN}\n"}
    )
    assert settings.client_id == "id-123"
    assert settings.identify_de_key is None
    assert settings.subdomain == SUBDOMAIN


# -- validation: every problem, one per line ---------------------------------------------------


def test_the_subdomain_message_says_what_is_wrong_and_what_to_do_auth_2() -> None:
    problem = only_problem({**MINIMAL, "subdomain": "mc1234567890"})
    assert problem.startswith('subdomain: must be 28 characters starting with "mc" (got 12 characters); ')
    assert "copy it from your REST base URI" in problem


def test_a_pasted_host_name_gets_the_subdomain_suggested_auth_2() -> None:
    for pasted in (
        f"{SUBDOMAIN}.rest.marketingcloudapis.com",
        f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/",
    ):
        problem = only_problem({**MINIMAL, "subdomain": pasted})
        assert problem.startswith("subdomain: must be the subdomain alone, not a URL or host name")
        assert problem.endswith(f"use {SUBDOMAIN}")


@pytest.mark.parametrize(
    ("subdomain", "expected"),
    [
        ("xx563885gzs27c5t9-63k636ttgm", 'must start with "mc"'),
        ("MC563885gzs27c5t9-63k636ttgm", 'must start with "mc"'),
        ("mc563885gzs27c5t9_63k636ttgm", "may contain only letters, digits and hyphens (found '_')"),
        ("mc563885gzs27c5t9 63k636ttgé", "may contain only letters, digits and hyphens (found ' ', 'é')"),
    ],
)
def test_malformed_subdomains_auth_2(subdomain: str, expected: str) -> None:
    assert expected in only_problem({**MINIMAL, "subdomain": subdomain})


def test_all_problems_are_reported_together_one_per_line() -> None:
    data = {
        "subdomain": "short",
        "account_id": "MID-1",
        "sync_group_size": 51,
        "rate_limit": 0,
        "batching": {"max_items": 40_000, "enabled": "yes"},
        "conversion_events": [{"event": "Order Completed"}],
        "colour": "blue",
    }
    with pytest.raises(SettingsError) as caught:
        settings_from_mapping(data)
    error = caught.value
    assert str(error) == "\n".join(error.problems)
    paths = sorted(problem.split(":", 1)[0] for problem in error.problems)
    assert paths == [
        "account_id",
        "batching.enabled",
        "batching.max_items",
        "client_id",
        "client_secret",
        "colour",
        "conversion_events[0].de_key",
        "conversion_events[0].primary_keys",
        "rate_limit",
        "subdomain",
        "sync_group_size",
    ]


@pytest.mark.parametrize(
    ("data", "path", "suggestion"),
    [
        ({"identify_de_kye": "x"}, "identify_de_kye", "did you mean 'identify_de_key'?"),
        ({"batching": {"enable": True}}, "batching.enable", "did you mean 'enabled'?"),
        (
            {"conversion_events": [{"event": "E", "de_key": "k", "primary_key": "Contact Key"}]},
            "conversion_events[0].primary_key",
            "did you mean 'primary_keys'?",
        ),
        ({"zzz": 1}, "zzz", "known here: client_id, client_secret"),
    ],
)
def test_unknown_keys_are_errors_that_name_the_key(data: dict, path: str, suggestion: str) -> None:
    problems = problems_of({**MINIMAL, **data})
    matching = [problem for problem in problems if problem.startswith(f"{path}: unknown setting")]
    assert len(matching) == 1, problems
    assert suggestion in matching[0]


def test_missing_credentials_say_where_to_find_them_auth_1() -> None:
    problems = problems_of({})
    assert problems == (
        "client_id: required; find it on the installed package's API Integration component (AUTH-1); "
        "or set SFMC_CLIENT_ID",
        "client_secret: required; find it on the installed package's API Integration component (AUTH-1); "
        "or set SFMC_CLIENT_SECRET",
    )


def test_the_secret_never_appears_in_messages_or_repr() -> None:
    problem = only_problem({"client_id": "a", "client_secret": 98765})
    assert problem.startswith("client_secret: must be text (got a int)")
    assert "98765" not in problem
    assert "s3cret-value" not in repr(settings_from_mapping(MINIMAL))


def test_values_from_environment_variables_are_labelled_in_messages() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env={**{"SFMC_CLIENT_ID": "a", "SFMC_CLIENT_SECRET": "b"}, "SFMC_ACCOUNT_ID": "abc"})
    assert caught.value.problems[0].startswith("account_id (from SFMC_ACCOUNT_ID): must be digits only")


def test_account_id_is_digits_and_an_integer_is_accepted_auth_3() -> None:
    assert settings_from_mapping({**MINIMAL, "account_id": 510001234}).account_id == "510001234"
    assert settings_from_mapping({**MINIMAL, "account_id": "510001234"}).account_id == "510001234"
    assert "must be digits only" in only_problem({**MINIMAL, "account_id": "51000-1234"})
    assert "must be text" in only_problem({**MINIMAL, "account_id": True})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("sync_group_size", 0, "sync_group_size: must be from 1 to 50 (got 0)"),
        ("sync_group_size", 51, "sync_group_size: must be from 1 to 50 (got 51)"),
        ("sync_group_size", True, "sync_group_size: must be a whole number from 1 to 50 (got true)"),
        ("sync_group_size", 2.5, "sync_group_size: must be a whole number from 1 to 50 (got 2.5)"),
        ("rate_limit", 0, "rate_limit: must be a number above 0 (got 0)"),
        ("rate_limit", -1.5, "rate_limit: must be a number above 0 (got -1.5)"),
        ("rate_limit", math.nan, "rate_limit: must be a number above 0 (got nan)"),
        ("rate_limit", "fast", "rate_limit: must be a number above 0 (got 'fast')"),
        ("max_retries", -1, "max_retries: must be 0 or more (got -1)"),
        ("do_not_create_contacts", "yes", "do_not_create_contacts: must be true or false (got 'yes')"),
        ("identify_de_key", 12, "identify_de_key: must be text (got 12)"),
        ("outbox_path", "", "outbox_path: required"),
        ("auth_base_url", "localhost:8080", "auth_base_url: must be an http:// or https:// URL"),
        ("rest_base_url", "ftp://example.com", "rest_base_url: must be an http:// or https:// URL"),
        ("rest_base_url", "http://example.com/?x=1", "rest_base_url: must not have a query or fragment"),
        (
            "api_events",
            ["Order Completed"],
            "api_events: must map Segment event names to EventDefinitionKeys",
        ),
        ("api_events", {"Order Completed": ""}, "api_events['Order Completed']: required"),
        ("api_events", {" ": "key"}, "api_events[' ']: the event name must be non-blank text"),
        ("conversion_events", {"event": "x"}, "conversion_events: must be a list of conversion events"),
        ("conversion_events", ["Order Completed"], "conversion_events[0]: must be a mapping"),
        ("batching", True, "batching: must be a mapping with keys enabled, max_items"),
    ],
)
def test_invalid_values_name_the_setting_and_why(key: str, value: object, expected: str) -> None:
    assert only_problem({**MINIMAL, key: value}).startswith(expected)


@pytest.mark.parametrize(
    ("batching", "expected"),
    [
        ({"max_items": 32_001}, "batching.max_items: must be from 1 to 32000 (got 32001); SFMC takes 32,000"),
        ({"max_bytes": 5 * 1024 * 1024 + 1}, "batching.max_bytes: must be from 1 to 5242880"),
        ({"flush_interval": 0}, "batching.flush_interval: must be a number above 0 (got 0)"),
        ({"poll_interval": -1}, "batching.poll_interval: must be a number above 0 (got -1)"),
    ],
)
def test_batching_stays_within_sfmcs_async_limits_bat_1(batching: dict, expected: str) -> None:
    assert only_problem({**MINIMAL, "batching": batching}).startswith(expected)


def test_integers_are_accepted_where_seconds_are_expected() -> None:
    settings = settings_from_mapping({**MINIMAL, "rate_limit": 5, "batching": {"flush_interval": 2}})
    assert settings.rate_limit == 5.0 and isinstance(settings.rate_limit, float)
    assert settings.batching.flush_interval == 2.0


# -- conversion events (TR-1, TR-3, TR-5) ------------------------------------------------------


@pytest.mark.parametrize(
    ("primary_keys", "expected"),
    [
        ("Contact Key", ("Contact Key",)),
        ("Contact Key,Product Id", ("Contact Key", "Product Id")),
        (" Contact Key ,  Product Id ", ("Contact Key", "Product Id")),
        (["Contact Key", "Button Title"], ("Contact Key", "Button Title")),
    ],
)
def test_primary_keys_are_comma_separated_column_names_tr_3(primary_keys: object, expected: tuple) -> None:
    data = {**MINIMAL, "conversion_events": [{"event": "E", "de_key": "k", "primary_keys": primary_keys}]}
    assert settings_from_mapping(data).conversion_events[0].primary_keys == expected


@pytest.mark.parametrize(
    ("primary_keys", "expected"),
    [
        ("Contact Key,,Product Id", "primary_keys: column name 2 of 3 is empty"),
        ("Contact Key,", "primary_keys: column name 2 of 2 is empty"),
        ("Contact Key,contact key", "primary_keys: lists 'Contact Key', 'contact key' more than once"),
        ("", "primary_keys: required unless uuid_primary_key is true"),
        ([], "primary_keys: required unless uuid_primary_key is true"),
        ([1, 2], "primary_keys: must be text or a list of texts"),
    ],
)
def test_malformed_primary_keys_tr_3(primary_keys: object, expected: str) -> None:
    data = {**MINIMAL, "conversion_events": [{"event": "E", "de_key": "k", "primary_keys": primary_keys}]}
    assert only_problem(data).startswith(f"conversion_events[0].{expected}")


def test_uuid_primary_key_needs_no_primary_keys_tr_5() -> None:
    data = {**MINIMAL, "conversion_events": [{"event": "E", "de_key": "k", "uuid_primary_key": True}]}
    assert settings_from_mapping(data).conversion_events[0] == ConversionEvent("E", "k", (), True)


def test_an_event_maps_to_one_data_extension_tr_1() -> None:
    events = [
        {"event": "Order Completed", "de_key": "a", "primary_keys": "Contact Key"},
        {"event": "Order Completed", "de_key": "b", "primary_keys": "Contact Key"},
    ]
    problem = only_problem({**MINIMAL, "conversion_events": events})
    assert problem.startswith("conversion_events: event 'Order Completed' is listed 2 times")


def test_conversion_for_matches_the_event_name_exactly_tr_1() -> None:
    conversion = ConversionEvent("Order Completed", "orders", "Contact Key")
    settings = Settings(**MINIMAL, conversion_events=(conversion,))
    assert settings.conversion_for("Order Completed") is conversion
    assert settings.conversion_for("order completed") is None
    assert settings.conversion_for(None) is None


# -- direct construction and immutability -------------------------------------------------------


def test_direct_construction_is_validated_the_same_way() -> None:
    with pytest.raises(SettingsError, match=r"^sync_group_size: must be from 1 to 50 \(got 99\)"):
        Settings(**MINIMAL, sync_group_size=99)
    with pytest.raises(SettingsError, match=r"^primary_keys: required unless uuid_primary_key"):
        ConversionEvent("E", "k")
    with pytest.raises(SettingsError, match=r"^conversion_events\[0\]: must be a conversion event"):
        Settings(**MINIMAL, conversion_events=[{"event": "E"}])  # type: ignore[list-item]


def test_settings_are_immutable() -> None:
    settings = Settings(**MINIMAL, api_events={"E": "K"}, conversion_events=[ConversionEvent("E", "k", "Uuid")])
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.client_id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.api_events["F"] = "L"  # type: ignore[index]
    assert isinstance(settings.conversion_events, tuple)
    assert dataclasses.replace(settings, max_retries=0).max_retries == 0


# -- what the settings mean -------------------------------------------------------------------


def test_auth_url_with_a_subdomain_is_oauth2_v2_on_the_tenant_host_auth_2() -> None:
    settings = Settings(**MINIMAL, subdomain=SUBDOMAIN)
    assert settings.auth_url() == f"https://{SUBDOMAIN}.auth.marketingcloudapis.com/v2/token"
    assert settings.uses_legacy_auth is False


def test_auth_url_without_a_subdomain_is_the_legacy_v1_endpoint_auth_2() -> None:
    settings = Settings(**MINIMAL)
    assert settings.auth_url() == "https://auth.exacttargetapis.com/v1/requestToken"
    assert settings.uses_legacy_auth is True


def test_auth_base_url_redirects_both_endpoints_to_an_emulator() -> None:
    emulator = "http://127.0.0.1:8085"
    assert Settings(**MINIMAL, subdomain=SUBDOMAIN, auth_base_url=emulator).auth_url() == f"{emulator}/v2/token"
    assert Settings(**MINIMAL, auth_base_url=f"{emulator}/").auth_url() == f"{emulator}/v1/requestToken"


def test_contacts_are_created_by_default_id_5() -> None:
    assert Settings(**MINIMAL).creates_contacts is True
    assert Settings(**MINIMAL, do_not_create_contacts=True).creates_contacts is False


def test_batching_turns_off_api_events_and_contact_creation_but_settings_still_load_bat_2() -> None:
    data = {**MINIMAL, "api_events": {"Order Completed": "APIEvent-1"}, "batching": {"enabled": True}}
    settings = settings_from_mapping(data)
    assert dict(settings.api_events) == {"Order Completed": "APIEvent-1"}
    assert settings.uses_api_events is False
    assert settings.creates_contacts is False
    without_batching = dataclasses.replace(settings, batching=BatchingSettings())
    assert without_batching.uses_api_events is True
    assert without_batching.creates_contacts is True


def test_no_api_events_means_none_are_used_api_1() -> None:
    assert Settings(**MINIMAL).uses_api_events is False


def test_advisories_point_out_legal_but_likely_unintended_settings() -> None:
    settings = settings_from_mapping(
        {
            **MINIMAL,
            "api_events": {"E": "K"},
            "batching": {"enabled": True},
            "conversion_events": [{"event": "E", "de_key": "k", "primary_keys": "Contact Key,product_id,Device-model"}],
        }
    )
    notes = "\n".join(settings.advisories())
    assert "legacy v1 endpoint" in notes and "AUTH-2" in notes
    assert "api_events are not fired (BAT-2)" in notes
    assert "do not create or update Contacts (BAT-2)" in notes
    assert "identify calls have nowhere to go" in notes
    assert "'product_id' is not Title Case" in notes and "'Product Id'" in notes
    assert "Device-model" not in notes  # the seed's fixed context name is not Title Case, and is right
    assert "Contact Key'" not in notes

    quiet = Settings(**MINIMAL, subdomain=SUBDOMAIN, identify_de_key="ident")
    assert quiet.advisories() == ()


# -- files ------------------------------------------------------------------------------------


def file_problem(tmp_path: Path, name: str, text: str | None) -> str:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(SettingsError) as caught:
        read_settings_file(path)
    assert len(caught.value.problems) == 1
    return caught.value.problems[0]


def test_an_unknown_file_type_is_refused(tmp_path: Path) -> None:
    assert "unsupported file type '.toml'; use .yaml, .yml or .json" in file_problem(tmp_path, "s.toml", "")


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    problem = file_problem(tmp_path, "absent.yaml", None)
    assert problem.startswith(str(tmp_path / "absent.yaml")) and "cannot read the settings file" in problem


def test_invalid_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    problem = file_problem(tmp_path, "s.yaml", "client_id: a\nclient_secret: [unclosed\n")
    assert "not valid YAML at line 3" in problem


def test_invalid_json_is_reported_with_its_line(tmp_path: Path) -> None:
    problem = file_problem(tmp_path, "s.json", '{\n"client_id": "a",\n}')
    assert "not valid JSON at line 3, column 1" in problem


def test_duplicate_yaml_keys_are_errors_not_silently_overwritten(tmp_path: Path) -> None:
    problem = file_problem(tmp_path, "s.yaml", "client_id: a\nclient_secret: b\nclient_id: c\n")
    assert "found duplicate key 'client_id'" in problem and "line 3" in problem


def test_duplicate_json_keys_are_errors_not_silently_overwritten(tmp_path: Path) -> None:
    problem = file_problem(tmp_path, "s.json", '{"batching": {"enabled": true, "enabled": false}}')
    assert "key 'enabled' appears twice in one object" in problem


def test_a_file_must_hold_a_mapping(tmp_path: Path) -> None:
    assert "must hold a mapping of setting names to values (got a list)" in file_problem(
        tmp_path, "s.yaml", "- client_id\n"
    )


def test_an_empty_file_is_no_settings(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("# nothing yet\n")
    assert read_settings_file(path) == {}
    with pytest.raises(SettingsError, match="client_id: required"):
        load_settings(path, env={})
